"""Opening a module box in place, in a real JupyterLab driven by headless Chromium.

ResNet's before pane opens on the module overview. Clicking the ⊕ of ``layer3``'s box draws
both panes again with layer3 open (its block a box of its own, where Python's node map
says), keeps that control where it was on screen, and shows the breadcrumbs
"root › layer3" in both panes; the "root" breadcrumb of the other pane goes back up.
"""

from __future__ import annotations

import json

import pytest

from benchmarks.browser import (NEW_MODEL, SETUP, _kernel, _open, _timed, _title,
                                _write_notebook)
from tests.widgets.test_browser import _start_lab, _stop_lab, _wait

pytestmark = pytest.mark.browser

SETTLE_S = 60

# (whether each pane shows an opened module, the breadcrumbs' text of each pane)
PANES_JS = """() => [...document.querySelectorAll('.fv-inspector .fv-gv')].map((p) => {
  const nav = p.querySelector('nav.fv-crumbs');
  return [Boolean(p.querySelector('.fv-gv-stage g.fv-opened')),
          nav && !nav.hidden ? nav.textContent : ''];
})"""

# ids of pane `i` (0: before, 1: after) present in its drawing
HAS_IDS_JS = """([i, ids]) => {
  const pane = document.querySelectorAll('.fv-inspector .fv-gv')[i];
  return ids.filter((id) => pane.querySelector('.fv-gv-stage #' + CSS.escape(id)));
}"""


def _python(page, expr: str):
    return json.loads(_kernel(page, f"import json; print(json.dumps({expr}))"))


def _ids_for(page, side: str, token: str, kind: str) -> list[str]:
    return _python(page, f"[k for k, r in insp.{side}.node_map.items() "
                         f"if r.get('expand') == {token!r} and r.get('kind') == {kind!r}]")


def _control_centre(locator) -> tuple[float, float]:
    box = locator.bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def _pan_into_view(page, control) -> tuple[float, float]:
    """Drag the before pane until ``control`` is in the middle of it (the overview may open
    read from the top); where it is then."""
    vp = page.locator(".fv-inspector .fv-gv").nth(0).locator(".fv-gv-viewport").bounding_box()
    mx, my = vp["x"] + vp["width"] / 2, vp["y"] + vp["height"] / 2
    x, y = _control_centre(control)
    page.mouse.move(mx, my)
    page.mouse.down()
    page.mouse.move(mx + (mx - x) / 2, my + (my - y) / 2, steps=4)
    page.mouse.move(mx + (mx - x), my + (my - y), steps=4)
    page.mouse.up()
    x, y = _control_centre(control)
    assert abs(x - mx) < 2 and abs(y - my) < 2
    return x, y


def test_expand_a_module_in_place_and_go_back_up(tmp_path, free_port, browser):
    root = tmp_path / "lab"
    root.mkdir()
    _write_notebook(root / "bench.ipynb", "resnet_tiny")
    lab = _start_lab(root, free_port, tmp_path / "lab.log")
    try:
        page = browser.new_page(viewport={"width": 1440, "height": 1500})
        try:
            _open(page, free_port)
            _kernel(page, SETUP + NEW_MODEL.format(model="resnet_tiny"))
            _timed(page, "run", _title([]))
            assert page.evaluate(PANES_JS) == [[False, ""], [False, ""]]
            box_id = _ids_for(page, "left", "layer3", "collapsed")[0]
            control = page.locator(".fv-inspector .fv-gv").nth(0).locator(
                f"[id='{box_id}'] text.fv-expander")
            before = _pan_into_view(page, control)
            page.mouse.click(*before)
            _wait(page, "both panes to show layer3 open", f"""() => {{
                const p = ({PANES_JS})();
                return p.every(([open, crumbs]) => open && crumbs.includes('layer3'));
            }}""", SETTLE_S)
            assert _python(page, "insp.expanded") == ["layer3"]
            for i, side in enumerate(("left", "right")):
                # the drawing the browser shows is the one Python made with layer3 open
                children = _ids_for(page, side, "layer3.0", "collapsed")
                assert children, side
                assert page.evaluate(HAS_IDS_JS, [i, children]) == children
                opened = _ids_for(page, side, "layer3", "scope")
                assert page.evaluate(HAS_IDS_JS, [i, opened]) == opened
            for _shown, crumbs in page.evaluate(PANES_JS):
                assert crumbs.replace("\u203a", ">").split() == ["root", ">", "layer3"]
            # the ⊖ of the opened layer3 is where its ⊕ was: the drawing was not fitted anew
            closer = page.locator(".fv-inspector .fv-gv").nth(0).locator(
                "g.fv-opened text.fv-expander").first
            after = _control_centre(closer)
            assert abs(after[0] - before[0]) < 4 and abs(after[1] - before[1]) < 4

            page.locator(".fv-inspector .fv-gv").nth(1).locator(
                "nav.fv-crumbs button", has_text="root").click()
            _wait(page, "both panes back on the overview", f"""() =>
                ({PANES_JS})().every(([open, crumbs]) => !open && !crumbs)""", SETTLE_S)
            assert _python(page, "insp.expanded") == []
            box_ids = _ids_for(page, "left", "layer3", "collapsed")
            assert page.evaluate(HAS_IDS_JS, [0, box_ids]) == box_ids
        finally:
            page.close()
    finally:
        _stop_lab(lab, free_port)
