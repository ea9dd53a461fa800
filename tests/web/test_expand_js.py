"""Opening boxes in place with graph.js (shared by the widget and the report): the controls a
drawing's node map enables, the requests they send, swapping in the opened drawing without
losing the place, the shared set of opened modules, and the legible opening scale. Drawings
are real ones, of resnet_tiny frozen by the real torch.jit.freeze."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import freezeviz
from freezeviz import examples
from freezeviz.render.fragments import inline_svg
from freezeviz.render.nodemap import node_map_dict
from freezeviz.web import asset

FIXTURE = Path(__file__).with_name("fixture.html")


@pytest.fixture(scope="module")
def drawings():
    report = freezeviz.freeze(examples.resnet_tiny())
    out = {}
    for name, opened in (("closed", ()), ("opened", ("layer1",))):
        view = report.draw("frozen", collapse=0, title=None, expanded=opened)
        out[name] = (inline_svg(view.svg), node_map_dict(view.node_map))
    return out


@pytest.fixture
def page(browser, drawings):
    page = browser.new_page(viewport={"width": 800, "height": 600})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_content(FIXTURE.read_text(encoding="utf-8"))
    page.add_script_tag(content=asset("graph.js"))
    page.evaluate("""([svg, map]) => {
        const canvas = document.getElementById('canvas');
        canvas.innerHTML = svg;
        window.requests = []; window.clicks = [];
        window.pz = new FVGraph.PanZoom(document.getElementById('view'), canvas,
            {onClick: g => clicks.push(g ? g.id : null), onExpand: r => requests.push(r)});
        pz.show(canvas.querySelector('svg'), map);
        pz.fit('one');
    }""", list(drawings["closed"]))
    yield page
    page.close()
    assert not errors, errors


def _box(drawings, path):
    return next(sid for sid, ref in drawings["closed"][1].items()
                if ref.get("expand") == path and ref["kind"] == "collapsed")


@pytest.mark.browser
def test_closed_boxes_get_an_expand_control_that_sends_a_request(page, drawings):
    controls = page.evaluate("Array.from(document.querySelectorAll('text.fv-expander'), "
                             "t => t.closest('g.node').id)")
    closed = {sid for sid, ref in drawings["closed"][1].items() if ref.get("expand")}
    assert controls and set(controls) == closed
    box = _box(drawings, "layer1")
    page.evaluate("id => FVGraph.byId(document, id).scrollIntoView()", box)
    page.locator(f"#{box} text.fv-expander").click()
    assert page.evaluate("requests") == [{"path": "layer1", "open": True, "anchor": box}]
    assert page.evaluate("clicks") == []  # the control is not a node click
    page.locator(f"#{box} polygon").first.dblclick()  # double-click opens, instead of zooming
    assert page.evaluate("requests.length") == 2 and page.evaluate("requests[1]") == {
        "path": "layer1", "open": True, "anchor": box}
    assert page.evaluate("clicks") == [box, box]  # its two clicks select it, as before


@pytest.mark.browser
def test_swap_keeps_the_scale_and_the_opened_module_in_place(page, drawings):
    box = _box(drawings, "layer1")
    page.evaluate("pz.zoomAt(0.8, 0, 0)")
    before = page.evaluate("""id => {
        const t = FVGraph.byId(document, id).querySelector('text.fv-expander');
        const r = t.getBoundingClientRect();
        return [r.left + r.width / 2, r.top + r.height / 2, pz.k]; }""", box)
    found = page.evaluate("""([svg, map]) => {
        const holder = document.createElement('div'); holder.innerHTML = svg;
        return pz.swap(holder.querySelector('svg'), map, 'layer1'); }""",
                          list(drawings["opened"]))
    assert found
    after = page.evaluate("""() => { const g = pz.expandElement('layer1');
        const r = g.querySelector('text.fv-expander').getBoundingClientRect();
        return [r.left + r.width / 2, r.top + r.height / 2, pz.k,
                g.classList.contains('cluster')]; }""")
    assert after[2] == before[2] and after[3]  # same zoom; layer1 is now an opened cluster
    # its ⊖ control is where the ⊕ was: under the pointer that clicked it
    assert after[:2] == [pytest.approx(before[0], abs=2), pytest.approx(before[1], abs=2)]
    labels = page.evaluate("Array.from(document.querySelectorAll('g.cluster text.fv-expander'),"
                           " t => t.textContent)")
    assert labels == ["\u2296 layer1"]  # the control that closes it again
    page.locator("g.cluster text.fv-expander").click()
    assert page.evaluate("requests.pop()")["open"] is False


@pytest.mark.browser
def test_expansion_set_and_breadcrumbs(page):
    got = page.evaluate("""() => {
        const e = new FVGraph.Expansion(), out = [];
        out.push(e.apply({path: 'layer3.1', open: true}));
        out.push(e.trail());
        out.push(e.apply({path: 'if:prim::If@#m.py:3:4#0', open: true}));
        out.push(e.upTo('layer3'));
        out.push(e.apply({path: 'layer3', open: false}));
        out.push(e.trail());
        const nav = document.createElement('nav'); document.body.appendChild(nav);
        e.apply({path: 'layer2.0', open: true});
        const picked = [];
        FVGraph.crumbs(nav, e, p => picked.push(p));
        nav.querySelector('button').click();
        out.push(Array.from(nav.querySelectorAll('button'), b => b.textContent), picked);
        return out; }""")
    assert got[0] == ["layer3", "layer3.1"]
    assert got[1] == ["", "layer3", "layer3.1"]
    assert got[2] == ["if:prim::If@#m.py:3:4#0", "layer3", "layer3.1"]
    assert got[3] == ["if:prim::If@#m.py:3:4#0", "layer3"]  # checks stay open going up
    assert got[4] == ["if:prim::If@#m.py:3:4#0"] and got[5] == [""]
    assert got[6] == ["root", "layer2", "layer2.0"] and got[7] == [""]


@pytest.mark.browser
def test_the_opening_view_never_shrinks_text_below_9_px(page, drawings):
    svg, node_map = drawings["opened"]
    tall = re.sub(r'height="[\d.]+pt"', 'height="4000pt"', svg, count=1)
    tall = re.sub(r'viewBox="([\d.]+) ([\d.]+) ([\d.]+) [\d.]+"',
                  lambda m: f'viewBox="{m[1]} {m[2]} {m[3]} 4000"', tall, count=1)
    page.evaluate("""([svg, map]) => {
        const holder = document.createElement('div'); holder.innerHTML = svg;
        pz.swap(holder.querySelector('svg'), map, null); pz.fit('auto'); }""", [tall, node_map])
    smallest = page.evaluate("Math.min(...Array.from(document.querySelectorAll('#canvas text'),"
                             " t => t.getBoundingClientRect().height))")
    assert smallest >= 9
    page.evaluate("pz.fit('all')")  # the Fit button still shows it whole, however small
    assert page.evaluate("pz.k") < 0.2
