"""Shared helpers for the render tests: SVG/DOT inspection (tests that run `dot` carry the
``needs_dot`` marker of tests/conftest.py)."""

from __future__ import annotations

import re
import subprocess
import xml.etree.ElementTree as ET

SVG_NS = "{http://www.w3.org/2000/svg}"
_DOT_NODE_RE = re.compile(r'^"([^"]+)" \[(.*)\]$', re.MULTILINE)


def dot_nodes(source: str) -> dict[str, str]:
    """DOT node name -> its attribute text, for every node statement of a freezeviz drawing."""
    return {m.group(1): m.group(2) for m in _DOT_NODE_RE.finditer(source)}


def dot_attr(attrs: str, name: str) -> str | None:
    m = re.search(rf'(?:^|, ){name}="((?:[^"\\]|\\.)*)"', attrs)
    return m.group(1) if m else None


def check_dot(source: str) -> str:
    """Run dot on ``source``; fail on a non-zero exit or any error/warning. Returns the SVG."""
    done = subprocess.run(["dot", "-Tsvg"], input=source.encode("utf-8"), capture_output=True,
                          timeout=60, check=False)
    err = done.stderr.decode("utf-8", "replace")
    assert done.returncode == 0, err
    assert "error" not in err.lower() and "warning" not in err.lower(), err
    return done.stdout.decode("utf-8")


def parse_svg(svg: str) -> ET.Element:
    return ET.fromstring(svg.encode("utf-8"))


def svg_nodes(root: ET.Element) -> dict[str, set[str]]:
    """SVG id -> classes, for every graphviz node group (``<g class="node ...">``)."""
    out = {}
    for g in root.iter(SVG_NS + "g"):
        classes = set((g.get("class") or "").split())
        if "node" in classes:
            out[g.get("id")] = classes
    return out


def svg_texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(SVG_NS + "text")]
