"""Which attributes each constant of a frozen graph stands for: by identity (the freezer's
constants share memory with the module's tensors), by the freezer's naming, and through
constant pooling, which merges constants of equal value."""

from __future__ import annotations

import torch

from freezeviz.engine.torchscript.analysis import (
    attribute_paths,
    container_tensors,
    element_holders,
    get_path,
    tensor_identity,
)
from freezeviz.engine.torchscript.jitlog import FreezeDecisions

_MISSING = object()


def safe_get(cmod, path, default=None):
    """The value at ``path`` on ``cmod``, or ``default`` when it cannot be read."""
    try:
        return get_path(cmod, path)
    except Exception:
        return default


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

    def __init__(self, cmod, decisions: FreezeDecisions, inlined_graphs: dict | None = None):
        self.cmod = cmod
        self.folded = decisions.folded_paths
        # method -> its inlined graph, before freezing (read, never changed)
        self.inlined_graphs = dict(inlined_graphs or {})
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
            value = safe_get(self.cmod, path)
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
            key = tensor_identity(safe_get(self.cmod, path))
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
        equal = _EqualConstants(consts)
        candidates = []
        for path in sorted(self.folded - named):
            value = safe_get(self.cmod, path, _MISSING)
            if value is _MISSING or isinstance(value, torch._C.ScriptModule):
                continue
            host = equal.first(value)
            if host is not None:
                candidates.append((path, host))
        if candidates:
            self._read_keys()
            # an equal constant absorbed it only if what read it is still there; otherwise
            # its constant was simply used up (a branch dropped, constant propagation)
            kinds = {k[0] for path, _ in candidates for k in self.reads.get(path, ())}
            alive = {(kind, n.sourceRange()) for kind in kinds
                     for n in graph.findAllNodes(kind)}
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
        for g in self.inlined_graphs.values():
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
                  for label, t in container_tensors(safe_get(self.cmod, path)) if label}
        out = []
        for n in graph.findAllNodes("prim::Constant"):
            if n.hasAttribute("value") and n.kindOf("value") == "t" and n.output().uses():
                label = labels.get(tensor_identity(n.t("value")))
                if label:
                    out.append((n.output().debugName(), label))
        return out


class _EqualConstants:
    """The first used constant (in graph order) equal to a value, as ``_same_value`` says.

    Scalars and None are looked up in an index built once: a deep model has hundreds of
    scalar attributes (``num_heads``, ``eps``, ``training``) and hundreds of scalar constants,
    and comparing each attribute with each constant grew with the square of the depth."""

    def __init__(self, consts: list):
        self.by_shape: dict = {}
        for n in consts:
            self.by_shape.setdefault(_shape_key(n), []).append(n)
        self._scalars: dict | None = None

    def first(self, value):
        key = _scalar_key(value)
        if key is None:
            return next((n for n in self.by_shape.get(_shape_key(value), ())
                         if n.hasUses() and _same_value(n, value)), None)
        if self._scalars is None:
            self._scalars = {}
            for n in self.by_shape.get("other", ()):
                k = _constant_scalar_key(n) if n.hasUses() else None
                if k is not None:
                    self._scalars.setdefault(k, n)
        return self._scalars.get(key)


_SCALAR_TYPES = (bool, int, float, str)


def _scalar_key(value):
    """A key equal for values ``_equal_values`` calls equal (same type, ==), or None."""
    if value is None:
        return ("none",)
    if type(value) in _SCALAR_TYPES and value == value:  # NaN equals nothing
        return (type(value), value)
    return None


def _constant_scalar_key(node):
    if not node.hasAttribute("value"):
        return ("none",)
    if node.kindOf("value") == "t":
        return None
    try:
        value = node.output().toIValue()
    except Exception:
        return None
    return _scalar_key(value) if value is not None else None


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


def trace_constants(cmod, frozen_c, decisions, inlined_graphs: dict) -> ConstantTracer:
    """The tracer of a freeze, knowing the pooling in each method's frozen graph.
    ``inlined_graphs``: method -> its inlined graph before freezing."""
    tracer = ConstantTracer(cmod, decisions, inlined_graphs)
    for m in inlined_graphs:
        tracer.learn(frozen_c._get_method(m).graph)
    return tracer
