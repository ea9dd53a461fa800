"""Layout speed and the time limit: real-size graphs must lay out fast and never hang."""

from __future__ import annotations

import resource
import time

import pytest
import render_models as rm
from render_helpers import parse_svg, svg_nodes

from freezeviz import examples
from freezeviz.data.snapshot import ConstantInfo, GraphSnapshot, NodeInfo, SourceLoc, ValueInfo
from freezeviz.render import draw

pytestmark = pytest.mark.needs_dot


def synth(n: int = 5000, scoped: bool = True) -> GraphSnapshot:
    """A chain of ``n`` adds sharing one scalar constant, with skip connections."""
    nodes = [NodeInfo("n0", "prim::Constant", (), (ValueInfo("one", "int"),),
                      constant=ConstantInfo("int", "1"))]
    prev = "x"
    for i in range(1, n):
        ins = (prev, "one") + ((f"v{i - 15}",) if i % 7 == 0 and i > 20 else ())
        nodes.append(NodeInfo(f"n{i}", "aten::add", ins,
                              (ValueInfo(f"v{i}", "Tensor", (1, 64), "float32"),),
                              scope=f"b{i // 100}.l{i // 10 % 10}" if scoped else "",
                              source=SourceLoc("m.py", i)))
        prev = f"v{i}"
    return GraphSnapshot("forward", (ValueInfo("x", "Tensor"),), (prev,), tuple(nodes), "")


@pytest.fixture(scope="module")
def resnet50():
    return rm.stages(examples.resnet50(), fold_conv_bn=True)


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@pytest.mark.slow
def test_frozen_resnet50_lays_out_fast(resnet50):
    for snap in resnet50[2:]:
        start, cpu = time.perf_counter(), _child_cpu()
        view = draw(snap, overview=None)  # the full drawing, not the module overview
        root = parse_svg(view.svg)
        total, cpu = time.perf_counter() - start, _child_cpu() - cpu
        assert view.collapse is None and view.message is None  # drawn in full
        assert len(svg_nodes(root)) == view.node_count > 200
        # dot's own CPU time, not wall time: other work on the machine must not fail this
        assert cpu < 1.0 and total < 10, (cpu, view.layout_seconds, total)


@pytest.mark.slow
def test_inlined_resnet50_within_default_budget(resnet50):
    inlined = resnet50[1]
    start = time.perf_counter()
    view = draw(inlined)
    root = parse_svg(view.svg)
    assert time.perf_counter() - start < 10
    assert view.node_count <= 400 and view.collapse is not None
    assert "collapsed to depth" in view.message and "node_budget=None" in view.message
    assert len(svg_nodes(root)) == view.node_count
    ids = [g for g in svg_nodes(root)]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("scoped", [True, False])
def test_5000_nodes_do_not_hang(scoped):
    start = time.perf_counter()
    view = draw(synth(5000, scoped))
    root = parse_svg(view.svg)
    assert time.perf_counter() - start < 30
    assert view.node_count <= 401 and view.message
    assert len(svg_nodes(root)) == view.node_count


def test_timeout_falls_back_and_says_so():
    snap = synth(3000, scoped=True)
    start = time.perf_counter()
    view = draw(snap, collapse=None, node_budget=None, timeout=0.05)
    svg = view.svg
    assert time.perf_counter() - start < 20
    parse_svg(svg)
    assert view.message and ("timeout=" in view.message or "gave up" in view.message)
    assert view.collapse in (0, 1) or "gave up" in view.message
    assert view.node_count < 3000
