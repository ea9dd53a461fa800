"""The corpus: each case is one freeze behaviour, with what must happen to named attributes.

Ground truth is always the real torch.jit.freeze, run by the tests on the same module; the
``expect`` fates here are the human reading of that behaviour, and the tests check both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

from . import modules as M
from . import modules_containers as C
from . import modules_edges as E


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
    # --- state reached through lists, tuples and dicts; LSTM/GRU; pooled equal constants ---
    Case("lstm", C.LSTMWrap, expect={"rnn.weight_ih_l0": "inlined", "rnn.bias_hh_l1": "inlined",
                                     "rnn._flat_weights": "inlined"}, inputs=x(5, 2, 3)),
    Case("gru_bidirectional", C.GRUWrap,
         expect={"rnn.weight_hh_l0_reverse": "inlined", "rnn._flat_weights": "inlined"},
         inputs=x(5, 2, 3)),
    Case("tensor_list_read", C.TensorList, expect={"ws": "inlined"}, inputs=x(3)),
    Case("tensor_dict_read", C.TensorDict, expect={"d": "inlined"}, inputs=x(3)),
    Case("tensor_tuple_read", C.TensorTuple, expect={"pair": "inlined"}, inputs=x(3)),
    Case("params_through_list", C.ParamsThroughList,
         expect={"a": "inlined", "b": "inlined", "ws": "inlined"}, inputs=x(3)),
    Case("list_element_written", C.ElementWritten,
         expect={"ws": "inlined", "a": "inlined", "b": "inlined"},
         warning=r"`ws` is written in place through its element \[0\]"),
    Case("tensors_in_kept_list", C.TensorsInKeptList,
         expect={"ws": "preserved_mutated", "a": "removed_unused"}),
    Case("pooled_conv_bn_bn", C.ConvBNBN,
         expect={"bn.weight": "folded", "bn.running_var": "folded", "bn2.weight": "inlined",
                 "bn2.running_var": "inlined"}, inputs=x(1, 3, 6, 6)),
    Case("random_conv_bn_bn", C.random_statistics(C.ConvBNBN),
         expect={"bn.weight": "folded", "bn2.weight": "inlined"}, inputs=x(1, 3, 6, 6)),
    Case("pooled_bn_stack", C.BNStack,
         expect={"bn1.weight": "folded", "bn2.running_var": "folded", "bn3.weight": "inlined",
                 "bn3.running_mean": "inlined"}, inputs=x(1, 3, 6, 6)),
    # equal statistics make the two batch_norm ops equal, common-subexpression elimination
    # merges them, and the convolution's output, now used once, lets fold_conv_bn fold them:
    # here torch's own graph depends on the values (random_twin_bn keeps both)
    Case("pooled_twin_bn", C.TwinBN, expect={"bn_a.weight": "folded", "bn_b.weight": "folded"},
         inputs=x(1, 3, 6, 6)),
    Case("random_twin_bn", C.random_statistics(C.TwinBN),
         expect={"bn_a.weight": "inlined", "bn_b.weight": "inlined"}, inputs=x(1, 3, 6, 6)),
    Case("pooled_ofi", C.BNStack, optimize_for_inference=True,
         expect={"bn1.weight": "folded", "bn3.bias": "inlined"}, inputs=x(1, 3, 6, 6)),
    # --- edge cases: names with spaces, optimize_for_inference fates, fork, None, Final ---
    Case("names_with_spaces", E.SpacedKeys,
         expect={"layers.layer one.weight": "inlined", "layers.a\nb.bias": "inlined",
                 "layers.ünï.weight": "inlined", "layers.is set.bias": "inlined"}, inputs=x(2, 3)),
    Case("ofi_rewrites", E.ConvThenLinear, optimize_for_inference=True,
         expect={"conv.weight": "inlined", "conv.bias": "inlined", "lin.weight": "inlined",
                 "lin.bias": "inlined"}, inputs=x(1, 3, 6, 6)),
    Case("fork_self_write", E.ForkSelfWrite, expect={"fb": "inlined"},
         warning=r"`fb`.*torch\.jit\.fork.*shared by every call"),
    Case("fork_self_setattr", E.ForkSelfCount, expect={"count": "inlined"},
         warning=r"`count`.*torch\.jit\.fork.*fails"),
    Case("fork_assign_only", E.ForkAssignOnly, expect={"count": "removed_unused"},
         warning=r"`count`.*torch\.jit\.fork.*fail"),
    Case("none_state", E.NoneState, expect={"lin.bias": "inlined", "nb": "removed_unused"},
         inputs=x(2, 3)),
    Case("class_constants", E.WithConstants, expect={"lin.weight": "inlined"}, inputs=x(2)),
    Case("dotted_method_accepted", E.DottedPureMethod, ["sub.helper"],
         expect={"sub": "preserved_requested", "sub.z": "inlined"}, inputs=x(2)),
    Case("dotted_method_shadowed", E.ShadowedByRoot, ["sub.helper"],
         expect={"sub": "preserved_requested", "z": "inlined"},
         warning=r"sub\.helper.*root module's `z`", inputs=x(2)),
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
