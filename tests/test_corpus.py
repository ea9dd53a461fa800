"""Every corpus module, frozen by freezeviz and by torch.jit.freeze: they must agree."""

from __future__ import annotations

import copy
import pickle
import re

import pytest
import torch

import freezeviz
from freezeviz.analysis import inventory
from freezeviz.engine import normalize_graph_text
from tests.corpus.cases import CASES, Case

OK = [c for c in CASES if c.error is None]
ERRORS = [c for c in CASES if c.error is not None]


def build(case: Case, tmp_path):
    """(what to pass to freezeviz, the eval ScriptModule torch.jit.freeze gets)."""
    torch.manual_seed(0)
    mod = case.make()
    if case.how == "nn":
        return mod, None
    if case.how == "trace":
        scripted = torch.jit.trace(mod.eval(), case.inputs())
        return scripted, scripted
    scripted = torch.jit.script(mod if case.how == "train" else mod.eval())
    if case.how == "load":
        path = tmp_path / f"{case.name}.pt"
        torch.jit.save(scripted, str(path))
        return str(path), torch.jit.load(str(path))
    return scripted, scripted


def truth(scripted, case: Case):
    if case.how == "train":
        scripted = copy.deepcopy(scripted).eval()
    frozen = torch.jit.freeze(scripted, case.preserved, case.optimize_numerics)
    if case.optimize_for_inference:
        others = [p for p in case.preserved if frozen._c._has_method(p)]
        frozen = torch.jit.optimize_for_inference(frozen, others)
    return frozen


@pytest.mark.parametrize("case", OK, ids=str)
def test_matches_real_freeze(case: Case, tmp_path):
    arg, scripted = build(case, tmp_path)
    report = freezeviz.freeze(arg, case.preserved, case.optimize_numerics,
                              example_inputs=case.inputs() if case.inputs else None,
                              optimize_for_inference=case.optimize_for_inference)
    if scripted is None:  # an nn.Module: torch gets the same scripting
        scripted = torch.jit.script(arg.eval())
    expected = truth(scripted, case)

    # the frozen module is torch's: same graph for every method it keeps
    methods = ["forward"] if expected._c._has_method("forward") else []
    methods += [p for p in case.preserved if expected._c._has_method(p) and p != "forward"]
    assert methods
    for m in methods:
        ours = normalize_graph_text(str(report.frozen_module._c._get_method(m).graph))
        theirs = normalize_graph_text(str(expected._c._get_method(m).graph))
        assert ours == theirs, f"{m} differs from torch.jit.freeze"
        assert normalize_graph_text(report.final_stage(m).graph.text) == theirs

    # fates agree with what really survives on torch's frozen module, both ways
    survivors = {s.path for s in inventory(expected._c)}
    paths = {a.path for a in report.attributes}
    assert survivors <= paths | {"training"}, survivors - paths
    for a in report.attributes:
        assert (a.path in survivors) == a.fate.survives, (a.path, a.fate, a.why)
        assert len(a.why) > 20 and a.why.endswith("."), a.why

    # the case's own expectations
    for path, fate in case.expect.items():
        assert report.attribute(path).fate.value == fate, report.explain(path)
    if case.warning:
        assert any(re.search(case.warning, w) for w in report.warnings), report.warnings

    # stages: named, in torch's order, plain data
    names = [s.name for s in report.stages_of(methods[0])]
    assert names[:3] == ["scripted", "inlined", "frozen"]
    if methods[0] == "forward":
        assert names[3:5] == ["remove_dropout", "concat_frozen_linear"]
        if case.optimize_numerics:
            assert names[5:9] == ["fold_conv_bn", "fold_conv_add_or_sub", "fold_conv_mul_or_div",
                                  "fold_linear_bn"]
        assert "MISMATCH" not in report.passes_check
    pickle.loads(pickle.dumps(report.stages))


@pytest.mark.parametrize("case", ERRORS, ids=str)
def test_errors_are_explained(case: Case, tmp_path):
    mod = case.make()
    arg = mod if case.how == "nn" else torch.jit.script(mod.eval())
    before = {k: v.clone() for k, v in arg.state_dict().items()}
    with pytest.raises(freezeviz.FreezeError, match=case.error) as info:
        freezeviz.freeze(arg, case.preserved)
    # what to do, in plain words, and nothing changed
    assert len(str(info.value)) > 60
    after = arg.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
