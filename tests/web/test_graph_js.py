"""The drawing core shared by the widget and the report (freezeviz/web/graph.js), on a fixture
page in headless Chromium: pan/zoom transforms, search, node-map based diff marking."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from freezeviz.web import asset

FIXTURE = Path(__file__).with_name("fixture.html")

NODE_MAP = {
    "fv_in": {"key": "x", "kind": "input"},
    "fv_conv": {"key": "aten::conv2d|layer0|#0", "kind": "node", "scope": "layer0",
                "attributes": ["layer0.weight"]},
    "fv_box": {"key": "box:layer1", "kind": "collapsed", "box": "layer1",
               "members": ["aten::relu|layer1|#0", "aten::add|layer1|#0"],
               "attributes": ["layer1.bias"]},
}


@pytest.fixture
def page(browser):
    page = browser.new_page(viewport={"width": 800, "height": 600})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_content(FIXTURE.read_text(encoding="utf-8"))
    page.add_script_tag(content=asset("graph.js"))
    page.evaluate("""() => {
        window.clicks = [];
        window.pz = new FVGraph.PanZoom(document.getElementById('view'),
            document.getElementById('canvas'),
            {onClick: g => window.clicks.push(g ? g.id : null)});
        window.pz.show(document.querySelector('#canvas svg'));
    }""")
    yield page
    page.close()
    assert not errors, errors


def _transform(page) -> tuple[float, float, float]:
    text = page.evaluate("document.getElementById('canvas').style.transform")
    x, y, k = map(float, re.findall(r"-?[\d.]+(?:e-?\d+)?", text))
    return x, y, k


@pytest.mark.browser
def test_show_measures_and_drops_dot_titles(page):
    assert page.evaluate("[pz.w, pz.h]") == [400, 200]  # points -> CSS pixels
    titles = page.evaluate("Array.from(document.querySelectorAll('title'), t => t.textContent)")
    assert "in0" not in titles and "#1" not in titles and "freezeviz" not in titles
    assert "aten::conv2d tooltip-only-word" in titles  # the tooltip is what hover shows


@pytest.mark.browser
def test_fit_modes(page):
    page.evaluate("pz.fit('all')")
    x, y, k = _transform(page)
    assert k == pytest.approx(min((400 - 24) / 400, (300 - 24) / 200))
    assert x == pytest.approx((400 - 400 * k) / 2) and y == pytest.approx((300 - 200 * k) / 2)
    page.evaluate("pz.fit('one')")
    assert _transform(page)[2] == 1


@pytest.mark.browser
def test_wheel_zooms_at_the_pointer_and_drag_pans(page):
    page.evaluate("pz.fit('one')")
    x0, y0, k0 = _transform(page)
    view = page.locator("#view").bounding_box()
    px, py = view["x"] + 100, view["y"] + 80
    page.mouse.move(px, py)
    page.mouse.wheel(0, -300)
    page.wait_for_function(f"document.getElementById('canvas').style.transform.indexOf"
                           f"('scale({k0:g})') < 0")
    x1, y1, k1 = _transform(page)
    assert k1 > k0
    # the drawing point under the pointer stays under it
    assert (100 - x0) / k0 == pytest.approx((100 - x1) / k1, abs=0.01)
    assert (80 - y0) / k0 == pytest.approx((80 - y1) / k1, abs=0.01)
    label = page.locator("#fv_conv text").bounding_box()  # a drag that starts on a label
    sx, sy = label["x"] + 2, label["y"] + label["height"] / 2
    page.mouse.move(sx, sy)
    page.mouse.down()
    page.mouse.move(sx + 60, sy + 25, steps=5)
    page.mouse.up()
    x2, y2, k2 = _transform(page)
    assert (x2 - x1, y2 - y1, k2) == (pytest.approx(60, abs=0.01), pytest.approx(25, abs=0.01), k1)
    assert page.evaluate("window.getSelection().toString()") == ""
    assert page.evaluate("window.clicks") == []  # a drag is not a click
    assert page.evaluate("pz.touched") is True


@pytest.mark.browser
def test_click_without_drag_picks_the_node(page):
    page.evaluate("pz.fit('one')")
    page.locator("#fv_conv rect").click()
    page.locator("#view").click(position={"x": 5, "y": 290})
    assert page.evaluate("window.clicks") == ["fv_conv", None]


@pytest.mark.browser
def test_search_reads_labels_and_the_node_map_not_tooltips(page):
    def hits(q):
        return page.evaluate("([m, q]) => FVGraph.search(document, m, q).map(g => g.id)",
                             [NODE_MAP, q])

    assert hits("CONV2D") == ["fv_conv"]  # label text, any case
    assert hits("self.layer0.weight") == ["fv_conv"]  # attribute from the node map
    assert hits("layer1") == ["fv_box"]
    assert hits("tooltip-only-word") == []
    assert hits("  ") == []


@pytest.mark.browser
def test_attribute_hits_include_collapsed_boxes(page):
    got = page.evaluate("m => [FVGraph.attributeHits(m, 'layer0.weight'), "
                        "FVGraph.attributeHits(m, 'layer1.bias'), FVGraph.attributeHits(m, 'x')]",
                        NODE_MAP)
    assert got == [["fv_conv"], ["fv_box"], []]


@pytest.mark.browser
def test_diff_marks_count_box_members_as_present(page):
    after = {
        "fv_in": {"key": "x", "kind": "input"},
        "fv_relu": {"key": "aten::relu|layer1|#0", "kind": "node"},  # inside the box before
        "fv_new": {"key": "prim::Constant|layer1|#0", "kind": "node"},  # really new
        "fv_out": {"key": "output", "kind": "output"},
    }
    got = page.evaluate("([a, b]) => FVGraph.diffMarks(a, b)", [NODE_MAP, after])
    assert got == {"added": ["fv_new"], "removed": ["fv_conv"]}
    # an input and a node with the same name are different things
    same_name = {"fv_x": {"key": "x", "kind": "node"}}
    got = page.evaluate("([a, b]) => FVGraph.diffMarks(a, b)", [NODE_MAP, same_name])
    assert got["added"] == ["fv_x"]
    cut = dict(after, fv_more={"key": "more", "kind": "note"})
    assert page.evaluate("([a, b]) => FVGraph.diffMarks(a, b)", [NODE_MAP, cut]) is None


@pytest.mark.browser
def test_mark_and_clear(page):
    marked = page.evaluate("FVGraph.mark(document, ['fv_conv', 'nope'], 'x-on').map(g => g.id)")
    assert marked == ["fv_conv"]
    page.evaluate("FVGraph.clear(document, 'x-on')")
    assert page.evaluate("document.querySelectorAll('.x-on').length") == 0


@pytest.mark.needs_dot
def test_widget_and_report_run_the_same_core():
    import torch

    import freezeviz
    from freezeviz.render.html import render_html
    from freezeviz.widgets.graphview import AttributeTable, GraphView

    core, css = asset("graph.js"), asset("graph.css")
    assert GraphView._esm.startswith(core) and AttributeTable._esm.startswith(core)
    assert GraphView._css.startswith(css)
    report = freezeviz.freeze(torch.nn.Linear(2, 2).eval())
    html = render_html(report)
    script = html[html.rindex("<script>") + len("<script>"):html.rindex("</script>")]
    assert core in script and css in html


BEFORE = {
    "fv_get_w0": {"key": "prim::GetAttr:a.weight#0", "kind": "node", "attributes": ["a.weight"]},
    "fv_get_w1": {"key": "prim::GetAttr:a.weight#1", "kind": "node", "attributes": ["a.weight"]},
    "fv_get_s": {"key": "prim::GetAttr:scale#0", "kind": "node", "attributes": ["scale"]},
    "fv_get_k": {"key": "prim::GetAttr:keep#0", "kind": "node", "attributes": ["keep"]},
    "fv_add": {"key": "aten::add_@#m.py:3:4#0", "kind": "node", "attributes": ["a.weight"]},
    "fv_box": {"key": "box:b#0", "kind": "collapsed", "box": "b", "attributes": ["b.weight"],
               "members": ["prim::GetAttr:b.weight#0"]},
}
AFTER = {
    # constant pooling merged two equal attributes into one constant
    "fv_c_pool": {"key": "const:self.a.weight#0", "kind": "node",
                  "attributes": ["a.weight", "scale"]},
    "fv_c_b": {"key": "const:self.b.weight_fused_bn#0", "kind": "node", "attributes": ["b.weight"]},
    "fv_get_k": {"key": "prim::GetAttr:keep#0", "kind": "node", "attributes": ["keep"]},
}


@pytest.mark.browser
def test_attribute_links_join_a_getattr_and_the_constant_it_became(page):
    links = "([a, id, b, later]) => FVGraph.attributeLinks(a, id, b, later)"
    got = page.evaluate(links, [BEFORE, "fv_get_s", AFTER, True])
    assert got["ids"] == ["fv_c_pool"]
    assert got["text"] == "GetAttr self.scale became the constant %self.a.weight"
    # a constant marks every GetAttr it replaced (writers are not reads), pooled paths too
    got = page.evaluate(links, [AFTER, "fv_c_pool", BEFORE, False])
    assert sorted(got["ids"]) == ["fv_get_s", "fv_get_w0", "fv_get_w1"]
    assert "read by GetAttr self.a.weight, GetAttr self.scale before freezing" in got["text"]
    # a constant whose GetAttr is drawn inside a collapsed box marks the box
    got = page.evaluate(links, [AFTER, "fv_c_b", BEFORE, False])
    assert got["ids"] == ["fv_box"]
    assert "inside the collapsed self.b" in got["text"]
    # a node with a twin by key, or one that is neither a GetAttr nor a constant: no links
    assert page.evaluate(links, [AFTER, "fv_get_k", BEFORE, False]) is None
    assert page.evaluate(links, [BEFORE, "fv_add", AFTER, True]) is None
