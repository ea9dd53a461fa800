"""Jupyter widgets: :class:`FreezeInspector` (what :func:`freezeviz.inspect` returns) and the
anywidget front-end pieces it is made of (:class:`GraphView`, :class:`AttributeTable`)."""

from __future__ import annotations

from freezeviz.widgets.graphview import AttributeTable, GraphView
from freezeviz.widgets.inspector import FreezeInspector

__all__ = ["AttributeTable", "FreezeInspector", "GraphView"]
