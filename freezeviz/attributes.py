"""Each attribute's fate and the reason for it, taken from the freezer's own decisions.

Sources, in order of authority: what really survives on the frozen module (its slots), the
freezer's debug log ("Folding GetAttr %x with self.a.b", "attribute: n is set", "... has
inplace writer"), and torch's alias analysis of the inlined graphs (which node writes what).
"""

from __future__ import annotations

import torch

from .analysis import WriteEvidence, get_path, inventory, method_names, used_paths
from .fates import Fate
from .jitlog import FreezeDecisions
from .report import AttributeInfo, Evidence
from .snapshot import SourceLoc, Stage


class ConstantTracer:
    """Which attribute paths each constant of a frozen graph stands for.

    The freezer names the constant it makes for ``self.a.b`` "self.a.b"; passes extend the name
    (``self.conv.weight_fused_bn``); constant pooling merges constants of equal value, so a
    folded attribute whose own constant is gone is traced to the constant of equal value.
    """

    def __init__(self, cmod, decisions: FreezeDecisions):
        self.cmod = cmod
        self.folded = decisions.folded_paths
        self.pooled: dict = {}
        self._none_memo: dict[str, bool] = {}

    def lineage(self, name: str) -> set[str]:
        if not name.startswith("self."):
            return set()
        base = name[5:].split("_fused_", 1)[0]  # passes append _fused_bn, _fused_add, ...
        while base:
            if base in self.folded:
                return {base}
            head, dot, tail = base.rpartition(".")  # the IR's uniquifier: self.a.b.1
            if not dot or not tail.isdigit():
                return set()
            base = head
        return set()

    def learn(self, graph) -> None:
        """Trace pooled attributes in the graph the freezer produced."""
        consts = list(graph.findAllNodes("prim::Constant"))
        named = set()
        for n in consts:
            named |= self.lineage(n.output().debugName())
        by_shape: dict = {}
        for n in consts:
            if n.hasAttribute("value") and n.kindOf("value") == "t":
                t = n.t("value")
                by_shape.setdefault((tuple(t.shape), t.dtype), []).append(n)
            else:
                by_shape.setdefault("scalar", []).append(n)
        for path in sorted(self.folded - named):
            try:
                value = get_path(self.cmod, path)
            except Exception:
                continue
            key = (tuple(value.shape), value.dtype) if isinstance(value, torch.Tensor) else "scalar"
            for n in by_shape.get(key, ()):
                if _same_value(n, value):
                    self.pooled.setdefault(_value_key(n), set()).add(path)
                    break

    def _is_none(self, path: str) -> bool:
        if path not in self._none_memo:
            try:
                self._none_memo[path] = get_path(self.cmod, path) is None
            except Exception:
                self._none_memo[path] = False
        return self._none_memo[path]

    def _bias_of_consumer(self, node) -> set[str]:
        """A bias folded from ``bias=None``: torch names it after whichever None bias constant
        pooling kept (``self.conv1.bias_fused_bn.7`` for any conv), so trace it through the
        op it feeds instead: the bias of the layer whose weight sits beside it."""
        for use in node.output().uses():
            user = use.user
            if use.offset != 2 or user.inputsSize() < 2:
                continue
            weight = user.inputsAt(1).node()
            if weight.kind() != "prim::Constant":
                continue
            for p in self.lineage(weight.output().debugName()):
                if p.endswith(".weight") or p == "weight":
                    bias = p[: -len("weight")] + "bias"
                    if bias in self.folded:
                        return {bias}
        return set()

    def constants_in(self, graph) -> dict[str, tuple[str, ...]]:
        out = {}
        for n in graph.findAllNodes("prim::Constant"):
            name = n.output().debugName()
            paths = self.lineage(name)
            if paths and "_fused_" in name and self._is_none(next(iter(paths))):
                paths = self._bias_of_consumer(n)
            if self.pooled:
                paths |= self.pooled.get(_value_key(n), set())
            if paths:
                out[name] = tuple(sorted(paths))
        return out


def _value_key(node):
    """Identity of a constant's value that survives ``graph.copy()`` (which renumbers debug
    names but shares tensors): the tensor itself, or a scalar's type and value."""
    if not node.hasAttribute("value"):
        return ("none",)
    if node.kindOf("value") == "t":
        t = node.t("value")
        return ("t", t.data_ptr() if not t.is_mkldnn else id(t), tuple(t.shape), t.dtype)
    try:
        v = node.output().toIValue()
        hash(v)
    except Exception:
        return ("unhashable", id(node))
    return ("s", type(v).__name__, v)


def _same_value(node, value) -> bool:
    if not node.hasAttribute("value"):
        return value is None
    k = node.kindOf("value")
    if isinstance(value, torch.Tensor):
        if k != "t":
            return False
        t = node.t("value")
        return (t.dtype == value.dtype and t.shape == value.shape and t.device == value.device
                and torch.equal(t, value.detach()))
    if k == "t" or isinstance(value, torch.nn.Module):
        return False
    try:
        c = node.output().toIValue()
    except Exception:
        return False
    return type(c) is type(value) and c == value


def trace_constants(cmod, frozen_c, decisions, methods) -> ConstantTracer:
    tracer = ConstantTracer(cmod, decisions)
    for m in methods:
        tracer.learn(frozen_c._get_method(m).graph)
    return tracer


# --- fates -------------------------------------------------------------------------------

_WRITE_WORDS = {
    "prim::SetAttr": "assigns it",
}


def _loc(src) -> SourceLoc | None:
    return SourceLoc(*src) if src else None


def _write_evidence(e: WriteEvidence) -> Evidence:
    method = e.graph.split("/", 1)[0]
    if e.kind == "prim::SetAttr":
        desc = "assigns a new value to it (SetAttr)"
    elif e.direct:
        via = f" through %{e.via}" if e.via and e.via != e.attribute.rsplit(".", 1)[-1] else ""
        desc = f"writes it in place{via} (alias analysis: a value read from it has a writer)"
    else:
        desc = ("may write it: the alias analysis cannot rule out that the value it writes "
                "shares memory with it")
    if "/fork" in e.graph:
        desc += ", inside a torch.jit.fork body"
    return Evidence(e.kind, desc, _loc(e.source), method)


def _stage(stages: list[Stage], name: str, method: str) -> Stage | None:
    for s in stages:
        if s.name == name and s.method == method:
            return s
    return None


_constants_cache: dict[int, tuple] = {}


def _constant_for(stage: Stage | None, path: str) -> str | None:
    """The constant standing for ``path`` in this stage, if one is still used there (a pass
    such as remove_dropout may leave a constant behind with no users until a later DCE)."""
    if stage is None:
        return None
    graph = stage.graph
    cached = _constants_cache.get(id(graph))
    if cached is None or cached[0] is not graph:
        table: dict[str, str] = {}
        for n in graph.iter_nodes():
            if n.constant is not None and n.constant.attributes and graph.users(n.outputs[0].name):
                for p in n.constant.attributes:
                    table.setdefault(p, n.outputs[0].name)
        if len(_constants_cache) > 64:
            _constants_cache.clear()
        cached = _constants_cache[id(graph)] = (graph, table)
    return cached[1].get(path)


def _other_method_uses(cmod, analysed: list[str]) -> dict[str, list[str]]:
    uses: dict[str, list[str]] = {}
    for m in method_names(cmod):
        if m in analysed:
            continue
        try:
            g = cmod._get_method(m).graph.copy()
            torch._C._jit_pass_inline(g)
        except Exception:
            continue
        for path in used_paths(g):
            uses.setdefault(path, []).append(m)
    return uses


def _storage_key(value):
    if isinstance(value, torch.Tensor) and not value.is_mkldnn:
        try:
            return value.untyped_storage().data_ptr()
        except Exception:
            return None
    return None


def decide_fates(cmod, frozen_c, preserved: list[str], decisions: FreezeDecisions,
                 evidence: list[WriteEvidence], stages: list[Stage], inlined_graphs: dict,
                 tracer: ConstantTracer) -> tuple[list[AttributeInfo], list[str]]:
    slots = inventory(cmod)
    survivors = {s.path for s in inventory(frozen_c)}
    methods = list(inlined_graphs)
    requested = {p for p in preserved if p not in method_names(cmod)}
    written: dict[str, list[WriteEvidence]] = {}
    for e in evidence:
        written.setdefault(e.attribute, []).append(e)
    folded_in: dict[str, tuple[str, str]] = {path: (value, fn) for value, path, fn in decisions.folded}
    other_uses = _other_method_uses(cmod, methods)
    warnings: list[str] = []

    def under_requested(path: str) -> str | None:
        for q in requested:
            if path.startswith(q + "."):
                return q
        return None

    # storages of kept, written or requested tensors, to explain aliasing survivors
    keeper_storage = {}
    for s in slots:
        if s.kind != "module" and (s.path in written or s.path in requested):
            with_value = _safe_get(cmod, s.path)
            key = _storage_key(with_value)
            if key:
                keeper_storage.setdefault(key, s.path)

    infos: list[AttributeInfo] = []
    fold_results: dict[str, Fate] = {}
    for s in slots:
        if s.kind == "module":
            continue
        infos.append(_attribute_fate(s, survivors, requested, under_requested, written,
                                     folded_in, other_uses, keeper_storage, stages, methods,
                                     cmod, decisions, warnings))
        fold_results[s.path] = infos[-1].fate
    by_path = {i.path: i for i in infos}
    used_modules = {n.attribute for st in stages if st.name == "inlined"
                    for n in st.graph.iter_nodes() if n.kind == "prim::GetAttr" and n.attribute}
    modules = []
    children: dict[str, list[str]] = {}
    for p in by_path:
        parts = p.split(".")
        for i in range(1, len(parts)):
            children.setdefault(".".join(parts[:i]), []).append(p)
    for s in slots:
        if s.kind != "module":
            continue
        inside = children.get(s.path, [])
        if s.path in survivors:
            if s.path in requested:
                fate, why = Fate.PRESERVED_REQUESTED, (
                    "You named it in preserved_attrs, so the frozen module keeps this submodule "
                    "and everything in it.")
            elif (q := under_requested(s.path)):
                fate, why = Fate.PRESERVED_REQUESTED, (
                    f"It is inside `{q}`, which you named in preserved_attrs; the freezer keeps a "
                    "preserved submodule whole.")
            else:
                kept = [p for p in inside if p in survivors and by_path[p].fate != Fate.KEPT_SUBMODULE]
                fate = Fate.KEPT_SUBMODULE
                if kept:
                    why = ("The frozen module still holds it because state inside it had to be kept: "
                           + ", ".join(f"`{p}`" for p in kept[:5]) + ".")
                else:
                    why = ("A kept graph still uses this submodule itself (for example a method "
                           "returns it), so the freezer keeps it whole.")
        elif s.path in used_modules or \
                any(by_path[p].fate in (Fate.INLINED, Fate.FOLDED) for p in inside):
            fate, why = Fate.INLINED, (
                "Its code was inlined into the calling method and the state it uses became "
                "constants, so the frozen module no longer holds it.")
        else:
            fate, why = Fate.REMOVED_UNUSED, _unused_why(s.path, other_uses)
        modules.append(AttributeInfo(s.path, "module", s.type, fate, why))
    order = {s.path: i for i, s in enumerate(slots)}
    result = sorted(infos + modules, key=lambda a: order[a.path])
    return result, warnings


def _safe_get(cmod, path):
    try:
        return get_path(cmod, path)
    except Exception:
        return None


def _unused_why(path: str, other_uses: dict[str, list[str]]) -> str:
    methods = other_uses.get(path)
    if methods:
        names = ", ".join(f"{m}()" for m in methods)
        first = methods[0]
        return (f"Only {names} uses it, and that method is not preserved, so the freezer removed "
                f"both. Add {first!r} to preserved_attrs to keep the method and what it uses.")
    return "No preserved method reads it, so the freezer removed it."


def _attribute_fate(s, survivors, requested, under_requested, written, folded_in, other_uses,
                    keeper_storage, stages, methods, cmod, decisions, warnings) -> AttributeInfo:
    path = s.path
    evid = tuple(dict.fromkeys(_write_evidence(e) for e in written.get(path, ())))
    in_fork = any("/fork" in e.graph for e in written.get(path, ()))
    if path in survivors:
        if path in requested:
            return AttributeInfo(path, s.kind, s.type, Fate.PRESERVED_REQUESTED,
                                 "You named it in preserved_attrs, so the freezer keeps it as "
                                 "module state instead of inlining it.", evid)
        if (q := under_requested(path)):
            return AttributeInfo(path, s.kind, s.type, Fate.PRESERVED_REQUESTED,
                                 f"It is inside `{q}`, which you named in preserved_attrs; the "
                                 "freezer keeps a preserved submodule whole.", evid)
        if path in written:
            ws = written[path]
            first = next((w for w in ws if w.direct), ws[0])
            where = f" at {SourceLoc(*first.source).short}" if first.source else ""
            method = first.graph.split("/", 1)[0]
            if first.direct:
                how = ("assigns it" if first.kind == "prim::SetAttr"
                       else f"writes it in place ({first.kind})")
                why = (f"{method}() {how}{where}, so the freezer keeps it as module state: a "
                       "constant could not change between calls.")
            else:
                why = (f"Nothing in {method}() writes it directly, but torch's alias analysis "
                       f"cannot rule out that {first.kind}{where} writes memory it shares (the "
                       "value it was read into flows into a list, a tuple or an op whose output "
                       "may alias it), so the freezer conservatively keeps it as module state. "
                       "It stays a parameter of the frozen module rather than a constant.")
            return AttributeInfo(path, s.kind, s.type, Fate.PRESERVED_MUTATED, why, evid)
        key = _storage_key(_safe_get(cmod, path))
        partner = keeper_storage.get(key) if key else None
        if partner and partner != path:
            return AttributeInfo(
                path, s.kind, s.type, Fate.PRESERVED_MUTATED,
                f"It shares memory with `{partner}`, which is "
                f"{'written' if partner in written else 'preserved'}; the freezer keeps every "
                "attribute that aliases a preserved value, since a constant copy would go stale.",
                evid)
        owner = path.rsplit(".", 1)[0] if "." in path else ""
        if owner and owner in survivors:
            return AttributeInfo(
                path, s.kind, s.type, Fate.KEPT_SUBMODULE,
                f"It belongs to `{owner}`, which a kept graph uses as a whole module, so the "
                "freezer keeps all of its state.", evid)
        return AttributeInfo(
            path, s.kind, s.type, Fate.PRESERVED_MUTATED,
            "The freezer could not inline it (its log says it is mutable) and the frozen module "
            "still holds it.", evid)
    if path in folded_in:
        value_name, fn = folded_in[path]
        frozen_stage = _stage(stages, "frozen", fn if fn in methods else methods[0])
        inlined_stage = _stage(stages, "inlined", fn if fn in methods else methods[0])
        first_use = None
        if inlined_stage is not None:
            users = inlined_stage.graph.users(value_name)
            first_use = next((u for u in users if u.source), users[0] if users else None)
        use_ev = Evidence("prim::GetAttr", f"read as %{value_name} in {fn}()"
                          + (f" by {first_use.kind}" if first_use else ""),
                          first_use.source if first_use else None, fn)
        evid = evid + (use_ev,)
        warning = None
        if in_fork:
            warning = (f"`{path}` is written inside a torch.jit.fork body, yet torch's freezer "
                       "folded it into a constant (it analyses fork bodies on a copy of its state). "
                       "The updates land on that constant, shared by every call, and never on the "
                       f"module. Preserve it explicitly (preserved_attrs=[{path!r}]) or move the "
                       "write out of the forked function.")
            warnings.append(warning)
        const_frozen = _constant_for(frozen_stage, path)
        if const_frozen is None:
            return AttributeInfo(
                path, s.kind, s.type, Fate.INLINED,
                f"{fn}() only reads it and nothing writes it, so the freezer inlined its value; "
                "its own clean-up (constant propagation, dead-code elimination) then used the "
                "value up, so no constant for it is left in the graph.", evid, warning=warning)
        method_stages = [st for st in stages if st.method == frozen_stage.method]
        start = method_stages.index(frozen_stage)
        gone_at = None
        last_const = const_frozen
        for st in method_stages[start + 1:]:
            c = _constant_for(st, path)
            if c is None:
                gone_at = st
                break
            last_const = c
        if gone_at is None:
            rewritten = ""
            if last_const != const_frozen:
                rewritten = (f" Later passes rewrote that constant into %{last_const}: the name "
                             "records each fold it went through.")
            return AttributeInfo(
                path, s.kind, s.type, Fate.INLINED,
                f"{fn}() only reads it and nothing writes it, so the freezer inlined it as the "
                f"constant %{const_frozen}.{rewritten}", evid, constant=last_const,
                warning=warning)
        return AttributeInfo(
            path, s.kind, s.type, Fate.FOLDED,
            f"The freezer inlined it as the constant %{last_const}; then the pass "
            f"`{gone_at.name}` folded that constant away ({gone_at.description.rstrip('.')}).",
            evid, constant=None, folded_by=gone_at.name, warning=warning)
    warning = None
    why = _unused_why(path, other_uses)
    if in_fork:
        warning = (f"`{path}` is written inside a torch.jit.fork body, yet torch's freezer removed "
                   "it (it analyses fork bodies on a copy of its state). The frozen module will "
                   f"fail when the fork runs. Preserve it explicitly (preserved_attrs=[{path!r}]) "
                   "or move the write out of the forked function.")
        warnings.append(warning)
    elif path in written:
        first = written[path][0]
        where = f" at {SourceLoc(*first.source).short}" if first.source else ""
        why = (f"{first.graph}() writes it{where}, but only in code that freezing removed: a "
               "branch on a value that became a constant (such as `self.training`) was dropped, "
               "and with it every use, so the freezer removed it as unused.")
    return AttributeInfo(path, s.kind, s.type, Fate.REMOVED_UNUSED, why, evid, warning=warning)
