"""Layouts and styles shared by the inspector's widgets.

Every ipywidgets control makes a Layout and a Style widget of its own: two more objects to
create, send and draw for each HTML text or box. The inspector's widgets whose layout and
style never change share one of each instead (about a third fewer widgets at its first view).
Only such widgets may use these: a change to a shared layout shows on all of them.
"""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as W

_shared: dict[str, W.Widget] = {}


def _one(name: str, make: Callable[[], W.Widget]) -> W.Widget:
    widget = _shared.get(name)
    if widget is None or widget.comm is None:  # never made, or closed (Widget.close_all)
        widget = _shared[name] = make()
    return widget


def plain_layout() -> W.Layout:
    """A default Layout, shared."""
    return _one("layout", W.Layout)


def style_of(control: type[W.Widget]) -> W.Widget:
    """A default style of ``control`` (e.g. W.HTML), shared."""
    return _one(control.__name__, control.class_traits()["style"].klass)


def html(value: str = "") -> W.HTML:
    """An HTML widget with the shared layout and style."""
    return W.HTML(value, layout=plain_layout(), style=style_of(W.HTML))


def box(children=(), vertical: bool = True) -> W.Box:
    """A VBox (or HBox) with the shared layout."""
    return (W.VBox if vertical else W.HBox)(list(children), layout=plain_layout())
