"""The inspector in the other places a reader meets it, driven by headless Chromium: JupyterLab's
dark theme, Notebook 7, and the nbconvert HTML export of an executed notebook. Each test checks
what it shows and saves a picture (docs/img/ under `make screenshots`, the test's tmp dir
otherwise). Every process it starts is stopped in a ``finally``; every wait is bounded.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.widgets.test_browser import (
    KERNEL_READY_S, WIDGET_S, _open_and_run, _start_lab,
    _stop_lab, _wait, _write_notebook,
)

pytestmark = pytest.mark.browser

# the inspector's two drawings are on the page
PANES_DRAWN_JS = """() =>
    document.querySelectorAll('.fv-inspector .fv-gv svg g.node').length > 2 &&
    document.querySelectorAll('.fv-inspector .fv-gv .fv-gv-stage > svg').length === 2"""


def _shoot_inspector(page, path: Path) -> None:
    page.wait_for_timeout(300)
    inspector = page.locator(".fv-inspector").first
    inspector.scroll_into_view_if_needed()
    assert len(inspector.screenshot(path=str(path))) > 20_000


def _dark_theme(settings: Path) -> None:
    themes = settings / "@jupyterlab" / "apputils-extension" / "themes.jupyterlab-settings"
    themes.parent.mkdir(parents=True, exist_ok=True)
    themes.write_text(json.dumps({"theme": "JupyterLab Dark"}))


def test_inspector_in_jupyterlab_dark(tmp_path, free_port, browser, screenshot_path):
    started = time.monotonic()
    root = tmp_path / "lab"
    root.mkdir()
    _write_notebook(root / "inspector.ipynb")
    _dark_theme(root / ".lab-settings")
    lab = _start_lab(root, free_port, tmp_path / "lab.log")
    try:
        page = browser.new_page(viewport={"width": 1440, "height": 1500})
        try:
            _open_and_run(page, free_port)
            assert page.evaluate("() => document.body.dataset.jpThemeLight") == "false"
            assert "inlined" in page.locator(".fv-inspector .fv-pane").nth(0).inner_text()
            _shoot_inspector(page, screenshot_path("inspector_dark.png"))
        finally:
            page.close()
    finally:
        _stop_lab(lab, free_port)
    assert time.monotonic() - started < 60


def test_inspector_in_notebook7(tmp_path, free_port, browser, screenshot_path):
    pytest.importorskip("notebook", minversion="7")
    started = time.monotonic()
    root = tmp_path / "nb"
    root.mkdir()
    _write_notebook(root / "inspector.ipynb")
    server = _start_lab(root, free_port, tmp_path / "notebook.log", app="notebook")
    try:
        page = browser.new_page(viewport={"width": 1440, "height": 1500})
        try:
            page.set_default_timeout(20_000)
            page.goto(f"http://127.0.0.1:{free_port}/notebooks/inspector.ipynb", timeout=60_000)
            _wait(page, "the kernel to be idle", """() => {
                const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
                const k = w && w.sessionContext && w.sessionContext.session &&
                          w.sessionContext.session.kernel;
                return Boolean(k && k.status === 'idle' && w.content.widgets.length);
            }""", KERNEL_READY_S)
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
            _wait(page, "both graph panes", PANES_DRAWN_JS, WIDGET_S)
            assert "inlined" in page.locator(".fv-inspector .fv-pane").nth(0).inner_text()
            _shoot_inspector(page, screenshot_path("inspector_notebook7.png"))
        finally:
            page.close()
    finally:
        _stop_lab(server, free_port)
    assert time.monotonic() - started < 60


def _executed_without_widget_state(path: Path) -> None:
    """Run the notebook the way JupyterLab saves it by default: outputs, but no widget state."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=60, kernel_name="python3", store_widget_state=False,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    nbformat.write(nb, path)


def test_inspector_in_nbconvert_html(tmp_path, browser, screenshot_path, monkeypatch):
    pytest.importorskip("nbclient")
    # the kernel imports this tree's freezeviz, whatever is installed
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[2]))
    started = time.monotonic()
    nb = tmp_path / "inspector.ipynb"
    _write_notebook(nb)
    _executed_without_widget_state(nb)
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", str(nb)],
                   check=True, capture_output=True, timeout=60)
    html = (tmp_path / "inspector.html").read_text()
    assert "fv-static" in html and "<img" in html, "the export has no freezeviz picture"
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    try:
        page.goto((tmp_path / "inspector.html").as_uri())
        loaded = _wait(page, "the exported pictures to load", """() => {
            const imgs = Array.from(document.querySelectorAll('.fv-static img'));
            const ok = imgs.filter(i => i.complete && i.naturalWidth > 20).length;
            return ok >= 2 ? ok : null;
        }""", 15)
        assert loaded >= 2
        output = page.locator(".jp-OutputArea-output:has(.fv-static)").first
        assert len(output.screenshot(path=str(screenshot_path("nbconvert.png")))) > 20_000
    finally:
        page.close()
    assert time.monotonic() - started < 60
