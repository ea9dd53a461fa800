"""SVG-level checks: every drawing goes through the real `dot` and parses as XML."""

from __future__ import annotations

import pytest
from render_helpers import check_dot, parse_svg, svg_nodes, svg_texts

from freezeviz.data.fates import Fate
from freezeviz.data.snapshot import (
    BlockInfo,
    ConstantInfo,
    GraphSnapshot,
    NodeInfo,
    SourceLoc,
    ValueInfo,
)
from freezeviz.render import GraphView, draw, legend

pytestmark = pytest.mark.needs_dot

NASTY = ['q"uote', "back\\slash", "\\N\\G\\l\\E", "new\nline\r\tx", "<script>alert(1)</script>",
         "a]]>b", "x--y", "&amp; &#x41; &", "{br|ace}", "<<tag>>", "é☃😀", "nul\x00esc\x1b",
         "sur\ud800rogate", "bad\ufffechar", "'single'", "%s %d {0}"]


def _all_svg_ids(root):
    return [el.get("id") for el in root.iter() if el.get("id")]


def test_every_stage_lays_out_and_parses(all_stages):
    for name, stages in all_stages.items():
        for snap in stages:
            view = draw(snap, title=f"{name}: {snap.method}")
            check_dot(view.source)
            root = parse_svg(view.svg)
            nodes = svg_nodes(root)
            assert len(nodes) == view.node_count, name
            ids = _all_svg_ids(root)
            assert len(ids) == len(set(ids)), name
            assert view.layout_seconds is not None and view.layout_seconds < 5


def test_classes_reach_the_svg(convbn, inplace):
    root = parse_svg(draw(convbn[3], diff_against=convbn[2], highlight={"n5"}).svg)
    classes = set().union(*svg_nodes(root).values())
    assert {"fv-op", "fv-const", "fv-input", "fv-output", "fv-added"} <= classes
    root = parse_svg(draw(inplace[2], fates={"buf": Fate.PRESERVED_MUTATED}).svg)
    classes = set().union(*svg_nodes(root).values())
    assert {"fv-writer", "fv-attr", "fv-fate-preserved_mutated"} <= classes


def test_same_node_same_svg_id_in_two_stages(convbn):
    frozen, folded = convbn[2], convbn[3]
    a = svg_nodes(parse_svg(draw(frozen).svg))
    b = svg_nodes(parse_svg(draw(folded, diff_against=frozen).svg))
    shared = set(a) & set(b)
    assert len(shared) >= 4  # x, conv2d, relu, return
    assert all("fv-added" not in b[i] for i in shared)
    assert all("fv-added" in b[i] for i in set(b) - set(a) if "fv-op" in b[i] or "fv-const" in b[i])


def test_hostile_module_strings_stay_text(hostile):
    for snap in hostile:
        view = draw(snap, title="<script>alert('title')</script>")
        check_dot(view.source)
        root = parse_svg(view.svg)
        assert not [el for el in root.iter() if el.tag.rsplit("}", 1)[-1] in ("script", "b")]
        assert not [el for el in root.iter() if any(k.startswith("on") for k in el.attrib)]
    texts = "\n".join(svg_texts(parse_svg(draw(hostile[1]).svg)))
    assert "<script>alert(1)</script>" in texts
    assert '{brace}' in texts and 'q"uote' in texts and "new↵line" in texts
    assert "back\\slash&amp;" in texts  # shown as written, not decoded as an entity


def _nasty_snapshot() -> GraphSnapshot:
    nodes, prev = [], "x"
    for i, text in enumerate(NASTY):
        scope = f"m{i % 3}.{text}"
        nodes.append(NodeInfo(f"n{3 * i}", "prim::Constant", (), (ValueInfo(f"c{i}", "str"),),
                              constant=ConstantInfo("str", repr(text))))
        nodes.append(NodeInfo(f"n{3 * i + 1}", "prim::Constant", (), (ValueInfo(text, "Tensor"),),
                              constant=ConstantInfo("tensor", text, (2,), text,
                                                    (text, "a." + text))))
        inner = NodeInfo(f"n{3 * i + 2}x", f"custom::{text}", (prev,), (ValueInfo(f"i{i}", text),),
                         scope=text)
        nodes.append(NodeInfo(f"n{3 * i + 2}", f"ns::{text}", (prev, f"c{i}", text),
                              (ValueInfo(f"v{i}", text, (None, 3), text),), scope=scope,
                              source=SourceLoc(text, i), attribute=text if i % 2 else None,
                              writes=(text,) if i % 4 == 0 else (),
                              blocks=(BlockInfo((), (inner,), (f"i{i}",)),) if i % 5 == 0 else ()))
        prev = f"v{i}"
    return GraphSnapshot("forward", (ValueInfo("x", "Tensor"), ValueInfo(NASTY[4], NASTY[5])),
                         (prev,), tuple(nodes), "graph")


@pytest.mark.parametrize("collapse", [None, 0, 1])
def test_hostile_corpus_synthetic(collapse):
    snap = _nasty_snapshot()
    view = draw(snap, collapse=collapse, title="".join(NASTY), highlight=set(NASTY),
                fates={t: "inlined" for t in NASTY})
    check_dot(view.source)
    root = parse_svg(view.svg)
    assert len(svg_nodes(root)) == view.node_count
    assert not [el for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "script"]
    texts = "\n".join(svg_texts(root))
    if collapse is None:
        assert "<script>alert(1)</script>" in texts and "é☃😀" in texts
        assert "&amp; &#x41; &" in texts and "\\N\\G\\l\\E" in texts


def test_mimebundle_and_digraph(convbn):
    view = draw(convbn[2])
    bundle = view._repr_mimebundle_()
    assert set(bundle) == {"image/svg+xml", "image/png"} and bundle["image/svg+xml"] == view.svg
    assert view._repr_mimebundle_(include={"text/html"}) == {}
    assert set(view._repr_mimebundle_(exclude={"image/svg+xml"})) == {"image/png"}
    assert view.digraph.source == view.source
    assert "nodes" in repr(view)


def test_legend():
    view = legend()
    root = parse_svg(view.svg)
    classes = set().union(*svg_nodes(root).values())
    for cls in ("fv-op", "fv-const", "fv-attr", "fv-writer", "fv-added", "fv-removed",
                "fv-collapsed", "fv-highlight", *(f"fv-fate-{f.value}" for f in Fate)):
        assert cls in classes, cls
    assert isinstance(view, GraphView)


def test_missing_dot_explains_how_to_install(convbn, monkeypatch):
    import freezeviz.render.view as view_mod

    monkeypatch.setattr(view_mod.shutil, "which", lambda name: None)
    view = draw(convbn[2])
    assert view.source  # DOT text needs no Graphviz
    with pytest.raises(RuntimeError, match="apt-get install graphviz"):
        _ = view.svg


def test_views_laid_out_together_match_views_laid_out_alone(all_stages):
    from freezeviz.render.view import layout_together

    snaps = [s for stages in all_stages.values() for s in stages] + [_nasty_snapshot()]
    together = [draw(s, title=f"t{i}") for i, s in enumerate(snaps)]
    alone = [draw(s, title=f"t{i}") for i, s in enumerate(snaps)]
    layout_together(together)
    # the same elements at the same places (dot may list sibling clusters in another order)
    assert [sorted(v.svg.splitlines()) for v in together] == \
        [sorted(v.svg.splitlines()) for v in alone]
    assert all(v.layout_seconds is not None for v in together)


def test_a_view_dot_refuses_does_not_take_the_others_with_it(convbn):
    from freezeviz.render.view import layout_together

    good, bad = draw(convbn[1]), draw(convbn[2])
    bad.source = "digraph { a -> }\n"  # dot rejects it: the batch is laid out one by one
    with pytest.raises(RuntimeError, match="dot failed"):
        layout_together([good, bad])
    assert good.svg == draw(convbn[1]).svg
