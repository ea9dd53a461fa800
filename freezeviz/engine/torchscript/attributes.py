"""Each attribute's fate and the reason for it, taken from the freezer's own decisions.

Sources, in order of authority: what really survives on the frozen module (its slots), the
freezer's debug log ("Folding GetAttr %x with self.a.b", "attribute: n is set", "... has
inplace writer"), and torch's alias analysis of the inlined graphs (which node writes what).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from freezeviz.data.fates import Fate
from freezeviz.data.report import AttributeInfo, Evidence
from freezeviz.data.snapshot import SourceLoc, Stage
from freezeviz.engine.torchscript import passes as P
from freezeviz.engine.torchscript.analysis import (
    WriteEvidence,
    attribute_paths,
    container_tensors,
    element_holders,
    get_path,
    inventory,
    method_names,
    tensor_identity,
    used_paths,
)
from freezeviz.engine.torchscript.extract import iter_torch_nodes
from freezeviz.engine.torchscript.jitlog import FreezeDecisions


class ConstantTracer:
    """Which attribute paths each constant of a frozen graph stands for.

    By identity first: the freezer's constants share memory with the module's tensors (checked
    on torch 2.13), so a tensor constant, or a tensor inside a constant list, tuple or dict, is
    traced to the attributes holding that very tensor: ``rnn.weight_ih_l0`` lives on inside
    the constant list ``%self.rnn._flat_weights``. Then by name: the freezer names the constant
    it makes for ``self.a.b`` "self.a.b", and passes extend the name
    (``self.conv.weight_fused_bn``).

    Constant pooling merges constants of equal value into one. An attribute whose own constant
    was merged is traced to the constant that absorbed it, and since that constant then
    serves several attributes, each of them is followed through its own reads (the op, the
    module and the source line that read it), so that no fate depends on two attributes
    happening to hold equal values.
    """

    def __init__(self, cmod, decisions: FreezeDecisions, methods: list[str] | None = None):
        self.cmod = cmod
        self.folded = decisions.folded_paths
        self.methods = list(methods or [])
        # tensor identity -> attribute paths holding that tensor (itself or as an element)
        self.identity: dict[tuple, set[str]] = {}
        # attributes no graph reads by name, reached as elements of folded containers
        self.elements: dict[str, list[tuple[str, str]]] = {}
        self.merged: dict[str, str] = {}  # path -> the constant pooling merged its own into
        self.group_of: dict[str, set[str]] = {}  # host's own path -> paths merged into it
        self.pooled: dict = {}  # host's value key -> paths merged into it
        self.reads: dict[str, set] = {}  # path -> keys of the uses that read it (inlined graphs)
        self.unmapped: set[str] = set()  # reads that did not survive freezing as such
        self.frozen_uses: set = set()  # uses of shared constants right after freezing
        self._none_memo: dict[str, bool] = {}
        self._index_identity()

    # --- identity -----------------------------------------------------------------------
    def _index_identity(self) -> None:
        containers = []
        for path in self.folded:
            value = _safe_get(self.cmod, path)
            found = container_tensors(value)
            if found and found[0][0]:
                containers.append(path)
            for _, t in found:
                key = tensor_identity(t)
                if key is not None:
                    self.identity.setdefault(key, set()).add(path)
        for path, holders in element_holders(self.cmod, containers).items():
            if path in self.folded:
                continue
            self.elements[path] = holders
            key = tensor_identity(_safe_get(self.cmod, path))
            self.identity.setdefault(key, set()).add(path)

    def _identity_paths(self, node) -> set[str]:
        if not self.identity or not node.hasAttribute("value"):
            return set()
        kind = node.kindOf("value")
        if kind == "t":
            return set(self.identity.get(tensor_identity(node.t("value")), ()))
        if kind != "ival":
            return set()
        try:
            value = node.output().toIValue()
        except Exception:
            return set()
        out: set[str] = set()
        for _, t in container_tensors(value):
            out |= self.identity.get(tensor_identity(t), set())
        return out

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

    def _own(self, node) -> set[str]:
        """Paths a constant stands for by its name and its memory, before any pooling."""
        name = node.output().debugName()
        paths = self.lineage(name)
        if paths and "_fused_" in name and self._is_none(next(iter(paths))):
            paths = self._bias_of_consumer(node)
        return paths | self._identity_paths(node)

    # --- pooling ------------------------------------------------------------------------
    def learn(self, graph) -> None:
        """Find, in the graph the freezer produced, the attributes whose constant pooling
        merged into an equal constant."""
        consts = list(graph.findAllNodes("prim::Constant"))
        hosts: dict[str, tuple] = {}  # constant name -> (node, paths it stands for)
        named: set[str] = set()
        for n in consts:
            own = self._own(n)
            named |= own
            if own:
                hosts[n.output().debugName()] = (n, set(own))
        by_shape: dict = {}
        for n in consts:
            by_shape.setdefault(_shape_key(n), []).append(n)
        candidates = []
        for path in sorted(self.folded - named):
            value = _safe_get(self.cmod, path, _MISSING)
            if value is _MISSING or isinstance(value, torch._C.ScriptModule):
                continue
            host = next((n for n in by_shape.get(_shape_key(value), ())
                         if n.output().uses() and _same_value(n, value)), None)
            if host is not None:
                candidates.append((path, host))
        if candidates:
            self._read_keys()
            # an equal constant absorbed it only if what read it is still there; otherwise
            # its constant was simply used up (a branch dropped, constant propagation)
            alive = {(n.kind(), n.sourceRange()) for n in iter_torch_nodes(graph)}
        for path, host in candidates:
            reads = self.reads.get(path)
            if reads and not any((k[0], k[3]) in alive for k in reads):
                continue
            name = host.output().debugName()
            self.merged[path] = name
            self.pooled.setdefault(_value_key(host), set()).add(path)
            for own in self._own(host):
                self.group_of.setdefault(own, set()).add(path)
            hosts.setdefault(name, (host, set()))[1].add(path)
        ambiguous = [h for h in hosts.values() if len(h[1] & self.folded) > 1]
        if ambiguous:
            self._read_keys()
            self._learn_unmapped(ambiguous)

    def _read_keys(self) -> None:
        """Where each folded attribute was read, in the inlined graphs."""
        if self.reads:
            return
        for m in self.methods:
            try:
                g = self.cmod._get_method(m).graph.copy()
                torch._C._jit_pass_inline(g)
            except Exception:
                continue
            paths = attribute_paths(g)
            for n in g.findAllNodes("prim::GetAttr"):
                p = paths.get(n.output().debugName())
                if p in self.folded:
                    self.reads.setdefault(p, set()).update(
                        _use_key(u) for u in n.output().uses())

    def _learn_unmapped(self, hosts) -> None:
        """Attributes sharing a constant whose reads are no longer among its uses after
        freezing (constant propagation or common-subexpression elimination replaced them)."""
        for node, paths in hosts:
            uses = {_use_key(u) for u in node.output().uses()}
            self.frozen_uses |= uses
            for p in paths & self.folded:
                if not self.reads.get(p, set()) & uses:
                    self.unmapped.add(p)

    def _by_reads(self, node, paths: set[str]) -> set[str]:
        """Of the attributes sharing one constant, those whose own reads still use it."""
        readers = {p for p in paths if p in self.reads and p not in self.unmapped}
        if len(paths & self.folded) < 2 or not readers:
            return paths
        uses = {_use_key(u) for u in node.output().uses()}
        if not uses or uses - self.frozen_uses:
            return paths  # a pass made new readers: nothing tells the attributes apart there
        return (paths - readers) | {p for p in readers if self.reads[p] & uses}

    # --- None biases --------------------------------------------------------------------
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

    # --- answers ------------------------------------------------------------------------
    def constants_in(self, graph) -> dict[str, tuple[str, ...]]:
        out = {}
        for n in graph.findAllNodes("prim::Constant"):
            paths = self._own(n)
            if self.pooled:
                paths |= self.pooled.get(_value_key(n), set())
                for p in list(paths):
                    paths |= self.group_of.get(p, set())
            if len(paths) > 1 and self.reads:
                paths = self._by_reads(n, paths)
            if paths:
                out[n.output().debugName()] = tuple(sorted(paths))
        return out

    def elements_in(self, graph, path: str) -> list[tuple[str, str]]:
        """(constant, element label) for each constant of ``graph`` that holds an element of
        the container attribute ``path`` as a tensor of its own."""
        labels = {tensor_identity(t): label
                  for label, t in container_tensors(_safe_get(self.cmod, path)) if label}
        out = []
        for n in graph.findAllNodes("prim::Constant"):
            if n.hasAttribute("value") and n.kindOf("value") == "t" and n.output().uses():
                label = labels.get(tensor_identity(n.t("value")))
                if label:
                    out.append((n.output().debugName(), label))
        return out


def _use_key(use) -> tuple:
    """A use of a value, recognisable in a copy of the graph (``graph.copy()`` renumbers
    values, but keeps each node's kind, module and source range)."""
    user = use.user
    return (user.kind(), use.offset, user.getModuleHierarchy(), user.sourceRange())


def _shape_key(x):
    """Bucket constants and values by what equal ones must share."""
    if isinstance(x, torch.Tensor):
        return ("t", tuple(x.shape), x.dtype)
    if isinstance(x, torch._C.Node):
        if x.hasAttribute("value") and x.kindOf("value") == "t":
            t = x.t("value")
            return ("t", tuple(t.shape), t.dtype)
        return "other"
    return "other"


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
    if value is None:
        return False
    k = node.kindOf("value")
    if isinstance(value, torch.Tensor):
        return k == "t" and _equal_values(node.t("value"), value)
    if k == "t" or isinstance(value, torch.nn.Module):
        return False
    try:
        c = node.output().toIValue()
    except Exception:
        return False
    return _equal_values(c, value)


def _equal_values(a, b) -> bool:
    """Equal as constant pooling compares: same type, and for tensors same dtype, shape,
    device and values; containers element by element."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
            return False
        if a.is_mkldnn or b.is_mkldnn:
            return False
        return (a.dtype == b.dtype and a.shape == b.shape and a.device == b.device
                and torch.equal(a, b.detach()))
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal_values(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_equal_values(x, y) for x, y in zip(a, b))
    try:
        return bool(a == b)
    except Exception:
        return False


def trace_constants(cmod, frozen_c, decisions, methods) -> ConstantTracer:
    tracer = ConstantTracer(cmod, decisions, methods)
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
    elif e.element:
        desc = (f"writes its element {e.element} in place; torch's alias analysis does not count "
                "that as a write of the attribute")
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
    found = _constants_for(stage, path)
    return found[0] if found else None


def _constants_for(stage: Stage | None, path: str) -> list[str]:
    """Every constant standing for ``path`` that is still used in this stage (a list taken
    apart by constant propagation leaves one per element)."""
    if stage is None:
        return []
    graph = stage.graph
    cached = _constants_cache.get(id(graph))
    if cached is None or cached[0] is not graph:
        table: dict[str, list[str]] = {}
        for n in graph.iter_nodes():
            if n.constant is not None and n.constant.attributes and graph.users(n.outputs[0].name):
                for p in n.constant.attributes:
                    table.setdefault(p, []).append(n.outputs[0].name)
        if len(_constants_cache) > 64:
            _constants_cache.clear()
        cached = _constants_cache[id(graph)] = (graph, table)
    return cached[1].get(path, [])


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
                 tracer: ConstantTracer, rewrites: dict | None = None
                 ) -> tuple[list[AttributeInfo], list[str]]:
    """Each attribute's fate. ``rewrites``: constants that optimize_for_inference's passes
    replaced by new ones, ``{(method, stage name): {old constant: new constant}}``."""
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

    used_modules = {n.attribute for st in stages if st.name == "inlined"
                    for n in st.graph.iter_nodes() if n.kind == "prim::GetAttr" and n.attribute}
    sub_methods = preserved_submodule_methods(cmod, preserved)
    edge = _EdgeFacts(rewrites or {}, _fork_constant_names(frozen_c, methods), used_modules,
                      _shadowed_by_root(cmod, sub_methods, slots))
    tracing = _Tracing(tracer, stages, methods, folded_in, survivors, written, warnings,
                       element_holders(cmod, [s.path for s in slots if s.path in survivors
                                              and s.kind != "module"]))
    infos: list[AttributeInfo] = []
    fold_results: dict[str, Fate] = {}
    for s in slots:
        if s.kind == "module":
            continue
        info = _attribute_fate(s, survivors, requested, under_requested, written,
                               folded_in, other_uses, keeper_storage, stages, methods,
                               cmod, decisions, warnings, edge)
        info = _traced_story(info, tracing)
        infos.append(_shadow_story(info, edge.shadowed.get(s.path), warnings, cmod))
        fold_results[s.path] = infos[-1].fate
    by_path = {i.path: i for i in infos}
    method_owner = {name.rpartition(".")[0]: name for name in sub_methods}
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
            elif s.path in method_owner:
                fate, why = Fate.PRESERVED_REQUESTED, (
                    f"You named its method `{method_owner[s.path]}` in preserved_attrs, so the "
                    "frozen module keeps this submodule to hold that method.")
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


def _safe_get(cmod, path, default=None):
    try:
        return get_path(cmod, path)
    except Exception:
        return default


def _unused_why(path: str, other_uses: dict[str, list[str]]) -> str:
    methods = other_uses.get(path)
    if methods:
        names = ", ".join(f"{m}()" for m in methods)
        first = methods[0]
        return (f"Only {names} uses it, and that method is not preserved, so the freezer removed "
                f"both. Add {first!r} to preserved_attrs to keep the method and what it uses.")
    return "No preserved method reads it, so the freezer removed it."


def _attribute_fate(s, survivors, requested, under_requested, written, folded_in, other_uses,
                    keeper_storage, stages, methods, cmod, decisions, warnings,
                    edge: _EdgeFacts) -> AttributeInfo:
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
            return _forked_fate(s, written[path], evid, edge, warnings)
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
        renamed = None  # the constant's name after the fold passes, before any rewrite
        rewrites_seen: list[tuple[Stage, str, str]] = []
        for st in method_stages[start + 1:]:
            new = edge.rewrites.get((st.method, st.name), {}).get(last_const)
            if new is not None and st.graph.users(new):
                rewrites_seen.append((st, last_const, new))
                last_const = new
                continue
            c = _constant_for(st, path)
            if c is None and rewrites_seen and st.graph.users(last_const):
                c = last_const  # a rewritten constant the snapshot holds no value for (MKLDNN)
            if c is None:
                gone_at = st
                break
            if not rewrites_seen:
                renamed = c
            last_const = c
        if gone_at is None:
            rewritten = ""
            if renamed is not None and renamed != const_frozen:
                rewritten = (f" Later passes rewrote that constant into %{renamed}: the name "
                             "records each fold it went through.")
            rewritten += _rewrite_story(rewrites_seen, method_stages[-1])
            return AttributeInfo(
                path, s.kind, s.type, Fate.INLINED,
                f"{fn}() only reads it and nothing writes it, so the freezer inlined it as the "
                f"constant %{const_frozen}.{rewritten}{_none_note(cmod, path)}", evid,
                constant=last_const, warning=warning,
                rewritten_by=rewrites_seen[-1][0].name if rewrites_seen else None)
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
        why = (f"{_fork_writer(written[path])}, but torch's freezer analyses fork bodies on a "
               "copy of its state, so it never saw that write; no kept graph reads it otherwise, "
               "so the freezer removed it, and the frozen module fails when the fork runs.")
    elif s.type == "NoneType":
        return _none_fate(s, cmod, edge, evid)
    elif path in written:
        first = written[path][0]
        where = f" at {SourceLoc(*first.source).short}" if first.source else ""
        why = (f"{first.graph}() writes it{where}, but only in code that freezing removed: a "
               "branch on a value that became a constant (such as `self.training`) was dropped, "
               "and with it every use, so the freezer removed it as unused.")
    return AttributeInfo(path, s.kind, s.type, Fate.REMOVED_UNUSED, why, evid, warning=warning)


# --- rarer fates: rewritten constants, forks, None, submodule methods, class constants ------

@dataclass(frozen=True)
class _EdgeFacts:
    """What the rarer fates need, gathered once per freeze."""

    rewrites: dict  # (method, stage name) -> {old constant: new constant}, optimize_for_inference
    fork_constants: tuple[str, ...]  # constants inside the prim::fork bodies of the frozen graphs
    used_modules: set  # attribute paths read by GetAttr in the inlined graphs
    shadowed: dict  # "sub.z" -> ("sub.helper", "z"): torch froze the root's `z` into sub.helper


def _rewrite_story(seen: list[tuple[Stage, str, str]], final: Stage) -> str:
    """Words for constants a pass replaced by a new one made from them."""
    parts = []
    for st, old, new in seen:
        what = P.REWRITES.get(st.name, "a new constant made from it")
        text = f" Then the pass `{st.name}` rewrote that constant into %{new} ({what})"
        if final.graph.producer(old) is not None and not final.graph.users(old):
            text += (f"; the original %{old} stays in the graph, unused, since nothing after that "
                     "pass removes dead code")
        parts.append(text + ".")
    if parts:
        parts.append(" Its value lives on in the rewritten constant: it was not folded away.")
    return "".join(parts)


_MISSING = object()


def _none_note(cmod, path: str) -> str:
    try:
        value = get_path(cmod, path)
    except Exception:
        value = _MISSING
    return " Its value is None." if value is None else ""


def _fork_constant_names(frozen_c, methods: list[str]) -> tuple[str, ...]:
    """Constants inside fork bodies: the stage snapshots do not descend into them."""
    names = []
    for m in methods:
        try:
            graph = frozen_c._get_method(m).graph
        except Exception:
            continue
        for fork in graph.findAllNodes("prim::fork"):
            names += [n.output().debugName() for n in fork.g("Subgraph").findAllNodes("prim::Constant")]
    return tuple(names)


def _fork_constant_for(path: str, names: tuple[str, ...]) -> str | None:
    """The fork-body constant named after ``path``; inside the body of a forked submodule the
    freezer names it relative to that submodule (``self.fb`` for ``sub.fb``)."""
    for name in names:
        if not name.startswith("self."):
            continue
        rel = name[5:].split("_fused_", 1)[0]
        while rel:
            if path == rel or path.endswith("." + rel):
                return name
            head, dot, tail = rel.rpartition(".")  # the IR's uniquifier: self.a.b.1
            if not dot or not tail.isdigit():
                break
            rel = head
    return None


def _fork_writer(ws: list[WriteEvidence]) -> str:
    w = next((w for w in ws if "/fork" in w.graph), ws[0])
    where = f" at {SourceLoc(*w.source).short}" if w.source else ""
    how = "assigns it" if w.kind == "prim::SetAttr" else f"writes it in place ({w.kind})"
    return f"A call that {w.graph.split('/', 1)[0]}() runs with torch.jit.fork {how}{where}"


def _forked_fate(s, ws: list[WriteEvidence], evid, edge: _EdgeFacts, warnings) -> AttributeInfo:
    """Written inside a fork body, yet folded: the freezer analyses fork bodies on a copy of its
    state, so the write never reaches its decisions (FREEZE_INTERNALS.md, "Bug")."""
    path = s.path
    const = _fork_constant_for(path, edge.fork_constants)
    became = (f"the constant %{const} inside the fork body" if const
              else "a constant where it is read")
    lost = (f"{_fork_writer(ws)}, but torch's freezer analyses fork bodies on a copy of its "
            f"state, so it never saw that write: it inlined the attribute as {became}")
    if any(w.kind == "prim::SetAttr" for w in ws if "/fork" in w.graph):
        why = (f"{lost} and removed it from the module. The assignment is still in the fork "
               "body, so the frozen module fails when the fork runs.")
        warning = (f"`{path}` is assigned inside a torch.jit.fork body, yet torch's freezer "
                   "inlined it and removed it from the module (it analyses fork bodies on a copy "
                   "of its state). The assignment is still in the fork body, so the frozen module "
                   f"fails when the fork runs. Preserve it explicitly (preserved_attrs=[{path!r}]) "
                   "or move the write out of the forked function.")
    else:
        why = (f"{lost}. The write now changes that constant, shared by every call, and never "
               "the module.")
        warning = (f"`{path}` is written inside a torch.jit.fork body, yet torch's freezer "
                   "folded it into a constant (it analyses fork bodies on a copy of its state). "
                   "The updates land on that constant, shared by every call, and never on the "
                   f"module. Preserve it explicitly (preserved_attrs=[{path!r}]) or move the "
                   "write out of the forked function.")
    warnings.append(warning)
    # ``constant`` names a node of the drawn graphs; fork bodies are not drawn, so the why
    # names the constant instead
    return AttributeInfo(path, s.kind, s.type, Fate.INLINED, why, evid, warning=warning)


def _none_reader(cmod, owner_path: str, leaf: str) -> str | None:
    """``"Linear.forward"`` when a method of the module holding the slot reads it."""
    owner = _safe_get(cmod, owner_path) if owner_path else cmod
    if not isinstance(owner, torch._C.ScriptModule):
        return None
    for m in method_names(owner):
        try:
            graph = owner._get_method(m).graph
        except Exception:
            continue
        me = next(iter(graph.inputs()), None)
        for n in graph.findAllNodes("prim::GetAttr"):
            if me is not None and n.s("name") == leaf and \
                    n.inputsAt(0).debugName() == me.debugName():
                return f"{owner._type().name()}.{m}"
    return None


def _none_fate(s, cmod, edge: _EdgeFacts, evid) -> AttributeInfo:
    """A slot holding None: torch.jit.script types it NoneType, so every read of it is the
    constant None before the freezer ever looks (an inlined callee's read included)."""
    owner, _, leaf = s.path.rpartition(".")
    reader = _none_reader(cmod, owner, leaf)
    if reader and owner and owner in edge.used_modules:
        return AttributeInfo(s.path, s.kind, s.type, Fate.INLINED, (
            f"Its value is None, so torch.jit.script typed it NoneType, and {reader}() reads it "
            f"(`self.{leaf}`): when that method was inlined, the read became the constant None, "
            "since a NoneType value can only be None. That left the freezer nothing to inline, "
            "and it removed the empty slot."), evid)
    return AttributeInfo(s.path, s.kind, s.type, Fate.REMOVED_UNUSED, (
        "Its value is None, so torch.jit.script typed it NoneType: a read of it compiles to the "
        f"constant None, and a test such as `if self.{leaf} is not None` is decided when the "
        "module is scripted. No kept graph reads the slot itself, so the freezer removed it."),
        evid)


def preserved_submodule_methods(cmod, preserved) -> list[str]:
    """Names in ``preserved`` that are methods of submodules (``"sub.helper"``). torch freezes
    such a method as if it belonged to the root module (FREEZE_INTERNALS.md, errors)."""
    out = []
    for name in preserved:
        if not isinstance(name, str) or "." not in name:
            continue
        owner, _, leaf = name.rpartition(".")
        sub = _safe_get(cmod, owner)
        if isinstance(sub, torch._C.ScriptModule) and sub._has_method(leaf) and \
                name not in {s.path for s in inventory(cmod)}:
            out.append(name)
    return out


def _shadowed_by_root(cmod, names: list[str], slots) -> dict[str, tuple[str, str]]:
    """State a preserved submodule method reads that torch took from the root module instead:
    it resolves the method's ``self.z`` on the root, which here has a ``z`` of its own."""
    kinds = {s.path: s.kind for s in slots}
    out = {}
    for name in names:
        owner, _, leaf = name.rpartition(".")
        try:
            graph = get_path(cmod, owner)._get_method(leaf).graph.copy()
            torch._C._jit_pass_inline(graph)
        except Exception:
            continue
        for rel in sorted(used_paths(graph)):
            if kinds.get(rel) not in (None, "module") and f"{owner}.{rel}" in kinds:
                out[f"{owner}.{rel}"] = (name, rel)
    return out


def _brief(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _shadow_story(info: AttributeInfo, shadow, warnings, cmod) -> AttributeInfo:
    if shadow is None:
        return info
    name, rel = shadow
    owner = name.rpartition(".")[0]
    warning = (f"torch.jit.freeze froze `{name}()` with the root module's `{rel}` "
               f"({_brief(_safe_get(cmod, rel))}) in place of `{info.path}` "
               f"({_brief(_safe_get(cmod, info.path))}): it looks up the state a preserved "
               f"submodule method reads on the root module, so the frozen {name}() computes with "
               f"the root's value. Preserve the submodule instead ({owner!r}), or add a root "
               f"method that calls self.{name}() and preserve that.")
    warnings.append(warning)
    if info.fate is Fate.REMOVED_UNUSED:
        why = (f"`{name}()`, which you preserved, reads it, but torch's freezer looked `{rel}` up "
               f"on the root module and froze the root's `{rel}` into that method instead; no "
               "kept graph reads this one, so the freezer removed it.")
    else:
        why = (f"{info.why} `{name}()`, which you preserved, reads it too, but torch's freezer "
               f"froze the root module's `{rel}` into that method instead.")
    return replace(info, why=why, warning=warning)


def class_constants(cmod) -> list[AttributeInfo]:
    """The constants of each module's class (``__constants__``, ``Final``). torch.jit.script
    compiles their values into the code, so they are not module state and freezing never
    sees them; listed apart from the attributes, so that explain() can tell their story."""
    out = []
    by_type: dict[str, dict] = {}
    modules = [("", cmod)] + [(s.path, _safe_get(cmod, s.path))
                              for s in inventory(cmod) if s.kind == "module"]
    for prefix, mod in modules:
        if not isinstance(mod, torch._C.ScriptModule):
            continue
        ty = mod._type()
        key = ty.qualified_name()
        if key not in by_type:
            try:
                by_type[key] = torch._C.ConcreteModuleType.from_jit_type(ty).get_constants()
            except Exception:
                by_type[key] = {}
        for name, value in sorted(by_type[key].items()):
            out.append(AttributeInfo(
                f"{prefix}.{name}" if prefix else name, "constant", type(value).__name__,
                Fate.INLINED,
                "A constant of its class (listed in `__constants__` or annotated `Final`): "
                f"torch.jit.script compiled its value, {_brief(value)}, into the code wherever "
                "it is used. It was never module state, so freezing had nothing to do with it."))
    return out


# --- state reached through lists, tuples and dicts; constants merged by pooling ------------

@dataclass(frozen=True)
class _Tracing:
    """What the stories of traced constants need, gathered once per freeze."""

    tracer: ConstantTracer
    stages: list
    methods: list
    folded_in: dict  # path -> (GetAttr value, function), from the freezer's log
    survivors: set
    written: dict
    warnings: list
    kept_elements: dict  # path -> [(kept container, label)] for tensors of surviving containers


def _traced_story(info: AttributeInfo, t: _Tracing) -> AttributeInfo:
    """Tell what identity tracing found: state reached only through a container, containers
    whose elements are written in place or were taken apart, constants merged by pooling."""
    if info.fate is Fate.REMOVED_UNUSED and (info.path in t.tracer.elements
                                             or info.path in t.kept_elements):
        info = _element_fate(info, t)
    if info.path in t.folded_in and info.fate in (Fate.INLINED, Fate.FOLDED):
        info = _container_story(info, t)
    if info.path in t.tracer.merged and info.fate in (Fate.INLINED, Fate.FOLDED) \
            and _safe_get(t.tracer.cmod, info.path) is not None:  # every None is the same
        info = _pooling_story(info, t)
    return info


def _follow(path: str, stages: list, method: str):
    """(constant at the frozen stage, constant at the end, stage where it went) for ``path``."""
    frozen_stage = _stage(stages, "frozen", method)
    first = _constant_for(frozen_stage, path)
    if first is None:
        return None, None, None
    method_stages = [st for st in stages if st.method == method]
    last = first
    for st in method_stages[method_stages.index(frozen_stage) + 1:]:
        c = _constant_for(st, path)
        if c is None:
            return first, last, st
        last = c
    return first, last, None


def _holding(stages: list, method: str, name: str) -> str:
    """``the constant %x`` for a tensor, ``the constant list %x`` for a container."""
    st = _stage(stages, "frozen", method)
    value = st.graph.value(name) if st is not None else None
    node = st.graph.producer(name) if st is not None else None
    if node is not None and node.constant is not None and node.constant.kind == "tensor":
        return f"the constant %{name}"
    ty = value.type if value is not None else ""
    kind = ("list" if ty.startswith("List[") or ty.endswith("[]") else
            "tuple" if ty.startswith(("Tuple[", "(")) else "dict" if ty.startswith("Dict[") else "")
    return f"the constant {kind} %{name}".replace("  ", " ")


def _element_fate(info: AttributeInfo, t: _Tracing) -> AttributeInfo:
    """An attribute no graph reads by name, whose tensor a container holds (nn.LSTM's
    ``weight_ih_l0`` inside ``_flat_weights``)."""
    holders = t.tracer.elements.get(info.path, []) + t.kept_elements.get(info.path, [])
    kept = [(c, label) for c, label in holders if c in t.survivors]
    folded = [(c, label) for c, label in holders if c in t.folded_in]
    if not folded:
        if not kept:
            return info
        c, label = kept[0]
        return replace(info, why=(
            f"No kept graph reads it by name, so the freezer removed its slot; its tensor lives "
            f"on as element {label} of `{c}`, which the frozen module keeps."))
    c, label = folded[0]
    fn = t.folded_in[c][1]
    method = fn if fn in t.methods else t.methods[0]
    reached = f"{fn}() does not read it by name, only as element {label} of `{c}`"
    first, last, gone = _follow(info.path, t.stages, method)
    note = _element_write_note(c, label, t)
    evid = info.evidence + tuple(dict.fromkeys(_write_evidence(e)
                                               for e in _element_writes(c, label, t)))
    if first is None:
        return replace(info, fate=Fate.INLINED, evidence=evid, why=(
            f"{reached}. The freezer inlined `{c}`, and its own clean-up (constant propagation, "
            f"dead-code elimination) then used the value up, so no constant for it is left in "
            f"the graph.{note}"))
    holds = Evidence("prim::Constant", f"holds it as element {label} of `{c}`", None, method)
    evid += (holds,)
    holding = _holding(t.stages, method, first)
    if holding == f"the constant %{first}":  # constant propagation took the element out
        inlined = (f"{reached}; the freezer inlined `{c}`, and constant propagation took this "
                   f"element out of it into {holding}")
    else:
        inlined = f"{reached}, so the freezer inlined it as part of {holding}"
    if gone is None:
        later = f" Later passes rewrote that constant into %{last}." if last != first else ""
        return replace(info, fate=Fate.INLINED, evidence=evid, constant=last, why=(
            f"{inlined}.{later}{note}"))
    return replace(info, fate=Fate.FOLDED, evidence=evid, folded_by=gone.name, why=(
        f"{inlined}; then the pass `{gone.name}` folded that constant away "
        f"({gone.description.rstrip('.')}).{note}"))


def _element_writes(container: str, label: str | None, t: _Tracing) -> list[WriteEvidence]:
    """Writes through elements of ``container`` (element ``label``, or any when None)."""
    return [e for e in t.written.get(container, ())
            if e.element and (label is None or e.element in (label, "[i]"))]


def _element_write_head(container: str, label: str | None, t: _Tracing) -> str:
    """Words for an in-place write through an element, which torch's freezer does not see."""
    ws = _element_writes(container, label, t)
    if not ws:
        return ""
    w = ws[0]
    where = f" at {SourceLoc(*w.source).short}" if w.source else ""
    return (f"{w.graph.split('/', 1)[0]}() writes `{container}{w.element}` in place "
            f"({w.kind}{where}), but torch's alias analysis, which the freezer relies on, does "
            "not count a write to an element of a list, tuple or dict as a write of the "
            "attribute")


def _element_write_note(container: str, label: str | None, t: _Tracing) -> str:
    head = _element_write_head(container, label, t)
    return (f" {head}, so the freezer inlined `{container}` all the same: the writes land on "
            "that constant, shared by every call." if head else "")


def _container_story(info: AttributeInfo, t: _Tracing) -> AttributeInfo:
    """A list, tuple or dict the freezer inlined: elements written in place, or elements
    constant propagation took out into constants of their own."""
    path = info.path
    head = _element_write_head(path, None, t)
    if head:
        return _unseen_element_write(info, head, t)
    elements = container_tensors(_safe_get(t.tracer.cmod, path))
    if info.fate is not Fate.INLINED or info.constant is None or not elements \
            or not elements[0][0]:
        return info
    fn = t.folded_in[path][1]
    final = [st for st in t.stages if st.method == (fn if fn in t.methods else t.methods[0])][-1]
    parts = []
    for name in _constants_for(final, path):
        node = final.graph.producer(name)
        if node is not None and node.constant is not None and node.constant.kind == "tensor":
            parts.append(f"%{name}")
    if not parts:
        return info
    return replace(info, why=info.why + (
        " Constant propagation then took its elements out of the container into constants of "
        f"their own: {', '.join(parts)}."))


def _unseen_element_write(info: AttributeInfo, head: str, t: _Tracing) -> AttributeInfo:
    path = info.path
    w = _element_writes(path, None, t)[0]
    where = f" at {SourceLoc(*w.source).short}" if w.source else ""
    const = f"the constant %{info.constant}" if info.constant else "a constant"
    warning = (f"`{path}` is written in place through its element {w.element} ({w.kind}{where}), "
               f"yet torch's freezer inlined it as {const}: torch's alias analysis does not see "
               "writes to the elements of a list, tuple or dict. The writes land on that "
               "constant, shared by every call, and never on the module. Preserve it explicitly "
               f"(preserved_attrs=[{path!r}]) or keep that state in a buffer of its own.")
    t.warnings.append(warning)
    if info.fate is Fate.INLINED:
        why = (f"{head}, so the freezer inlined it as {const} all the same: the writes land on "
               "that constant, shared by every call.")
    else:
        why = f"{info.why} {head}."
    return replace(info, why=why, warning=warning)


def _pooling_story(info: AttributeInfo, t: _Tracing) -> AttributeInfo:
    """Torch's constant pooling merged this attribute's constant into an equal one: say so
    apart, since which constant absorbed which depends only on values being equal."""
    host = t.tracer.merged[info.path]
    fn = t.folded_in.get(info.path, ("", t.methods[0]))[1]
    method = fn if fn in t.methods else t.methods[0]
    note = Evidence("prim::Constant", f"torch's constant pooling merged its constant into the "
                    f"equal constant %{host}", None, method)
    if info.fate is Fate.INLINED:
        why = (f"{info.why} Torch's constant pooling merged its constant into the equal "
               f"constant %{host}, which holds the same values; that one constant stands for "
               "every attribute merged into it.")
    else:
        final = [st for st in t.stages if st.method == method][-1]
        why = (f"{info.why} Torch's constant pooling had merged its constant into the equal "
               f"constant %{host}: what the pass folded away was this attribute's use of it")
        if not host.isdigit() and final.graph.users(host):  # numbers change in copies
            why += f", and %{host} stays in the graph for other attributes of equal value"
        why += "."
    return replace(info, why=why, evidence=info.evidence + (note,))
