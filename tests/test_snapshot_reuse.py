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
from freezeviz.engine.torchscript import textwalk
from tests.corpus.cases import CASES, Case
from tests.test_corpus import build


def _checked_snapshots(monkeypatch) -> list:
    """Every snapshot the engine takes is compared with one read wholly from torch by walking
    its nodes; each must have been walked along the printout (no fallback)."""
    real = recorder.snapshot_graph
    compared: list = []
    walked: list = []
    real_walk = textwalk.TextWalker.walk_all

    def walk_all(self):
        walked.append(False)
        nodes = real_walk(self)
        walked[-1] = True
        return nodes

    def both(graph, method, **kwargs):
        walked.clear()
        snap = real(graph, method, **kwargs)
        # walked along the printout when an earlier snapshot read enough of it (not when a
        # line break inside a name breaks the printout's lines)
        rows = textwalk.text_rows(kwargs.get("text") or str(graph))
        expected = [True] if rows is not None and textwalk.mostly_known(
            rows, kwargs.get("known")) else []
        assert walked == expected, "the printout's lines did not pair up with the nodes"
        fresh = real(graph, method, **{k: v for k, v in kwargs.items()
                                       if k not in ("known", "seen")})
        assert snap == fresh, f"{method}: a node read along the printout differs from torch's"
        # (SourceLoc's equality leaves out the quoted code and the notebook cell)
        assert [(n.source.code, n.source.cell) if n.source else None for n in snap.iter_nodes()] \
            == [(n.source.code, n.source.cell) if n.source else None for n in fresh.iter_nodes()]
        compared.append((kwargs.get("known") is not None, len(kwargs.get("seen") or ()),
                         walked == [True]))
        return snap

    monkeypatch.setattr(textwalk.TextWalker, "walk_all", walk_all)
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


@pytest.mark.parametrize("make, along", [
    (freezeviz.examples.conv_bn_relu, 0),  # its stages are mostly constants, read anew
    (lambda: freezeviz.examples.transformer_encoder(2, 32), 2)],
    ids=["conv_bn_relu", "transformer_encoder"])
def test_reuse_happens_and_is_right_on_real_models(make, along, monkeypatch):
    torch.manual_seed(0)
    compared = _checked_snapshots(monkeypatch)
    freezeviz.freeze(make())
    # stages after the first of each method reuse what the one before read
    assert sum(1 for reused, _, _ in compared if reused) >= 2
    assert all(n > 0 for _, n, _ in compared)  # every walk, of torch's nodes or along the
    # lines, learnt the lines it read
    assert sum(1 for _, _, walked in compared if walked) >= along


def test_printout_rows_pair_with_nodes():
    from freezeviz.engine.torchscript.extract import iter_torch_nodes

    torch.manual_seed(0)
    script = torch.jit.script(freezeviz.examples.transformer_encoder(1, 32))
    graph = script.forward.graph.copy()
    torch._C._jit_pass_inline(graph)
    nodes = iter_torch_nodes(graph)
    rows = textwalk.text_rows(str(graph))
    lines = [line for kind, line in rows if kind == textwalk._NODE]
    assert len(lines) == len(nodes) > 100
    assert all(textwalk._kind_of(line) == n.kind() for n, line in zip(nodes, lines))
    blocks = sum(len(list(n.blocks())) for n in nodes)
    assert blocks and [kind for kind, _ in rows].count(textwalk._BLOCK) == blocks
    assert [kind for kind, _ in rows].count(textwalk._END) == blocks


def test_a_printout_that_does_not_pair_up_is_read_node_by_node(monkeypatch):
    """Lines in a form the walk does not know, or nodes that do not match their lines, give
    the snapshot read by walking torch's nodes."""
    from freezeviz.engine.torchscript.extract import snapshot_graph

    torch.manual_seed(0)
    graph = torch.jit.script(freezeviz.examples.transformer_encoder(1, 32)).forward.graph
    whole = snapshot_graph(graph)
    text = str(graph)
    assert snapshot_graph(graph, seen={}, text=text.replace("\n  %", "\n  ?%", 1)).nodes == \
        whole.nodes
    first = next(ln for ln in text.split("\n") if " = aten::" in ln)
    swapped = text.replace(first, first.replace("%", "%x", 1))  # names another value
    seen: dict = {}
    assert snapshot_graph(graph, seen=seen, text=swapped).nodes == whole.nodes
    assert seen == {}  # nothing learnt from a walk that did not pair up


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
