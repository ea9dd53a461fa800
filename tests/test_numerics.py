"""Numerics: every stage's outputs against the module's, with NaN and infinity shown as such."""

from __future__ import annotations

import copy
import json
import math
import re

import pytest
import torch
import torch.nn as nn

import freezeviz
from freezeviz.engine.outputs import compare


class ConvBiasBN(nn.Module):
    """BatchNorm with eps=0 over a zero running variance: 1/sqrt(0) is infinite, and folding
    it into the convolution moves the infinities around."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1)
        self.bn = nn.BatchNorm2d(1, eps=0.0)

    def forward(self, x):
        return self.bn(self.conv(x))


def _degenerate_bn():
    m = ConvBiasBN().eval()
    with torch.no_grad():
        m.bn.running_var.zero_()
        m.bn.running_mean.zero_()
        m.conv.weight.fill_(1.0)
        m.conv.bias.fill_(1.0)
    return m


X = torch.tensor([-2.0, 0.0, 0.5, 1.0, 3.0]).reshape(1, 1, 1, 5)


def _reject_constant(name):
    raise ValueError(f"bare {name} in JSON")


def test_stage_that_turns_nan_into_inf_is_not_reported_as_equal():
    m = _degenerate_bn()
    report = freezeviz.freeze(m, example_inputs=(X,))
    original = m(X).detach()
    frozen = report.frozen_module(X)
    # the premise, from torch itself: folding changed which outputs are NaN
    assert not torch.equal(original.isnan(), frozen.isnan())
    rows = {r.stage: r for r in report.numerics}
    for name in ("scripted", "inlined", "frozen"):  # same operations: same NaNs, same infs
        assert rows[name].max_abs == 0.0 and rows[name].max_rel == 0.0, rows[name]
    assert math.isnan(rows["fold_conv_bn"].max_abs)
    assert math.isnan(rows["fold_conv_bn"].max_rel)
    assert math.isnan(report.numerics[-1].max_abs)
    notes = [w for w in report.warnings if w.startswith("numerics")]
    assert any("fold_conv_bn" in w for w in notes), report.warnings
    assert any("NaN" in w and "module's own outputs" in w for w in notes), report.warnings


def test_report_json_stays_valid_with_non_finite_numerics():
    report = freezeviz.freeze(_degenerate_bn(), example_inputs=(X,))
    text = report.to_json()
    data = json.loads(text, parse_constant=_reject_constant)
    rows = {r["stage"]: r for r in data["numerics"]}
    assert rows["fold_conv_bn"]["max_abs"] == "nan"
    assert rows["scripted"]["max_abs"] == 0.0


def test_html_report_of_non_finite_numerics(tmp_path):
    from freezeviz.render.html import render_html

    report = freezeviz.freeze(_degenerate_bn(), example_inputs=(X,))
    page = render_html(report)
    blob = re.search(r'<script type="application/json" id="fv-data">(.*?)</script>', page, re.S)
    assert blob is not None
    json.loads(blob.group(1), parse_constant=_reject_constant)
    assert ">nan<" in page


@pytest.mark.parametrize("out, ref, expected", [
    (torch.tensor([1.0, float("nan")]), torch.tensor([1.0, 2.0]), (math.nan, math.nan)),
    (torch.tensor([1.0, 2.0]), torch.tensor([1.0, float("nan")]), (math.nan, math.nan)),
    (torch.tensor([float("inf"), 2.0]), torch.tensor([1.0, 2.0]), (math.inf, math.inf)),
    (torch.tensor([float("-inf")]), torch.tensor([float("inf")]), (math.inf, math.inf)),
    (torch.tensor([float("nan"), float("inf"), 2.5]),
     torch.tensor([float("nan"), float("inf"), 2.0]), (0.5, 0.25)),
    ((torch.tensor([1.0]), torch.tensor([float("nan")])),
     (torch.tensor([1.5]), torch.tensor([3.0])), (math.nan, math.nan)),
])
def test_compare_keeps_non_finite_differences(out, ref, expected):
    got = compare(out, ref)
    for g, e in zip(got, expected):
        if math.isnan(e):
            assert math.isnan(g), got
        else:
            assert g == pytest.approx(e), got


def test_compare_counts_a_missing_output_as_a_difference():
    assert compare((torch.ones(2),), (torch.ones(2), torch.ones(2))) == (math.inf, math.inf)


# --- runs share what no stage can write, and copy the rest ------------------------------------


def test_a_folded_buffer_that_a_fork_writes_stays_as_it_was():
    """torch's freezer folds a buffer that a forked method writes in place (a torch bug): the
    frozen graph's constant is then written by every run. The numerics runs must write into
    copies, never into the user's buffer or the frozen module's constant."""
    from tests.corpus.modules_edges import ForkSelfWrite

    module = ForkSelfWrite().eval()
    script = torch.jit.script(module)
    report = freezeviz.freeze(script, example_inputs=(torch.zeros(2),))
    assert torch.equal(script.fb, torch.zeros(2)) and torch.equal(module.fb, torch.zeros(2))
    assert not any("wrote into a tensor" in w for w in report.warnings)
    # the frozen module's first run sees the buffer as it was: (0 + 1) + x
    truth = torch.jit.freeze(torch.jit.script(ForkSelfWrite().eval()))
    assert torch.equal(report.frozen_module(torch.zeros(2)), truth(torch.zeros(2)))
    assert {r.stage: r.max_abs for r in report.numerics}["frozen"] == 0.0


def test_a_write_the_alias_analysis_misses_is_reported(monkeypatch):
    """Tensors torch's alias analysis finds no writer of are shared with the runs; if one is
    written all the same, the report says so."""
    from tests.corpus.modules_edges import ForkSelfWrite

    monkeypatch.setattr(torch._C.AliasDb, "has_writers", lambda self, value: False)
    report = freezeviz.freeze(torch.jit.script(ForkSelfWrite().eval()),
                              example_inputs=(torch.zeros(2),))
    assert any(re.search(r"numerics: running stages? .*frozen.* wrote into a tensor it shares", w)
               for w in report.warnings), report.warnings


def test_stages_that_compute_the_same_report_what_a_run_of_their_own_gives(monkeypatch):
    """A stage whose graph and tensors are those of the stage before it, or differ only by
    nodes nothing uses (fold_conv_bn dropping the dropout's unused probability), reports that
    stage's run; each row must equal what running the stage itself gives."""
    from freezeviz.engine.torchscript import numerics as N

    from tests.corpus.modules import ConvBN

    ran = []
    real_stage = N._Runs.stage
    monkeypatch.setattr(N._Runs, "stage", lambda self, st, *a: ran.append(st.name) or
                        real_stage(self, st, *a))
    torch.manual_seed(0)
    dropped = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.1), nn.ReLU()).eval()
    report = freezeviz.freeze(dropped, example_inputs=(torch.randn(2, 4),))
    assert report.stage("fold_conv_bn").changed and "fold_conv_bn" not in ran

    module = ConvBN().eval()
    with torch.no_grad():
        module.bn.running_var.uniform_(0.5, 2.0)
        module.bn.running_mean.uniform_(-1, 1)
    x = torch.randn(2, 3, 8, 8)
    fast = freezeviz.freeze(module, example_inputs=(x,))
    assert any(not s.changed for s in fast.stages[1:])
    assert any(r.max_abs > 0 for r in fast.numerics)  # folding moved the numbers a little
    # every stage run on its own: nothing counts as the same as the stage before
    monkeypatch.setattr(N, "_same_program", lambda a, b, changed: False)
    ran.clear()
    slow = freezeviz.freeze(copy.deepcopy(module), example_inputs=(x,))  # not from the cache
    assert [(r.stage, r.max_abs, r.max_rel) for r in fast.numerics] == \
        [(r.stage, r.max_abs, r.max_rel) for r in slow.numerics]
    assert "fold_conv_add_or_sub" in ran


def test_state_only_read_is_shared_and_state_written_is_copied(monkeypatch):
    """The module's own state goes to the runs as it is when the alias analysis of its forward
    shows it is only read (no copy of a BERT's weights per run); a module that writes its
    state runs on copies and is left as it was."""
    from freezeviz.engine.torchscript import numerics as N
    from tests.corpus.modules import InplaceBuffer

    copied = []
    real_copy = N._copy_state
    monkeypatch.setattr(N, "_copy_state", lambda m: copied.append(m) or real_copy(m))
    script = torch.jit.script(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)).eval())
    report = freezeviz.freeze(script, example_inputs=(torch.randn(3, 4),))
    assert script not in copied
    assert {r.stage for r in report.numerics} >= {"scripted", "inlined", "frozen"}

    copied.clear()
    module = torch.jit.script(InplaceBuffer().eval())
    before = module.buf.clone()
    report = freezeviz.freeze(module, example_inputs=(torch.randn(3),))
    assert module in copied
    assert torch.equal(module.buf, before)
    assert {r.stage for r in report.numerics} >= {"scripted", "inlined", "frozen"}


def test_a_state_write_the_alias_analysis_misses_is_reported(monkeypatch):
    from tests.corpus.modules import InplaceBuffer

    monkeypatch.setattr(torch._C.AliasDb, "has_writers", lambda self, value: False)
    report = freezeviz.freeze(torch.jit.script(InplaceBuffer().eval()),
                              example_inputs=(torch.randn(3),))
    assert any(re.search(r"numerics: running stages? scripted.* wrote into a tensor it shares", w)
               for w in report.warnings), report.warnings


@pytest.mark.parametrize("case", ["fork_wait", "conv_bn", "names_with_spaces", "lstm"])
def test_subgraphs_are_told_from_the_printout_as_from_the_nodes(case, tmp_path):
    """Numerics tell a graph holding subgraphs (a fork's body) from its printout; the answer
    must be the one a walk over every node gives."""
    from freezeviz.engine.torchscript import numerics as N
    from tests.corpus.cases import CASES
    from tests.test_corpus import build

    found = [c for c in CASES if str(c) == case]
    if not found:
        pytest.fail(f"no corpus case {case}")
    arg, _ = build(found[0], tmp_path)
    script = arg if isinstance(arg, torch.jit.ScriptModule) else torch.jit.script(arg)
    frozen = torch.jit.freeze(script.eval())
    for graph in (script.forward.graph, frozen.forward.graph):
        walked = any(n.hasAttribute("Subgraph") for n in N._all_nodes(graph))
        assert N._has_subgraphs(graph) == walked
    if case == "fork_wait":
        assert N._has_subgraphs(script.forward.graph)
