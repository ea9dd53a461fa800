"""How the engine walks torch's graphs: checked against torch's own node lists and the real
freeze."""

from __future__ import annotations

import torch

import freezeviz
from freezeviz.engine.torchscript.extract import block_nodes, iter_torch_nodes


class _Branches(torch.nn.Module):
    """If and Loop blocks, nested, some of them empty."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 4)
        self.flag = True

    def forward(self, x, n: int):
        if self.flag:
            x = self.lin(x)
        if n > 2:
            pass
        for i in range(n):
            if i % 2 == 0:
                x = x + i
            else:
                x = torch.relu(x)
        return x


def _torch_blocks(graph) -> list:
    out = []
    for node in graph.findAllNodes("prim::If", True) + graph.findAllNodes("prim::Loop", True):
        out.extend(node.blocks())
    return out


def test_block_nodes_are_torchs_node_list():
    script = torch.jit.script(_Branches().eval())
    graph = script.forward.graph.copy()
    torch._C._jit_pass_inline(graph)
    blocks = _torch_blocks(graph)
    assert any(len(list(b.nodes())) == 0 for b in blocks)  # an empty branch is covered
    for block in blocks:
        assert block_nodes(block) == list(block.nodes())


def test_freezing_asks_no_block_for_its_node_iterator(monkeypatch):
    """One pybind call per block costs more than reading a typical If branch node by node."""
    model = torch.nn.TransformerEncoder(
        torch.nn.TransformerEncoderLayer(16, nhead=2, batch_first=True), num_layers=2,
        enable_nested_tensor=False).eval()
    calls = []
    real = torch._C.Block.nodes

    def counted(block):
        calls.append(block)
        return real(block)

    monkeypatch.setattr(torch._C.Block, "nodes", counted)
    report = freezeviz.freeze(model)
    monkeypatch.undo()
    assert calls == []
    inlined = torch.jit.script(model).forward.graph.copy()
    torch._C._jit_pass_inline(inlined)
    snap = next(s.graph for s in report.stages if s.name == "inlined")
    assert [n.kind for n in snap.iter_nodes()] == [n.kind() for n in iter_torch_nodes(inlined)]
    assert sum(1 for n in snap.iter_nodes() if n.blocks) > 0
