"""The two graph panes: a stage picker and a :class:`GraphView` each, diff-coloured against
each other and linked by hover and search in the browser."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import ipywidgets as W

from freezeviz.render.nodemap import node_map_dict
from freezeviz.widgets.graphview import GraphView
from freezeviz.widgets.html import placeholder_svg
from freezeviz.widgets.parts import box, html
from freezeviz.widgets.state import PerReport, executor

PANE_HEIGHT = "450px"
SIDES = ("before", "after")


@dataclass(frozen=True)
class Drawn:
    """One laid-out pane and the node map that says what each of its SVG ids stands for."""

    svg: str
    message: str
    stage: str
    method: str
    against: str | None
    side: str
    node_map: dict = field(default_factory=dict, repr=False)  # svg id -> NodeRef
    node_map_plain: dict = field(default_factory=dict, repr=False)  # as the browser gets it


def pane_title(report, stage) -> str:
    """The drawing's title; from the frozen stage on it says what the module keeps."""
    title = f"{report.module_name}: {stage.label}"
    names = [s.name for s in report.stages_of(stage.method)]
    if "frozen" in names and names.index(stage.name) >= names.index("frozen"):
        kept = [a.path for a in report.attributes
                if a.fate.survives and not a.path.endswith("training")]
        if kept:
            more = f" +{len(kept) - 3} more" if len(kept) > 3 else ""
            title += " · module keeps " + ", ".join("self." + p for p in kept[:3]) + more
        else:
            title += " · module keeps no state"
    return title


def make_drawing(report, method: str, stage: str, against: str, side: str,
                 expanded: frozenset[str] = frozenset()) -> Drawn:
    """Lay one pane out (thread-safe: reads the report only). ``expanded``: the modules and
    checks drawn open (a token this stage lacks is ignored)."""
    st = report.stage(stage, method)
    try:
        view = report.draw(stage, method=method, diff_against=against, diff_side=side,
                           title=pane_title(report, st), expanded=frozenset(expanded))
        svg, node_map = view.svg, view.node_map
        return Drawn(svg, view.message or "", stage, method, against, side, node_map,
                     node_map_dict(node_map))
    except Exception as exc:  # dot missing or failing: say so in the pane
        return Drawn(placeholder_svg(f"cannot draw: {exc}"), str(exc), stage, method, against,
                     side)


def stage_options(report, method: str) -> list[tuple[str, str]]:
    # the first stage is the starting point: "no change" would say nothing true about it;
    # the last is the graph the frozen module runs, whatever its own pass did
    stages = report.stages_of(method)
    return [(f"{i}. {_stage_note(s, i, len(stages))}", s.name) for i, s in enumerate(stages)]


def _stage_note(stage, index: int, count: int) -> str:
    if index == count - 1 and index > 0:
        return f"final · {stage.name}"
    return f"{stage.name}{'' if stage.changed or index == 0 else '  (no change)'}"


def _status_note(stages, stage) -> str:
    if len(stages) > 1 and stages[-1] is stage:
        return " · final graph"
    # the starting point is no change
    return "" if stage.changed or stages[0] is stage else " · no change"


class GraphPanes(W.HBox):
    """Before and after panes. ``show`` puts a report in; picking a stage redraws (drawings
    are cached per report, method, stages and side); ``on_redraw`` runs after each redraw.
    ``links`` mirror hover and search between the panes in the browser."""

    def __init__(self, height: str = PANE_HEIGHT, cache_size: int = 8):
        self.left, self.right = GraphView(height=height), GraphView(height=height)
        self.before_picker = W.Dropdown(layout=W.Layout(width="auto"))
        self.after_picker = W.Dropdown(layout=W.Layout(width="auto"))
        self.before_info, self.after_info = html(), html()
        panes = [self._pane(side, picker, view, info) for side, picker, view, info in (
            ("before", self.before_picker, self.left, self.before_info),
            ("after", self.after_picker, self.right, self.after_info))]
        super().__init__(panes, layout=W.Layout(width="100%"))
        self.add_class("fv-panes")
        # mirrored in the browser, without a round trip through the kernel
        self.links = (W.jslink((self.left, "hovered"), (self.right, "hovered")),
                      W.jslink((self.left, "query"), (self.right, "query")),
                      W.jslink((self.left, "anchor"), (self.right, "anchor")))
        self.drawings = PerReport(16 * max(1, cache_size))
        self.on_redraw: Callable[[], None] = lambda: None
        self.on_expand: Callable[[], None] = lambda: None  # after a redraw for a new set
        self.expanded: frozenset[str] = frozenset()  # modules and checks open in both panes
        self.report, self.method = None, "forward"
        self.follow_final = True  # the after pane shows the final stage across re-freezes
        self.colour_by = "change"  # "fate": drawn with no diff against the other pane
        self._quiet = False
        self.before_picker.observe(self._on_pick, "value")
        self.after_picker.observe(self._on_pick, "value")
        self.left.observe(lambda c: self._on_hover("before", c["new"]), "hovered")
        self.right.observe(lambda c: self._on_hover("after", c["new"]), "hovered")
        for view in (self.left, self.right):
            view.observe(self._on_expanded, "expanded")

    @staticmethod
    def _pane(side, picker, view, info) -> W.VBox:
        tag = html(f'<span class="fv-side fv-side-{side}">{side}</span>')
        bar = box([tag, picker, info], vertical=False)
        bar.add_class("fv-pane-bar")
        pane = W.VBox([bar, view], layout=W.Layout(flex="1 1 0", min_width="0"))
        pane.add_class("fv-pane")
        return pane

    # --- what is shown ---------------------------------------------------------------------
    @property
    def stages(self) -> tuple[str, str]:
        return self.before_picker.value, self.after_picker.value

    def view(self, side: str) -> GraphView:
        return self.left if side == "before" else self.right

    def show(self, report, method: str, *, reset: bool = False,
             meanwhile: Callable[[], None] | None = None) -> None:
        """Show ``report``'s ``method``: keep the picked stages where it has them (the after
        pane moves to the final stage unless another was picked); ``reset`` picks afresh.
        ``meanwhile`` runs while the drawings are laid out."""
        previous, self.report, self.method = self.report, report, method
        options = stage_options(report, method)
        names = [v for _, v in options]
        final = report.final_stage(method).name
        before, after = self.stages
        if reset:
            before, after, self.follow_final = None, final, True
            self.expanded = frozenset()
        elif previous is not None and self.follow_final:
            after = final
        self._quiet = True
        try:
            for picker in (self.before_picker, self.after_picker):
                picker.options = options
            self.before_picker.value = before if before in names else (
                "inlined" if "inlined" in names else names[0])
            self.after_picker.value = after if after in names else final
        finally:
            self._quiet = False
        self.redraw(meanwhile)

    def pick(self, before: str | None, after: str) -> None:
        """Show stages ``before`` (None: keep) and ``after`` side by side."""
        self._quiet = True
        try:
            if before is not None:
                self.before_picker.value = before
            self.after_picker.value = after
        finally:
            self._quiet = False
        self.follow_final = after == self.report.final_stage(self.method).name
        self.redraw()

    def show_pass(self, stage: str) -> None:
        """Put pass stage ``stage`` in the after pane and the stage before it in the before
        pane: what that pass changed (e.g. the pass that folded an attribute away)."""
        from freezeviz.errors import FreezeError

        names = [s.name for s in self.report.stages_of(self.method)]
        if stage not in names:
            raise FreezeError(f"{self.method} has no stage {stage!r}; pick one of {names}")
        i = names.index(stage)
        self.pick(names[max(i - 1, 0)], stage)

    def _on_pick(self, change) -> None:
        if self._quiet or self.report is None:
            return
        if change["owner"] is self.after_picker:
            self.follow_final = change["new"] == self.report.final_stage(self.method).name
        self.redraw()

    # --- drawing ---------------------------------------------------------------------------
    def set_colour_by(self, by: str) -> None:
        """Colour the panes by "change" (diff marks over the fates) or by "fate" alone."""
        self.colour_by = by
        if self.report is not None:
            self.redraw()

    def _job(self, side: str) -> tuple[str, str, str | None, str, frozenset[str]]:
        before, after = self.stages
        mine, other = (before, after) if side == "before" else (after, before)
        return (self.method, mine, None if self.colour_by == "fate" else other, side,
                self.expanded)

    def drawing(self, side: str) -> Drawn:
        """What pane ``side`` ("before" or "after") shows."""
        job = self._job(side)
        return self.drawings.get(self.report, job, lambda: make_drawing(self.report, *job))

    def expand(self, tokens, anchor: str = "") -> None:
        """Draw both panes with the modules and checks ``tokens`` open (the ``expand`` tokens
        of the node map); ``anchor``: the token whose control the browser keeps in place."""
        tokens = frozenset(str(t) for t in tokens or ())
        if tokens == self.expanded:
            return
        self.expanded = tokens
        self.redraw(anchor=anchor)
        self.on_expand()

    def _on_expanded(self, change) -> None:
        """The browser opened or closed a box (both panes' ``anchor`` says which)."""
        if self._quiet or self.report is None:
            return
        if frozenset(change["new"]) != self.expanded:
            self.expand(change["new"], change["owner"].anchor)

    def redraw(self, meanwhile: Callable[[], None] | None = None, anchor: str = "") -> None:
        """Put the picked stages' drawings in the panes; ``meanwhile`` runs while missing
        ones are laid out (``dot`` runs in a subprocess: Python work overlaps it).
        ``anchor``: the token opened or closed, when this answers that (else a new view)."""
        report = self.report
        jobs = [self._job(side) for side in SIDES]
        missing = [j for j in jobs if (report, j) not in self.drawings]
        futures = [executor().submit(make_drawing, report, *j) for j in missing]
        try:
            if meanwhile is not None:
                meanwhile()
        finally:
            for job, future in zip(missing, futures):
                self.drawings.put(report, job, future.result())
        for side, info in zip(SIDES, (self.before_info, self.after_info)):
            drawn, view = self.drawing(side), self.view(side)
            with view.hold_sync():
                view.anchor, view.expanded = anchor, sorted(self.expanded)
                view.svg, view.message = drawn.svg, drawn.message
                view.node_map = drawn.node_map_plain
                view.linked, view.link_text = [], ""  # links of the old drawing
            s = report.stage(drawn.stage, self.method)
            note = _status_note(report.stages_of(self.method), s)
            info.value = f'<span class="fv-status">{s.graph.count():,} nodes{note}</span>'
        self.on_redraw()

    def _on_hover(self, side: str, svg_id: str) -> None:
        """A node hovered in pane ``side`` with no twin by id in the other pane: mark there
        the GetAttrs and constants it is linked to, with the line saying how. The hovered id
        reaches both panes (jslink), so only the pane that drew it answers."""
        from freezeviz.widgets.selection import hover_links

        if self.report is None:
            return
        other = "after" if side == "before" else "before"
        mine, theirs = self.drawing(side), self.drawing(other)
        if svg_id and svg_id not in mine.node_map and svg_id in theirs.node_map:
            return  # the mirror of a hover in the other pane
        ids, text = hover_links(self.report, mine, svg_id, theirs)
        for view, (lids, ltext) in ((self.view(side), ([], "")), (self.view(other), (ids, text))):
            with view.hold_sync():
                view.linked, view.link_text = lids, ltext

    def mark(self, before: list[str], after: list[str]) -> None:
        """Draw these SVG ids as selected."""
        self.left.selected, self.right.selected = before, after

    def set_busy(self, busy: bool) -> None:
        self.left.busy = self.right.busy = busy


