"""The widget's controls follow JupyterLab's theme variables (light fallbacks outside it)."""

from __future__ import annotations

import pytest

from freezeviz.web import asset

DARK = {"--jp-layout-color1": "rgb(17, 17, 17)", "--jp-layout-color2": "rgb(40, 40, 40)",
        "--jp-input-background": "rgb(30, 30, 30)", "--jp-ui-font-color1": "rgb(230, 230, 230)",
        "--jp-ui-font-color3": "rgb(150, 150, 150)", "--jp-border-color1": "rgb(90, 90, 90)"}
CONTROLS = ('<div class="fv-inspector"><div class="fv-gv"><div class="fv-gv-bar">'
            '<input class="fv-gv-search" placeholder="search"><button class="fv-btn">fit</button>'
            '<input class="fv-at-filter" placeholder="filter"></div></div></div>')


def _colours(browser, variables: dict[str, str]) -> dict[str, dict[str, str]]:
    page = browser.new_page()
    try:
        style = ";".join(f"{k}: {v}" for k, v in variables.items())
        page.set_content(f"<html><head><style>{asset('graphview.css')}</style></head>"
                         f'<body style="{style}">{CONTROLS}</body></html>')
        return page.evaluate("""() => {
            const out = {};
            for (const sel of ['.fv-gv-search', '.fv-at-filter', '.fv-btn']) {
                const el = document.querySelector(sel), cs = getComputedStyle(el);
                out[sel] = {bg: cs.backgroundColor, fg: cs.color,
                            ph: getComputedStyle(el, '::placeholder').color};
            }
            return out;
        }""")
    finally:
        page.close()


@pytest.mark.browser
def test_inputs_and_buttons_follow_the_dark_theme(browser):
    dark = _colours(browser, DARK)
    assert dark[".fv-gv-search"] == {"bg": DARK["--jp-input-background"],
                                     "fg": DARK["--jp-ui-font-color1"],
                                     "ph": DARK["--jp-ui-font-color3"]}
    assert dark[".fv-at-filter"]["bg"] == DARK["--jp-input-background"]
    assert dark[".fv-btn"]["bg"] == DARK["--jp-layout-color1"]
    assert dark[".fv-btn"]["fg"] == DARK["--jp-ui-font-color1"]
    light = _colours(browser, {})  # outside JupyterLab: the light fallbacks
    for sel, c in light.items():
        assert c["bg"] == "rgb(255, 255, 255)" and c["fg"] != c["bg"], sel
    assert light[".fv-gv-search"]["ph"] == "rgb(156, 163, 175)"
