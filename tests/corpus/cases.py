"""The corpus: each case is one freeze behaviour, with what must happen to named attributes.

Ground truth is always the real torch.jit.freeze, run by the tests on the same module; the
``expect`` fates here are the human reading of that behaviour, and the tests check both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

from . import modules as M


@dataclass
class Case:
    name: str
    make: Callable[[], torch.nn.Module]
    preserved: list[str] = field(default_factory=list)
    expect: dict[str, str] = field(default_factory=dict)  # path -> fate value
    inputs: Callable[[], tuple] | None = None
    how: str = "script"  # script, trace, load, nn (pass the nn.Module itself), train
    error: str | None = None  # regex of the FreezeError message
    warning: str | None = None  # regex one of report.warnings must match
    optimize_numerics: bool = True
    optimize_for_inference: bool = False

    def __repr__(self) -> str:
        return self.name


def x(*shape):
    return lambda: (torch.randn(*shape),)


CASES = [
    Case("doc_mymodule", M.MyModule, expect={"weight": "inlined", "linear.weight": "inlined",
                                             "linear.bias": "inlined", "linear": "inlined"},
         inputs=x(3, 2)),
    Case("doc_mymodule2", M.MyModule2, ["version"],
         expect={"modified_tensor": "preserved_mutated", "version": "preserved_requested"},
         inputs=lambda: (torch.tensor(1.0),)),
    Case("inplace_buffer", M.InplaceBuffer, expect={"buf": "preserved_mutated", "w": "inlined"},
         inputs=x(3)),
    Case("aliased_write", M.AliasedWrite,
         expect={"a": "preserved_mutated", "b": "preserved_mutated", "c": "inlined"},
         inputs=x(4)),
    Case("setattr_int", M.IntCounter, expect={"count": "preserved_mutated", "scale": "inlined"},
         inputs=x(2)),
    Case("list_append", M.ListAppend,
         expect={"hist": "preserved_mutated", "sizes": "inlined"}, inputs=x(2)),
    Case("dict_write", M.DictWrite,
         expect={"rw": "preserved_mutated", "ro": "inlined", "tup": "inlined"}, inputs=x(2)),
    Case("unused_export", M.ExportedReset,
         expect={"stats": "removed_unused", "step": "removed_unused"}, inputs=x(2)),
    Case("preserved_method", M.ExportedReset, ["reset"],
         expect={"stats": "preserved_mutated", "step": "preserved_mutated"}, inputs=x(2)),
    Case("helper_methods", M.HelperCounter,
         expect={"ema": "preserved_mutated", "calls": "preserved_mutated", "alpha": "inlined"},
         inputs=x(3)),
    Case("dotted_attr", M.DottedPreserve, ["sub.version"],
         expect={"sub.version": "preserved_requested", "sub.scale": "inlined",
                 "other.version": "inlined", "sub": "kept_submodule"}, inputs=x(2)),
    Case("preserve_submodule", M.DottedPreserve, ["other"],
         expect={"other": "preserved_requested", "other.scale": "preserved_requested",
                 "sub.scale": "inlined"}, inputs=x(2)),
    Case("if_loop_training", M.Branchy, expect={"acc": "preserved_mutated", "n": "inlined",
                                                "training": "inlined"}, inputs=x(2)),
    Case("data_loop", M.DataLoop, expect={"limit": "inlined"}, inputs=lambda: (torch.ones(2),)),
    Case("fork_wait", M.ForkMutation, expect={"sub.fb": "inlined"},
         warning=r"sub\.fb.*torch\.jit\.fork"),
    Case("traced", M.TracedTarget, how="trace", expect={"lin.weight": "inlined"}, inputs=x(2, 3)),
    Case("loaded_pt", M.InplaceBuffer, how="load", expect={"buf": "preserved_mutated"},
         inputs=x(3)),
    Case("nn_module_input", M.ConvBN, how="nn", expect={"bn.running_var": "folded"},
         inputs=x(1, 3, 6, 6)),
    Case("conv_bn", M.ConvBN, expect={"bn.running_mean": "folded", "bn.weight": "folded",
                                      "conv.weight": "inlined"}, inputs=x(1, 3, 6, 6)),
    Case("conv_bn_no_numerics", M.ConvBN, optimize_numerics=False,
         expect={"bn.running_mean": "inlined", "conv.weight": "inlined"}, inputs=x(1, 3, 6, 6)),
    Case("conv_mul_add", M.ConvMulAdd, expect={"scale": "folded"}, inputs=x(1, 3, 6, 6)),
    Case("linear_bn", M.LinearBN, expect={"bn.running_var": "folded"}, inputs=x(4, 6)),
    Case("dropout", M.WithDropout, expect={"drop.training": "folded", "p": "folded"},
         inputs=x(2, 4)),
    Case("shared_input_linears", M.SharedInputLinears, expect={"a.weight": "inlined"},
         inputs=x(2, 4)),
    Case("interface", M.WithInterface, expect={"impl": "inlined"}, inputs=x(2)),
    Case("view_alias", M.ViewAlias, expect={"t": "preserved_mutated", "view": "preserved_mutated"},
         inputs=x(2)),
    Case("modulelist_loop", M.ModuleListLoop,
         expect={"layers.0.weight": "inlined", "drop.training": "folded"}, inputs=x(2, 3)),
    Case("returns_sub", M.ReturnsSub, ["get_lin"],
         expect={"lin": "kept_submodule", "lin.weight": "kept_submodule"}, inputs=x(2)),
    Case("no_forward", M.NoForward, ["infer"], expect={"k": "inlined"}),
    Case("preserved_bump", M.Bump, ["bump"], expect={"k": "preserved_mutated"}, inputs=x(2)),
    Case("sibling_mutated", M.TwoLinearsExtra,
         expect={"a.extra": "preserved_mutated", "a": "kept_submodule", "a.weight": "inlined",
                 "b": "inlined"}, inputs=x(2)),
    Case("training_mode", M.InplaceBuffer, how="train", expect={"buf": "preserved_mutated"},
         warning=r"training mode", inputs=x(3)),
    Case("hostile_strings", M.Strings, expect={"tag": "inlined"}, inputs=x(2)),
    Case("object_attr", M.ObjectAttr, expect={"cfg": "inlined"}, inputs=x(2)),
    Case("optimize_for_inference", M.ConvBN, optimize_for_inference=True,
         expect={"bn.running_mean": "folded"}, inputs=x(1, 3, 6, 6)),
    # errors
    Case("err_modulelist_index", M.ModuleListIndex, error=r"ModuleList.*for loop"),
    Case("err_overlap", M.Overlapping, error=r"overlapping values"),
    Case("err_unknown_name", M.IntCounter, ["nope"], error=r"'nope'.*does not have"),
    Case("err_dotted_method", M.DottedMethod, ["sub.helper"], error=r"method 'sub\.helper'"),
    Case("err_interface_preserved", M.WithInterface, ["impl"], error=r"interface"),
    Case("err_returns_self", M.ReturnsSelf, error=r"returns the module itself"),
    Case("err_no_forward", M.NoForward, error=r"no forward method"),
    Case("err_unscriptable", M.Untypable, how="nn", error=r"could not compile Untypable"),
]
