"""The HTML pieces the report, the compare page and the inspector share."""

from __future__ import annotations

import re

from freezeviz.data.fates import Fate
from freezeviz.data.report import NumericsRow
from freezeviz.render.fragments import (
    chip,
    diff_html,
    esc,
    inline_svg,
    number,
    numerics_table,
    placeholder_svg,
)
from freezeviz.render.styles import FATE_COLORS


def test_chip_colours_and_labels_every_fate():
    for fate in Fate:
        html = chip(fate, count=1200)
        fill, border = FATE_COLORS[fate]
        assert f"background:{fill};border-color:{border}" in html
        assert esc(fate.label) in html and "<b>1,200</b>" in html
        assert chip(fate.value) == chip(fate)
        assert 'aria-pressed="true"' in chip(fate, button=True)
    assert chip(None) == "" and chip("not a fate") == ""


def test_numerics_rows_spell_out_and_flag_non_finite_differences():
    rows = [NumericsRow("frozen", "forward", 0.0, 0.0),
            NumericsRow("fold_conv_bn", "forward", float("nan"), float("nan")),
            NumericsRow("final", "forward", float("inf"), 2e-7)]
    table = numerics_table(rows)
    body = re.findall(r"<tr[^>]*>.*?</tr>", table.split("<tbody>")[1])
    assert [("#fff7ed" in r) for r in body] == [False, True, True]  # NaN is not "close"
    assert ">nan<" in body[1] and ">inf<" in body[2] and ">2e-07<" in body[2]
    assert [number(x) for x in (0.0, float("-inf"), 1.23456)] == ["0", "-inf", "1.23"]


def test_diff_counts_colours_and_cuts():
    text = "--- a\n+++ b\n@@ -1 +1 @@\n-old <x>\n+new & y\n same"
    body, plus, minus = diff_html(text)
    assert (plus, minus) == (1, 1)
    assert '<span class="fv-del">-old &lt;x&gt;</span>' in body
    assert '<span class="fv-add">+new &amp; y</span>' in body
    body, _, _ = diff_html("\n".join(f"+{i}" for i in range(10)), limit=3)
    assert body.count("fv-add") == 3 and "first 3 of 10 lines" in body


def test_placeholder_is_the_one_empty_drawing_and_stays_text():
    svg = placeholder_svg("cannot draw: <script>alert(1)</script>\nnext")
    assert "<script" not in svg and "&lt;script&gt;" in svg and "\n" not in svg
    assert svg.startswith("<svg") and 'class="fv-empty"' in svg
    assert inline_svg(svg) == svg
