"""The pictures notebooks keep: small PNGs and ``<img>`` drawings that untrusted front ends
show (JupyterLab sanitises untrusted HTML and refuses untrusted SVG, but shows PNGs)."""

from __future__ import annotations

import base64
import struct

import pytest

from freezeviz.render import GraphView
from freezeviz.render.picture import PNG_DPI, PNG_MAX_INCHES, svg_img

pytestmark = pytest.mark.needs_dot


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def _chain(n: int) -> str:
    return "digraph g {\n" + "\n".join(f'n{i} -> n{i + 1} [label="edge {i}"]'
                                       for i in range(n)) + "\n}\n"


def test_png_is_capped_in_size():
    view = GraphView(_chain(300), timeout=30)
    bundle = view._repr_mimebundle_()
    data = base64.b64decode(bundle["image/png"])
    width, height = _png_size(data)
    cap = PNG_MAX_INCHES * PNG_DPI
    assert max(width, height) <= cap + 2 and height > 10 * width  # scaled down, not cropped
    assert len(data) < 250_000
    assert bundle["image/svg+xml"] == view.svg


def test_no_png_when_the_layout_gave_up():
    view = GraphView(_chain(2000), timeout=0.001)
    assert "layout gave up" in view.svg
    assert view.png() is None and set(view._repr_mimebundle_()) == {"image/svg+xml"}


def test_svg_img_round_trips():
    svg = ('<?xml version="1.0"?>\n<!-- generated -->\n<svg width="10pt" height="10pt">'
           '<g id="a"><text>x &lt; y</text></g></svg>\n')
    tag = svg_img(svg, 'before: "inlined"')
    assert tag.startswith('<img alt="before: &quot;inlined&quot;"')
    inner = base64.b64decode(tag.split("base64,", 1)[1].split('"', 1)[0]).decode()
    assert inner.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    assert "<text>x &lt; y</text>" in inner and "<?xml" not in inner and "<!--" not in inner
