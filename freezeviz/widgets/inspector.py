"""``FreezeInspector``: the Jupyter app behind :func:`freezeviz.inspect`.

Two graph panes (before / after, any two stages, diff-coloured, linked by hover), an
attribute table whose "preserve" boxes re-freeze the module, a details panel for the
clicked node or attribute, and tabs for stages, alias analysis, frozen code, numerics,
the ``torch.jit.freeze`` call and warnings. Everything is also reachable from Python::

    insp = freezeviz.inspect(model)
    insp.preserved_attrs = ["version"]     # re-freezes; returns when both views are redrawn
    insp.report, insp.before_stage, insp.after_stage, insp.selected, insp.error

Reports are cached per (module state, preserved set) and drawings per (report, stage,
diff options), so going back to a set seen before redraws nothing.
"""

from __future__ import annotations

import html
import os
import re
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as W

from freezeviz.data.fates import Fate
from freezeviz.errors import FreezeError
from freezeviz.widgets.graphview import AttributeTable, GraphView

__all__ = ["FreezeInspector"]

PANE_HEIGHT = "450px"
MAX_DIFF_LINES = 3000
ALIAS_DOT_MAX_CHARS = 400_000
STATIC_MAX_SVG_CHARS = 3_000_000

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="freezeviz-draw")
        return _pool


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _fate_colors() -> dict[str, tuple[str, str]]:
    try:
        from freezeviz.render.styles import FATE_COLORS

        return {f.value: tuple(c) for f, c in FATE_COLORS.items()}
    except Exception:  # render not importable: a neutral palette
        return {f.value: ("#f3f4f6", "#9ca3af") for f in Fate}


def _chip(fate: Fate | str | None, count: int | None = None) -> str:
    if fate is None:
        return ""
    fate = Fate(fate)
    fill, border = _fate_colors().get(fate.value, ("#f3f4f6", "#9ca3af"))
    extra = f" <b>{count:,}</b>" if count is not None else ""
    return (f'<span class="fv-chip" data-fate="{fate.value}" title="{fate.value}" '
            f'style="background:{fill};border-color:{border}">{_esc(fate.label)}{extra}</span>')


def _placeholder_svg(text: str) -> str:
    body = _esc(text)[:400]
    return ('<svg xmlns="http://www.w3.org/2000/svg" width="480" height="40" viewBox="0 0 480 40">'
            f'<text x="8" y="24" font-family="Helvetica,Arial,sans-serif" font-size="12">{body}'
            '</text></svg>')


@dataclass
class _Drawn:
    """One laid-out drawing and what is needed to resolve a clicked SVG id."""

    svg: str
    message: str
    collapse: int | None
    stage: str
    method: str
    against: str | None
    side: str
    ids: dict[str, tuple[str, str]] | None = field(default=None, repr=False)


class FreezeInspector(W.VBox):
    """Interactive view of one module's ``torch.jit.freeze``; see the module docstring.

    ``preserved_attrs``, ``optimize_numerics`` and ``example_inputs`` are those of
    :func:`freezeviz.freeze`. ``height`` is the CSS height of each graph pane.
    """

    cache_size = 8  # reports kept per inspector (each holds a frozen module)

    def __init__(self, module, preserved_attrs=None, optimize_numerics: bool = True, *,
                 example_inputs=None, method: str = "forward", height: str = PANE_HEIGHT):
        super().__init__()
        self.add_class("fv-inspector")
        self._module = module
        self._optimize_numerics = optimize_numerics
        self._example_inputs = example_inputs
        self._reports: OrderedDict[tuple, Any] = OrderedDict()
        self._drawn: OrderedDict[tuple, _Drawn] = OrderedDict()
        self._report = None
        self._error: str | None = None
        self._selected: dict | None = None
        self._updating = False
        self._method = method
        self._tab_cache: dict[tuple, Any] = {}
        self._built_tab: dict[int, tuple] = {}
        self._follow_final = True

        self._build_widgets(height)
        if isinstance(preserved_attrs, str):
            preserved_attrs = [preserved_attrs]
        wanted = list(dict.fromkeys(preserved_attrs or []))
        try:
            report = self._freeze(wanted)
        except FreezeError as exc:
            if not wanted:
                raise
            report = self._freeze([])  # the module freezes; the names were the problem
            self._error = self._error_text(wanted, exc)
        self._show(report)

    # --- public API ------------------------------------------------------------------------
    @property
    def report(self):
        """The :class:`~freezeviz.data.report.FreezeReport` shown now (the last good one)."""
        return self._report

    @property
    def preserved_attrs(self) -> list[str]:
        """The preserved_attrs of the shown report. Setting it re-freezes (cached) and
        returns when the report and both views are updated; a failure sets :attr:`error`
        and keeps the previous report."""
        return list(self._report.preserved_attrs)

    @preserved_attrs.setter
    def preserved_attrs(self, names) -> None:
        if isinstance(names, str):
            names = [names]
        self._apply_preserved(list(names or []))

    @property
    def before_stage(self) -> str:
        """Stage shown in the left pane (settable)."""
        return self.before_picker.value

    @before_stage.setter
    def before_stage(self, name: str) -> None:
        self.before_picker.value = self._check_stage(name)

    @property
    def after_stage(self) -> str:
        """Stage shown in the right pane (settable)."""
        return self.after_picker.value

    @after_stage.setter
    def after_stage(self, name: str) -> None:
        self.after_picker.value = self._check_stage(name)

    @property
    def method(self) -> str:
        """The method whose graph the panes show (settable; "forward" by default)."""
        return self._method

    @method.setter
    def method(self, name: str) -> None:
        if name not in self._methods_with_stages(self._report):
            raise KeyError(f"No stages for method {name!r}. Methods: "
                           f"{', '.join(self._methods_with_stages(self._report))}")
        self.method_picker.value = name

    @property
    def selected(self) -> dict | None:
        """The clicked node or attribute as a dict (``selected["type"]`` is "node",
        "attribute", "input", "output" or "collapsed"), or None."""
        return self._selected

    @property
    def error(self) -> str | None:
        """The message of the last failed re-freeze, or None after a good one."""
        return self._error

    @property
    def busy(self) -> bool:
        return self.left.busy

    def select_attribute(self, path: str) -> dict:
        """Select an attribute as if its row were clicked; returns :attr:`selected`."""
        self._select_attribute(path)
        return self._selected

    def select_node(self, side: str, svg_id: str) -> dict | None:
        """Select the node drawn with ``svg_id`` in pane ``side`` ("before" or "after")."""
        self._select_node(side, svg_id)
        return self._selected

    def static_html(self) -> str:
        """The two drawings side by side as self-contained HTML (what a saved notebook shows)."""
        r = self._report
        parts = []
        for side, view, stage in (("before", self.left, self.before_stage),
                                  ("after", self.right, self.after_stage)):
            svg = view.svg
            if len(svg) > STATIC_MAX_SVG_CHARS:
                svg = _placeholder_svg("drawing too large to embed; run the notebook to see it")
            parts.append(
                '<div style="flex:1 1 0;min-width:0;border:1px solid #d1d5db;border-radius:6px;'
                'overflow:auto;max-height:640px;background:#fff">'
                '<div style="font:600 12px Helvetica,Arial,sans-serif;padding:4px 8px;'
                'background:#f9fafb;border-bottom:1px solid #e5e7eb;color:#374151">'
                f'{side}: {_esc(stage)}</div>'
                f'<div style="padding:4px">{_inline_svg(svg, shrink=False)}</div></div>')
        pres = ", ".join(repr(p) for p in r.preserved_attrs)
        head = (f'<div style="font:13px Helvetica,Arial,sans-serif;margin:0 0 6px;color:#1f2937">'
                f'<b>freezeviz</b> · {_esc(r.module_name)} · '
                f'<code>torch.jit.freeze(…, preserved_attrs=[{_esc(pres)}])</code>'
                f'<span style="color:#6b7280"> · static picture; run the cell for the interactive '
                f'inspector</span></div>')
        return (f'<div class="fv-static">{head}<div style="display:flex;gap:8px;'
                f'align-items:flex-start">{"".join(parts)}</div></div>')

    def _repr_mimebundle_(self, **kwargs):
        data = super()._repr_mimebundle_(**kwargs)
        if data is None:  # closed widget: the picture is all there is
            data = {"text/plain": repr(self)}
        data["text/html"] = self.static_html()
        return data

    def __repr__(self) -> str:
        r = self._report
        if r is None:
            return "<FreezeInspector>"
        return (f"<FreezeInspector {r.module_name}: preserved_attrs={list(r.preserved_attrs)!r}, "
                f"{self.before_stage} → {self.after_stage}>")

    # --- building --------------------------------------------------------------------------
    def _build_widgets(self, height: str) -> None:
        self.title = W.HTML(layout=W.Layout(flex="1 1 0", min_width="0"))
        self.title.add_class("fv-title")
        self.status = W.HTML()
        self.status.add_class("fv-status")
        self.method_picker = W.Dropdown(description="method", layout=W.Layout(width="220px",
                                                                               display="none"))
        header = W.HBox([self.title, self.method_picker, self.status],
                        layout=W.Layout(width="100%"))
        header.add_class("fv-header")
        self.error_box = W.HTML(layout=W.Layout(display="none"))
        self.error_box.add_class("fv-error")

        self.left = GraphView(height=height)
        self.right = GraphView(height=height)
        self.before_picker = W.Dropdown(layout=W.Layout(width="auto"))
        self.after_picker = W.Dropdown(layout=W.Layout(width="auto"))
        self.before_info = W.HTML()
        self.after_info = W.HTML()
        panes = []
        for side, picker, view, info in (("before", self.before_picker, self.left,
                                          self.before_info),
                                         ("after", self.after_picker, self.right,
                                          self.after_info)):
            tag = W.HTML(f'<span class="fv-side fv-side-{side}">{side}</span>')
            bar = W.HBox([tag, picker, info])
            bar.add_class("fv-pane-bar")
            pane = W.VBox([bar, view], layout=W.Layout(flex="1 1 0", min_width="0"))
            pane.add_class("fv-pane")
            panes.append(pane)
        pane_row = W.HBox(panes, layout=W.Layout(width="100%"))
        pane_row.add_class("fv-panes")
        self._links = [W.jslink((self.left, "hovered"), (self.right, "hovered")),
                       W.jslink((self.left, "query"), (self.right, "query"))]

        self.table = AttributeTable(fate_colors={k: [v[0], v[1], Fate(k).label]
                                                 for k, v in _fate_colors().items()})
        table_box = W.VBox([self.table])
        table_box.add_class("fv-at-box")
        self.details = W.HTML()
        self.details.add_class("fv-details")
        details_box = W.VBox([self.details])
        details_box.add_class("fv-details-box")
        lower = W.HBox([table_box, details_box], layout=W.Layout(width="100%"))
        lower.add_class("fv-lower")

        self.show_unchanged = W.Checkbox(False, description="show passes that changed nothing",
                                         indent=False, layout=W.Layout(width="auto"),
                                         style={"description_width": "initial"})
        self.stages_box = W.VBox()
        self.alias_html = W.HTML()
        self.code_html = W.HTML()
        self.numerics_html = W.HTML()
        self.repro_text = W.Textarea(layout=W.Layout(width="100%", height="120px"))
        self.repro_text.add_class("fv-repro")
        repro_note = W.HTML('<span class="fv-muted">The same freeze in plain torch; copy it into '
                            'your code.</span>')
        repro_note.add_class("fv-tab")
        self.warnings_html = W.HTML()
        for w in (self.alias_html, self.code_html, self.numerics_html, self.warnings_html):
            w.add_class("fv-tab")
        self.tabs = W.Tab(children=[
            W.VBox([self.show_unchanged, self.stages_box]),
            self.alias_html, self.code_html, self.numerics_html,
            W.VBox([repro_note, self.repro_text]), self.warnings_html])
        self.tabs.titles = ("Stages", "Alias analysis", "Frozen code", "Numerics", "Repro",
                            "Warnings")

        self.children = [header, self.error_box, pane_row, lower, self.tabs]
        self._render_details()

        self.before_picker.observe(self._on_stage_pick, "value")
        self.after_picker.observe(self._on_stage_pick, "value")
        self.method_picker.observe(self._on_method_pick, "value")
        self.table.observe(self._on_table_preserved, "preserved")
        self.table.observe(self._on_table_click, "clicked")
        self.left.observe(lambda c: self._on_pane_click("before", c), "clicked")
        self.right.observe(lambda c: self._on_pane_click("after", c), "clicked")
        self.tabs.observe(lambda c: self._refresh_tab(), "selected_index")
        self.show_unchanged.observe(lambda c: self._refresh_tab(force=True), "value")

    # --- freezing and caching -------------------------------------------------------------
    def _state_key(self):
        """What the module (or file) and the example inputs hold now, by content: a report
        made from other content is never shown. None when part of it cannot be read
        reliably; then no report is reused."""
        from freezeviz.engine.cache import content_key, file_key

        module = self._module
        try:
            if isinstance(module, (str, os.PathLike)):
                state = (os.path.abspath(os.fspath(module)), file_key(os.fspath(module)))
            else:
                state = content_key(module)
        except OSError:
            return None
        inputs = None if self._example_inputs is None else content_key(self._example_inputs)
        if state is None or (self._example_inputs is not None and inputs is None):
            return None
        return state, inputs

    def _freeze(self, names: list[str]):
        state = self._state_key()
        key = None if state is None else (state, tuple(sorted(names)))
        report = self._reports.get(key) if key is not None else None
        if report is not None:
            self._reports.move_to_end(key)
            return report
        import freezeviz

        report = freezeviz.freeze(self._module, names, self._optimize_numerics,
                                  example_inputs=self._example_inputs)
        if key is None:
            return report
        self._reports[key] = report
        while len(self._reports) > max(1, self.cache_size):
            _, old = self._reports.popitem(last=False)
            if old is not self._report:  # the shown one is forgotten when replaced
                self._forget(old)
        return report

    def _forget(self, report) -> None:
        """Drop what is cached for a report that is no longer cached (ids get reused)."""
        rid = id(report)
        self._built_tab = {i: st for i, st in self._built_tab.items() if st[0] != rid}
        for key in [k for k in self._drawn if k[0] == rid]:
            del self._drawn[key]
        for key in [k for k in self._tab_cache if k[0] == rid]:
            _close_widgets(self._tab_cache.pop(key))

    @staticmethod
    def _error_text(names: list[str], exc: BaseException) -> str:
        return f"Could not freeze with preserved_attrs={names!r}: {exc}"

    def _apply_preserved(self, names: list[str]) -> None:
        names = list(dict.fromkeys(str(n) for n in names))
        current = self._report
        self._set_busy(True)
        try:
            try:
                report = self._freeze(names)
            except Exception as exc:  # FreezeError, or torch failing in a way we did not map
                if not isinstance(exc, FreezeError):
                    exc = FreezeError(f"{type(exc).__name__}: {exc}")
                self._error = self._error_text(names, exc)
                self._render_header()
                with self._quiet():
                    self.table.preserved = list(current.preserved_attrs)
                return
            self._error = None
            self._show(report)
        finally:
            self._set_busy(False)

    def _on_table_preserved(self, change) -> None:
        """A "keep" box was ticked in the table (the front end debounces the clicks)."""
        if self._updating or self._report is None:
            return
        new = list(change["new"])
        if sorted(new) == sorted(self._report.preserved_attrs):
            return
        self._apply_preserved(new)

    def _set_busy(self, busy: bool) -> None:
        for w in (self.left, self.right, self.table):
            w.busy = busy
        self.status.value = ('<span class="fv-spin"></span>freezing…' if busy else
                             self._status_text())

    class _Quiet:
        def __init__(self, owner):
            self.owner = owner

        def __enter__(self):
            self.prev, self.owner._updating = self.owner._updating, True

        def __exit__(self, *exc):
            self.owner._updating = self.prev

    def _quiet(self):
        return FreezeInspector._Quiet(self)

    # --- showing a report -----------------------------------------------------------------
    @staticmethod
    def _methods_with_stages(report) -> list[str]:
        return list(dict.fromkeys(s.method for s in report.stages))

    def _stage_options(self, report, method: str) -> list[tuple[str, str]]:
        out = []
        for i, s in enumerate(report.stages_of(method)):
            mark = "" if s.changed else "  (no change)"
            out.append((f"{i}. {s.name}{mark}", s.name))
        return out

    def _default_before(self, report, method: str) -> str:
        names = [s.name for s in report.stages_of(method)]
        return "inlined" if "inlined" in names else names[0]

    def _check_stage(self, name: str) -> str:
        stage = self._report.stage(name, self._method)  # KeyError with the list of stages
        return stage.name

    def _show(self, report) -> None:
        previous = self._report
        self._report = report
        methods = self._methods_with_stages(report)
        if self._method not in methods:
            self._method = "forward" if "forward" in methods else methods[0]
        with self._quiet():
            self.method_picker.options = methods
            self.method_picker.value = self._method
            self.method_picker.layout.display = "" if len(methods) > 1 else "none"
            self._set_stage_pickers(report, previous)
            with self.table.hold_sync():
                self.table.rows = self._rows(report)
                self.table.methods = [{"name": m.name, "preserved": m.preserved, "kept": m.kept,
                                       "locked": m.name == "forward"} for m in report.methods]
                self.table.preserved = list(report.preserved_attrs)
        self._redraw()
        self.repro_text.value = report.repro()
        titles = list(self.tabs.titles)
        titles[3] = "Numerics" if report.numerics else "Numerics (–)"
        self.tabs.titles = tuple(titles)
        self._refresh_selection()
        self._render_header()
        self._refresh_tab()
        if previous is not None and previous is not report and \
                all(previous is not r for r in self._reports.values()):
            self._forget(previous)

    def _set_stage_pickers(self, report, previous) -> None:
        method = self._method
        options = self._stage_options(report, method)
        names = [v for _, v in options]
        before, after = self.before_picker.value, self.after_picker.value
        final = report.final_stage(method).name
        if previous is not None and self._follow_final:
            after = final
        self.before_picker.options = options
        self.after_picker.options = options
        self.before_picker.value = before if before in names else self._default_before(report,
                                                                                       method)
        self.after_picker.value = after if after in names else final

    def _rows(self, report) -> list[dict]:
        key = (id(report), "rows")
        if key in self._tab_cache:
            return self._tab_cache[key]
        written = {w.attribute for info in report.alias for w in info.writers}
        rows = []
        for a in report.attributes:
            mutated = (a.fate is Fate.PRESERVED_MUTATED or a.path in written or any(
                e.kind == "prim::SetAttr" or e.kind.endswith("_") for e in a.evidence))
            rows.append({"path": a.path, "kind": a.kind, "type": a.type, "fate": a.fate.value,
                         "fate_label": a.fate.label, "why": a.why, "warning": a.warning or "",
                         "survives": a.fate.survives, "mutated": bool(mutated)})
        self._tab_cache[key] = rows
        return rows

    # --- drawing ---------------------------------------------------------------------------
    def _title(self, report, stage) -> str:
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

    def _drawing(self, report, method: str, stage: str, against: str, side: str,
                 made: _Drawn | None = None) -> _Drawn:
        key = (id(report), method, stage, against, side)
        hit = self._drawn.get(key)
        if hit is not None:
            self._drawn.move_to_end(key)
            return hit
        drawn = made or self._make_drawing(report, method, stage, against, side)
        self._drawn[key] = drawn
        while len(self._drawn) > 16 * max(1, self.cache_size):
            self._drawn.popitem(last=False)
        return drawn

    def _make_drawing(self, report, method: str, stage: str, against: str, side: str) -> _Drawn:
        """Lay one pane out (thread-safe: touches no state of the inspector)."""
        st = report.stage(stage, method)
        try:
            view = report.draw(stage, method=method, diff_against=against, diff_side=side,
                               title=self._title(report, st))
            svg, message, collapse = view.svg, view.message or "", view.collapse
        except Exception as exc:  # dot missing or failing: say so in the pane
            svg, message, collapse = _placeholder_svg(f"cannot draw: {exc}"), str(exc), None
        return _Drawn(svg, message, collapse, stage, method, against, side)

    def _redraw(self) -> None:
        report, method = self._report, self._method
        before, after = self.before_picker.value, self.after_picker.value
        jobs = [(method, before, after, "before"), (method, after, before, "after")]
        made: dict[tuple, _Drawn] = {}
        missing = [j for j in jobs if (id(report), *j) not in self._drawn]
        if len(missing) == 2:  # lay both out at once (dot runs in a subprocess)
            futures = {j: _executor().submit(self._make_drawing, report, *j) for j in missing}
            made = {j: f.result() for j, f in futures.items()}
        left, right = (self._drawing(report, *j, made=made.get(j)) for j in jobs)
        for view, drawn in ((self.left, left), (self.right, right)):
            with view.hold_sync():
                view.svg = drawn.svg
                view.message = drawn.message
        for info, st in ((self.before_info, before), (self.after_info, after)):
            s = report.stage(st, method)
            info.value = (f'<span class="fv-status">{s.graph.count():,} nodes'
                          f'{"" if s.changed else " · no change"}</span>')
        self._refresh_selection_marks()

    def _on_stage_pick(self, change) -> None:
        if self._updating or self._report is None:
            return
        if change["owner"] is self.after_picker:
            self._follow_final = change["new"] == self._report.final_stage(self._method).name
        self._redraw()

    def _on_method_pick(self, change) -> None:
        if self._updating or not change["new"]:
            return
        self._method = change["new"]
        with self._quiet():
            options = self._stage_options(self._report, self._method)
            self.before_picker.options = options
            self.after_picker.options = options
            self.before_picker.value = self._default_before(self._report, self._method)
            self.after_picker.value = self._report.final_stage(self._method).name
        self._follow_final = True
        self._selected = None
        self._redraw()
        self._render_details()
        self._refresh_tab(force=True)

    # --- selection ------------------------------------------------------------------------
    def _keys(self, drawn: _Drawn) -> dict[str, str]:
        """node id -> node key, exactly as :func:`freezeviz.render.draw` computed them."""
        from freezeviz.data.diff import match_nodes, node_keys

        report = self._report
        snap = report.stage(drawn.stage, drawn.method).graph
        keys = dict(node_keys(snap))
        if drawn.against is not None and drawn.side == "after":
            other = report.stage(drawn.against, drawn.method).graph
            before = node_keys(other)
            keys.update({b: before[a] for a, b in match_nodes(other, snap).items()})
        return keys

    def _id_map(self, drawn: _Drawn) -> dict[str, tuple[str, str]]:
        if drawn.ids is not None:
            return drawn.ids
        from freezeviz.render.dot import svg_id

        snap = self._report.stage(drawn.stage, drawn.method).graph
        ids: dict[str, tuple[str, str]] = {"fv_output": ("output", "")}
        for v in snap.inputs:
            ids[svg_id("input:" + v.name)] = ("input", v.name)
        for node_id, key in self._keys(drawn).items():
            ids[svg_id(key)] = ("node", node_id)
            ids.setdefault(svg_id(key + "/end"), ("node", node_id))
        scopes = {node.scope for node in snap.iter_nodes() if node.scope}
        for scope in scopes:
            parts = scope.split(".")
            for i in range(1, len(parts) + 1):
                path = ".".join(parts[:i])
                ids.setdefault(svg_id("box:" + path), ("collapsed", path))
                # a module that runs several times is drawn as one box per run: box:path#2, ...
                for run in range(2, 9):
                    ids.setdefault(svg_id(f"box:{path}#{run}"), ("collapsed", path))
        drawn.ids = ids
        return ids

    def _pane_drawing(self, side: str) -> _Drawn:
        before, after = self.before_picker.value, self.after_picker.value
        job = (self._method, before, after, "before") if side == "before" else \
            (self._method, after, before, "after")
        return self._drawing(self._report, *job)

    def _on_pane_click(self, side: str, change) -> None:
        if not change["new"]:
            return
        view = change["owner"]
        svg_id = change["new"]
        try:
            self._select_node(side, svg_id)
        finally:
            view.clicked = ""

    def _select_node(self, side: str, svg_id: str) -> None:
        drawn = self._pane_drawing(side)
        found = self._id_map(drawn).get(svg_id)
        report = self._report
        snap = report.stage(drawn.stage, drawn.method).graph
        other = self.right if side == "before" else self.left
        info: dict[str, Any] = {"pane": side, "stage": drawn.stage, "method": drawn.method,
                                "svg_id": svg_id,
                                "in_other_pane": f'id="{svg_id}"' in other.svg}
        if found is None:
            info.update(type="unknown")
        elif found[0] == "node":
            node = snap.node(found[1])
            info.update(self._node_dict(node))
        elif found[0] == "input":
            v = snap.value(found[1])
            info.update(type="input", name=found[1], value_type=v.type if v else "")
        elif found[0] == "collapsed":
            inside = [n for n in snap.iter_nodes()
                      if n.scope == found[1] or n.scope.startswith(found[1] + ".")]
            kinds: dict[str, int] = {}
            for n in inside:
                kinds[n.kind] = kinds.get(n.kind, 0) + 1
            info.update(type="collapsed", scope=found[1], nodes=len(inside),
                        kinds=dict(sorted(kinds.items(), key=lambda kv: -kv[1])))
        else:
            info.update(type="output", outputs=list(snap.outputs))
        self._selected = info
        with self._quiet():
            self.table.selected = info.get("attribute") or ""
        self._refresh_selection_marks()
        self._render_details()

    def _node_dict(self, node) -> dict:
        report = self._report
        fates = report.fates
        attrs = []
        for p in ([node.attribute] if node.attribute else []) + list(node.writes) + list(
                node.constant.attributes if node.constant else ()):
            if p and p not in attrs:
                attrs.append(p)
        primary = attrs[0] if attrs else None
        a = None
        if primary is not None:
            try:
                a = report.attribute(primary)
            except KeyError:
                a = None
        # the line as kept with the module, not whatever the file holds today
        code = (node.source.code or "") if node.source is not None else ""
        return {
            "type": "node", "node": node.id, "kind": node.kind, "scope": node.scope,
            "inputs": list(node.inputs),
            "outputs": [{"name": o.name, "type": o.type, "shape": o.shape, "dtype": o.dtype}
                        for o in node.outputs],
            "source": str(node.source) if node.source else None, "code": code,
            "attribute": primary, "attributes": attrs,
            "fate": fates[primary].value if primary in fates else None,
            "fate_label": fates[primary].label if primary in fates else None,
            "why": a.why if a is not None else None,
            "constant": node.constant.preview if node.constant else None,
            "writes": list(node.writes),
        }

    def _on_table_click(self, change) -> None:
        if not change["new"]:
            return
        try:
            self._select_attribute(change["new"])
        finally:
            self.table.clicked = ""

    def _select_attribute(self, path: str) -> None:
        a = self._report.attribute(path)
        self._selected = {
            "type": "attribute", "attribute": a.path, "kind": a.kind, "value_type": a.type,
            "fate": a.fate.value, "fate_label": a.fate.label, "why": a.why,
            "evidence": [str(e) for e in a.evidence], "constant": a.constant,
            "folded_by": a.folded_by, "warning": a.warning,
            "preserved": a.path in self._report.preserved_attrs,
        }
        with self._quiet():
            self.table.selected = a.path
        self._refresh_selection_marks()
        self._render_details()

    def _attribute_ids(self, drawn: _Drawn, path: str) -> list[str]:
        from freezeviz.render.dot import svg_id

        snap = self._report.stage(drawn.stage, drawn.method).graph
        keys = self._keys(drawn)
        out = []
        for node in snap.iter_nodes():
            related = {node.attribute, *node.writes,
                       *(node.constant.attributes if node.constant else ())} - {None}
            if any(r == path or r.startswith(path + ".") for r in related):
                out.append(svg_id(keys[node.id]))
                if drawn.collapse is not None and node.scope:
                    parts = node.scope.split(".")
                    if len(parts) > drawn.collapse:
                        out.append(svg_id("box:" + ".".join(parts[: drawn.collapse + 1])))
        return out

    def _refresh_selection_marks(self) -> None:
        sel = self._selected
        left, right = [], []
        if sel and sel.get("type") == "attribute":
            left = self._attribute_ids(self._pane_drawing("before"), sel["attribute"])
            right = self._attribute_ids(self._pane_drawing("after"), sel["attribute"])
        elif sel and sel.get("svg_id"):
            left = right = [sel["svg_id"]]
        self.left.selected, self.right.selected = left, right

    def _refresh_selection(self) -> None:
        """After a new report: keep an attribute selection, drop a node selection."""
        sel = self._selected
        if sel and sel.get("type") == "attribute":
            try:
                self._select_attribute(sel["attribute"])
                return
            except KeyError:
                pass
        self._selected = None
        with self._quiet():
            self.table.selected = ""
        self._refresh_selection_marks()
        self._render_details()

    def _render_details(self) -> None:
        sel = self._selected
        if sel is None:
            self.details.value = (
                '<h4>Details</h4><p class="fv-muted">Click a node in either drawing, or an '
                'attribute in the table, to see what it is, where it comes from and what freezing '
                'did to it. Hover a node to find it in the other drawing; tick <b>keep</b> to '
                'pass an attribute in <code>preserved_attrs</code> and freeze again.</p>')
            return
        rows: list[tuple[str, str]] = []
        kind = sel.get("type")
        if kind == "attribute":
            head = f'<h4><code>self.{_esc(sel["attribute"])}</code> {_chip(sel["fate"])}</h4>'
            rows += [("kind", _esc(sel["kind"])), ("type", f'<code>{_esc(sel["value_type"])}</code>'),
                     ("why", _esc(sel["why"]))]
            if sel.get("constant"):
                rows.append(("constant", f'<code>%{_esc(sel["constant"])}</code>'))
            if sel.get("folded_by"):
                rows.append(("folded by", _esc(sel["folded_by"])))
            if sel.get("warning"):
                rows.append(("warning", f'<span class="fv-at-warn">⚠ {_esc(sel["warning"])}</span>'))
            body = ""
            if sel["evidence"]:
                body = "<div class='fv-muted'>evidence</div><ul style='margin:2px 0 0 18px;padding:0'>" + \
                    "".join(f"<li>{_esc(e)}</li>" for e in sel["evidence"]) + "</ul>"
            hint = ("<p class='fv-muted'>Highlighted in both drawings where it is read, written "
                    "or became a constant.</p>")
            self.details.value = head + _table(rows) + body + hint
            return
        where = f'{_esc(sel["pane"])} pane · stage {_esc(sel["stage"])}'
        other = ("also in the other drawing (hover to see it)" if sel.get("in_other_pane")
                 else "not in the other drawing")
        if kind == "node":
            head = f'<h4><code>{_esc(sel["kind"])}</code> <span class="fv-muted">{_esc(sel["node"])}</span></h4>'
            outs = "<br>".join(
                f'<code>%{_esc(o["name"])} : {_esc(o["type"])}</code>'
                + (f' {_esc("×".join("?" if d is None else str(d) for d in o["shape"]))}'
                   if o["shape"] is not None else "")
                + (f' {_esc(o["dtype"])}' if o["dtype"] else "")
                for o in sel["outputs"]) or "–"
            rows += [("where", where), ("outputs", outs)]
            if sel["inputs"]:
                rows.append(("inputs", " ".join(f"<code>%{_esc(i)}</code>" for i in sel["inputs"])))
            if sel["scope"]:
                rows.append(("module", f'<code>self.{_esc(sel["scope"])}</code>'))
            if sel["source"]:
                src = f'<code>{_esc(sel["source"].rsplit("/", 1)[-1])}</code>'
                if sel["code"]:
                    src += f'<pre>{_esc(sel["code"])}</pre>'
                rows.append(("source", src))
            if sel["constant"]:
                rows.append(("value", f'<code>{_esc(sel["constant"])}</code>'))
            if sel["writes"]:
                rows.append(("writes", ", ".join(f'<code>self.{_esc(w)}</code>' for w in sel["writes"])))
            for p in sel["attributes"]:
                try:
                    a = self._report.attribute(p)
                except KeyError:
                    continue
                rows.append(("attribute", (f'<code>self.{_esc(p)}</code> {_chip(a.fate)}'
                                           f'<div class="fv-muted">{_esc(a.why)}</div>')))
            rows.append(("identity", other))
        elif kind == "input":
            head = f'<h4>graph input <code>%{_esc(sel["name"])}</code></h4>'
            rows += [("where", where), ("type", f'<code>{_esc(sel["value_type"])}</code>')]
        elif kind == "collapsed":
            head = f'<h4>collapsed submodule <code>self.{_esc(sel["scope"])}</code></h4>'
            kinds = ", ".join(f"{_esc(k)} ×{n}" for k, n in list(sel["kinds"].items())[:12])
            rows += [("where", where), ("nodes", str(sel["nodes"])), ("ops", kinds),
                     ("", ("The drawing collapsed this submodule because the graph is large; "
                           "search or pick a later stage to see fewer nodes."))]
        elif kind == "output":
            head = "<h4>graph output</h4>"
            rows += [("where", where),
                     ("returns", " ".join(f"<code>%{_esc(o)}</code>" for o in sel["outputs"]))]
        else:
            head = f'<h4>{_esc(sel["svg_id"])}</h4>'
            rows += [("where", where)]
        self.details.value = head + _table(rows)

    # --- header and tabs ------------------------------------------------------------------
    def _status_text(self) -> str:
        r = self._report
        if r is None:
            return ""
        return f"froze in {r.seconds:.2f} s" if r.seconds else ""

    def _render_header(self) -> None:
        r = self._report
        counts: dict[Fate, int] = {}
        for a in r.attributes:
            counts[a.fate] = counts.get(a.fate, 0) + 1
        chips = " ".join(_chip(f, n) for f, n in counts.items())
        pres = ", ".join(repr(p) for p in r.preserved_attrs)
        self.title.value = (f"<b>{_esc(r.module_name)}</b> · <code>torch.jit.freeze(…, "
                            f"preserved_attrs=[{_esc(pres)}])</code> &nbsp; {chips}")
        self.status.value = self._status_text()
        if self._error:
            self.error_box.value = (
                "<b>Freezing failed; showing the last good result.</b>"
                f"<pre>{_esc(self._error)}</pre>")
            self.error_box.layout.display = ""
        else:
            self.error_box.value = ""
            self.error_box.layout.display = "none"
        n_warn = len(r.warnings) + (1 if self._error else 0)
        titles = list(self.tabs.titles)
        titles[5] = f"Warnings ({n_warn})" if n_warn else "Warnings"
        self.tabs.titles = tuple(titles)
        if self.tabs.selected_index == 5:
            self._refresh_tab(force=True)

    def _refresh_tab(self, force: bool = False) -> None:
        index = self.tabs.selected_index
        if index is None or self._report is None:
            return
        stamp = (id(self._report), self._method, self.show_unchanged.value, self._error)
        if not force and self._built_tab.get(index) == stamp:
            return
        self._built_tab[index] = stamp
        build = [self._build_stages, self._build_alias, self._build_code, self._build_numerics,
                 lambda: None, self._build_warnings][index]
        build()

    def _cached(self, name: str, make):
        key = (id(self._report), self._method, name)
        if key not in self._tab_cache:
            self._tab_cache[key] = make()
        return self._tab_cache[key]

    def _build_stages(self) -> None:
        key = (id(self._report), self._method, "stages", self.show_unchanged.value)
        if key not in self._tab_cache:
            self._tab_cache[key] = self._stage_rows()
        rows, hidden = self._tab_cache[key]
        self.show_unchanged.description = (f"show passes that changed nothing ({hidden} hidden)"
                                           if hidden else "show passes that changed nothing")
        self.stages_box.children = rows

    def _stage_rows(self) -> tuple[list[W.Widget], int]:
        r, method = self._report, self._method
        stages = r.stages_of(method)
        show_all = self.show_unchanged.value
        rows: list[W.Widget] = []
        hidden = 0
        for i, s in enumerate(stages):
            if not s.changed and not show_all and i > 0:
                hidden += 1
                continue
            prev = stages[i - 1] if i > 0 else None
            count = s.graph.count()
            delta = ""
            if prev is not None:
                d = count - prev.graph.count()
                delta = f" ({'+' if d >= 0 else '−'}{abs(d):,})" if d else ""
            mark = ('<span class="fv-changed">● changed</span>' if s.changed
                    else '<span class="fv-unchanged">○ no change</span>')
            text = W.HTML(
                f'<span class="fv-stage-name">{i}. {_esc(s.name)}</span> {mark} · '
                f'{count:,} nodes{delta} · {s.seconds * 1000:.1f} ms'
                f'<div class="fv-muted">{_esc(s.description)}</div>',
                layout=W.Layout(flex="1 1 auto"))
            text.add_class("fv-tab")
            compare = W.Button(description="compare", tooltip=(
                f"left: {prev.name}, right: {s.name}" if prev else f"right: {s.name}"),
                layout=W.Layout(width="80px"))
            compare.on_click(lambda _b, p=prev, s=s: self._compare(p, s))
            diff_out = W.HTML(layout=W.Layout(display="none"))
            diff_out.add_class("fv-tab")
            toggle = W.ToggleButton(description="diff" if prev else "graph",
                                    tooltip="text diff against the previous stage" if prev
                                    else "torch's printout of the graph",
                                    layout=W.Layout(width="64px"),
                                    disabled=prev is not None and not s.changed)
            toggle.observe(lambda c, p=prev, s=s, out=diff_out: self._toggle_diff(c, p, s, out),
                           "value")
            row = W.HBox([compare, toggle, text])
            row.add_class("fv-stage-row")
            rows.append(W.VBox([row, diff_out]))
        if hidden:
            note = W.HTML(f'<span class="fv-muted">{hidden} pass{"es" if hidden != 1 else ""} '
                          f'changed nothing and {"is" if hidden == 1 else "are"} hidden.</span>')
            note.add_class("fv-tab")
            rows.append(note)
        return rows, hidden

    def _compare(self, prev, stage) -> None:
        with self._quiet():
            if prev is not None:
                self.before_picker.value = prev.name
            self.after_picker.value = stage.name
        self._follow_final = stage.name == self._report.final_stage(self._method).name
        self._redraw()

    def _toggle_diff(self, change, prev, stage, out) -> None:
        if not change["new"]:
            out.layout.display = "none"
            return
        if prev is None:
            text = self._cached(f"graph:{stage.name}", lambda: stage.graph.text)
            out.value = f'<pre class="fv-diff">{_esc(text)}</pre>'
        else:
            out.value = self._cached(f"diff:{prev.name}:{stage.name}",
                                     lambda: _diff_html(self._report.diff(prev, stage,
                                                                          self._method)))
        out.layout.display = ""

    def _build_alias(self) -> None:
        self.alias_html.value = self._cached("alias", self._alias_html)

    def _alias_html(self) -> str:
        r = self._report
        if not r.alias:
            return '<p class="fv-muted">No alias analysis recorded for this module.</p>'
        parts = [('<p class="fv-muted">The freezer runs torch\'s alias analysis on each method '
                  '(as if frozen) to find module state that is written; written state is kept, '
                  'everything else may become a constant.</p>')]
        for info in r.alias:
            parts.append(f"<h4 style='margin:8px 0 2px'>{_esc(info.graph)}</h4>")
            if info.writers:
                rows = "".join(
                    f"<tr><td><code>%{_esc(w.value)}</code></td><td><code>self.{_esc(w.attribute)}"
                    f"</code></td><td><code>{_esc(w.writer)}</code></td><td>"
                    f"{_esc(w.source.short) if w.source else ''}</td></tr>"
                    for w in info.writers)
                parts.append("<table class='fv-grid'><tr><th>value read from state</th>"
                             "<th>attribute</th><th>written by</th><th>source</th></tr>"
                             f"{rows}</table>")
            else:
                parts.append("<p class='fv-muted'>No writes to module state.</p>")
            parts.append(_alias_svg(info.dot))
        return "".join(parts)

    def _build_code(self) -> None:
        def make() -> str:
            r = self._report
            parts = []
            for method in self._methods_with_stages(r):
                st = r.final_stage(method)
                code = st.code or "(no code recorded)"
                parts.append(f"<h4 style='margin:6px 0 2px'>{_esc(method)}() after "
                             f"{_esc(st.name)}</h4><pre class='fv-code'>{_esc(code)}</pre>")
            return "".join(parts)

        self.code_html.value = self._cached("code", make)

    def _build_numerics(self) -> None:
        r = self._report
        if not r.numerics:
            self.numerics_html.value = (
                '<p class="fv-muted">Pass <code>example_inputs=...</code> to '
                '<code>freezeviz.inspect</code> to run the module after every stage and compare '
                'its outputs with the unfrozen module.</p>')
            return
        rows = "".join(
            f"<tr><td><code>{_esc(n.stage)}</code></td><td>{_esc(n.method)}</td>"
            f"<td class='fv-num'>{n.max_abs:.3g}</td><td class='fv-num'>{n.max_rel:.3g}</td></tr>"
            for n in r.numerics)
        self.numerics_html.value = (
            "<p class='fv-muted'>Largest difference of the outputs from the unfrozen module's, "
            "after each stage.</p><table class='fv-grid'><tr><th>stage</th><th>method</th>"
            f"<th>max abs</th><th>max rel</th></tr>{rows}</table>")

    def _build_warnings(self) -> None:
        items = []
        if self._error:
            items.append(f"<div class='fv-warn-item' style='border-color:#dc2626'>"
                         f"<pre style='white-space:pre-wrap;margin:0'>{_esc(self._error)}</pre></div>")
        items += [f"<div class='fv-warn-item'>{_esc(w)}</div>" for w in self._report.warnings]
        self.warnings_html.value = "".join(items) or '<p class="fv-muted">No warnings.</p>'


# --- helpers -----------------------------------------------------------------------------------

def _close_widgets(value) -> None:
    """Close the widgets in a cached tab (a list of rows, or a (rows, count) pair)."""
    items = value[0] if isinstance(value, tuple) and value and isinstance(value[0], list) else value
    if isinstance(items, list):
        for w in items:
            if isinstance(w, W.Widget):
                for child in getattr(w, "children", ()):
                    _close_widgets(list(getattr(child, "children", ())))
                    child.close()
                w.close()


def _table(rows: list[tuple[str, str]]) -> str:
    return "<table>" + "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in rows) + "</table>"


_SVG_START = re.compile(r"<svg\b", re.IGNORECASE)


def _inline_svg(svg: str, shrink: bool = True) -> str:
    """An SVG document made fit to inline in HTML: no XML prologue; with ``shrink``, it
    scales down to its box (otherwise it keeps its natural size and the box scrolls)."""
    m = _SVG_START.search(svg)
    if m is None:
        return ""
    body = svg[m.start():]
    style = "max-width:100%;height:auto" if shrink else "display:block"
    return body.replace("<svg", f'<svg style="{style}"', 1)


def _diff_html(diff: str) -> str:
    if not diff:
        return '<p class="fv-muted">The graph text did not change.</p>'
    lines = diff.splitlines()
    more = len(lines) - MAX_DIFF_LINES
    out = []
    for line in lines[:MAX_DIFF_LINES]:
        cls = ("fv-hunk" if line.startswith("@@") else
               "fv-add" if line.startswith("+") and not line.startswith("+++") else
               "fv-del" if line.startswith("-") and not line.startswith("---") else "")
        text = _esc(line)
        out.append(f'<span class="{cls}">{text}</span>' if cls else text + "\n")
    tail = f"\n… {more:,} more lines" if more > 0 else ""
    return f'<pre class="fv-diff">{"".join(out)}{_esc(tail)}</pre>'


def _alias_svg(dot: str) -> str:
    if not dot:
        return ""
    source = f"<details><summary class='fv-muted'>torch's alias-db text</summary><pre>" \
             f"{_esc(dot[:200_000])}</pre></details>"
    if len(dot) > ALIAS_DOT_MAX_CHARS:
        return ("<p class='fv-muted'>The alias graph is too large to draw here.</p>" + source)
    try:
        from freezeviz.render import run_dot

        svg = run_dot(dot, timeout=10.0).decode("utf-8", "replace")
    except Exception as exc:  # dot missing, timed out, or torch's text not valid DOT
        return f"<p class='fv-muted'>Could not draw the alias graph: {_esc(exc)}</p>" + source
    return f"<div class='fv-alias-svg'>{_inline_svg(svg)}</div>" + source
