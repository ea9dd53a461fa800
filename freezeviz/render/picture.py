"""Pictures of a drawing that every notebook front end shows, trusted or not, kernel or not.

A notebook opened from disk is untrusted until the reader trusts it. JupyterLab 4 and
Notebook 7 then sanitise its HTML outputs (an inline ``<svg>`` is dropped and only its
label text is left) and refuse ``image/svg+xml`` ("Cannot display an untrusted SVG"), but
they always show ``image/png`` and keep an ``<img>`` whose source is a ``data:`` URI.
GitHub and nbviewer render outputs untrusted too. So every drawing a notebook keeps comes
as a small PNG, and HTML that shows drawings shows them as ``<img>``, never inline.
"""

from __future__ import annotations

import base64
import html

from freezeviz.render.fragments import inline_svg

# A PNG is a preview, not the drawing: at most PNG_MAX_INCHES * PNG_DPI pixels on its longer
# side (dot scales bigger layouts down to fit), and left out when it would still weigh more
# than PNG_MAX_BYTES, so that saved notebooks stay small.
PNG_DPI = 72
PNG_MAX_INCHES = 16
PNG_MAX_BYTES = 250_000
# Cairo draws, gd writes a palette PNG: a third of the bytes of cairo's own PNG, and it looks
# the same; plain "png" where this Graphviz lacks the gd device.
PNG_FORMATS = ("png:cairo:gd", "png")


def png_args() -> list[str]:
    """``dot`` options that cap a PNG's size (a graph's own attributes set neither)."""
    return [f"-Gdpi={PNG_DPI}", f"-Gsize={PNG_MAX_INCHES},{PNG_MAX_INCHES}"]


def small_png(data: bytes | None) -> bytes | None:
    """``data`` when it is a PNG small enough to keep in a notebook, else None."""
    if not data or not data.startswith(b"\x89PNG") or len(data) > PNG_MAX_BYTES:
        return None
    return data


def svg_img(svg: str, alt: str, style: str = "max-width:100%;height:auto") -> str:
    """``svg`` as an ``<img>`` with a ``data:`` URI: shown by sanitised (untrusted) HTML,
    where an inline ``<svg>`` would be reduced to its label text."""
    clean = inline_svg(svg)
    if "xmlns=" not in clean[:400]:  # an <img> needs the namespace to read it as SVG
        clean = clean.replace("<svg", '<svg xmlns="http://www.w3.org/2000/svg"', 1)
    data = base64.b64encode(clean.encode("utf-8")).decode("ascii")
    return (f'<img alt="{html.escape(alt)}" style="{style}" '
            f'src="data:image/svg+xml;base64,{data}">')
