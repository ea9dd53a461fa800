"""Readable first views of large graphs: the module overview, modules and checks drawn
closed and opened on request (``draw(..., expanded=...)``), fate counts on module boxes.
Graphs come from the real torch.jit.script / torch.jit.freeze."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from render_helpers import SVG_NS, check_dot, parse_svg, svg_nodes
from torch import nn

import freezeviz
from freezeviz import examples
from freezeviz.data.diff import node_keys
from freezeviz.render import draw
from freezeviz.render.boxes import FATE_WORDS
from freezeviz.render.checks import is_check
from freezeviz.render.dot import Plan

pytestmark = pytest.mark.needs_dot


def _encoder(layers: int = 1) -> nn.Module:
    layer = nn.TransformerEncoderLayer(16, 2, dim_feedforward=32, dropout=0.0)
    return nn.TransformerEncoder(layer, layers, enable_nested_tensor=False).eval()


@pytest.fixture(scope="module")
def encoder():
    """(torch's graph text, snapshot) of a small TransformerEncoder: inlined, then frozen."""
    report = freezeviz.freeze(_encoder(1))
    return [(st.graph.text, st.graph) for st in (report.stage("inlined"),
                                                  report.final_stage("forward"))]


def _cluster_labels(root) -> dict[str, str]:
    out = {}
    for g in root.iter(SVG_NS + "g"):
        if "cluster" in (g.get("class") or ""):
            first = next(g.iter(SVG_NS + "text"), None)  # its label comes before what it holds
            out[g.get("id")] = "".join(first.itertext()) if first is not None else ""
    return out


def _covered(view, snap) -> None:
    """Every node the drawing stands for is drawn, or inside exactly the boxes that say so."""
    plan, keys = Plan(snap), node_keys(snap)
    wanted = {keys[n.id] for n in snap.iter_nodes() if n.id not in plan.hidden}
    shown = {r.key for r in view.node_map.values() if r.kind == "node"}
    inside = {k for r in view.node_map.values() if r.kind == "collapsed" for k in r.members}
    assert wanted == shown | inside
    assert not shown & inside


def _inside(snap, node_ids):
    out = set()
    for nid in node_ids:
        stack = [snap.node(nid)]
        while stack:
            node = stack.pop()
            out.add(node.id)
            stack += [s for b in node.blocks for s in b.nodes]
    return out


def test_checks_are_closed_boxes_labelled_from_the_graph(encoder):
    for text, snap in encoder:
        plan = Plan(snap)
        closed = _inside(snap, plan.checks)
        for node in snap.iter_nodes():  # every If yielding a why-not string and no tensor is
            tensor = any("Tensor" in o.type for o in node.outputs)  # in a check, none with one
            if node.kind == "prim::If" and not tensor and any(o.type == "str" for o in node.outputs):
                assert node.id in closed
            if node.kind == "prim::If" and any("Tensor" in o.type for o in node.outputs):
                assert not is_check(node) and node.id not in plan.checks
        view = draw(snap, expanded={"layers", "layers.0"}, timeout=None)
        checks = [r for r in view.node_map.values() if r.expand and r.kind == "collapsed"
                  and r.expand.startswith("if:")]
        texts = "\n".join(re.findall(r'label="([^"]*)"', view.source))
        raises = re.findall(r"⊕ raises: (.{12})", texts)
        assert checks and raises and all(m in text for m in raises)  # the message torch has
        assert "⊕ fast-path check:" in texts
        assert all(r.node in plan.checks or r.node in plan.flows for r in checks)
        _covered(view, snap)
        check_dot(view.source)


def test_a_check_opens_on_request(encoder):
    _, snap = encoder[1]
    closed = draw(snap, timeout=None)
    ref = next(r for r in closed.node_map.values() if r.kind == "collapsed" and r.expand
               and r.expand.startswith("if:"))
    opened = draw(snap, expanded={ref.expand}, timeout=None)
    assert ref.svg_id not in opened.node_map
    block = [r for r in opened.node_map.values() if r.expand == ref.expand]
    assert [r.kind for r in block] == ["block"]  # its If cluster, which closes it again
    assert _cluster_labels(parse_svg(opened.svg))[block[0].svg_id].startswith("⊖ ")
    _covered(opened, snap)


@pytest.fixture(scope="module")
def tiny():
    report = freezeviz.freeze(examples.resnet_tiny())
    return report


def test_modules_open_in_place(tiny):
    for stage in ("inlined", "frozen"):
        snap = tiny.stage(stage).graph
        closed = draw(snap, collapse=0, fates=tiny.fates)
        boxes = {r.expand for r in closed.node_map.values() if r.kind == "collapsed"}
        assert "layer1" in boxes and not any(r.kind == "scope" for r in closed.node_map.values())
        opened = draw(snap, collapse=0, fates=tiny.fates, expanded={"layer1"})
        refs = list(opened.node_map.values())
        scope = [r for r in refs if r.kind == "scope" and r.scope == "layer1"]
        assert [r.expand for r in scope] == ["layer1"]
        inner = {r.box for r in refs if r.kind == "collapsed" and r.box}
        assert "layer1" not in inner and any(b.startswith("layer1.") for b in inner)
        assert boxes - {"layer1"} <= {r.expand for r in refs if r.kind == "collapsed"}
        root = parse_svg(opened.svg)
        assert _cluster_labels(root)[scope[0].svg_id].startswith("⊖ layer1")
        assert set(svg_nodes(root)) <= set(opened.node_map)
        _covered(opened, snap)
        deeper = draw(snap, collapse=0, expanded={"layer1", "layer1.0"})
        assert {r.expand for r in deeper.node_map.values() if r.kind == "scope"} == {
            "layer1", "layer1.0"}


def _label(view, ref) -> str:
    return re.search(r'label="([^"]*)"[^\n]*id="' + ref.svg_id + '"', view.source).group(1)


def test_module_boxes_count_fates_and_changes(tiny):
    frozen, final = tiny.stage("frozen"), tiny.final_stage("forward")
    view = tiny.draw(final, diff_against=frozen, collapse=0, title=None)
    boxes = [r for r in view.node_map.values() if r.kind == "collapsed" and r.box]
    assert boxes
    for ref in boxes:
        counts = Counter(a.fate for a in tiny.attributes if a.path.startswith(ref.box + "."))
        label = _label(view, ref)
        for fate, n in counts.items():  # the fates the freeze gave the attributes under it
            assert f"{n} {FATE_WORDS[fate]}" in label, (ref.box, label)
    # conv+bn folding made new constants (named by the freezer after the fold) in modules
    fused = [n for n in final.graph.iter_nodes() if "_fused_bn" in "".join(
        o.name for o in n.outputs)]
    assert fused and not any("_fused_bn" in o.name for n in frozen.graph.iter_nodes()
                             for o in n.outputs)
    marked = [r for r in boxes if re.search(r"● \d+ added by this step", _label(view, r))]
    assert marked


@pytest.mark.slow
def test_large_graphs_open_on_a_module_overview():
    report = freezeviz.freeze(examples.resnet50())
    top = {name for name, _ in examples.resnet50().named_children()}
    for stage in ("inlined", "frozen", report.final_stage("forward")):
        view = report.draw(stage, title=None)
        assert view.collapse == 0 and view.node_count <= 40, (stage, view.node_count)
        boxes = {r.box for r in view.node_map.values() if r.kind == "collapsed"}
        assert {"layer1", "layer2", "layer3", "layer4"} <= boxes <= top
        assert "collapsed to depth 0" in view.message
        _covered(view, report.stage(stage).graph)


def test_closed_boxes_drawn_from_summaries_match_node_by_node(encoder, monkeypatch):
    """A closed box takes each top-level node's contents from the plan's summary; the DOT text
    and node map are those of visiting every node inside it, in every view."""
    from freezeviz.render import view as V
    from freezeviz.render.dot import _Builder

    report = freezeviz.freeze(examples.resnet_tiny())
    snaps = [snap for _, snap in encoder] + [report.stage("inlined").graph]
    cases = [dict(collapse=c) for c in (0, 1, 2)] + [dict(), dict(expanded=["layers"])]
    pairs = [(snaps[0], snaps[1]), (snaps[1], snaps[0]), (snaps[2], None)]

    def views():
        return [(v.source, v.node_map) for s, other in pairs for kw in cases
                for v in (draw(s, diff_against=other, **kw),)]

    fast = views()
    monkeypatch.setattr(_Builder, "absorb_top", _Builder.absorb)
    V._PREPARED.clear()
    slow = views()
    assert fast == slow
    assert any("box_" in src for src, _ in fast)  # boxes were drawn closed
    assert any("changed by this step" in src or "added by this step" in src or
               "removed by this step" in src for src, _ in fast)
