"""An Inductor report speaks of torch.compile's freezing, never of torch.jit.freeze, and leaves
out what only TorchScript's freezer has (preserved_attrs, alias analysis, JIT_LOG)."""

from __future__ import annotations

import html
import re

import pytest
import torch

import freezeviz
from freezeviz.examples import conv_bn_relu
from freezeviz.render.html import render_html

pytestmark = pytest.mark.needs_dot

IMG = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(1))
TORCHSCRIPT_WORDS = ("torch.jit", "JIT_LOG", "freeze_module", "preserved_attrs", "Alias analysis",
                     "AliasDb", "as scripted")


@pytest.fixture(scope="module")
def reports():
    torch.manual_seed(0)
    model = conv_bn_relu()
    return (freezeviz.freeze(model, example_inputs=(IMG,), backend="inductor"),
            freezeviz.freeze(model))


def _shown(page: str) -> str:
    """The page's text as a reader sees it: no script, style, drawings or tags."""
    page = re.sub(r"<(script|style|template)\b.*?</\1>", " ", page, flags=re.S | re.I)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_page_names_torch_compile_and_no_torchscript_part(reports):
    inductor, torchscript = reports
    page = render_html(inductor, detail=0)
    text = _shown(page)
    assert "what torch.compile's freezing (Inductor) did" in text
    assert [w for w in TORCHSCRIPT_WORDS if w in text] == []
    assert 'id="alias"' not in page and 'href="#alias"' not in page
    assert "torch.compile(model)" in text and "freezing=True" in text
    # the lineage log is still there, under its own name
    assert inductor.log and inductor.log[0] in text and "constant_fold" in text
    # TorchScript's report is unchanged: its freezer, its options, its alias analysis
    ts = _shown(render_html(torchscript, detail=0))
    assert "what torch.jit.freeze did" in ts and "preserved_attrs" in ts
    assert "Alias analysis" in ts and "torch.compile" not in ts


def test_words_for_a_terminal_name_torch_compile(reports):
    inductor, torchscript = reports
    for text in (inductor.explain("forward"), inductor.summary(), repr(inductor),
                 inductor.repro()):
        assert "torch.jit" not in text and "preserved_attrs" not in text, text
    assert "torch.compile" in inductor.explain("forward")
    assert "Inductor" in inductor.summary()
    assert inductor.summary().endswith(
        "stages that changed the graph: " + ", ".join(s.label for s in inductor.changed_stages()))
    assert "torch.jit.freeze always keeps forward" in torchscript.explain("forward")
    assert "Inductor" not in torchscript.summary()


@pytest.mark.browser
def test_inductor_report_runs_in_chromium(browser, reports, tmp_path):
    from pathlib import Path

    from freezeviz.render.html import write_report
    from tests.test_html_report import _open, _shown

    page, problems = _open(browser, Path(write_report(reports[0], tmp_path / "inductor.html")))
    assert _shown(page, "before")["n"] > 0 and _shown(page, "after")["n"] > 0
    # every link of the header leads to a section on the page
    missing = page.evaluate("""() => Array.from(document.querySelectorAll('.fv-nav a'))
        .map(a => a.getAttribute('href')).filter(h => !document.querySelector(h))""")
    assert missing == []
    page.close()
    assert not problems, problems
