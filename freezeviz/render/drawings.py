"""The drawings of the HTML report: one per distinct graph, plus the default diff pairs.

Each distinct graph is laid out once (stages that left the graph unchanged share their
predecessor's snapshot object, so they share its SVG); the default before/after pair of each
method is drawn a second time with diff colours. Layouts run in parallel; each drawing comes
with its node map, which the report's script reads for diff colours and highlighting. When the
default pair opens on a module overview, the boxes of both panes are also drawn opened (and
the modules inside those), gzip'd, so the report opens boxes in place without a kernel.
"""

from __future__ import annotations

import base64
import functools
import gzip
import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from freezeviz.render.boxes import CHECK_PREFIX
from freezeviz.render.fragments import inline_svg, placeholder_svg
from freezeviz.render.nodemap import node_map_dict
from freezeviz.render.view import layout_together


def _same_drawing(prev, st) -> bool:
    """A stage that did not change the graph draws like the one before it. Usually the
    snapshot is the very same object; when a pass only renumbered values it is a new one."""
    if prev.graph is st.graph:
        return True
    if st.changed or prev.graph.count() != st.graph.count():
        return False
    return [n.kind for n in prev.graph.iter_nodes()] == [n.kind for n in st.graph.iter_nodes()]


def stage_description(report, st) -> str:
    """The stage's description; a later round of a pass loop borrows the first round's."""
    if st.description and st.description != st.name:
        return st.description
    if st.pass_name:
        first = next((s for s in report.stages if s.pass_name == st.pass_name
                      and s.description and s.description != s.name), None)
        if first is not None:
            return (f"{first.description.rstrip('.')} (round {st.iteration or 2} of the folding "
                    "loop).")
    return st.description or st.name


class Drawings:
    """Every SVG the report embeds, laid out in parallel."""

    def __init__(self, report, timeout: float | None):
        self.report = report
        self.timeout = timeout
        self.graphs: list[dict] = []  # one per distinct graph object
        self.graph_of: dict[int, int] = {}  # stage index -> graph index
        self.diffs: dict[str, dict[str, str]] = {}  # "ga:gb" -> {"before": tpl, "after": tpl}
        self.views: list[tuple[str, object]] = []  # (template id, GraphView or Exception)
        self.svgs: dict[str, str] = {}
        self.messages: dict[str, str | None] = {}
        self.maps: dict[str, dict] = {}  # template id -> node map (JSON form)
        self.defaults: dict[str, int] = {}
        self.detail = EXPANSIONS
        # side -> {"stage": i, "views": {module path: packed drawing}}: the opened views
        self.expand: dict[str, dict] = {}
        self._expand_jobs: list[tuple[str, str]] = []  # (side, module path or check token)
        self._makers: dict[str, Callable] = {}  # side -> draw(expanded=...) of its stage
        self.errors: list[str] = []
        by_id: dict[int, int] = {}
        last: dict[str, int] = {}  # method -> index of its latest stage
        for i, st in enumerate(report.stages):
            gi = by_id.get(id(st.graph))
            prev = last.get(st.method)
            if gi is None and prev is not None and _same_drawing(report.stages[prev], st):
                gi = by_id[id(st.graph)] = self.graph_of[prev]
            if gi is None:
                gi = by_id[id(st.graph)] = len(self.graphs)
                self.graphs.append({"stage": st, "index": i, "labels": []})
            self.graphs[gi]["labels"].append(st.label)
            self.graph_of[i] = gi
            last[st.method] = i

    def plan(self) -> None:
        rep, stages = self.report, self.report.stages
        for gi, g in enumerate(self.graphs):
            self._add(f"fv-g{gi}", lambda st=g["stage"]: rep.draw(
                st, method=st.method, title=None, timeout=self.timeout))
        methods = list(dict.fromkeys(s.method for s in stages))
        for m in methods:
            idx = [i for i, s in enumerate(stages) if s.method == m]
            before = next((i for i in idx if stages[i].name == "inlined"), idx[0])
            after = idx[-1]
            if m == methods[0]:
                self.defaults = {"before": before, "after": after}
            ga, gb = self.graph_of[before], self.graph_of[after]
            if ga == gb:
                continue
            sa, sb = stages[before], stages[after]
            ta, tb = f"fv-d{ga}-{gb}-b", f"fv-d{ga}-{gb}-a"
            self._add(ta, lambda sa=sa, sb=sb, m=m: rep.draw(
                sa, method=m, diff_against=sb, title=None, timeout=self.timeout))
            self._add(tb, lambda sa=sa, sb=sb, m=m: rep.draw(
                sb, method=m, diff_against=sa, title=None, timeout=self.timeout))
            self.diffs[f"{ga}:{gb}"] = {"before": ta, "after": tb}
        self._plan_expansions()

    def _add(self, tpl: str, make: Callable[[], object]) -> None:
        try:
            view = make()
        except Exception as exc:  # noqa: BLE001 (a drawing never takes the report down)
            view = exc
        self.views.append((tpl, view))

    def _plan_expansions(self) -> None:
        """Each box of the default pair's overview (and each module inside those) drawn
        open, so the report can open boxes without a kernel; at most ``detail`` views."""
        stages = self.report.stages
        if not self.defaults:
            return
        sides = {"before": self.defaults["before"], "after": self.defaults["after"]}
        for side, i in sides.items():
            st, other = stages[i], stages[sides["after" if side == "before" else "before"]]
            self._makers[side] = functools.partial(
                self.report.draw, st, method=st.method, title=None, timeout=self.timeout,
                diff_against=other if other.graph is not st.graph else None)
            try:
                base = self._makers[side](expanded=())
            except Exception:  # noqa: BLE001 (the default drawing reports the error)
                continue
            if base.collapse is not None:
                self.expand[side] = {"stage": i, "views": {}}
                self._expand_jobs += [(side, p) for p in _closed(base, "")]

    def layout(self, workers: int | None = None) -> None:
        def run(item):
            tpl, view = item
            if isinstance(view, Exception):
                return tpl, None, f"could not draw this graph: {view}", {}
            try:
                return tpl, view.svg, view.message, node_map_dict(view.node_map)
            except Exception as exc:  # noqa: BLE001
                return tpl, None, f"could not draw this graph: {exc}", {}

        workers = workers or max(1, min(4, os.cpu_count() or 1))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(run, self.views))
        self._layout_expansions(workers)
        for tpl, svg, message, node_map in results:
            self.maps[tpl] = node_map
            if svg is None:
                self.errors.append(message or "could not draw a graph")
                svg = placeholder_svg(message or "could not draw this graph")
            self.svgs[tpl] = inline_svg(svg)
            self.messages[tpl] = message

    def _layout_expansions(self, workers: int) -> None:
        """Lay out the opened views, then those one module further down, both panes' views
        of a module together, until ``detail`` views or :data:`EXPANSION_BYTES` are held.
        Views are drawn in batches, each batch laid out by one run of ``dot`` per worker."""
        def draw(job):
            path, side = job
            try:
                return side, path, self._makers[side](expanded=_chain(path))
            except Exception:  # noqa: BLE001 (that box just stays closed in the report)
                return side, path, None

        jobs = sorted(((p, side) for side, p in self._expand_jobs), key=lambda j: j[0])
        done, size, held = set(jobs), 0, 0
        with ThreadPoolExecutor(max_workers=workers) as pool:
            while jobs and held < self.detail and size < EXPANSION_BYTES:
                cut = min(self.detail - held, EXPANSION_BATCH)
                drawn, jobs = [draw(j) for j in jobs[:cut]], jobs[cut:]
                views = [view for _, _, view in drawn if view is not None]
                list(pool.map(layout_together, [views[w::workers] for w in range(workers)]))
                for side, path, view in drawn:
                    packed = _packed(view)
                    if packed is None or held >= self.detail or size >= EXPANSION_BYTES:
                        continue
                    self.expand[side]["views"][path] = packed
                    size, held = size + len(packed), held + 1
                    if "." not in path and not path.startswith(CHECK_PREFIX):
                        more = [(p, side) for p in _closed(view, path + ".")
                                if (p, side) not in done]
                        done.update(more)
                        jobs = sorted(jobs + more, key=lambda j: (j[0].count("."), _order(j[0])))

    def data(self) -> dict:
        stages = []
        for i, st in enumerate(self.report.stages):
            stages.append({
                "label": st.label, "name": st.name, "method": st.method,
                "description": stage_description(self.report, st), "changed": bool(st.changed),
                "ms": round(st.seconds * 1000, 1) if st.seconds else None,
                "nodes": st.graph.count(), "graph": self.graph_of[i],
            })
        graphs = [{"tpl": f"fv-g{gi}", "stages": g["labels"],
                   "message": self.messages.get(f"fv-g{gi}")} for gi, g in enumerate(self.graphs)]
        # the keys inside collapsed boxes are most of a big map's weight and only matter
        # for diff marks the browser makes: stored gzip'd, unpacked when the page starts
        maps, members = {}, {}
        for tpl, refs in self.maps.items():
            maps[tpl] = {sid: {k: v for k, v in ref.items() if k != "members"}
                         for sid, ref in refs.items()}
            members[tpl] = {sid: ref["members"] for sid, ref in refs.items() if "members" in ref}
        first: dict[str, str] = {}  # a diff drawing mostly repeats its plain drawing's boxes
        for tpl in list(members):
            text = json.dumps(members[tpl], sort_keys=True)
            if text in first:
                members[tpl] = first[text]
            else:
                first[text] = tpl
        return {"module": self.report.module_name, "stages": stages, "graphs": graphs,
                "diffs": self.diffs, "defaults": self.defaults, "maps": maps,
                "members": _zip(members), "expand": self.expand}


EXPANSIONS = 60  # opened views a report holds (top-level boxes first, then modules inside)
EXPANSION_BYTES = 2_500_000  # and the most their packed text may weigh in the file
EXPANSION_BATCH = 16  # opened views drawn before they are laid out together


def _order(path: str) -> tuple:
    """``layers.10`` after ``layers.9``: numbered modules in their order."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in path.split("."))


def _closed(view, prefix: str) -> list[str]:
    """The expand tokens of the closed boxes of ``view``: modules under ``prefix`` (all,
    when it is ""), and, at the top, the root's own closed control flow."""
    out = [ref.expand for ref in view.node_map.values() if ref.kind == "collapsed"
           and ref.expand and (ref.box or "").startswith(prefix)
           and (ref.box or (not prefix and not ref.scope))]
    return list(dict.fromkeys(out))


def _chain(path: str) -> tuple[str, ...]:
    """``"layer3.1"`` -> ``("layer3", "layer3.1")``: a module opens with its parents."""
    if path.startswith(CHECK_PREFIX):
        return (path,)
    parts = path.split(".")
    return tuple(".".join(parts[: i + 1]) for i in range(len(parts)))


def _zip(data: object) -> str:
    """``data`` as JSON, gzip'd, base64'd (report.js's ``unpack`` reverses it)."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return base64.b64encode(gzip.compress(text.encode("utf-8"), mtime=0)).decode("ascii")


def _packed(view) -> str | None:
    """:func:`_pack`, or None for a view that could not be drawn."""
    if view is None:
        return None
    try:
        return _pack(view)
    except Exception:  # noqa: BLE001 (that box just stays closed in the report)
        return None


def _pack(view) -> str:
    """One opened view (SVG and node map, members left out) as base64 of gzip'd JSON: the
    report decodes it only when that module is opened."""
    refs = node_map_dict(view.node_map)
    for ref in refs.values():
        ref.pop("members", None)
    return _zip({"svg": inline_svg(view.svg), "map": refs, "message": view.message})
