"""The node map says, for every SVG element drawn, what it stands for."""

from __future__ import annotations

import json

import pytest
import torch
from render_helpers import SVG_NS, parse_svg, svg_nodes

from freezeviz.data.diff import node_keys
from freezeviz.engine.torchscript.extract import snapshot_graph
from freezeviz.examples import resnet_tiny
from freezeviz.render import draw
from freezeviz.render.dot import attribute_paths
from freezeviz.render.nodemap import NodeRef

pytestmark = pytest.mark.needs_dot


def _cluster_ids(root):
    return {g.get("id") for g in root.iter(SVG_NS + "g") if "cluster" in (g.get("class") or "")}


def _check_map_matches_svg(view):
    root = parse_svg(view.svg)
    drawn = set(svg_nodes(root)) | _cluster_ids(root)
    assert set(view.node_map) == drawn
    for sid, ref in view.node_map.items():
        assert isinstance(ref, NodeRef) and ref.svg_id == sid


@pytest.fixture(scope="module")
def tiny_inlined():
    m = torch.jit.script(resnet_tiny().eval())
    g = m.forward.graph.copy()
    torch._C._jit_pass_inline(g)
    frozen = torch.jit.freeze(m, optimize_numerics=False)
    return snapshot_graph(g), snapshot_graph(frozen.graph)


@pytest.mark.parametrize("name", ["convbn", "branchy", "inplace", "hostile"])
def test_map_covers_exactly_what_was_drawn(all_stages, name):
    for snap in all_stages[name]:
        _check_map_matches_svg(draw(snap))


def test_nodes_carry_keys_scopes_and_attributes(branchy, inplace):
    for snap in (*branchy, *inplace):
        keys = node_keys(snap)
        view = draw(snap)
        for ref in view.node_map.values():
            if ref.kind in ("node", "join"):
                node = snap.node(ref.node)
                assert ref.key == keys[ref.node]
                assert set(ref.attributes) == set(attribute_paths(node))
    # the frozen in-place module keeps reading and writing its buffer
    frozen = draw(inplace[2]).node_map.values()
    assert any("buf" in r.attributes for r in frozen if r.kind == "node")


def test_collapsed_boxes_list_their_members(tiny_inlined):
    snap = tiny_inlined[0]
    keys = node_keys(snap)
    view = draw(snap, collapse=0)
    _check_map_matches_svg(view)
    boxes = [r for r in view.node_map.values() if r.kind == "collapsed"]
    assert boxes and all(r.box and r.members for r in boxes)
    drawn = {r.key for r in view.node_map.values() if r.kind in ("node", "join")}
    inside = {k for r in boxes for k in r.members}
    assert not drawn & inside
    by_key = {k: i for i, k in keys.items()}
    for r in boxes:  # every member really runs in the box's module
        for k in r.members:
            scope = snap.node(by_key[k]).scope
            assert not scope or scope == r.box or scope.startswith(r.box + ".")
    assert any("layer1.0.conv1.weight" in r.attributes for r in boxes)


def test_after_pane_uses_the_before_keys(tiny_inlined):
    before, after = tiny_inlined
    view = draw(after, diff_against=before, diff_side="after")
    before_keys = set(node_keys(before).values())
    kept = [r for r in view.node_map.values() if r.kind == "node" and r.key in before_keys]
    assert kept and all(r.svg_id in view.svg for r in kept)


def test_fallback_drawing_has_its_own_map(tiny_inlined):
    snap = tiny_inlined[0]
    full = draw(snap, collapse=None, node_budget=None)
    late = draw(snap, collapse=None, node_budget=None, timeout=0.001)
    _check_map_matches_svg(late)
    assert late.message
    if "gave up" in late.message:
        assert late.node_map == {}
    else:
        assert len(late.node_map) < len(full.node_map)


def test_json_form_is_plain_and_script_safe(hostile):
    view = draw(hostile[2])
    text = view.node_map_json()
    assert "<" not in text and ">" not in text
    data = json.loads(text)
    assert set(data) == set(view.node_map)
    for sid, ref in view.node_map.items():
        assert data[sid]["kind"] == ref.kind and data[sid]["key"] == ref.key
