"""Each attribute's fate and the reason for it, taken from the freezer's own decisions.

Sources, in order of authority: what really survives on the frozen module (its slots), the
freezer's debug log ("Folding GetAttr %x with self.a.b", "attribute: n is set", "... has
inplace writer"), and torch's alias analysis of the inlined graphs (which node writes what).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from freezeviz.data.fates import Fate
from freezeviz.data.report import AttributeInfo, Evidence
from freezeviz.data.snapshot import SourceLoc, Stage
from freezeviz.engine.torchscript.analysis import (
    WriteEvidence,
    element_holders,
    inventory,
    method_names,
    preserved_submodule_methods,
    used_paths,
)
from freezeviz.engine.torchscript.constants import ConstantTracer, safe_get
from freezeviz.engine.torchscript.containers import Tracing, traced_story
from freezeviz.engine.torchscript.jitlog import FreezeDecisions
from freezeviz.engine.torchscript.stories import (
    EdgeFacts,
    constant_for,
    fork_constant_names,
    fork_writer,
    forked_fate,
    none_fate,
    none_note,
    rewrite_story,
    shadow_story,
    shadowed_by_root,
    stage_of,
    storage_key,
    write_evidence,
)


@dataclass(frozen=True)
class FateContext:
    """What deciding one attribute's fate needs, gathered once per freeze."""

    cmod: object  # the scripted module's torch._C.ScriptModule, before freezing
    survivors: set  # slot paths still on the frozen module
    requested: set  # attribute paths named in preserved_attrs
    written: dict  # path -> [WriteEvidence]
    folded_in: dict  # path -> (GetAttr value, function), from the freezer's log
    other_uses: dict  # path -> methods not kept that read it
    keeper_storage: dict  # storage of kept, written or requested tensors -> its path
    stages: list
    methods: list  # the methods analysed (forward and the preserved ones)
    warnings: list  # collects the report's warnings
    edge: EdgeFacts

    def under_requested(self, path: str) -> str | None:
        """The preserved submodule ``path`` lies in, if any."""
        for q in self.requested:
            if path.startswith(q + "."):
                return q
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
    written: dict[str, list[WriteEvidence]] = {}
    for e in evidence:
        written.setdefault(e.attribute, []).append(e)
    used_modules = {n.attribute for st in stages if st.name == "inlined"
                    for n in st.graph.iter_nodes() if n.kind == "prim::GetAttr" and n.attribute}
    sub_methods = preserved_submodule_methods(cmod, preserved)
    requested = {p for p in preserved if p not in method_names(cmod)}
    ctx = FateContext(
        cmod, survivors, requested, written,
        folded_in={path: (value, fn) for value, path, fn in decisions.folded},
        other_uses=_other_method_uses(cmod, methods),
        keeper_storage=_keeper_storage(cmod, slots, written, requested),
        stages=stages, methods=methods, warnings=[],
        edge=EdgeFacts(rewrites or {}, fork_constant_names(frozen_c, methods), used_modules,
                       shadowed_by_root(cmod, sub_methods, slots)))
    tracing = Tracing(tracer, stages, methods, ctx.folded_in, survivors, written, ctx.warnings,
                      element_holders(cmod, [s.path for s in slots if s.path in survivors
                                             and s.kind != "module"]))
    infos: list[AttributeInfo] = []
    for s in slots:
        if s.kind == "module":
            continue
        info = traced_story(_attribute_fate(s, ctx), tracing)
        infos.append(shadow_story(info, ctx.edge.shadowed.get(s.path), ctx.warnings, cmod))
    modules = _module_fates(slots, infos, ctx, sub_methods)
    order = {s.path: i for i, s in enumerate(slots)}
    return sorted(infos + modules, key=lambda a: order[a.path]), ctx.warnings


def _keeper_storage(cmod, slots, written, requested) -> dict:
    """Storages of kept, written or requested tensors, to explain aliasing survivors."""
    keeper_storage = {}
    for s in slots:
        if s.kind != "module" and (s.path in written or s.path in requested):
            key = storage_key(safe_get(cmod, s.path))
            if key:
                keeper_storage.setdefault(key, s.path)
    return keeper_storage


def _module_fates(slots, infos: list[AttributeInfo], ctx: FateContext,
                  sub_methods: list[str]) -> list[AttributeInfo]:
    """Fates of submodules, from where they survive and what became of the state inside."""
    by_path = {i.path: i for i in infos}
    method_owner = {name.rpartition(".")[0]: name for name in sub_methods}
    children: dict[str, list[str]] = {}
    for p in by_path:
        parts = p.split(".")
        for i in range(1, len(parts)):
            children.setdefault(".".join(parts[:i]), []).append(p)
    modules = []
    for s in slots:
        if s.kind != "module":
            continue
        inside = children.get(s.path, [])
        if s.path in ctx.survivors:
            fate, why = _kept_module_fate(s.path, inside, by_path, ctx, method_owner)
        elif s.path in ctx.edge.used_modules or \
                any(by_path[p].fate in (Fate.INLINED, Fate.FOLDED) for p in inside):
            fate, why = Fate.INLINED, (
                "Its code was inlined into the calling method and the state it uses became "
                "constants, so the frozen module no longer holds it.")
        else:
            fate, why = Fate.REMOVED_UNUSED, _unused_why(s.path, ctx.other_uses)
        modules.append(AttributeInfo(s.path, "module", s.type, fate, why))
    return modules


def _kept_module_fate(path: str, inside: list[str], by_path: dict, ctx: FateContext,
                      method_owner: dict) -> tuple[Fate, str]:
    if path in ctx.requested:
        return Fate.PRESERVED_REQUESTED, (
            "You named it in preserved_attrs, so the frozen module keeps this submodule "
            "and everything in it.")
    if path in method_owner:
        return Fate.PRESERVED_REQUESTED, (
            f"You named its method `{method_owner[path]}` in preserved_attrs, so the "
            "frozen module keeps this submodule to hold that method.")
    if (q := ctx.under_requested(path)):
        return Fate.PRESERVED_REQUESTED, (
            f"It is inside `{q}`, which you named in preserved_attrs; the freezer keeps a "
            "preserved submodule whole.")
    kept = [p for p in inside if p in ctx.survivors and by_path[p].fate != Fate.KEPT_SUBMODULE]
    if kept:
        return Fate.KEPT_SUBMODULE, (
            "The frozen module still holds it because state inside it had to be kept: "
            + ", ".join(f"`{p}`" for p in kept[:5]) + ".")
    return Fate.KEPT_SUBMODULE, (
        "A kept graph still uses this submodule itself (for example a method "
        "returns it), so the freezer keeps it whole.")


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


def _unused_why(path: str, other_uses: dict[str, list[str]]) -> str:
    methods = other_uses.get(path)
    if methods:
        names = ", ".join(f"{m}()" for m in methods)
        first = methods[0]
        return (f"Only {names} uses it, and that method is not preserved, so the freezer removed "
                f"both. Add {first!r} to preserved_attrs to keep the method and what it uses.")
    return "No preserved method reads it, so the freezer removed it."


def _attribute_fate(s, ctx: FateContext) -> AttributeInfo:
    evid = tuple(dict.fromkeys(write_evidence(e) for e in ctx.written.get(s.path, ())))
    if s.path in ctx.survivors:
        return _survivor_fate(s, ctx, evid)
    if s.path in ctx.folded_in:
        return _folded_fate(s, ctx, evid)
    return _removed_fate(s, ctx, evid)


def _in_fork(path: str, ctx: FateContext) -> bool:
    return any("/fork" in e.graph for e in ctx.written.get(path, ()))


# --- state the frozen module still holds ---------------------------------------------------

def _survivor_fate(s, ctx: FateContext, evid: tuple) -> AttributeInfo:
    path = s.path
    if path in ctx.requested:
        return AttributeInfo(path, s.kind, s.type, Fate.PRESERVED_REQUESTED,
                             "You named it in preserved_attrs, so the freezer keeps it as "
                             "module state instead of inlining it.", evid)
    if (q := ctx.under_requested(path)):
        return AttributeInfo(path, s.kind, s.type, Fate.PRESERVED_REQUESTED,
                             f"It is inside `{q}`, which you named in preserved_attrs; the "
                             "freezer keeps a preserved submodule whole.", evid)
    if path in ctx.written:
        return AttributeInfo(path, s.kind, s.type, Fate.PRESERVED_MUTATED,
                             _written_why(ctx.written[path]), evid)
    key = storage_key(safe_get(ctx.cmod, path))
    partner = ctx.keeper_storage.get(key) if key else None
    if partner and partner != path:
        return AttributeInfo(
            path, s.kind, s.type, Fate.PRESERVED_MUTATED,
            f"It shares memory with `{partner}`, which is "
            f"{'written' if partner in ctx.written else 'preserved'}; the freezer keeps every "
            "attribute that aliases a preserved value, since a constant copy would go stale.",
            evid)
    owner = path.rsplit(".", 1)[0] if "." in path else ""
    if owner and owner in ctx.survivors:
        return AttributeInfo(
            path, s.kind, s.type, Fate.KEPT_SUBMODULE,
            f"It belongs to `{owner}`, which a kept graph uses as a whole module, so the "
            "freezer keeps all of its state.", evid)
    return AttributeInfo(
        path, s.kind, s.type, Fate.PRESERVED_MUTATED,
        "The freezer could not inline it (its log says it is mutable) and the frozen module "
        "still holds it.", evid)


def _written_why(ws: list[WriteEvidence]) -> str:
    first = next((w for w in ws if w.direct), ws[0])
    where = f" at {SourceLoc(*first.source).short}" if first.source else ""
    method = first.graph.split("/", 1)[0]
    if first.direct:
        how = ("assigns it" if first.kind == "prim::SetAttr"
               else f"writes it in place ({first.kind})")
        return (f"{method}() {how}{where}, so the freezer keeps it as module state: a "
                "constant could not change between calls.")
    return (f"Nothing in {method}() writes it directly, but torch's alias analysis "
            f"cannot rule out that {first.kind}{where} writes memory it shares (the "
            "value it was read into flows into a list, a tuple or an op whose output "
            "may alias it), so the freezer conservatively keeps it as module state. "
            "It stays a parameter of the frozen module rather than a constant.")


# --- state the freezer inlined -------------------------------------------------------------

def _folded_fate(s, ctx: FateContext, evid: tuple) -> AttributeInfo:
    path = s.path
    value_name, fn = ctx.folded_in[path]
    method = fn if fn in ctx.methods else ctx.methods[0]
    frozen_stage = stage_of(ctx.stages, "frozen", method)
    evid = evid + (_read_evidence(stage_of(ctx.stages, "inlined", method), value_name, fn),)
    if _in_fork(path, ctx):
        return forked_fate(s, ctx.written[path], evid, ctx.edge, ctx.warnings)
    const_frozen = constant_for(frozen_stage, path)
    if const_frozen is None:
        return AttributeInfo(
            path, s.kind, s.type, Fate.INLINED,
            f"{fn}() only reads it and nothing writes it, so the freezer inlined its value; "
            "its own clean-up (constant propagation, dead-code elimination) then used the "
            "value up, so no constant for it is left in the graph.", evid, warning=None)
    method_stages = [st for st in ctx.stages if st.method == frozen_stage.method]
    start = method_stages.index(frozen_stage)
    gone_at, last_const, renamed, rewrites_seen = _follow_constant(
        path, const_frozen, method_stages[start + 1:], ctx.edge.rewrites)
    if gone_at is None:
        rewritten = ""
        if renamed is not None and renamed != const_frozen:
            rewritten = (f" Later passes rewrote that constant into %{renamed}: the name "
                         "records each fold it went through.")
        rewritten += rewrite_story(rewrites_seen, method_stages[-1])
        return AttributeInfo(
            path, s.kind, s.type, Fate.INLINED,
            f"{fn}() only reads it and nothing writes it, so the freezer inlined it as the "
            f"constant %{const_frozen}.{rewritten}{none_note(ctx.cmod, path)}", evid,
            constant=last_const, warning=None,
            rewritten_by=rewrites_seen[-1][0].name if rewrites_seen else None)
    return AttributeInfo(
        path, s.kind, s.type, Fate.FOLDED,
        f"The freezer inlined it as the constant %{last_const}; then the pass "
        f"`{gone_at.name}` folded that constant away ({gone_at.description.rstrip('.')}).",
        evid, constant=None, folded_by=gone_at.name, warning=None)


def _read_evidence(inlined_stage: Stage | None, value_name: str, fn: str) -> Evidence:
    """Where the method read the attribute the freezer folded (its first located use)."""
    first_use = None
    if inlined_stage is not None:
        users = inlined_stage.graph.users(value_name)
        first_use = next((u for u in users if u.source), users[0] if users else None)
    return Evidence("prim::GetAttr", f"read as %{value_name} in {fn}()"
                    + (f" by {first_use.kind}" if first_use else ""),
                    first_use.source if first_use else None, fn)


def _follow_constant(path: str, const_frozen: str, later: list[Stage], rewrites: dict):
    """Follow ``path``'s constant through the stages after freezing: (stage where it went or
    None, its last name, its name after the fold passes before any rewrite, the rewrites
    seen as (stage, old constant, new constant))."""
    last_const = const_frozen
    renamed = None
    rewrites_seen: list[tuple[Stage, str, str]] = []
    for st in later:
        new = rewrites.get((st.method, st.name), {}).get(last_const)
        if new is not None and st.graph.users(new):
            rewrites_seen.append((st, last_const, new))
            last_const = new
            continue
        c = constant_for(st, path)
        if c is None and rewrites_seen and st.graph.users(last_const):
            c = last_const  # a rewritten constant the snapshot holds no value for (MKLDNN)
        if c is None:
            return st, last_const, renamed, rewrites_seen
        if not rewrites_seen:
            renamed = c
        last_const = c
    return None, last_const, renamed, rewrites_seen


# --- state the freezer removed -------------------------------------------------------------

def _removed_fate(s, ctx: FateContext, evid: tuple) -> AttributeInfo:
    path = s.path
    warning = None
    why = _unused_why(path, ctx.other_uses)
    if _in_fork(path, ctx):
        warning = (f"`{path}` is written inside a torch.jit.fork body, yet torch's freezer removed "
                   "it (it analyses fork bodies on a copy of its state). The frozen module will "
                   f"fail when the fork runs. Preserve it explicitly (preserved_attrs=[{path!r}]) "
                   "or move the write out of the forked function.")
        ctx.warnings.append(warning)
        why = (f"{fork_writer(ctx.written[path])}, but torch's freezer analyses fork bodies on a "
               "copy of its state, so it never saw that write; no kept graph reads it otherwise, "
               "so the freezer removed it, and the frozen module fails when the fork runs.")
    elif s.type == "NoneType":
        return none_fate(s, ctx.cmod, ctx.edge, evid)
    elif path in ctx.written:
        first = ctx.written[path][0]
        where = f" at {SourceLoc(*first.source).short}" if first.source else ""
        why = (f"{first.graph}() writes it{where}, but only in code that freezing removed: a "
               "branch on a value that became a constant (such as `self.training`) was dropped, "
               "and with it every use, so the freezer removed it as unused.")
    return AttributeInfo(path, s.kind, s.type, Fate.REMOVED_UNUSED, why, evid, warning=warning)
