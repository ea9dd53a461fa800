"""The inspector in a real JupyterLab, driven by headless Chromium.

Starts JupyterLab on a free localhost port with a notebook that inspects the
torch.jit.freeze documentation's MyModule2, runs it, waits for both drawings, hovers and
clicks a node, ticks "keep" for ``version`` and checks that the table and the frozen
drawing say it is kept. Saves a screenshot (docs/img/inspector.png under `make screenshots`,
the test's tmp dir otherwise). Every process it starts is stopped in a ``finally``; every wait is bounded.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser


CELLS = [
    ("import freezeviz\n"
     "from freezeviz.examples import MyModule2\n"
     "\n"
     "model = MyModule2()\n"
     "insp = freezeviz.inspect(model)\n"
     "insp"),
]

LAB_START_S = 60
KERNEL_READY_S = 60
WIDGET_S = 90
REFREEZE_S = 45


def _write_notebook(path: Path) -> None:
    nb = {
        "cells": [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {},
                   "outputs": [], "source": src} for i, src in enumerate(CELLS)],
        "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                                    "name": "python3"},
                     "language_info": {"name": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }
    path.write_text(json.dumps(nb, indent=1))


def _quiet_lab_settings(settings: Path) -> None:
    """User settings that keep JupyterLab from asking about news or fetching anything."""
    notif = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notif.parent.mkdir(parents=True, exist_ok=True)
    notif.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))


def _get(url: str, timeout: float = 2.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # localhost only
        return resp.read()


# what each Jupyter front end needs beyond the server's options
_APP_ARGS = {
    "lab": ["--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.expose_app_in_browser=True"],
    "notebook": ["--JupyterNotebookApp.expose_app_in_browser=True"],
}
_APP_NAMES = {"lab": "JupyterLab", "notebook": "Notebook"}


def _start_lab(root: Path, port: int, log_path: Path, app: str = "lab") -> subprocess.Popen:
    """Start ``jupyter lab`` (or ``jupyter notebook``, app="notebook") on ``port``, quiet and
    local, and wait until it answers."""
    env = dict(os.environ)
    env.update({
        "JUPYTERLAB_SETTINGS_DIR": str(root / ".lab-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(root / ".lab-workspaces"),
        "JUPYTER_RUNTIME_DIR": str(root / ".runtime"),
        "PATH": os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""),
        "PYTHONWARNINGS": "ignore::DeprecationWarning",
    })
    _quiet_lab_settings(root / ".lab-settings")
    cmd = [sys.executable, "-m", "jupyter", app, "--no-browser",
           "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
           "--ServerApp.token=", "--ServerApp.password=", f"--ServerApp.root_dir={root}",
           "--ServerApp.open_browser=False", *_APP_ARGS[app]]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(log_path, "wb")  # noqa: SIM115 (closed with the process)
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    proc._fv_log = log  # type: ignore[attr-defined]
    deadline = time.monotonic() + LAB_START_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{_APP_NAMES[app]} exited with {proc.returncode}:\n"
                               f"{log_path.read_text(errors='replace')[-4000:]}")
        try:
            _get(f"http://127.0.0.1:{port}/api/status")
            return proc
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    _stop_lab(proc, port)
    raise RuntimeError(f"{_APP_NAMES[app]} did not answer within {LAB_START_S} s:\n"
                       f"{log_path.read_text(errors='replace')[-4000:]}")


def _stop_lab(proc: subprocess.Popen, port: int) -> None:
    """Shut its kernels down, then the server; kill what does not stop in time."""
    if proc.poll() is None:
        try:
            kernels = json.loads(_get(f"http://127.0.0.1:{port}/api/kernels"))
            for k in kernels:
                req = urllib.request.Request(f"http://127.0.0.1:{port}/api/kernels/{k['id']}",
                                             method="DELETE")
                urllib.request.urlopen(req, timeout=10).close()  # localhost only
        except Exception:
            pass
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    log = getattr(proc, "_fv_log", None)
    if log is not None:
        log.close()


def _wait(page, what: str, js: str, timeout_s: float, arg=None):
    """Poll ``js`` (a function of ``arg``) until truthy; fail with the notebook's errors."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = page.evaluate(js, arg)
        if value:
            return value
        errors = page.evaluate("""() => Array.from(document.querySelectorAll(
            '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'))
            .map(e => e.innerText).filter(t => /Error|Traceback/.test(t)).join('\\n')""")
        if errors:
            pytest.fail(f"while waiting for {what}, the notebook printed:\n{errors[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.25)


def _open_and_run(page, port: int) -> None:
    page.set_default_timeout(20_000)
    page.goto(f"http://127.0.0.1:{port}/lab/tree/inspector.ipynb?reset", timeout=60_000)
    _wait(page, "the kernel to be idle", """() => {
        const app = window.jupyterapp;
        const w = app && app.shell.currentWidget;
        const k = w && w.sessionContext && w.sessionContext.session &&
                  w.sessionContext.session.kernel;
        return Boolean(k && k.status === 'idle' && w.content.widgets.length);
    }""", KERNEL_READY_S)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    _wait(page, "both graph panes", """() =>
        document.querySelectorAll('.fv-inspector .fv-gv svg g.node').length > 2 &&
        document.querySelectorAll('.fv-inspector .fv-gv .fv-gv-stage > svg').length === 2
    """, WIDGET_S)


def _hover_click_and_search(page, gv) -> None:
    # hover a node on the left: its counterpart on the right lights up
    node = gv.nth(0).locator("g.node.fv-op").first
    node_id = node.get_attribute("id")
    node.hover()
    _wait(page, "the hovered node's counterpart to light up", """(id) => {
        const right = document.querySelectorAll('.fv-inspector .fv-gv')[1];
        const g = right.querySelector('#' + CSS.escape(id));
        return g && g.classList.contains('fv-hover');
    }""", 15, node_id)

    # click it: the details panel describes it
    node.click()
    _wait(page, "the details of the clicked node", """() => {
        const d = document.querySelector('.fv-inspector .fv-details');
        return d && /aten::add/.test(d.innerText) && /source/.test(d.innerText);
    }""", 15)

    # search in one pane: matches are marked in both (the query is linked)
    page.locator(".fv-gv-search").nth(0).fill("GetAttr self.modified")
    _wait(page, "search matches in both panes", """() => {
        const panes = document.querySelectorAll('.fv-inspector .fv-gv');
        return Array.from(panes).every(p => p.querySelectorAll('g.fv-match').length >= 2);
    }""", 15)
    page.locator(".fv-gv-search").nth(0).fill("")
    _wait(page, "the search to clear", """() =>
        !document.querySelector('.fv-inspector .fv-gv g.fv-match')""", 15)


def _wheel_zooms_and_fit_restores(page, gv) -> None:
    stage = gv.nth(1).locator(".fv-gv-stage")
    fitted = stage.evaluate("e => e.style.transform")
    box = gv.nth(1).locator(".fv-gv-viewport").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -400)
    page.wait_for_timeout(100)
    assert stage.evaluate("e => e.style.transform") != fitted
    gv.nth(1).locator("button", has_text="fit").click()
    assert stage.evaluate("e => e.style.transform") == fitted


def _keep_version(page) -> None:
    """Tick "keep" for version: re-freeze; the table and the frozen drawing say it is kept."""
    box = page.locator('.fv-at input[data-name="version"]')
    assert not box.is_checked()
    box.check()
    _wait(page, "version's fate chip to become preserved_requested", """() =>
        document.querySelector(
            '.fv-at tr[data-path="version"] .fv-chip[data-fate="preserved_requested"]')
    """, REFREEZE_S)
    _wait(page, "the frozen drawing to say the module keeps version", """() => {
        const right = document.querySelectorAll('.fv-inspector .fv-gv')[1];
        return /keeps.*self\\.version/.test(right.querySelector('svg').textContent);
    }""", REFREEZE_S)
    assert page.locator('.fv-at input[data-name="version"]').is_checked()
    assert "'version'" in page.locator(".fv-inspector .fv-title").inner_text()


def _clicks_during_a_freeze_gather(page) -> None:
    """A box ticked while a freeze runs is not refused: it waits, with any other clicks made
    meanwhile, and they go to Python as one set when the freeze ends (one more freeze)."""
    from benchmarks.browser import EXEC_JS

    page.evaluate(EXEC_JS, (
        "import time as _fv_time\n"
        "_fv_calls, _fv_freeze = [], insp.state.freeze\n"
        "def _fv_slow(names, *args):\n"
        "    _fv_calls.append(sorted(names))\n"
        "    _fv_time.sleep(1.5)\n"
        "    return _fv_freeze(names, *args)\n"
        "insp.state.freeze = _fv_slow"))
    try:
        page.locator('.fv-at input[data-name="modified_tensor"]').check()
        _wait(page, "the freeze to start", """() =>
            document.querySelector('.fv-at.fv-at-isbusy')""", 15)
        held = page.evaluate("""() => {
            const box = document.querySelector('.fv-at input[data-name="version"]');
            box.click();  // now, while the freeze runs
            return !box.checked && Boolean(document.querySelector('.fv-at.fv-at-pending'));
        }""")
        assert held  # the click is kept, waiting, not refused
        _wait(page, "the set clicked during the freeze to be shown", """() =>
            document.querySelector('.fv-at').dataset.fvBusy === '0' &&
            document.querySelector('.fv-inspector .fv-title').textContent
                .includes("preserved_attrs=['modified_tensor'])")""", REFREEZE_S)
        calls = page.evaluate(EXEC_JS, "print(_fv_calls)").strip()
        assert calls == "[['modified_tensor', 'version'], ['modified_tensor']]", calls
        assert page.locator('.fv-at input[data-name="modified_tensor"]').is_checked()
        assert not page.locator('.fv-at input[data-name="version"]').is_checked()
    finally:
        page.evaluate(EXEC_JS, "insp.state.freeze = _fv_freeze")


def _stages_tab(page) -> None:
    """The stages tab: a row's "graph" opens torch's printout below it, its "compare" shows
    the stage in the after pane."""
    row = page.locator(".fv-inspector .fv-stages .fv-stage-row").first
    assert row.get_attribute("data-stage") == "scripted"
    row.locator("button.fv-stage-toggle").click()
    _wait(page, "the first stage's printout", """() => {
        const body = document.querySelector('.fv-stages .fv-stage-row .fv-stage-body');
        return body && /graph[(]/.test(body.textContent);
    }""", 15)
    row.locator("button.fv-stage-toggle").click()
    _wait(page, "the printout to close", """() =>
        !document.querySelector('.fv-stages .fv-stage-row .fv-stage-body').textContent""", 15)
    row.locator("button.fv-stage-compare").click()
    _wait(page, "the after pane to show the scripted stage", """() =>
        /scripted/.test(document.querySelectorAll('.fv-inspector .fv-pane')[1].innerText)""", 15)


def _picture(page, gv, path) -> None:
    """Select an attribute, hover a node again, and take the picture."""
    page.locator('.fv-at tr[data-path="modified_tensor"] .fv-at-path').click()
    _wait(page, "the attribute's details", """() =>
        /self\\.modified_tensor/.test(
            document.querySelector('.fv-inspector .fv-details').innerText)""", 15)
    page.wait_for_timeout(300)
    gv.nth(1).locator("g.node.fv-op").first.hover()
    page.wait_for_timeout(300)
    inspector = page.locator(".fv-inspector").first
    inspector.scroll_into_view_if_needed()
    shot = inspector.screenshot(path=str(path))
    assert len(shot) > 20_000


def test_inspector_in_jupyterlab(tmp_path, free_port, browser, screenshot_path):
    started = time.monotonic()
    root = tmp_path / "lab"
    root.mkdir()
    _write_notebook(root / "inspector.ipynb")
    lab = _start_lab(root, free_port, tmp_path / "lab.log")
    try:
        page = browser.new_page(viewport={"width": 1440, "height": 1500})
        try:
            _open_and_run(page, free_port)
            gv = page.locator(".fv-inspector .fv-gv")
            assert gv.count() == 2
            assert "inlined" in page.locator(".fv-inspector .fv-pane").nth(0).inner_text()
            _hover_click_and_search(page, gv)
            _wheel_zooms_and_fit_restores(page, gv)
            _keep_version(page)
            _picture(page, gv, screenshot_path("inspector.png"))
            _stages_tab(page)
            _clicks_during_a_freeze_gather(page)
        finally:
            page.close()
    finally:
        _stop_lab(lab, free_port)
    assert time.monotonic() - started < 120, "the browser test should take under 2 minutes"
