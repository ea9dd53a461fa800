"""Module-state analysis on torch graphs: attribute paths, writers (alias analysis), inventory.

Every answer comes from torch itself: ``graph.alias_db(isFrozen=True)`` (the analysis the
freezer runs), node schemas' write annotations (``Tensor(a!)``) and the module's own slots.
"""

from __future__ import annotations

import weakref

import functools
from dataclasses import dataclass

import torch

from freezeviz.engine.torchscript.extract import iter_torch_nodes
from freezeviz.engine.torchscript.sources import AssignmentLocator


@functools.lru_cache(maxsize=4096)
def _written_positions(schema: str) -> tuple[int, ...]:
    try:
        parsed = torch._C.parse_schema(schema)
    except Exception:
        return ()
    return tuple(i for i, a in enumerate(parsed.arguments)
                 if a.alias_info is not None and a.alias_info.is_write)


def _is_module_type(ty) -> bool:
    # modules and interfaces are plumbing; their own slots are what holds state
    return isinstance(ty, (torch._C.ClassType, torch._C.InterfaceType))


@dataclass(frozen=True)
class WriteEvidence:
    """One node that writes module state."""

    attribute: str
    node_index: int  # program order within the analysed graph
    kind: str  # "aten::add_", "prim::SetAttr", ...
    # SourceLoc's fields (file, line, col, code, cell): rebuilt with SourceLoc(*source)
    source: tuple | None
    via: str  # debug name of the value read from the attribute ("buf.1"), "" for SetAttr
    graph: str  # "forward", "forward/fork", ...
    # True when the written value is the state read itself or a view taken straight from it;
    # False when only the alias analysis' "may alias" (e.g. through a list) links them.
    direct: bool = True
    # The element written ("[0]", "['k']", "[i]") when the write goes through an element of a
    # list, tuple or dict attribute; torch's alias analysis does not count those as writes of
    # the attribute, so the freezer may inline it all the same.
    element: str = ""


def attribute_paths(graph, root_paths: dict[str, str] | None = None,
                    nodes: list | None = None) -> dict[str, str]:
    """Map value debug names to attribute paths for GetAttr chains starting at ``self``."""
    paths = dict(root_paths or {})
    if not paths:
        inputs = list(graph.inputs())
        if inputs and isinstance(inputs[0].type(), torch._C.ClassType):
            paths[inputs[0].debugName()] = ""
    # findAllNodes walks in C++, in program order (a node before the nodes of its blocks),
    # so each GetAttr chain's owner comes before its members, as in a Python walk
    for node in nodes if nodes is not None else graph.findAllNodes("prim::GetAttr"):
        if node.kind() == "prim::GetAttr":
            owner = paths.get(node.inputsAt(0).debugName())
            if owner is not None:
                name = node.s("name")
                paths[node.output().debugName()] = f"{owner}.{name}" if owner else name
    return paths


def used_paths(graph) -> set[str]:
    """Attribute paths a graph reads (GetAttr) or assigns (SetAttr)."""
    paths = attribute_paths(graph)
    used = {p for p in paths.values() if p}
    for node in iter_torch_nodes(graph):
        if node.kind() == "prim::SetAttr":
            owner = paths.get(node.inputsAt(0).debugName())
            if owner is not None:
                used.add(f"{owner}.{node.s('name')}" if owner else node.s("name"))
    return used


def _fields(loc) -> tuple | None:
    return (loc.file, loc.line, loc.col, loc.code, loc.cell) if loc else None


def _source(node) -> tuple | None:
    from freezeviz.engine.torchscript.extract import source_of

    return _fields(source_of(node))


def find_writers(graph, label: str, root_paths: dict[str, str] | None = None,
                 with_paths: bool = False):
    """Nodes that write module state in ``graph`` (SetAttr, or in-place writers of values that
    may alias an attribute read, per torch's alias analysis with ``isFrozen=True``).

    Returns ``(writes by node index, evidence list, alias_db)`` and, with ``with_paths``, the
    value-name -> attribute-path map as a fourth item.
    """
    # findAllNodes walks in C++; every node is walked from Python only when some state read
    # has writers or the graph assigns attributes (node indices are program order)
    getattrs = graph.findAllNodes("prim::GetAttr")
    paths = attribute_paths(graph, root_paths, getattrs)
    adb = graph.alias_db(isFrozen=True)
    read_values = []  # (torch value, path) for state reads that have writers
    element_reads = {}  # value name -> path, for containers read without writers of their own
    for node in getattrs:
        out = node.output()
        path = paths.get(out.debugName())
        if path is None or _is_module_type(out.type()):
            continue
        if adb.has_writers(out):
            read_values.append((out, path))
        elif _is_container_type(out.type()):
            element_reads[out.debugName()] = path
    writes: dict[int, set[str]] = {}
    evidence: list[WriteEvidence] = []
    nodes = iter_torch_nodes(graph) if read_values or element_reads or \
        graph.findAllNodes("prim::SetAttr") else []
    assignments = None
    for idx, node in enumerate(nodes):
        kind = node.kind()
        if kind == "prim::SetAttr":
            owner = paths.get(node.inputsAt(0).debugName())
            if owner is not None:
                path = f"{owner}.{node.s('name')}" if owner else node.s("name")
                writes.setdefault(idx, set()).add(path)
                # SetAttr carries no source range, and the value it stores may come from
                # another line (a pooled constant's range is its first use): find the statement
                assignments = assignments or AssignmentLocator(nodes)
                src = _fields(assignments.locate(idx))
                evidence.append(WriteEvidence(path, idx, kind, src, "", label))
            continue
        if not (read_values or element_reads) or kind.startswith("prim::"):
            continue
        try:
            schema = node.schema()
        except Exception:
            continue
        if "!" not in schema:
            continue
        for pos in _written_positions(schema):
            if pos >= node.inputsSize():
                continue
            arg = node.inputsAt(pos)
            for value, path in read_values:
                if adb.may_contain_alias(arg, value):
                    if path not in writes.get(idx, ()):
                        writes.setdefault(idx, set()).add(path)
                        evidence.append(WriteEvidence(path, idx, kind, _source(node),
                                                      value.debugName(), label,
                                                      _is_direct(arg, value)))
            for via, path, element in _elements_written(arg, element_reads):
                if path not in writes.get(idx, ()):
                    writes.setdefault(idx, set()).add(path)
                    evidence.append(WriteEvidence(path, idx, kind, _source(node), via, label,
                                                  True, element))
    writes_out = {k: tuple(sorted(v)) for k, v in writes.items()}
    if with_paths:
        return writes_out, evidence, adb, paths
    return writes_out, evidence, adb


_ELEMENT_OPS = {"aten::__getitem__", "prim::TupleIndex", "prim::ListUnpack",
                "prim::TupleUnpack", "prim::DictIndex", "aten::values"}


def _is_container_type(ty) -> bool:
    return isinstance(ty, (torch._C.ListType, torch._C.TupleType, torch._C.DictType))


def _elements_written(arg, element_reads: dict[str, str]) -> list[tuple[str, str, str]]:
    """(container value, attribute path, element) when ``arg`` is an element of a container
    read from module state, or a view taken straight from one (``self.ws[0][1:]``)."""
    if not element_reads:
        return []
    value = arg
    for _ in range(8):  # views of views of an element
        producer = value.node()
        if producer.inputsSize() == 0:
            return []
        source = producer.inputsAt(0)
        if producer.kind() in _ELEMENT_OPS:
            path = element_reads.get(source.debugName())
            return [(source.debugName(), path, _element_label(producer, value))] if path else []
        if not _is_view(producer):
            return []
        value = source
    return []


def _is_view(node) -> bool:
    try:
        return _returns_alias_of_self(node.schema())
    except Exception:
        return False


@functools.lru_cache(maxsize=4096)
def _returns_alias_of_self(schema: str) -> bool:
    """The op returns memory of its first argument (a view, or an in-place op's result)."""
    try:
        parsed = torch._C.parse_schema(schema)
    except Exception:
        return False
    if not parsed.arguments or not parsed.returns:
        return False
    a, r = parsed.arguments[0].alias_info, parsed.returns[0].alias_info
    return a is not None and r is not None and bool(set(a.before_set) & set(r.before_set))


def _element_label(producer, value) -> str:
    if producer.kind() in ("prim::ListUnpack", "prim::TupleUnpack"):
        return f"[{list(producer.outputs()).index(value)}]" if value in list(producer.outputs()) \
            else "[i]"
    if producer.inputsSize() > 1:
        index = producer.inputsAt(1)
        if index.node().kind() == "prim::Constant":
            try:
                return f"[{index.toIValue()!r}]"
            except Exception:
                pass
    if producer.kind() == "prim::TupleIndex" and producer.hasAttribute("index"):
        return f"[{producer.i('index')}]"
    return "[i]"


def _is_direct(arg, value) -> bool:
    """The written value is ``value`` or a view op applied straight to it (``self.b[0:2]``)."""
    if arg.debugName() == value.debugName():
        return True
    producer = arg.node()
    return producer.inputsSize() > 0 and producer.inputsAt(0).debugName() == value.debugName()


def fork_subgraphs(graph, label: str, paths: dict[str, str] | None = None):
    """(subgraph, root_paths, label) for each ``prim::fork`` body, already inlined.

    The freezer analyses fork bodies too (on a copy of its state, see FREEZE_INTERNALS)."""
    forks = graph.findAllNodes("prim::fork")
    if not forks:
        return []
    paths = paths if paths is not None else attribute_paths(graph)
    out = []
    for i, node in enumerate(forks):
        sub = node.g("Subgraph")
        torch._C._jit_pass_inline(sub)
        roots = {}
        for outer, inner in zip(node.inputs(), sub.inputs()):
            p = paths.get(outer.debugName())
            if p is not None:
                roots[inner.debugName()] = p
        out.append((sub, roots, f"{label}/fork{i}"))
    return out


# --- the module tree ---------------------------------------------------------------------

@dataclass(frozen=True)
class Slot:
    path: str
    kind: str  # parameter, buffer, attribute, module
    type: str


# nn.Module bookkeeping that every module carries; freezing always drops it.
_HIDDEN = {"_is_full_backward_hook"}


def _short_type(text: str) -> str:
    """``__torch__.torch.nn.modules.conv.___torch_mangle_3.Conv2d`` -> ``Conv2d``."""
    return text.rsplit(".", 1)[-1]


_inventory_memo: dict[int, tuple] = {}


def inventory(cmod, prefix: str = "") -> list[Slot]:
    """Every slot of a ``torch._C.ScriptModule`` tree (works on frozen modules too).

    Memoised for the module object at hand (one freeze asks several times). The memo holds
    the module weakly: it keeps no frozen module (and its weights) alive, and an entry whose
    module is gone never answers for a new object at the same address."""
    if not prefix:
        memo = _inventory_memo.get(id(cmod))
        if memo is not None and memo[0]() is cmod:
            return memo[1]
        slots = _inventory(cmod, "")
        if len(_inventory_memo) > 8:
            _inventory_memo.clear()
        try:
            _inventory_memo[id(cmod)] = (weakref.ref(cmod), slots)
        except TypeError:  # an object without weak references: no memo
            pass
        return slots
    return _inventory(cmod, prefix)


def _inventory(cmod, prefix: str) -> list[Slot]:
    """One walk of torch's recursive attribute list (each module's own lists are recursive
    too: asking every submodule would read each subtree once per module above it)."""
    it = torch._C._jit_debug_module_iterators(cmod)
    params = {n for n, _ in it["named_parameters_r"]}
    buffers = {n for n, _ in it["named_buffers_r"]}
    types = {"": cmod._type().containedTypes()}  # module path -> its slots' types, in order
    taken: dict[str, int] = {}  # module path -> slots of it seen so far
    out: list[Slot] = []
    for path, value in it["named_attributes_r"]:  # a module's slots, each followed by its own
        owner, _, name = path.rpartition(".")
        i = taken.get(owner, 0)
        taken[owner] = i + 1
        if name in _HIDDEN:
            continue
        tytext = types[owner][i].annotation_str
        if isinstance(value, torch._C.ScriptModule):
            types[path] = value._type().containedTypes()
            out.append(Slot(prefix + path, "module", _short_type(tytext)))
        else:
            kind = "parameter" if path in params else "buffer" if path in buffers else "attribute"
            out.append(Slot(prefix + path, kind, tytext))
    return out


def get_path(cmod, path: str):
    value = cmod
    for part in path.split("."):
        value = value.getattr(part) if isinstance(value, torch._C.ScriptModule) else getattr(value, part)
    return value


def method_names(cmod) -> list[str]:
    return [m for m in cmod._method_names() if not m.startswith("__")]


# --- state inside lists, tuples and dicts ------------------------------------------------

def tensor_identity(t) -> tuple | None:
    """The memory and view of a tensor. The freezer's constants share memory with the module's
    tensors, so this finds an attribute's tensor again in a frozen graph, whatever other
    tensor happens to hold equal values. None where memory says nothing (empty or MKLDNN)."""
    if not isinstance(t, torch.Tensor) or t.is_mkldnn or t.numel() == 0:
        return None
    try:
        return (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape),
                tuple(t.stride()), t.dtype)
    except Exception:  # tensors without plain storage (quantized, sparse, ...)
        return None


def container_tensors(value, label: str = "") -> list[tuple[str, torch.Tensor]]:
    """The tensors in a value: itself (label "") or the elements of a list, tuple or dict,
    nested, labelled as Python would index them: ``[0]``, ``['k']``, ``[1][0]``."""
    if isinstance(value, torch.Tensor):
        return [(label, value)]
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, (list, tuple)):
        items = list(enumerate(value))
    else:
        return []
    out = []
    for key, item in items:
        out.extend(container_tensors(item, f"{label}[{key!r}]"))
    return out


def element_holders(cmod, containers) -> dict[str, list[tuple[str, str]]]:
    """Attributes whose tensor is an element of one of ``containers`` (paths of list, tuple or
    dict attributes): path -> [(container path, element label)]. nn.LSTM and nn.GRU read their
    weights only this way, through the list ``_flat_weights``."""
    where: dict[tuple, list[tuple[str, str]]] = {}
    for c in containers:
        try:
            value = get_path(cmod, c)
        except Exception:
            continue
        for label, t in container_tensors(value):
            key = tensor_identity(t)
            if key is not None and label:
                where.setdefault(key, []).append((c, label))
    if not where:
        return {}
    out: dict[str, list[tuple[str, str]]] = {}
    for slot in inventory(cmod):
        if slot.kind == "module" or slot.path in containers:
            continue
        try:
            key = tensor_identity(get_path(cmod, slot.path))
        except Exception:
            continue
        if key in where:
            out[slot.path] = where[key]
    return out


def preserved_submodule_methods(cmod, preserved) -> list[str]:
    """Names in ``preserved`` that are methods of submodules (``"sub.helper"``). torch freezes
    such a method as if it belonged to the root module (FREEZE_INTERNALS.md, errors)."""
    out = []
    for name in preserved:
        if not isinstance(name, str) or "." not in name:
            continue
        owner, _, leaf = name.rpartition(".")
        try:
            sub = get_path(cmod, owner)
        except Exception:
            sub = None
        if isinstance(sub, torch._C.ScriptModule) and sub._has_method(leaf) and \
                name not in {s.path for s in inventory(cmod)}:
            out.append(name)
    return out
