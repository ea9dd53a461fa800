"""A stage's snapshot takes what the previous snapshot read for every node whose printed line
did not change, and reads the rest from torch: it must equal a snapshot read wholly from
torch, for every stage of every corpus module. And the passes run one by one on the frozen
module must leave it as torch.jit.freeze leaves it, or the report says so and hands back
torch's own."""

from __future__ import annotations

import pytest
import torch

import freezeviz
from freezeviz.data.diff import normalize_graph_text
from freezeviz.engine.torchscript import passes as P
from freezeviz.engine.torchscript import recorder
from freezeviz.engine.torchscript.extract import node_lines
from tests.corpus.cases import CASES, Case
from tests.test_corpus import build


def _checked_snapshots(monkeypatch) -> list:
    """Every snapshot the engine takes is compared with one read wholly from torch."""
    real = recorder.snapshot_graph
    compared: list = []

    def both(graph, method, **kwargs):
        snap = real(graph, method, **kwargs)
        fresh = real(graph, method, **{k: v for k, v in kwargs.items()
                                       if k not in ("known", "seen")})
        assert snap == fresh, f"{method}: a reused node differs from torch's"
        # (SourceLoc's equality leaves out the quoted code and the notebook cell)
        assert [(n.source.code, n.source.cell) if n.source else None for n in snap.iter_nodes()] \
            == [(n.source.code, n.source.cell) if n.source else None for n in fresh.iter_nodes()]
        compared.append((kwargs.get("known") is not None, len(kwargs.get("seen") or ())))
        return snap

    monkeypatch.setattr(recorder, "snapshot_graph", both)
    return compared


@pytest.mark.parametrize("case", [c for c in CASES if c.error is None], ids=str)
def test_reused_reads_equal_fresh_ones(case: Case, tmp_path, monkeypatch):
    arg, _ = build(case, tmp_path)
    compared = _checked_snapshots(monkeypatch)
    freezeviz.freeze(arg, case.preserved, case.optimize_numerics,
                     example_inputs=case.inputs() if case.inputs else None,
                     optimize_for_inference=case.optimize_for_inference)
    assert compared


@pytest.mark.parametrize("make", [freezeviz.examples.conv_bn_relu,
                                  lambda: freezeviz.examples.transformer_encoder(2, 32)],
                         ids=["conv_bn_relu", "transformer_encoder"])
def test_reuse_happens_and_is_right_on_real_models(make, monkeypatch):
    torch.manual_seed(0)
    compared = _checked_snapshots(monkeypatch)
    freezeviz.freeze(make())
    # stages after the first of each method reuse what the one before read
    assert sum(1 for reused, _ in compared if reused) >= 2
    assert all(n > 0 for _, n in compared)


def test_node_lines_pair_with_nodes():
    from freezeviz.engine.torchscript.extract import iter_torch_nodes

    torch.manual_seed(0)
    script = torch.jit.script(freezeviz.examples.transformer_encoder(1, 32))
    graph = script.forward.graph.copy()
    torch._C._jit_pass_inline(graph)
    nodes = iter_torch_nodes(graph)
    lines = node_lines(str(graph))
    assert len(lines) == len(nodes) > 100
    assert all(n.kind() in line for n, line in zip(nodes, lines))
    assert any(n.blocks() for n in nodes)  # blocks included, in program order


def test_a_mismatch_with_torchs_fused_pass_hands_back_torchs_module(monkeypatch):
    """If the passes run one by one ever ended elsewhere than torch's fused pass, the report
    must say so and return the module torch.jit.freeze builds."""
    torch.manual_seed(0)
    module = freezeviz.examples.conv_bn_relu()
    # one-by-one without fold_conv_bn: no longer what torch's fused pass does
    monkeypatch.setattr(P, "NUMERICS_LOOP", tuple(s for s in P.NUMERICS_LOOP
                                                  if s.name != "fold_conv_bn"))
    report = freezeviz.freeze(module)
    assert "MISMATCH" in report.passes_check
    assert any("did not end on the graph of torch's fused pass" in w for w in report.warnings)
    expected = normalize_graph_text(str(torch.jit.freeze(torch.jit.script(module)).graph))
    assert normalize_graph_text(str(report.frozen_module.graph)) == expected
    assert report.final_stage().name == "optimize_frozen_graph"
    assert normalize_graph_text(report.final_stage().graph.text) == expected
    x = torch.randn(1, 3, 8, 8)
    torch.testing.assert_close(report.frozen_module(x), module(x))
