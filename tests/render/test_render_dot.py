"""DOT-level checks of freezeviz.render (no `dot` program needed)."""

from __future__ import annotations

import subprocess
import sys

from render_helpers import dot_attr, dot_nodes

from freezeviz.data.diff import node_key
from freezeviz.data.fates import Fate
from freezeviz.render import draw
from freezeviz.render.styles import svg_id


def _by_label(view, text):
    return {n: a for n, a in dot_nodes(view.source).items() if text in (dot_attr(a, "label") or "")}


def _classes(attrs):
    return set((dot_attr(attrs, "class") or "").split())


def test_render_does_not_import_torch():
    code = ("import sys, freezeviz.render, freezeviz.data.diff, freezeviz.render.styles; "
            "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if 'torch' in m)")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_no_scalar_constant_is_a_node(all_stages):
    for stages in all_stages.values():
        for snap in stages:
            drawn = dot_nodes(draw(snap, node_budget=None).source)
            for node in snap.iter_nodes():
                c = node.constant
                scalar = c is None or c.kind not in ("tensor", "object")
                if node.kind == "prim::Constant" and scalar:
                    assert "#" + node.id not in drawn, (node, snap.text)
            assert drawn and all(n.startswith(("#", "in", "box_")) or n in ("out", "more")
                                 for n in drawn)


def test_scalar_arguments_folded_into_labels(convbn):
    frozen = convbn[2]
    view = draw(frozen)
    (conv,) = _by_label(view, "conv2d").values()
    assert "[2, 2]" in dot_attr(conv, "label") and "[1, 1]" in dot_attr(conv, "label")
    (bn,) = _by_label(view, "batch_norm").values()
    assert "1e-05" in dot_attr(bn, "label")
    # the frozen weights are tensor constants drawn with their attribute path, shape, dtype
    consts = [a for a in dot_nodes(view.source).values() if "fv-const" in _classes(a)]
    labels = " ".join(dot_attr(a, "label") for a in consts)
    assert "self.conv.weight" in labels and "8×3×3×3 float32" in labels
    assert all(dot_attr(a, "shape") == "cylinder" for a in consts)


def test_if_and_loop_blocks_are_clusters(branchy):
    view = draw(branchy[2])
    src = view.source
    assert src.count("subgraph cluster_") >= 4  # if, then, else, loop, body
    for label in ('label="then"', 'label="else"', 'label="body"'):
        assert label in src
    controls = [a for a in dot_nodes(src).values() if "fv-control" in _classes(a)]
    assert {dot_attr(a, "label") for a in controls} >= {"if", "loop"}


def test_writer_and_state_reads(inplace):
    view = draw(inplace[2])
    nodes = dot_nodes(view.source)
    writers = [a for a in nodes.values() if "fv-writer" in _classes(a)]
    assert len(writers) == 1 and "writes self.buf" in dot_attr(writers[0], "label")
    attrs = [a for a in nodes.values() if "fv-attr" in _classes(a)]
    assert attrs and all("self.buf" in dot_attr(a, "label") for a in attrs)


def test_fates_colour_attributes(inplace):
    for fate in (Fate.PRESERVED_MUTATED, "preserved_mutated"):
        view = draw(inplace[2], fates={"buf": fate, "w": Fate.INLINED})
        nodes = dot_nodes(view.source).values()
        buf = [a for a in nodes if "fv-attr" in _classes(a)]
        assert buf and all("fv-fate-preserved_mutated" in _classes(a) for a in buf)
    view = draw(inplace[1], fates={"w": "inlined", "buf": "bogus"})
    classes = [_classes(a) for a in dot_nodes(view.source).values()]
    assert sum("fv-fate-inlined" in c for c in classes) == 1
    assert not any(c2.startswith("fv-fate-bogus") for c in classes for c2 in c)


def test_highlight_by_attribute_and_id(convbn):
    inlined = convbn[1]
    view = draw(inlined, highlight={"conv.weight"})
    hits = [a for a in dot_nodes(view.source).values() if "fv-highlight" in _classes(a)]
    assert len(hits) == 1 and "self.conv.weight" in dot_attr(hits[0], "label")
    relu = next(n for n in inlined.iter_nodes() if n.kind == "aten::relu")
    for ident in (relu.id, node_key(inlined, relu), svg_id(node_key(inlined, relu))):
        view = draw(inlined, highlight=[ident])
        hits = [a for a in dot_nodes(view.source).values() if "fv-highlight" in _classes(a)]
        assert len(hits) == 1 and dot_attr(hits[0], "label") == "relu"


def test_ids_stable_across_stages(convbn):
    _, inlined, frozen, folded = convbn
    ids = {}
    for name, snap in (("inlined", inlined), ("frozen", frozen), ("folded", folded)):
        nodes = dot_nodes(draw(snap).source).values()
        ids[name] = {dot_attr(a, "label").split("(")[0]: dot_attr(a, "id") for a in nodes}
        all_ids = [dot_attr(a, "id") for a in nodes]
        assert len(all_ids) == len(set(all_ids))
    for op in ("conv2d", "relu"):
        assert ids["inlined"][op] == ids["frozen"][op] == ids["folded"][op]
    assert ids["inlined"]["batch_norm"] == ids["frozen"]["batch_norm"]


def test_diff_colours_conv_bn_folding(convbn):
    frozen, folded = convbn[2], convbn[3]
    after = dot_nodes(draw(folded, diff_against=frozen).source).values()
    added = {dot_attr(a, "label") for a in after if "fv-added" in _classes(a)}
    assert any("weight_fused_bn" in lab for lab in added)
    assert not any(lab.startswith(("conv2d", "relu")) for lab in added)
    before = dot_nodes(draw(frozen, diff_against=folded, diff_side="before").source).values()
    removed = {dot_attr(a, "label").split("(")[0] for a in before if "fv-removed" in _classes(a)}
    assert "batch_norm" in removed and "conv2d" not in removed and "relu" not in removed
    assert not any("fv-added" in _classes(a) for a in before)


def test_collapse_and_budget(convbn):
    inlined = convbn[1]
    full = draw(inlined, node_budget=None)
    assert full.collapse is None and full.message is None
    boxed = draw(inlined, collapse=0)
    assert boxed.node_count < full.node_count
    boxes = [a for a in dot_nodes(boxed.source).values() if "fv-collapsed" in _classes(a)]
    labels = {dot_attr(a, "label").split("\\n")[0].removeprefix("⊕ "): dot_attr(a, "label")
              for a in boxes}
    assert set(labels) == {"conv", "bn"}  # relu is a single node: drawn as itself
    assert "batch_norm" in labels["bn"] and "conv2d" in labels["conv"]
    auto = draw(inlined, node_budget=15)
    assert auto.collapse == 0 and auto.node_count <= 15
    assert "collapsed to depth 0" in auto.message and "node_budget=None" in auto.message


def test_truncation_when_collapse_is_not_enough(branchy):
    view = draw(branchy[1], node_budget=5)
    assert view.node_count <= 6 and "drew the first" in view.message
    assert "more nodes not drawn" in view.source
