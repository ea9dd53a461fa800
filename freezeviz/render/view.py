"""GraphView (a drawing ready for notebooks) and running Graphviz's ``dot`` under a time limit.

Owns :class:`GraphView`, the layout runner (:func:`run_dot`, never hangs: a time limit and
fallback drawings), and the two entry points :func:`draw` (snapshot -> view, choosing an
automatic collapse depth for big graphs) and :func:`legend`.
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping

from freezeviz.data.diff import match_nodes, node_keys
from freezeviz.data.snapshot import GraphSnapshot
from freezeviz.render import styles as S
from freezeviz.render.boxes import Collapse
from freezeviz.render.dot import DotDrawing, Plan, to_dot
from freezeviz.render.fragments import placeholder_svg
from freezeviz.render.nodemap import NodeRef, node_map_json
from freezeviz.render.picture import PNG_FORMATS, png_args, small_png
from freezeviz.render.styles import attrs_text, quote, svg_id

INSTALL_HELP = ("the Graphviz `dot` program is not installed (or not on PATH); install it with "
                "`apt-get install graphviz`, `conda install -c conda-forge graphviz` or "
                "`brew install graphviz`")

# (drawing, collapse depth, message) for a simpler drawing
Fallback = Callable[[], "tuple[DotDrawing, int | None, str]"]


class LayoutTimeout(RuntimeError):
    pass


def run_dot(source: str, timeout: float | None = 10.0, fmt: str = "svg",
            args: Iterable[str] = ()) -> bytes:
    """Lay ``source`` out with ``dot`` (and its ``args``); :class:`LayoutTimeout` after
    ``timeout`` seconds."""
    exe = shutil.which("dot")
    if exe is None:
        raise RuntimeError(INSTALL_HELP)
    try:
        done = subprocess.run([exe, f"-T{fmt}", *args], input=source.encode("utf-8"),
                              capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:  # subprocess.run has killed dot already
        raise LayoutTimeout(f"dot took longer than {timeout:g} s") from exc
    if done.returncode != 0:
        err = done.stderr.decode("utf-8", "replace").strip()
        raise RuntimeError(f"dot failed (exit {done.returncode}): {err[:2000]}")
    return done.stdout


class GraphView:
    """One drawing: DOT source now, SVG laid out by ``dot`` on first use (then cached).

    If the layout runs past ``timeout`` seconds, the drawing falls back to the next of
    ``fallbacks`` (simpler, collapsed drawings) and ``message`` says so; ``source``,
    ``node_count``, ``edge_count``, ``collapse`` and :attr:`node_map` then describe what
    was drawn.
    """

    def __init__(self, source: str, *, node_count: int = 0, edge_count: int = 0,
                 collapse: int | None = None, message: str | None = None,
                 timeout: float | None = 10.0, fallbacks: Iterable[Fallback] = (),
                 node_map: dict[str, NodeRef] | None = None):
        self.source, self.node_count, self.edge_count = source, node_count, edge_count
        self._node_map = dict(node_map or {})
        self.collapse, self.message, self.timeout = collapse, message, timeout
        self.layout_seconds: float | None = None
        self._fallbacks = list(fallbacks)
        self._svg: str | None = None
        self._png: bytes | None | bool = False  # False: not rendered yet; None: none to keep
        self._gave_up = False

    @property
    def svg(self) -> str:
        if self._svg is None:
            self._svg = self._layout()
        return self._svg

    @property
    def node_map(self) -> dict[str, NodeRef]:
        """SVG id -> :class:`~freezeviz.render.nodemap.NodeRef` for every element drawn.

        Lays the drawing out first, so the map is the one of the drawing finally shown
        (a fallback's, or empty for the placeholder shown when the layout gave up)."""
        self.svg  # noqa: B018 -- the layout may switch to a fallback drawing
        return self._node_map

    def node_map_json(self) -> str:
        """:attr:`node_map` as JSON (``svg id -> NodeRef.to_dict()``), safe in a ``<script>``."""
        return node_map_json(self.node_map)

    def _layout(self) -> str:
        spent, start = 0.0, time.perf_counter()
        while True:
            try:
                out = run_dot(self.source, self.timeout)
                self.layout_seconds = spent + time.perf_counter() - start
                return out.decode("utf-8", "replace")
            except LayoutTimeout:
                spent += time.perf_counter() - start
                if not self._fallbacks:
                    self._gave_up = True
                    self.layout_seconds = spent
                    self.message = (f"layout gave up after {self.timeout:g} s; pass "
                                    "collapse=0 or a smaller node_budget, or a longer timeout=")
                    self._node_map = {}
                    return placeholder_svg(self.message)
                why = f"the layout took longer than {self.timeout:g} s"
                drawing, self.collapse, note = self._fallbacks.pop(0)()
                self.source, self.node_count, self.edge_count, self._node_map = drawing
                self.message = f"{note} because {why}; pass collapse=None, node_budget=None, " \
                               f"timeout={max(60, 6 * (self.timeout or 10)):g} for the full drawing"
                start = time.perf_counter()

    @property
    def digraph(self):
        """A ``graphviz.Source`` for the DOT text (render, save, pipe with the graphviz API)."""
        import graphviz

        return graphviz.Source(self.source)

    def png(self) -> bytes | None:
        """A small PNG of the drawing shown (:mod:`~freezeviz.render.picture` caps its size),
        or None when there is none to keep: the layout gave up, or the PNG is too big."""
        if self._png is False:
            self.svg  # noqa: B018 -- the layout may switch to a fallback drawing
            data = None
            for fmt in () if self._gave_up else PNG_FORMATS:
                try:
                    data = run_dot(self.source, self.timeout, fmt, png_args())
                    break
                except LayoutTimeout:
                    break
                except RuntimeError:  # this Graphviz cannot write that format: the next one
                    continue
            self._png = small_png(data)
        return self._png

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, str]:
        """The SVG for trusted outputs, and a PNG that untrusted ones show (JupyterLab and
        Notebook 7 refuse an untrusted ``image/svg+xml``, but always show ``image/png``)."""
        def wanted(mime: str) -> bool:
            return not ((include and mime not in include) or (exclude and mime in exclude))

        data: dict[str, str] = {}
        if wanted("image/svg+xml"):
            data["image/svg+xml"] = self.svg
        png = self.png() if wanted("image/png") else None
        if png:
            data["image/png"] = base64.b64encode(png).decode("ascii")
        return data

    def _repr_svg_(self) -> str:
        return self.svg

    def save(self, path: str, fmt: str | None = None) -> str:
        """Write the drawing to ``path`` (format from its suffix: svg, png, pdf, dot)."""
        fmt = fmt or path.rsplit(".", 1)[-1].lower()
        data = (self.source.encode() if fmt in ("dot", "gv") else self.svg.encode()
                if fmt == "svg" else run_dot(self.source, max(self.timeout or 10, 10), fmt))
        with open(path, "wb") as fh:
            fh.write(data)
        return path

    def __repr__(self) -> str:
        return (f"<GraphView {self.node_count} nodes, {self.edge_count} edges"
                f"{'' if self.collapse is None else f', collapsed to depth {self.collapse}'}>")


_SVG_START = "<?xml "  # dot writes each graph's SVG as a document of its own
_PAGE_ID = re.compile(r'<g id="page\d+,\d+_graph0"')


def layout_together(views: Iterable[GraphView]) -> None:
    """Lay out the views not laid out yet with one run of ``dot`` (each run costs ~10 ms
    before it lays anything out; a report opens dozens of small views). If that run fails,
    runs past the longest of their time limits or returns a different number of drawings,
    each view is laid out on its own, with its own limit and simpler drawings to fall back
    on."""
    todo = [v for v in views if v._svg is None]
    if len(todo) > 1:
        start = time.perf_counter()
        limits = [v.timeout for v in todo]
        try:
            out = run_dot("\n".join(v.source for v in todo),
                          None if None in limits else max(limits)).decode("utf-8", "replace")
        except (LayoutTimeout, RuntimeError):
            out = ""
        # dot numbers the drawings of one run as pages: each keeps the id it has alone
        svgs = [_PAGE_ID.sub('<g id="graph0"', _SVG_START + part, count=1)
                for part in out.split(_SVG_START)[1:]]
        if len(svgs) == len(todo):
            share = (time.perf_counter() - start) / len(todo)
            for view, svg in zip(todo, svgs):
                view._svg, view.layout_seconds = svg, share
            return
    for view in todo:
        view.svg  # noqa: B018 -- lays it out


def _boxes_of_nodes(nodes: int) -> str:
    # the stage pickers and tables count the graph's nodes; a box is what is drawn of them
    return (f" (the graph's {nodes:,} nodes, with scalar constants and lists of them shown inside "
            "their users' labels, plus its inputs and output)")


OVERVIEW = 40  # boxes an opening view may have and still be legible at fit in a small pane


def draw(snapshot: GraphSnapshot, *, diff_against: GraphSnapshot | None = None,
         diff_side: str = "after", collapse: int | None = None,
         fates: Mapping[str, object] | None = None, title: str | None = None,
         node_budget: int | None = 400, timeout: float | None = 10.0,
         highlight: Iterable[str] | None = None, overview: int | None = OVERVIEW,
         expanded: Iterable[str] | None = None) -> GraphView:
    """Draw one stage's graph.

    ``diff_against``: the other stage; with ``diff_side="after"`` nodes missing from it are
    drawn as added, with ``"before"`` as removed. ``collapse``: draw submodules deeper than
    this as single boxes. When None and the full drawing has more than ``overview`` boxes
    (the graph's nodes less the scalar constants drawn inside labels), it opens on the module
    overview: one box per top-level module, the root's own if/loop blocks closed too (with
    ``overview=None``, the deepest depth within ``node_budget``); ``view.message`` says so,
    with both counts. More than ``node_budget`` boxes are never drawn (the rest is
    summarised), except in a drawing with modules opened.
    ``expanded``: module paths drawn open on top of that (``{"layer3", "layer3.1"}``), and
    the ``expand`` tokens of checks (:mod:`~freezeviz.render.checks`) to draw open; each box's
    node-map entry names its token (:attr:`~freezeviz.render.nodemap.NodeRef.expand`).
    ``fates``: attribute path -> Fate, to colour attribute reads and constants and to count
    on module boxes. ``highlight``: node ids, node keys or attribute paths to emphasise.
    """
    if diff_side not in ("after", "before"):
        raise ValueError("diff_side must be 'after' or 'before'")
    if isinstance(highlight, str):
        highlight = [highlight]
    if isinstance(expanded, str):
        expanded = [expanded]
    plan, keys, changed = _prepare(snapshot, diff_against, diff_side)
    opts = {"keys": keys, "changed": changed, "fates": fates, "title": title,
            "change": "added" if diff_side == "after" else "removed",
            "highlight": frozenset(highlight or ())}
    opened = frozenset(expanded or ())
    depth, limit, message = _choose_depth(plan, snapshot, collapse, node_budget, overview,
                                          opened)
    drawing = to_dot(plan, Collapse(depth, opened), limit=limit, **opts)

    def fallback(d: int | None, lim: int | None, note: str) -> Fallback:
        return lambda: (to_dot(plan, Collapse(d, opened), limit=lim, **opts), d, note)

    chain = [fallback(d, None, f"collapsed to depth {d}") for d in (1, 0)
             if plan.depth > d and (depth is None or d < depth)]
    lim = min(limit or 10**9, node_budget or 400, 200)
    chain.append(fallback(0 if plan.depth else None, lim, f"drew only the first {lim} nodes"))
    return GraphView(drawing.source, node_count=drawing.nodes, edge_count=drawing.edges,
                     collapse=depth, message=message, timeout=timeout, fallbacks=chain,
                     node_map=drawing.node_map)


_PREPARED: OrderedDict = OrderedDict()  # (ids of the snapshots, side) -> the work below
_PREPARED_MAX = 6
_PREPARED_LOCK = threading.Lock()


def _prepare(snapshot: GraphSnapshot, other: GraphSnapshot | None,
             side: str) -> tuple[Plan, dict[str, str], frozenset[str]]:
    """The plan, node keys and changed nodes of a drawing; kept for the last few pairs, so
    opening one box after another (each a new drawing of the same stage) redoes none of it."""
    key = (id(snapshot), id(other), side)
    with _PREPARED_LOCK:
        hit = _PREPARED.get(key)
        if hit is not None and hit[0] is snapshot and hit[1] is other:
            _PREPARED.move_to_end(key)
            return hit[2:]
    plan = Plan(snapshot)
    keys, changed = _identities(snapshot, other, side)
    with _PREPARED_LOCK:  # the snapshots are held too: their ids stay theirs
        _PREPARED[key] = (snapshot, other, plan, keys, changed)
        while len(_PREPARED) > _PREPARED_MAX:
            _PREPARED.popitem(last=False)
    return plan, keys, changed


def _identities(snapshot: GraphSnapshot, other: GraphSnapshot | None,
                side: str) -> tuple[dict[str, str], frozenset[str]]:
    """Each node's key (a node keeps the id of its "before" self) and the changed node ids."""
    keys = dict(node_keys(snapshot))
    if other is None:
        return keys, frozenset()
    if side == "after":
        pairs = match_nodes(other, snapshot)
        before = node_keys(other)
        keys.update({b: before[a] for a, b in pairs.items()})
        kept = set(pairs.values())
    else:
        kept = set(match_nodes(snapshot, other))
    return keys, frozenset(n for n in keys if n not in kept)


def _choose_depth(plan: Plan, snapshot: GraphSnapshot, collapse: int | None,
                  node_budget: int | None, overview: int | None,
                  opened: frozenset[str]) -> tuple[int | None, int | None, str | None]:
    """(collapse depth, most boxes to draw, message) for a drawing."""
    target = min(x for x in (node_budget, overview, 10**9) if x is not None)
    full = plan.count(None)
    if collapse is not None or node_budget is None or full <= target:
        return collapse, None, None
    # past the overview size, one box per top-level module: both panes then show the same
    # boxes whatever each stage's size; below it, the deepest depth within node_budget
    small = overview is None or full <= overview
    depth = next((d for d in range(plan.depth - 1, -1, -1) if small and plan.count(d) <= target),
                 0 if plan.depth else None)
    shown = plan.count(Collapse(depth, opened))
    if shown > node_budget and not opened:  # an opened module is drawn whole
        how = f"collapsed to depth {depth} and " if depth is not None else ""
        message = (f"{how}drew the first {node_budget:,} of {full:,} boxes because the "
                   f"drawing is bigger than node_budget={node_budget}")
        limit = node_budget
    else:
        message, limit = f"collapsed to depth {depth} because the full drawing has {full:,} boxes", None
    return depth, limit, (message + _boxes_of_nodes(snapshot.count())
                          + "; pass collapse=None, node_budget=None for the full drawing")


def legend(*, fates: bool = True, diff: bool = True) -> GraphView:
    """A small drawing of the visual language: one sample per kind of node, then the fates.
    ``diff=False`` leaves out the diff colours (what panes coloured by fate show)."""
    rows: list[tuple[dict[str, str], str]] = []
    entries = [e for e in S.LEGEND_ENTRIES if diff or not {"added", "removed"} & set(e[1])]
    tag = "legend" if diff else "legend-fate"  # ids stay unique with both on one page
    for i, (cat, mods, label, text) in enumerate(entries):
        if cat in S.LEGEND_CLUSTERS:  # a cluster's look, on a node
            attrs, classes = dict(S.LEGEND_CLUSTERS[cat], shape="box"), [f"fv-{cat}"]
        else:
            attrs, classes = S.node_style(cat, mods)
        attrs.update({"label": label, "class": " ".join(classes), "id": svg_id(f"{tag}:{i}")})
        attrs.update({"width": "0.12", "height": "0.12"} if cat == "join" else {})
        rows.append((attrs, text))
    for fate, text in S.LEGEND_FATES if fates else ():
        attrs, classes = S.node_style("attr", (), S.fate_style(fate))
        attrs.update({"label": f"self.{fate.value}", "id": svg_id(f"{tag}:{fate.value}"),
                      "class": " ".join([*classes, S.fate_class(fate)])})
        rows.append((attrs, f"attribute fate: {text}"))
    lines = ["digraph legend {", f"graph [{attrs_text(dict(S.GRAPH_ATTRS, rankdir='LR'))}]",
             f"node [{attrs_text(S.NODE_ATTRS)}]", f"edge [{attrs_text(S.EDGE_ATTRS)}]"]
    for i, (attrs, text) in enumerate(rows):
        note = {"shape": "plaintext", "width": "5.4", "class": "fv-legend-text",
                "id": f"fv_{tag.replace('-', '_')}_text_{i}"}
        lines += [f"s{i} [{attrs_text(attrs)}]",  # "\l": left-justified, then padded
                  f"t{i} [{attrs_text(note)}, label={quote(text)[:-1]}\\l\"]",
                  f"s{i} -> t{i} [style=invis]"]
        lines += [f"s{i - 1} -> s{i} [style=invis]"] if i else []
    for col in "st":
        lines.append("{ rank=same; " + " ".join(f"{col}{i};" for i in range(len(rows))) + " }")
    return GraphView("\n".join(lines + ["}"]) + "\n", node_count=2 * len(rows), edge_count=0)
