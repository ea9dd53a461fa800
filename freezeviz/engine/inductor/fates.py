"""Each parameter and buffer's fate under Inductor freezing, with why and evidence.

The decision is torch's: ``replace_params_with_constants`` keeps an input when the graph
writes it (``MUTATED_IN_GRAPH`` / ``MUTATED_OUT_GRAPH``) or an output aliases it, and makes
every other one a constant. What became of the constant afterwards comes from the frozen
graph and the lineage the engine rebuilt through each ``constant_fold``.
"""

from __future__ import annotations

from freezeviz.data.fates import Fate
from freezeviz.data.report import AttributeInfo, Evidence
from freezeviz.engine.inductor.recorder import Recorder


def decide_fates(model, comp) -> list[AttributeInfo]:
    rec: Recorder = comp.rec
    read = {rec.flat_to_path.get(str(n.target))
            for n in rec.dynamo_gm.graph.find_nodes(op="get_attr")}
    place = {path: name for name, path in rec.placeholder_path.items()}
    final_inputs = set(comp.runner.names)
    out = []
    for kind, named in (("parameter", model.named_parameters(remove_duplicate=False)),
                        ("buffer", model.named_buffers(remove_duplicate=False))):
        for path, _ in named:
            primary = _primary(rec, path)
            info = _decide(rec, primary, read, place, final_inputs)
            why = info[1] if primary == path else (
                f"It is the same tensor as {primary} (tied weights), so it shares its fate: "
                + info[1])
            out.append(AttributeInfo(path, kind, "Tensor", info[0], why, evidence=info[2],
                                     constant=info[3], folded_by=info[4]))
    return out


def _primary(rec: Recorder, path: str) -> str:
    """The path Dynamo knows a (possibly tied) tensor by."""
    for first, group in rec.groups.items():
        if path in group:
            return first
    return path


def _decide(rec: Recorder, path: str, read: set, place: dict, final_inputs: set):
    """(fate, why, evidence, constant, folded_by)."""
    if path not in read:
        return (Fate.REMOVED_UNUSED, "forward never reads it: Dynamo's graph has no get_attr "
                "for it, so Inductor never saw it.", (), None, None)
    name = place.get(path)
    if name is None:
        return (Fate.INLINED, "Dynamo read it, but AOTAutograd did not make it a graph input: "
                "its value is baked into the traced graph.", (), None, None)
    if name in final_inputs:
        return _kept(rec, path, rec.placeholder_index[name])
    return _frozen(rec, path)


def _kept(rec: Recorder, path: str, index: int):
    writers = _writers(rec, path)
    if index in rec.mutated or (not rec.params and writers):
        ops = ", ".join(e.kind for e in writers[:2]) or "an in-place op"
        return (Fate.PRESERVED_MUTATED, f"forward writes it in place ({ops}), so "
                "replace_params_with_constants kept it as a graph input instead of a constant; "
                "the write stays in the graph as copy_.", tuple(writers), None, None)
    return (Fate.PRESERVED_ALIASED, "an output of forward aliases it (returns it or a view of it), so "
            "replace_params_with_constants kept it as a graph input: a constant cannot be "
            "handed back as the caller's tensor. It is not written.", (), None, None)


def _frozen(rec: Recorder, path: str):
    final = rec.targets[-1]
    direct = rec.lineage.direct.get(path)
    if direct is not None and direct in final:
        return (Fate.INLINED, f"replace_params_with_constants made it the constant {direct}; "
                "the frozen graph reads that constant as it is.",
                (Evidence("get_attr", f"read as the constant {direct} in the frozen graph"),),
                direct, None)
    into = sorted(c for c in final if path in rec.lineage.paths(c) and c != direct)
    gone = _gone_at(rec, direct)
    if into:
        return _folded(rec, path, direct, into, gone)
    if direct is None:
        return (Fate.FOLDED, "It is not in the frozen graph as itself. Without the per-pass "
                "stages (see the warnings) freezeviz cannot say which constant it went into.",
                (), None, None)
    return (Fate.REMOVED_UNUSED, f"replace_params_with_constants made it the constant {direct}; "
            f"{gone or 'a later pass'} dropped it: nothing in the frozen graph depends on it.",
            (), direct, gone)


def _folded(rec: Recorder, path: str, direct: str, into: list[str], gone: str | None):
    c = into[0]
    made = rec.lineage.made.get(c)
    own = set(rec.groups.get(path, (path,)))
    others = sorted(rec.lineage.paths(c) - own)
    with_ = f", with {', '.join(others)}," if others else ""
    ops = f" ({' -> '.join(made.ops)})" if made and made.ops else ""
    more = f" (and {len(into) - 1} more)" if len(into) > 1 else ""
    by = f", made by {made.stage}{ops}" if made is not None else ""
    why = (f"replace_params_with_constants made it the constant {direct}; {gone} folded that "
           f"away, and its value ends up{with_} in the constant {c}{more}{by}. The frozen "
           f"graph reads {c}.{_unnamed_note(rec, c, own)}")
    evidence = [Evidence(gone or "constant_fold", f"folds the constant {direct} away")]
    order = {st.name: i for i, st in enumerate(rec.stages)}  # the steps in the order they ran
    for target, step in sorted(rec.lineage.chain(c), key=lambda ts: order.get(ts[1].stage, 0)):
        paths = ", ".join(sorted(rec.lineage.paths(target))) or "none"
        step_ops = f" ({' -> '.join(step.ops)})" if step.ops else ""
        evidence.append(Evidence(step.stage, f"made {target}{step_ops} from the constants "
                                 f"{', '.join(step.sources)} (attributes {paths})"))
    return Fate.FOLDED, why, tuple(evidence), c, gone


def _unnamed_note(rec: Recorder, c: str, own: set[str]) -> str:
    """Sentences naming the constants no attribute stands for that went into ``c`` (a pass
    made them), and which other attributes' constants were computed with them too."""
    notes = ""
    for extra in rec.lineage.unnamed(c):
        notes += f" It was computed with {extra}, a tensor no attribute stands for (a pass made it)"
        shared = sorted(rec.lineage.sharing(extra) - own - rec.lineage.paths(c))
        if shared:
            notes += (f"; the constants of {', '.join(shared)} were computed with that same "
                      "tensor")
        notes += "."
    return notes


def _gone_at(rec: Recorder, target: str | None) -> str | None:
    """The first stage after which constant ``target`` is no longer in the graph."""
    if target is None:
        return None
    seen = False
    for stage, targets in zip(rec.stages, rec.targets):
        if target in targets:
            seen = True
        elif seen:
            return stage.name
    return None


def _writers(rec: Recorder, path: str) -> list[Evidence]:
    """The nodes that write ``path``: in the Dynamo graph (the user's op and line), then the
    copy_ that writes the new value back in the AOT graph."""
    out = []
    for stage in rec.stages[:2]:
        for node in stage.graph.iter_nodes():
            if path in node.writes:
                where = "in the traced forward" if stage.name == "dynamo" else \
                    "in the AOT graph: the new value written back"
                out.append(Evidence(node.kind, f"writes it in place {where}", node.source))
    return out
