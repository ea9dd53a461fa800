"""Drawing TorchScript graph snapshots with Graphviz: ``draw``, ``legend``, ``GraphView``.

Render never imports torch; it works from :mod:`freezeviz.data.snapshot` objects alone.
"""

from __future__ import annotations

from freezeviz.render.nodemap import NodeRef
from freezeviz.render.view import GraphView, LayoutTimeout, draw, legend, run_dot

__all__ = ["GraphView", "LayoutTimeout", "NodeRef", "draw", "legend", "run_dot"]
