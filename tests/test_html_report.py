"""The self-contained HTML report: escaping, no network, one SVG per distinct graph, and (in
headless Chromium) no errors, a working stage picker, pan/zoom and highlighting."""

from __future__ import annotations

import dataclasses
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import torch
from torch import nn

import freezeviz
from freezeviz.render import styles as S
from freezeviz.render.html import inline_svg, render_html, write_report

from .corpus import modules as M

pytestmark = pytest.mark.needs_dot

HOSTILE = "</script><script>alert('x')</script>"


class HostileConstant(nn.Module):
    """A string constant that survives freezing (it is only used when data says so) and a
    ModuleDict key that closes a script element."""

    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleDict({"</script><b>k": nn.Linear(2, 2)})

    def forward(self, x):
        if bool(x.sum() > 1e30):
            raise RuntimeError("</script><script>alert('x')</script> </template><img src=x>")
        return self.blocks["</script><b>k"](x)


class _Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.script_text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.script_text.append(data)


def _parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    page.close()
    return page


@pytest.fixture(scope="module")
def strings_report():
    return freezeviz.freeze(M.Strings().eval())


@pytest.fixture(scope="module")
def hostile_report():
    report = freezeviz.freeze(HostileConstant().eval())
    # every free-text field of the report, hostile too
    return dataclasses.replace(report, module_name=HOSTILE,
                               warnings=[*report.warnings, f"warning {HOSTILE}"])


def _check_safe(text: str) -> _Page:
    assert not re.search(r"<script>\s*alert", text, re.IGNORECASE)
    assert "<img" not in text.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text, re.IGNORECASE)
    page = _parse(text)
    scripts = [a for t, a in page.tags if t == "script"]
    assert len(scripts) == 2, "only the report's JSON block and its own script"
    assert scripts[0].get("type") == "application/json"
    for tag, attrs in page.tags:
        assert tag not in ("iframe", "object", "embed", "img", "link", "base", "foreignobject")
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            if name in ("src", "href", "xlink:href", "action"):
                assert (value or "").startswith("#"), (tag, name, value)
    csp = [a for t, a in page.tags if t == "meta" and a.get("http-equiv", "").lower()
           == "content-security-policy"]
    assert csp and "default-src 'none'" in csp[0]["content"]
    assert "script-src 'sha256-" in csp[0]["content"]
    return page


def test_strings_report_is_escaped_and_offline(strings_report, tmp_path):
    path = write_report(strings_report, tmp_path / "sub" / "strings.html")
    assert Path(path).is_file()
    text = Path(path).read_text(encoding="utf-8")
    page = _check_safe(text)
    # the ModuleDict key with quotes, braces and angle brackets is there, escaped
    assert "self.layers.odd&quot;key{&lt;x&gt;}.weight" in text
    assert 'data-path="layers.odd&quot;key{&lt;x&gt;}.weight"' in text
    assert "&lt;b&gt;bold&lt;/b&gt;" in text  # the RuntimeError message, as text
    data = json.loads(page.script_text[0])
    assert data["module"] == "Strings"
    assert [s["name"] for s in data["stages"]] == [s.name for s in strings_report.stages]
    for section in ("graphs", "stages", "attributes", "alias", "code", "repro"):
        assert f'<section id="{section}"' in text
    assert "torch.jit.freeze(module.eval()" in text


def test_hostile_strings_never_become_markup(hostile_report):
    text = render_html(hostile_report)
    page = _check_safe(text)
    assert "&lt;/script&gt;&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text  # title, header
    assert "</template><img" not in text
    # the surviving constant is in the code and the drawings, escaped
    assert text.count("&lt;/template&gt;") >= 1
    data_text = page.script_text[0]
    assert "<" not in data_text and ">" not in data_text
    assert json.loads(data_text)["module"] == HOSTILE


def test_inline_svg_drops_active_content():
    svg = ('<?xml version="1.0"?><!DOCTYPE svg><svg xmlns="http://www.w3.org/2000/svg">'
           '<!-- </script> --><script>alert(1)</script><a xlink:href="http://x" onclick="f()">'
           '<text>t</text></a><foreignObject></foreignObject></svg>')
    out = inline_svg(svg)
    assert out.startswith("<svg")
    assert "<script" not in out and "<foreignObject" not in out
    assert "href" not in out and "onclick" not in out and "<!--" not in out


def test_unchanged_stages_share_one_drawing():
    from freezeviz import examples

    report = freezeviz.freeze(examples.resnet_tiny())
    text = render_html(report)
    data = json.loads(_parse(text).script_text[0])
    plain = re.findall(r'<template id="fv-g\d+">', text)
    assert len(plain) == len(data["graphs"]) <= len({id(s.graph) for s in report.stages})
    assert len(plain) < len(report.stages)
    for i, st in enumerate(report.stages[1:], 1):
        prev = report.stages[i - 1]
        if st.graph is prev.graph:
            assert data["stages"][i]["graph"] == data["stages"][i - 1]["graph"]
    # the default pair (inlined -> final) is drawn once more, with diff colours
    assert len(re.findall(r'<template id="fv-d', text)) == 2
    assert "fv&#45;removed" in text or "fv-removed" in text
    assert data["stages"][data["defaults"]["before"]]["name"] == "inlined"
    assert data["defaults"]["after"] == len(report.stages) - 1


def test_numerics_section_when_inputs_given():
    report = freezeviz.freeze(M.ConvBN().eval(), example_inputs=(torch.randn(1, 3, 6, 6),))
    text = render_html(report)
    assert '<section id="numerics"' in text
    assert "max abs diff" in text


# --- in the browser ------------------------------------------------------------------------------

def _open(browser, path: Path, viewport=(1400, 900)):
    page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    page.on("request", lambda r: problems.append(f"request: {r.url}")
            if not r.url.startswith("file:") else None)
    page.goto(path.as_uri())
    page.wait_for_selector("html[data-fv-ready]", timeout=20_000)
    return page, problems


def _shown(page, side: str) -> dict:
    return page.evaluate("""side => {
        const svg = document.querySelector(`.fv-pane[data-side=${side}] .fv-canvas svg`);
        if (!svg) return null;
        const ids = Array.from(svg.querySelectorAll('g.node')).map(g => g.id);
        return {n: ids.length, ids: ids.join(' '), w: svg.getBoundingClientRect().width};
    }""", side)


@pytest.mark.browser
@pytest.mark.parametrize("which", ["strings", "hostile"])
def test_report_in_chromium(browser, which, strings_report, hostile_report, tmp_path):
    report = strings_report if which == "strings" else hostile_report
    path = Path(write_report(report, tmp_path / f"{which}.html"))
    page, problems = _open(browser, path)
    before, after = _shown(page, "before"), _shown(page, "after")
    assert before and after and before["n"] > 0 and after["n"] > 0
    assert before["ids"] != after["ids"]
    # the stage picker switches the drawing
    select = page.locator(".fv-pane[data-side=after] select")
    first = report.stages_of("forward")[0]
    select.select_option(str(report.stages.index(first)))
    switched = _shown(page, "after")
    assert switched["ids"] != after["ids"]
    # prev/next and zoom buttons
    label = page.locator(".fv-pane[data-side=after] .fv-zoomlabel")
    zoom = label.text_content()
    page.locator(".fv-pane[data-side=after] .fv-zin").click()
    assert label.text_content() != zoom
    page.locator(".fv-pane[data-side=after] .fv-next").click()
    assert _shown(page, "after")["ids"] != switched["ids"]
    # nothing from the model ran
    assert page.evaluate("document.querySelectorAll('script').length") == 2
    assert page.evaluate("document.querySelectorAll('img, iframe').length") == 0
    page.close()
    assert not problems, problems


@pytest.mark.browser
def test_attribute_row_highlights_nodes(browser, strings_report, tmp_path):
    path = Path(write_report(strings_report, tmp_path / "strings.html"))
    page, problems = _open(browser, path)
    row = page.locator('tr.fv-attr-row[data-path="layers.odd\\"key{<x>}.weight"]')
    assert row.count() == 1
    row.click()
    hits = page.evaluate("document.querySelectorAll('.fv-canvas g.node.fvx-hl').length")
    assert hits >= 1
    assert "Highlighted" in page.locator(".fv-graphmsg").text_content()
    # the attribute filter hides rows
    page.locator("#fv-attr-filter").fill("odd")
    visible = page.evaluate(
        "Array.from(document.querySelectorAll('tr.fv-attr-row')).filter(r => !r.hidden).length")
    assert 0 < visible < len(strings_report.attributes)
    page.close()
    assert not problems, problems


@pytest.mark.browser
def test_diff_colours_for_any_pair(browser, tmp_path):
    report = freezeviz.freeze(M.ConvBN().eval())
    path = Path(write_report(report, tmp_path / "convbn.html"))
    page, problems = _open(browser, path)
    names = [s.name for s in report.stages]
    page.locator(".fv-pane[data-side=before] select").select_option(str(names.index("frozen")))
    page.locator(".fv-pane[data-side=after] select").select_option(str(names.index("fold_conv_bn")))
    removed = page.evaluate("document.querySelectorAll('.fv-pane[data-side=before] g.fvx-removed')"
                            ".length")
    assert removed >= 1  # the batch_norm and its constants
    assert "matched by node id" in page.locator(".fv-diffcount").text_content()
    page.locator("#fv-colour-fate").check()
    assert page.evaluate("document.querySelectorAll('g.fvx-removed, g.fvx-added').length") == 0
    page.locator("#fv-colour-change").check()
    assert page.evaluate("document.querySelectorAll('.fv-canvas g.fvx-removed').length") == removed
    # the stage table's compare button shows a stage against the one before it
    page.locator(f"button.fv-compare[data-stage='{names.index('fold_conv_bn')}']").click()
    assert page.locator(".fv-pane[data-side=before] select").input_value() == \
        str(names.index("fold_conv_bn") - 1)
    page.close()
    assert not problems, problems


@pytest.mark.browser
def test_screenshot_for_the_docs(browser, tmp_path, screenshot_path):
    """The picture in the docs: a small ResNet, inlined graph against the final one."""
    from freezeviz import examples

    report = freezeviz.freeze(examples.resnet_tiny(), example_inputs=torch.randn(1, 3, 32, 32))
    path = Path(write_report(report, tmp_path / "resnet_tiny.html"))
    page, problems = _open(browser, path, viewport=(1440, 1000))
    out = screenshot_path("report.png")
    page.screenshot(path=str(out))
    page.close()
    assert not problems, problems
    assert out.stat().st_size > 20_000


_DIFF_MARKED = ".fv-canvas :is(g.fv-added, g.fv-removed, g.fvx-added, g.fvx-removed)"


def _legend_rows(page) -> dict[str, float]:
    """The shown legend's rows: words -> the row's height on the page."""
    return page.evaluate("""() => Object.fromEntries(Array.from(document.querySelectorAll(
        '.fv-legend-body g.fv-legend-text')).filter(g => g.getClientRects().length)
        .map(g => [Array.from(g.querySelectorAll('text'), t => t.textContent).join(' ').trim(),
                   g.getBoundingClientRect().top]))""")


def _even_rows(rows: dict[str, float]) -> bool:
    """No gap in the legend: consecutive rows are about as far apart as the others."""
    tops = sorted(rows.values())
    steps = sorted(b - a for a, b in zip(tops, tops[1:]))
    return steps[-1] <= 1.6 * steps[len(steps) // 2]


@pytest.mark.browser
def test_colour_by_fate_or_by_change(browser, tmp_path):
    """By fate the panes show no diff mark and the legend no diff row; by change both return,
    for the drawn default pair and for a pair marked in the browser."""
    report = freezeviz.freeze(M.ConvBN().eval())
    path = Path(write_report(report, tmp_path / "convbn.html"))
    page, problems = _open(browser, path)
    page.locator(".fv-legend > summary").click()
    diff_words = {S.DIFF_LABELS["added"], S.DIFF_LABELS["removed"]}
    names = [s.name for s in report.stages]
    for pair in (None, ("frozen", "fold_conv_bn")):
        if pair:
            for side, name in zip(("before", "after"), pair):
                page.locator(f".fv-pane[data-side={side}] select").select_option(
                    str(names.index(name)))
        marked = page.locator(_DIFF_MARKED).count()
        assert marked >= 1, pair
        by_change = _legend_rows(page)
        assert diff_words <= set(by_change)
        fate_ids = _shown(page, "after")["ids"]
        page.locator("#fv-colour-fate").check()
        assert page.locator(_DIFF_MARKED).count() == 0
        rows = _legend_rows(page)
        assert not diff_words & set(rows)
        assert set(rows) == set(by_change) - diff_words  # every other row stays
        assert _even_rows(rows), rows  # and closes up: no gap where the diff rows were
        assert "fate" in page.locator(".fv-diffcount").text_content()
        page.locator("#fv-colour-change").check()
        assert page.locator(_DIFF_MARKED).count() == marked
        assert set(_legend_rows(page)) == set(by_change)
        assert _shown(page, "after")["ids"] == fate_ids
    page.close()
    assert not problems, problems


@pytest.fixture(scope="module")
def tiny_report():
    from freezeviz import examples

    return freezeviz.freeze(examples.resnet_tiny())


@pytest.mark.browser
def test_diff_against_a_collapsed_pane_marks_only_real_changes(browser, tiny_report, tmp_path):
    """The inlined ResNet is drawn collapsed (it is over the node budget); nodes inside its boxes
    are not new in the frozen graph, only the ones whose key the inlined graph lacks are."""
    from freezeviz.data.diff import node_keys

    path = Path(write_report(tiny_report, tmp_path / "tiny.html"))
    page, problems = _open(browser, path)
    names = [s.name for s in tiny_report.stages]
    page.locator(".fv-pane[data-side=before] select").select_option(str(names.index("inlined")))
    page.locator(".fv-pane[data-side=after] select").select_option(str(names.index("frozen")))
    assert page.evaluate("document.querySelectorAll('.fv-pane[data-side=before] "
                         "g.node.fv-collapsed').length") > 0
    added = set(page.evaluate("Array.from(document.querySelectorAll("
                              "'.fv-pane[data-side=after] g.fvx-added'), g => g.id)"))
    inlined_keys = set(node_keys(tiny_report.stage("inlined").graph).values())
    frozen = tiny_report.draw("frozen", title=None)
    new = {sid for sid, ref in frozen.node_map.items()
           if ref.kind in ("node", "join") and ref.key not in inlined_keys}
    assert new, "freezing makes constants the inlined graph does not have"
    assert added == new
    page.close()
    assert not problems, problems


@pytest.mark.browser
def test_search_and_wheel_zoom_in_a_pane(browser, strings_report, tmp_path):
    """The report's panes search and zoom with the widget's code: wheel zooms, Enter jumps."""
    path = Path(write_report(strings_report, tmp_path / "strings.html"))
    page, problems = _open(browser, path)
    pane = ".fv-pane[data-side=after]"
    page.locator(f"{pane} .fv-search").fill("self.layers")
    hits = page.evaluate(f"Array.from(document.querySelectorAll('{pane} g.node.fv-match'), "
                         "g => g.textContent)")
    assert hits and all("layers" in h for h in hits)
    assert "match" in page.locator(f"{pane} .fv-searchcount").text_content()
    page.locator(f"{pane} .fv-search").press("Enter")
    assert page.locator(f"{pane} .fv-searchcount").text_content().startswith("1 / ")
    zoom = page.locator(f"{pane} .fv-zoomlabel").text_content()
    box = page.locator(f"{pane} .fv-view").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -400)
    page.wait_for_function(f"document.querySelector('{pane} .fv-zoomlabel').textContent "
                           f"!== {zoom!r}")
    page.locator(f"{pane} .fv-search").fill("")
    assert page.evaluate(f"document.querySelectorAll('{pane} g.fv-match').length") == 0
    page.close()
    assert not problems, problems


def _pane_ids(page, side: str, cls: str) -> set[str]:
    return set(page.evaluate(f"Array.from(document.querySelectorAll("
                             f"'.fv-pane[data-side={side}] g.node.{cls}'), g => g.id)"))


@pytest.mark.browser
def test_hover_links_a_getattr_and_the_constant_it_became(browser, tmp_path):
    """Freezing turns GetAttr conv.weight into a constant: hovering one marks the other in the
    other pane and says how they are linked, in both directions."""
    module = M.ConvBN().eval()
    frozen = torch.jit.freeze(torch.jit.script(module))
    conv = next(n for n in frozen.graph.nodes() if n.kind() == "aten::conv2d")
    constant = conv.inputsAt(1).debugName()  # torch's name for the folded weight
    report = freezeviz.freeze(module)
    path = Path(write_report(report, tmp_path / "convbn.html"))
    page, problems = _open(browser, path)
    after_select = page.locator(".fv-pane[data-side=after] select")
    final = report.stages.index(report.final_stage("forward"))
    assert after_select.input_value() == str(final)
    assert "(final)" in after_select.locator("option:checked").text_content()

    before_map = report.draw("inlined", title=None).node_map
    after_map = report.draw(report.final_stage("forward"), title=None).node_map
    reads = {sid for sid, ref in before_map.items() if ref.key.startswith("prim::GetAttr:conv.weight#")}
    const = {sid for sid, ref in after_map.items() if ref.key == f"const:{constant}#0"}
    assert reads and len(const) == 1

    page.locator(f".fv-pane[data-side=before] #{next(iter(reads))}").dispatch_event("pointerover")
    assert _pane_ids(page, "after", "fvx-hover") == const
    status = page.locator(".fv-pane[data-side=after] .fv-linkmsg").text_content()
    assert f"became the constant %{constant}" in status
    assert "not in this stage" not in status

    page.locator(f".fv-pane[data-side=after] #{next(iter(const))}").dispatch_event("pointerover")
    assert _pane_ids(page, "before", "fvx-hover") == reads
    assert _pane_ids(page, "after", "fvx-hover") == set()
    status = page.locator(".fv-pane[data-side=before] .fv-linkmsg").text_content()
    assert "read by GetAttr self.conv.weight before freezing" in status
    page.close()
    assert not problems, problems
