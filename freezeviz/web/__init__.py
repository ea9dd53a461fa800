"""The front end: the JavaScript and CSS that draw, pan, zoom and search the graphs, used by the
notebook widget and the HTML report. Never imports torch."""

from __future__ import annotations

import pathlib

HERE = pathlib.Path(__file__).parent


def asset(name: str) -> str:
    """The text of one front-end file (``report.js``, ``graphview.css``, ...)."""
    return (HERE / name).read_text(encoding="utf-8")
