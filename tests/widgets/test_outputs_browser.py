"""Saved outputs in a real JupyterLab, driven by headless Chromium: what a reader sees
without a kernel and without trusting the notebook.

A notebook opened from disk is untrusted: JupyterLab sanitises its HTML outputs (an inline
``<svg>`` is reduced to its label text) and refuses its ``image/svg+xml``. The shipped
notebook's inspectors and drawings must still show as pictures there.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from tests.widgets.test_browser import _start_lab, _stop_lab, _wait

pytestmark = pytest.mark.browser

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "01_freezing_in_five_minutes.ipynb"
OPEN_S = 60

# For each code cell whose source shows an inspector or a drawing: what its outputs show.
OUTPUTS_JS = """() => {
    const app = window.jupyterapp;
    const w = app && app.shell.currentWidget;
    if (!w || !w.content || !w.content.widgets.length) return null;
    const rows = [];
    for (const cell of w.content.widgets) {
        if (cell.model.type !== 'code') continue;
        const src = cell.model.sharedModel.getSource();
        const last = src.trim().split('\\n').pop();
        if (!/freezeviz\\.inspect\\(|^insp$|\\.draw\\(/.test(last)) continue;
        const outs = Array.from(cell.node.querySelectorAll('.jp-OutputArea-output'));
        const imgs = outs.flatMap(o => Array.from(o.querySelectorAll('img')));
        rows.push({
            source: last,
            trusted: cell.model.trusted,
            mimes: outs.map(o => o.getAttribute('data-mime-type')),
            text: outs.map(o => o.innerText).join('\\n'),
            images: imgs.length,
            loaded: imgs.filter(i => i.complete && i.naturalWidth > 20).length,
        });
    }
    return rows.length ? rows : null;
}"""


def _render_every_cell(root: Path) -> None:
    """JupyterLab renders only the cells near the viewport by default; render them all."""
    path = root / ".lab-settings" / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"windowingMode": "none"}))


def _open(page, port: int, name: str):
    page.set_default_timeout(20_000)
    page.goto(f"http://127.0.0.1:{port}/lab/tree/{name}?reset", timeout=60_000)
    _wait(page, "the notebook's outputs", f"() => {{ const rows = ({OUTPUTS_JS})(); "
          "return rows && rows.every(r => r.mimes.length); }", OPEN_S)
    page.wait_for_timeout(500)  # images decode after they are attached
    return page.evaluate(OUTPUTS_JS)


def _shoot_first_picture(page, path: Path) -> None:
    """The first output that shows freezeviz pictures, as a reader of the untrusted notebook sees it."""
    output = page.locator(".jp-OutputArea-output:has(img)").first
    output.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    assert len(output.screenshot(path=str(path))) > 20_000


def test_shipped_notebook_shows_pictures_untrusted(tmp_path, free_port, browser, screenshot_path):
    started = time.monotonic()
    root = tmp_path / "lab"
    root.mkdir()
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
    _render_every_cell(root)
    lab = _start_lab(root, free_port, tmp_path / "lab.log")
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1200})
        try:
            rows = _open(page, free_port, NOTEBOOK.name)
            _shoot_first_picture(page, screenshot_path("untrusted.png"))
        finally:
            page.close()
    finally:
        _stop_lab(lab, free_port)
    kinds = {("inspect" if "inspect(" in r["source"] or r["source"] == "insp" else "draw")
             for r in rows}
    assert kinds == {"inspect", "draw"}, rows
    for r in rows:
        assert r["trusted"] is False, f"the notebook opened from disk should be untrusted: {r}"
        # an inspector shows both panes, a drawing one picture; none is label text soup
        want = 2 if "draw(" not in r["source"] else 1
        assert r["loaded"] >= want, f"{r['source']}: no picture shown: {r}"
        assert "Cannot display an untrusted SVG" not in r["text"], r
        assert "<GraphView" not in r["text"] and "input.1" not in r["text"], r
    assert time.monotonic() - started < 120


RUN_CELL = ("import freezeviz\n"
            "from freezeviz.examples import MyModule2\n"
            "\n"
            "freezeviz.inspect(MyModule2())")

# What the inspector's output shows: the widget (its panes' drawings), the static picture,
# or the widget manager's error for a view whose model it does not have.
SHOWN_JS = """() => {
    const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const cell = w && w.content && w.content.widgets[0];
    const area = cell && cell.node.querySelector('.jp-OutputArea');
    if (!area) return null;
    const text = area.innerText;
    const drawn = area.querySelectorAll('.fv-inspector .fv-gv svg g.node').length;
    const pictures = Array.from(area.querySelectorAll('img'))
        .filter(i => i.complete && i.naturalWidth > 20).length;
    if (!drawn && !pictures && !/model not found|Error displaying/.test(text)) return null;
    return {text, drawn, pictures};
}"""

def _save_widget_state(root: Path) -> None:
    """The widget manager's "save widget state" setting: without it a saved notebook keeps
    views whose models nothing can restore once the kernel is gone."""
    path = (root / ".lab-settings" / "@jupyter-widgets" / "jupyterlab-manager"
            / "plugin.jupyterlab-settings")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"saveState": True}))


def _run_save_and_shut_down(page, port: int, name: str) -> None:
    page.set_default_timeout(20_000)
    page.goto(f"http://127.0.0.1:{port}/lab/tree/{name}?reset", timeout=60_000)
    _wait(page, "the kernel to be idle", """() => {
        const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
        const k = w && w.sessionContext && w.sessionContext.session &&
                  w.sessionContext.session.kernel;
        return Boolean(k && k.status === 'idle' && w.content.widgets.length);
    }""", OPEN_S)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    _wait(page, "the inspector", "() => document.querySelectorAll("
          "'.fv-inspector .fv-gv svg g.node').length > 2", 90)
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    _wait(page, "the notebook to be saved", """() => {
        const w = window.jupyterapp.shell.currentWidget;
        return w.context.model.dirty === false;
    }""", 30)
    page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")
    _wait(page, "the kernel to shut down", """() => {
        const w = window.jupyterapp.shell.currentWidget;
        return !w.sessionContext.session;
    }""", 30)


# pictures in the first cell's outputs that a person can see (not hidden by a style)
VISIBLE_PICTURES_JS = """() => {
    const w = window.jupyterapp.shell.currentWidget;
    const area = w.content.widgets[0].node.querySelector('.jp-OutputArea');
    return Array.from(area.querySelectorAll('img'))
        .filter(i => i.complete && i.naturalWidth > 20 && i.getClientRects().length).length;
}"""


# the restored widget has drawn, or failing that its picture shows
RESTORED_JS = f"""() => {{
    const shown = ({SHOWN_JS})();
    return Boolean(shown && shown.drawn > 2) || ({VISIBLE_PICTURES_JS})() >= 2;
}}"""


@pytest.mark.parametrize("save_state", [False, True], ids=["default-settings", "save-state"])
def test_saved_inspector_shows_without_its_kernel(tmp_path, free_port, browser, monkeypatch,
                                                  save_state):
    # the kernel imports this tree's freezeviz, whatever is installed
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[2]))
    root = tmp_path / "lab"
    root.mkdir()
    _write_notebook(root / "saved.ipynb", RUN_CELL)
    _render_every_cell(root)
    if save_state:
        _save_widget_state(root)
    lab = _start_lab(root, free_port, tmp_path / "lab.log")
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1200})
        try:
            _run_save_and_shut_down(page, free_port, "saved.ipynb")
            live_pictures = page.evaluate(VISIBLE_PICTURES_JS)
            saved = json.loads((root / "saved.ipynb").read_text())
            page.goto(f"http://127.0.0.1:{free_port}/lab/tree/saved.ipynb?reset",
                      timeout=60_000)
            page.wait_for_timeout(1000)
            shown = _wait(page, "the saved inspector to show", SHOWN_JS, OPEN_S)
            if save_state:  # the widget manager restores the widget some time after
                _wait(page, "the restored inspector to draw", RESTORED_JS, OPEN_S)
                shown = page.evaluate(SHOWN_JS)
            page.wait_for_timeout(500)
            visible = page.evaluate(VISIBLE_PICTURES_JS)
        finally:
            page.close()
    finally:
        _stop_lab(lab, free_port)
    # while the inspector is live its picture stays out of the way
    assert live_pictures == 0, live_pictures
    assert ("widgets" in saved["metadata"]) == save_state, saved["metadata"]
    assert "model not found" not in shown["text"], shown
    if save_state:  # the restored widget draws, the picture stays hidden
        assert shown["drawn"] > 2 or visible >= 2, shown
    else:  # nothing can restore the widget: the picture shows instead
        assert visible >= 2, (shown, visible)


def _write_notebook(path: Path, source: str) -> None:
    nb = {"cells": [{"cell_type": "code", "execution_count": None, "id": "c0", "metadata": {},
                     "outputs": [], "source": source}],
          "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)",
                                      "language": "python", "name": "python3"},
                       "language_info": {"name": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb, indent=1))
