"""The colour language: one palette in render/styles.py, used by both front ends, whose
colours stay apart for a reader with deuteranopia."""

from __future__ import annotations

import itertools
import math
import re

import pytest

from freezeviz.data.fates import Fate
from freezeviz.render import styles as S
from freezeviz.web import asset

# Machado, Oliveira and Fernandes (2009), deuteranopia at severity 1, on linear RGB.
DEUTERANOPIA = ((0.367322, 0.860646, -0.227968),
                (0.280085, 0.672501, 0.047413),
                (-0.011820, 0.042940, 0.968881))


def _linear(hex_colour: str) -> list[float]:
    channels = [int(hex_colour.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    return [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]


def _lab(rgb: list[float]) -> tuple[float, float, float]:
    x = (0.4124 * rgb[0] + 0.3576 * rgb[1] + 0.1805 * rgb[2]) / 0.95047
    y = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]
    z = (0.0193 * rgb[0] + 0.1192 * rgb[1] + 0.9505 * rgb[2]) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def seen_with_deuteranopia(hex_colour: str) -> tuple[float, float, float]:
    rgb = _linear(hex_colour)
    sim = [min(1.0, max(0.0, sum(m * c for m, c in zip(row, rgb)))) for row in DEUTERANOPIA]
    return _lab(sim)


def delta_e(a: str, b: str) -> float:
    """CIE76 distance between two colours as a reader with deuteranopia sees them."""
    return math.dist(seen_with_deuteranopia(a), seen_with_deuteranopia(b))


def test_simulation_merges_red_and_green():
    # the check can fail: pure red and green of equal lightness collapse under deuteranopia
    assert delta_e("#16a34a", "#e11d48") < 10
    assert delta_e("#0072b2", "#e69f00") > 10


@pytest.mark.parametrize("group", ["fates", "diffs"])
def test_legend_borders_stay_apart_under_deuteranopia(group):
    colours = {"fates": {f.value: c[1] for f, c in S.FATE_COLORS.items()},
               "diffs": {k: c[1] for k, c in S.DIFF_COLORS.items()} | {"search": S.SEARCH_COLOR}
               }[group]
    close = [(a, b, round(delta_e(colours[a], colours[b]), 1))
             for a, b in itertools.combinations(colours, 2)
             if delta_e(colours[a], colours[b]) <= 10]
    assert not close, f"colours too close under deuteranopia: {close}"


def test_diff_palette_shares_no_colour_with_fates():
    fate_colours = {c for pair in S.FATE_COLORS.values() for c in pair}
    diff_colours = {c for pair in S.DIFF_COLORS.values() for c in pair} | {S.SEARCH_COLOR}
    assert not fate_colours & diff_colours
    assert S.ADDED["color"] == S.DIFF_COLORS["added"][1]
    assert S.REMOVED["color"] == S.DIFF_COLORS["removed"][1]
    assert S.HIGHLIGHT["color"] == S.SEARCH_COLOR


def test_stylesheet_palette_is_generated_from_styles():
    css = asset("graph.css")
    block = re.search(r":root, :host \{\n(.*?)\n\}", css, re.S)
    assert block, "graph.css lost its palette block"
    assert [line.strip() for line in block.group(1).splitlines()] == \
        S.css_variables().splitlines()


def test_one_search_colour_in_every_stylesheet():
    # search matches are drawn with the palette's variable, never a colour of their own
    rule = re.search(r"g\.node\.fv-match ellipse \{([^}]*)\}", asset("graph.css")).group(1)
    assert "var(--fv-search)" in rule
    assert "#f59e0b" not in asset("graph.css")


def test_inspector_legend_names_the_fates_present():
    from types import SimpleNamespace

    from freezeviz.widgets.legend import Legend, legend_items

    report = SimpleNamespace(attributes=[SimpleNamespace(fate=Fate.INLINED),
                                         SimpleNamespace(fate=Fate.PRESERVED_MUTATED)])
    kinds = [k for k, *_ in legend_items(report)]
    assert kinds == ["fate:inlined", "fate:preserved_mutated", "diff:added", "diff:removed",
                     "search"]
    row = Legend()
    row.show(report)
    assert f'data-border="{S.FATE_COLORS[Fate.INLINED][1]}"' in row.value
    assert f'data-border="{S.SEARCH_COLOR}"' in row.value
    assert "dashed" in row.value and "folded" not in row.value
