"""Stories of state reached through lists, tuples and dicts (nn.LSTM's ``_flat_weights``), and
of constants torch's constant pooling merged."""

from __future__ import annotations

from dataclasses import dataclass, replace

from freezeviz.data.fates import Fate
from freezeviz.data.report import AttributeInfo, Evidence
from freezeviz.data.snapshot import SourceLoc
from freezeviz.engine.torchscript.analysis import WriteEvidence, container_tensors
from freezeviz.engine.torchscript.constants import ConstantTracer, safe_get
from freezeviz.engine.torchscript.stories import constant_for, constants_for, stage_of, write_evidence

# --- state reached through lists, tuples and dicts; constants merged by pooling ------------

@dataclass(frozen=True)
class Tracing:
    """What the stories of traced constants need, gathered once per freeze."""

    tracer: ConstantTracer
    stages: list
    methods: list
    folded_in: dict  # path -> (GetAttr value, function), from the freezer's log
    survivors: set
    written: dict
    warnings: list
    kept_elements: dict  # path -> [(kept container, label)] for tensors of surviving containers


def traced_story(info: AttributeInfo, t: Tracing) -> AttributeInfo:
    """Tell what identity tracing found: state reached only through a container, containers
    whose elements are written in place or were taken apart, constants merged by pooling."""
    if info.fate is Fate.REMOVED_UNUSED and (info.path in t.tracer.elements
                                             or info.path in t.kept_elements):
        info = _element_fate(info, t)
    if info.path in t.folded_in and info.fate in (Fate.INLINED, Fate.FOLDED):
        info = _container_story(info, t)
    if info.path in t.tracer.merged and info.fate in (Fate.INLINED, Fate.FOLDED) \
            and safe_get(t.tracer.cmod, info.path) is not None:  # every None is the same
        info = _pooling_story(info, t)
    return info


def _follow(path: str, stages: list, method: str):
    """(constant at the frozen stage, constant at the end, stage where it went) for ``path``."""
    frozen_stage = stage_of(stages, "frozen", method)
    first = constant_for(frozen_stage, path)
    if first is None:
        return None, None, None
    method_stages = [st for st in stages if st.method == method]
    last = first
    for st in method_stages[method_stages.index(frozen_stage) + 1:]:
        c = constant_for(st, path)
        if c is None:
            return first, last, st
        last = c
    return first, last, None


def _holding(stages: list, method: str, name: str) -> str:
    """``the constant %x`` for a tensor, ``the constant list %x`` for a container."""
    st = stage_of(stages, "frozen", method)
    value = st.graph.value(name) if st is not None else None
    node = st.graph.producer(name) if st is not None else None
    if node is not None and node.constant is not None and node.constant.kind == "tensor":
        return f"the constant %{name}"
    ty = value.type if value is not None else ""
    kind = ("list" if ty.startswith("List[") or ty.endswith("[]") else
            "tuple" if ty.startswith(("Tuple[", "(")) else "dict" if ty.startswith("Dict[") else "")
    return f"the constant {kind} %{name}".replace("  ", " ")


def _element_fate(info: AttributeInfo, t: Tracing) -> AttributeInfo:
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
    evid = info.evidence + tuple(dict.fromkeys(write_evidence(e)
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


def _element_writes(container: str, label: str | None, t: Tracing) -> list[WriteEvidence]:
    """Writes through elements of ``container`` (element ``label``, or any when None)."""
    return [e for e in t.written.get(container, ())
            if e.element and (label is None or e.element in (label, "[i]"))]


def _element_write_head(container: str, label: str | None, t: Tracing) -> str:
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


def _element_write_note(container: str, label: str | None, t: Tracing) -> str:
    head = _element_write_head(container, label, t)
    return (f" {head}, so the freezer inlined `{container}` all the same: the writes land on "
            "that constant, shared by every call." if head else "")


def _container_story(info: AttributeInfo, t: Tracing) -> AttributeInfo:
    """A list, tuple or dict the freezer inlined: elements written in place, or elements
    constant propagation took out into constants of their own."""
    path = info.path
    head = _element_write_head(path, None, t)
    if head:
        return _unseen_element_write(info, head, t)
    elements = container_tensors(safe_get(t.tracer.cmod, path))
    if info.fate is not Fate.INLINED or info.constant is None or not elements \
            or not elements[0][0]:
        return info
    fn = t.folded_in[path][1]
    final = [st for st in t.stages if st.method == (fn if fn in t.methods else t.methods[0])][-1]
    parts = []
    for name in constants_for(final, path):
        node = final.graph.producer(name)
        if node is not None and node.constant is not None and node.constant.kind == "tensor":
            parts.append(f"%{name}")
    if not parts:
        return info
    return replace(info, why=info.why + (
        " Constant propagation then took its elements out of the container into constants of "
        f"their own: {', '.join(parts)}."))


def _unseen_element_write(info: AttributeInfo, head: str, t: Tracing) -> AttributeInfo:
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


def _pooling_story(info: AttributeInfo, t: Tracing) -> AttributeInfo:
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
