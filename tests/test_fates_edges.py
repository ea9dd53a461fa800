"""Fates and words for edge cases, each checked against what the real torch.jit.freeze built:
names with spaces, constants optimize_for_inference rewrites, writes inside torch.jit.fork,
None-valued state, class constants and methods of submodules in preserved_attrs."""

from __future__ import annotations

import pytest
import torch

import freezeviz
from freezeviz.engine.torchscript.analysis import inventory
from freezeviz.engine.torchscript.jitlog import LogLine, parse_freeze_log
from tests.corpus import modules as M
from tests.corpus import modules_edges as E


def _scripted(cls):
    torch.manual_seed(0)
    return torch.jit.script(cls().eval())


def _constants(graph) -> dict[str, torch._C.Node]:
    nodes = list(graph.findAllNodes("prim::Constant"))
    nodes += list(graph.findAllNodes("prim::ConstantMKLDNNTensor"))
    return {n.output().debugName(): n for n in nodes}


# --- names with spaces, quotes, unicode and newlines ----------------------------------------

def test_odd_names_are_traced_to_the_constants_torch_made():
    scripted = _scripted(E.SpacedKeys)
    report = freezeviz.freeze(scripted)
    truth = _constants(torch.jit.freeze(scripted).graph)
    for key in E.SpacedKeys.KEYS:
        for leaf in ("weight", "bias"):
            path = f"layers.{key}.{leaf}"
            a = report.attribute(path)
            assert f"self.{path}" in truth, path  # torch named the constant after it
            assert a.fate.value == "inlined" and a.constant == f"self.{path}", report.explain(path)


def test_log_parser_reads_names_with_spaces_and_newlines():
    def line(level, no, msg):
        return LogLine(level, "freeze_module.cpp", no, msg)

    # a message whose name holds a newline arrives as two prefixed lines
    lines = [line("DEBUG", 702, "a"), line("DEBUG", 702, "b is not materializable."),
             line("UPDATE", 716, "Folding GetAttr %weight.1 with self.d.a"),
             line("UPDATE", 716, "b.weight"),
             line("UPDATE", 716, "Folding GetAttr %w with self.d.layer one.w"),
             line("DEBUG", 387, "attribute: my buf in %my buf.1 has inplace writer"),
             line("DEBUG", 387, "attribute: is set is set")]
    d = parse_freeze_log(lines)
    assert d.folded == (("weight.1", "d.a\nb.weight", "forward"),
                        ("w", "d.layer one.w", "forward"))
    assert d.folded_paths == {"d.a\nb.weight", "d.layer one.w"}


# --- optimize_for_inference rewrites constants --------------------------------------------

def test_constants_rewritten_by_optimize_for_inference_live_on():
    scripted = _scripted(E.ConvThenLinear)
    report = freezeviz.freeze(scripted, optimize_for_inference=True)
    truth = torch.jit.optimize_for_inference(torch.jit.freeze(scripted))
    consts = _constants(truth.graph)

    conv = report.attribute("conv.weight")
    assert conv.fate.value == "inlined" and conv.folded_by is None, report.explain("conv.weight")
    node = consts[conv.constant]  # torch's final graph holds it, in use, with the same values
    assert node.kind() == "prim::ConstantMKLDNNTensor" and node.output().uses()
    assert torch.equal(node.t("value").to_dense(), scripted.conv.weight.detach())
    assert "convert_to_mkldnn" in conv.why and f"%{conv.constant}" in conv.why
    assert conv.rewritten_by == "convert_to_mkldnn"

    lin = report.attribute("lin.weight")
    assert lin.fate.value == "inlined" and lin.folded_by is None, report.explain("lin.weight")
    node = consts[lin.constant]
    assert node.output().uses()
    assert torch.equal(node.t("value"), scripted.lin.weight.detach().t())
    assert "transpose_frozen_linear" in lin.why and f"%{lin.constant}" in lin.why
    assert lin.rewritten_by == "transpose_frozen_linear"
    assert report.attribute("lin.bias").rewritten_by is None
    # the pass runs no dead-code elimination: the original constant is still there, unused
    assert not consts["self.lin.weight"].output().uses()
    assert "%self.lin.weight" in lin.why and "unused" in lin.why

    # the drawing of the last stage knows what the transposed constant stands for
    final = report.final_stage()
    node = final.graph.producer(lin.constant)
    assert node.constant is not None and "lin.weight" in node.constant.attributes


# --- writes inside torch.jit.fork -----------------------------------------------------------

def _fork_constants(frozen) -> set[str]:
    out = set()
    for fork in frozen.graph.findAllNodes("prim::fork"):
        out |= set(_constants(fork.g("Subgraph")))
    return out


@pytest.mark.parametrize("cls, path", [(E.ForkSelfWrite, "fb"), (M.ForkMutation, "sub.fb")])
def test_in_place_write_in_a_fork_is_explained(cls, path):
    scripted = _scripted(cls)
    report = freezeviz.freeze(scripted)
    frozen = torch.jit.freeze(scripted)
    assert path not in {s.path for s in inventory(frozen._c)}
    a = report.attribute(path)
    assert "nothing writes it" not in a.why, a.why
    assert "fork" in a.why and "copy" in a.why, a.why
    # the constant it names lives in the fork body of torch's frozen graph
    named = [c for c in _fork_constants(frozen) if f"%{c} inside the fork body" in a.why]
    assert named, a.why
    # and torch's frozen module really keeps the state in that constant
    first, second = frozen(torch.zeros(2)), frozen(torch.zeros(2))
    assert torch.equal(second, first + 1)


@pytest.mark.parametrize("cls", [E.ForkSelfCount, E.ForkAssignOnly])
def test_assignment_in_a_fork_is_explained(cls):
    scripted = _scripted(cls)
    report = freezeviz.freeze(scripted)
    frozen = torch.jit.freeze(scripted)
    assert "count" not in {s.path for s in inventory(frozen._c)}
    with pytest.raises(Exception, match="does not have an attribute with name 'count'"):
        frozen(torch.zeros(1))  # torch's frozen module fails when the fork runs
    a = report.attribute("count")
    assert "fork" in a.why and "copy" in a.why, a.why
    assert "nothing writes it" not in a.why and "No preserved method" not in a.why, a.why
    assert "fails" in a.why and "fail" in a.warning
    assert "shared by every call" not in a.warning


# --- None-valued state ----------------------------------------------------------------------

def test_none_state_is_explained():
    scripted = _scripted(E.NoneState)
    report = freezeviz.freeze(scripted)
    frozen = torch.jit.freeze(scripted)
    survivors = {s.path for s in inventory(frozen._c)}
    linear = next(iter(frozen.graph.findAllNodes("aten::linear")))
    assert linear.inputsAt(2).type().kind() == "NoneType"  # torch passes the constant None

    bias = report.attribute("lin.bias")
    assert "lin.bias" not in survivors
    assert bias.fate.value == "inlined", report.explain("lin.bias")
    assert "None" in bias.why and "No preserved method reads it" not in bias.why, bias.why
    assert "Linear.forward()" in bias.why

    nb = report.attribute("nb")
    assert "nb" not in survivors
    assert nb.fate.value == "removed_unused"
    assert "None" in nb.why and "No preserved method reads it" not in nb.why, nb.why

    # read by the root itself: the freezer folds the read, and says the value is None
    b2 = report.attribute("b2")
    assert "b2" not in survivors and b2.fate.value == "inlined"
    assert "Its value is None" in b2.why, b2.why


# --- class constants (__constants__, Final) -------------------------------------------------

@pytest.mark.parametrize("name, value", [("c", 3), ("k", 5), ("lin.in_features", 2)])
def test_class_constants_are_explained(name, value):
    scripted = _scripted(E.WithConstants)
    assert name not in {s.path for s in inventory(scripted._c)}  # not module state
    report = freezeviz.freeze(scripted)
    a = report.attribute(name)
    assert a.kind == "constant" and a.fate.value == "inlined"
    assert repr(value) in a.why and "torch.jit.script" in a.why
    text = report.explain(name)
    assert f"self.{name}" in text and "compiled" in text
    assert name not in report.fates  # the attribute table lists module state only
    assert report.to_dict()["constants"]


def test_explain_names_methods():
    report = freezeviz.freeze(torch.jit.script(M.ExportedReset().eval()))
    text = report.explain("reset")
    assert "reset()" in text and "preserved_attrs" in text and "removed" in text
    kept = freezeviz.freeze(torch.jit.script(M.ExportedReset().eval()), ["reset"])
    assert "keeps" in kept.explain("reset")
    with pytest.raises(KeyError, match="Did you mean"):
        report.explain("rest")


# --- methods of submodules in preserved_attrs -----------------------------------------------

def test_submodule_method_torch_accepts():
    scripted = _scripted(E.DottedPureMethod)
    report = freezeviz.freeze(scripted, ["sub.helper"])
    truth = torch.jit.freeze(scripted, ["sub.helper"])
    x = torch.randn(3)
    ours = report.frozen_module._c.getattr("sub")._get_method("helper")
    theirs = truth._c.getattr("sub")._get_method("helper")
    assert torch.equal(ours(x), theirs(x))
    sub = report.attribute("sub")
    assert sub.fate.value == "preserved_requested" and "sub.helper" in sub.why


def test_submodule_method_frozen_with_the_roots_value_is_flagged():
    scripted = _scripted(E.ShadowedByRoot)
    truth = torch.jit.freeze(scripted, ["sub.helper"])
    helper = truth._c.getattr("sub")._get_method("helper")
    x = torch.zeros(1)
    assert scripted.sub.helper(x).item() == 1 and helper(x).item() == 100  # torch's own result
    report = freezeviz.freeze(scripted, ["sub.helper"])
    z = report.attribute("sub.z")
    assert z.warning and "root" in z.warning and "100" in z.warning
    assert any("sub.helper" in w and "`z`" in w for w in report.warnings)


def test_submodule_method_torch_refuses_is_explained():
    scripted = _scripted(M.DottedMethod)
    with pytest.raises(RuntimeError, match="does not have a field with name 'z'"):
        torch.jit.freeze(scripted, ["sub.helper"])
    with pytest.raises(freezeviz.FreezeError) as info:
        freezeviz.freeze(scripted, ["sub.helper"])
    msg = str(info.value)
    assert "method 'sub.helper'" in msg and "'sub'" in msg and "root method" in msg
    assert "does not have a field with name 'z'" in msg  # torch's own words come along


def test_unknown_name_with_a_space_is_quoted_whole():
    from freezeviz.errors import explain_torch_freeze_error

    scripted = _scripted(E.SpacedKeys)
    with pytest.raises(RuntimeError) as info:  # torch's own refusal, past freezeviz's checks
        torch._C._freeze_module(scripted._c, ["layers.layer two"])
    err = explain_torch_freeze_error(info.value, ["layers.layer two"])
    assert "'layers.layer two'" in str(err)
    with pytest.raises(freezeviz.FreezeError, match="'layers.layer two'.*Did you mean"):
        freezeviz.freeze(scripted, ["layers.layer two"])
