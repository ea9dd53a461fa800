"""Words and evidence for the rarer fates: constants a pass rewrote, state written inside a
torch.jit.fork body, None slots, state a preserved submodule method took from the root module,
and class constants. Also the stage lookups every fate story uses."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from freezeviz.data.fates import Fate
from freezeviz.data.report import AttributeInfo, Evidence
from freezeviz.data.snapshot import SourceLoc, Stage
from freezeviz.engine.torchscript import passes as P
from freezeviz.engine.torchscript.analysis import WriteEvidence, get_path, inventory, method_names, used_paths
from freezeviz.engine.torchscript.constants import safe_get

_MISSING = object()


def _loc(src) -> SourceLoc | None:
    return SourceLoc(*src) if src else None


def write_evidence(e: WriteEvidence) -> Evidence:
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


def stage_of(stages: list[Stage], name: str, method: str) -> Stage | None:
    for s in stages:
        if s.name == name and s.method == method:
            return s
    return None


_constants_cache: dict[int, tuple] = {}


def constant_for(stage: Stage | None, path: str) -> str | None:
    """The constant standing for ``path`` in this stage, if one is still used there (a pass
    such as remove_dropout may leave a constant behind with no users until a later DCE)."""
    if stage is None:
        return None
    found = constants_for(stage, path)
    return found[0] if found else None


def constants_for(stage: Stage | None, path: str) -> list[str]:
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

def storage_key(value):
    if isinstance(value, torch.Tensor) and not value.is_mkldnn:
        try:
            return value.untyped_storage().data_ptr()
        except Exception:
            return None
    return None


# --- rarer fates: rewritten constants, forks, None, submodule methods, class constants ------

@dataclass(frozen=True)
class EdgeFacts:
    """What the rarer fates need, gathered once per freeze."""

    rewrites: dict  # (method, stage name) -> {old constant: new constant}, optimize_for_inference
    fork_constants: tuple[str, ...]  # constants inside the prim::fork bodies of the frozen graphs
    used_modules: set  # attribute paths read by GetAttr in the inlined graphs
    shadowed: dict  # "sub.z" -> ("sub.helper", "z"): torch froze the root's `z` into sub.helper


def rewrite_story(seen: list[tuple[Stage, str, str]], final: Stage) -> str:
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




def none_note(cmod, path: str) -> str:
    try:
        value = get_path(cmod, path)
    except Exception:
        value = _MISSING
    return " Its value is None." if value is None else ""


def fork_constant_names(frozen_c, methods: list[str]) -> tuple[str, ...]:
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


def fork_writer(ws: list[WriteEvidence]) -> str:
    w = next((w for w in ws if "/fork" in w.graph), ws[0])
    where = f" at {SourceLoc(*w.source).short}" if w.source else ""
    how = "assigns it" if w.kind == "prim::SetAttr" else f"writes it in place ({w.kind})"
    return f"A call that {w.graph.split('/', 1)[0]}() runs with torch.jit.fork {how}{where}"


def forked_fate(s, ws: list[WriteEvidence], evid, edge: EdgeFacts, warnings) -> AttributeInfo:
    """Written inside a fork body, yet folded: the freezer analyses fork bodies on a copy of its
    state, so the write never reaches its decisions (FREEZE_INTERNALS.md, "Bug")."""
    path = s.path
    const = _fork_constant_for(path, edge.fork_constants)
    became = (f"the constant %{const} inside the fork body" if const
              else "a constant where it is read")
    lost = (f"{fork_writer(ws)}, but torch's freezer analyses fork bodies on a copy of its "
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
    owner = safe_get(cmod, owner_path) if owner_path else cmod
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


def none_fate(s, cmod, edge: EdgeFacts, evid) -> AttributeInfo:
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



def shadowed_by_root(cmod, names: list[str], slots) -> dict[str, tuple[str, str]]:
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


def shadow_story(info: AttributeInfo, shadow, warnings, cmod) -> AttributeInfo:
    if shadow is None:
        return info
    name, rel = shadow
    owner = name.rpartition(".")[0]
    warning = (f"torch.jit.freeze froze `{name}()` with the root module's `{rel}` "
               f"({_brief(safe_get(cmod, rel))}) in place of `{info.path}` "
               f"({_brief(safe_get(cmod, info.path))}): it looks up the state a preserved "
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
    modules = [("", cmod)] + [(s.path, safe_get(cmod, s.path))
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

