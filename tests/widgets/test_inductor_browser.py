"""The inspector on torch.compile's freezing (``backend="inductor"``) in a real JupyterLab,
driven by headless Chromium: its stages and fates show, the header names torch.compile,
and no "keep" box can be ticked (Inductor takes no preserved_attrs), each saying why."""

from __future__ import annotations

import json

import pytest

from benchmarks.browser import _kernel, _open, _write_notebook
from tests.widgets.test_browser import _start_lab, _stop_lab, _wait

pytestmark = pytest.mark.browser

CELL = """\
import json, torch, freezeviz
from freezeviz.examples import conv_bn_relu
torch.manual_seed(0)
insp = freezeviz.inspect(conv_bn_relu(), example_inputs=(torch.randn(1, 3, 8, 8),),
                         backend="inductor")
insp"""

TABLE_JS = """() => {
  const insp = document.querySelector('.fv-inspector');
  if (!insp || insp.querySelectorAll('.fv-gv .fv-gv-stage > svg').length !== 2) return null;
  const rows = [...insp.querySelectorAll('.fv-at tbody tr')];
  if (!rows.length) return null;
  const boxes = [...insp.querySelectorAll('.fv-at input[data-name]')];
  return {fates: Object.fromEntries(rows.map((tr) => [tr.dataset.path,
            tr.querySelector('.fv-chip').dataset.fate])),
          boxes: boxes.map((b) => [b.disabled, b.title || b.closest('label, td').title]),
          title: insp.querySelector('.fv-title').textContent,
          after: insp.querySelectorAll('.fv-pane select')[1].selectedOptions[0].textContent};
}"""


def test_inductor_inspector_in_jupyterlab(tmp_path, free_port, browser):
    root = tmp_path / "lab"
    root.mkdir()
    _write_notebook(root / "bench.ipynb", "conv_bn_relu")
    lab = _start_lab(root, free_port, tmp_path / "lab.log")
    try:
        page = browser.new_page(viewport={"width": 1440, "height": 1500})
        try:
            _open(page, free_port)
            page.evaluate("""(code) => {
                const nb = window.jupyterapp.shell.currentWidget.content;
                nb.activeCellIndex = 1;
                nb.activeCell.model.sharedModel.setSource(code);
                return window.jupyterapp.commands.execute('notebook:run-cell');
            }""", CELL)
            shown = _wait(page, "the inspector's panes and table", TABLE_JS, 120)
            want = json.loads(_kernel(page, "print(json.dumps({a.path: a.fate.value "
                                            "for a in insp.report.attributes}))"))
            final = _kernel(page, "print(insp.report.final_stage().name)").strip()
            assert shown["fates"] == want and want["conv.weight"] == "folded"
            assert "torch.compile" in shown["title"] and "torch.jit.freeze" not in shown["title"]
            assert shown["after"].replace("\xa0", " ").endswith(f"final · {final}")
            assert shown["boxes"] and all(
                disabled and "preserved_attrs" in why for disabled, why in shown["boxes"])
        finally:
            page.close()
    finally:
        _stop_lab(lab, free_port)
