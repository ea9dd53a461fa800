"""Module-state analysis on torch graphs: attribute paths, writers (alias analysis), inventory.

Every answer comes from torch itself: ``graph.alias_db(isFrozen=True)`` (the analysis the
freezer runs), node schemas' write annotations (``Tensor(a!)``) and the module's own slots.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch

from .extract import iter_torch_nodes


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
    source: tuple[str, int] | None  # (file, line)
    via: str  # debug name of the value read from the attribute ("buf.1"), "" for SetAttr
    graph: str  # "forward", "forward/fork", ...
    # True when the written value is the state read itself or a view taken straight from it;
    # False when only the alias analysis' "may alias" (e.g. through a list) links them.
    direct: bool = True


def attribute_paths(graph, root_paths: dict[str, str] | None = None,
                    nodes: list | None = None) -> dict[str, str]:
    """Map value debug names to attribute paths for GetAttr chains starting at ``self``."""
    paths = dict(root_paths or {})
    if not paths:
        inputs = list(graph.inputs())
        if inputs and isinstance(inputs[0].type(), torch._C.ClassType):
            paths[inputs[0].debugName()] = ""
    for node in nodes if nodes is not None else iter_torch_nodes(graph):
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


def _source(node) -> tuple[str, int] | None:
    from .extract import source_of

    loc = source_of(node)
    return (loc.file, loc.line) if loc else None


def find_writers(graph, label: str, root_paths: dict[str, str] | None = None,
                 with_paths: bool = False):
    """Nodes that write module state in ``graph`` (SetAttr, or in-place writers of values that
    may alias an attribute read, per torch's alias analysis with ``isFrozen=True``).

    Returns ``(writes by node index, evidence list, alias_db)`` and, with ``with_paths``, the
    value-name -> attribute-path map as a fourth item.
    """
    nodes = iter_torch_nodes(graph)
    paths = attribute_paths(graph, root_paths, nodes)
    adb = graph.alias_db(isFrozen=True)
    read_values = []  # (torch value, path) for state reads that have writers
    for node in nodes:
        if node.kind() == "prim::GetAttr":
            out = node.output()
            path = paths.get(out.debugName())
            if path is not None and not _is_module_type(out.type()) and adb.has_writers(out):
                read_values.append((out, path))
    writes: dict[int, set[str]] = {}
    evidence: list[WriteEvidence] = []
    for idx, node in enumerate(nodes):
        kind = node.kind()
        if kind == "prim::SetAttr":
            owner = paths.get(node.inputsAt(0).debugName())
            if owner is not None:
                path = f"{owner}.{node.s('name')}" if owner else node.s("name")
                writes.setdefault(idx, set()).add(path)
                # SetAttr carries no source range; the value it stores does
                src = _source(node) or _source(node.inputsAt(1).node())
                evidence.append(WriteEvidence(path, idx, kind, src, "", label))
            continue
        if not read_values or kind.startswith("prim::"):
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
    writes_out = {k: tuple(sorted(v)) for k, v in writes.items()}
    if with_paths:
        return writes_out, evidence, adb, paths
    return writes_out, evidence, adb


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

    Memoised for the module object at hand (one freeze asks several times); the memo holds
    the module, so an id is never reused while its entry lives."""
    if not prefix:
        memo = _inventory_memo.get(id(cmod))
        if memo is not None and memo[0] is cmod:
            return memo[1]
        slots = _inventory(cmod, "")
        if len(_inventory_memo) > 8:
            _inventory_memo.clear()
        _inventory_memo[id(cmod)] = (cmod, slots)
        return slots
    return _inventory(cmod, prefix)


def _inventory(cmod, prefix: str) -> list[Slot]:
    it = torch._C._jit_debug_module_iterators(cmod)
    params = {n for n, _ in it["named_parameters"]}
    buffers = {n for n, _ in it["named_buffers"]}
    types = cmod._type().containedTypes()
    out: list[Slot] = []
    for (name, value), ty in zip(it["named_attributes"], types):
        if name in _HIDDEN:
            continue
        tytext = ty.annotation_str
        if isinstance(value, torch._C.ScriptModule):
            out.append(Slot(prefix + name, "module", _short_type(tytext)))
            out.extend(_inventory(value, prefix + name + "."))
        else:
            kind = "parameter" if name in params else "buffer" if name in buffers else "attribute"
            out.append(Slot(prefix + name, kind, tytext))
    return out


def get_path(cmod, path: str):
    value = cmod
    for part in path.split("."):
        value = value.getattr(part) if isinstance(value, torch._C.ScriptModule) else getattr(value, part)
    return value


def method_names(cmod) -> list[str]:
    return [m for m in cmod._method_names() if not m.startswith("__")]
