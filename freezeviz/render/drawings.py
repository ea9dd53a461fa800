"""The drawings of the HTML report: one per distinct graph, plus the default diff pairs.

Each distinct graph is laid out once (stages that left the graph unchanged share their
predecessor's snapshot object, so they share its SVG); the default before/after pair of each
method is drawn a second time with diff colours. Layouts run in parallel; each drawing comes
with its node map, which the report's script reads for diff colours and highlighting.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from freezeviz.render.fragments import inline_svg, placeholder_svg
from freezeviz.render.nodemap import node_map_dict


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

    def _add(self, tpl: str, make: Callable[[], object]) -> None:
        try:
            view = make()
        except Exception as exc:  # noqa: BLE001 (a drawing never takes the report down)
            view = exc
        self.views.append((tpl, view))

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
        for tpl, svg, message, node_map in results:
            self.maps[tpl] = node_map
            if svg is None:
                self.errors.append(message or "could not draw a graph")
                svg = placeholder_svg(message or "could not draw this graph")
            self.svgs[tpl] = inline_svg(svg)
            self.messages[tpl] = message

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
        return {"module": self.report.module_name, "stages": stages, "graphs": graphs,
                "diffs": self.diffs, "defaults": self.defaults, "maps": self.maps}
