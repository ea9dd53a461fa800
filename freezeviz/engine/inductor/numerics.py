"""Each stage's graph run on the example inputs, compared with the Dynamo graph run eagerly.

The stages run through the very function torch.compile built (AOTAutograd's runtime wrapper
around the recorded graph), so inputs, frozen arguments, in-place updates and aliased outputs
are handled exactly as in the compiled model. Every run starts from the state the model had
before the first call, on copies of the inputs.
"""

from __future__ import annotations

import contextlib
import copy
import math

import torch

from freezeviz.data.report import NumericsRow
from freezeviz.engine.outputs import compare

# A stage whose outputs differ from the eager graph's by more than this (relative to the
# largest output value) has changed the results; folding reorders float math by far less.
MOVE_REL = 1e-3
_SEED_STATE = torch.Generator().manual_seed(0).get_state()


@contextlib.contextmanager
def seeded():
    """Each run draws the same random numbers (dropout in training mode), and the caller's
    random state is left as it was."""
    saved = torch.get_rng_state()
    torch.set_rng_state(_SEED_STATE)
    try:
        yield
    finally:
        torch.set_rng_state(saved)


def compute_numerics(comp, stage_names: list[str]) -> tuple[list[NumericsRow], list[str]]:
    """One row per recorded stage that has a runnable graph, and the warning that names the
    first stage whose outputs move."""
    rec, rows = comp.rec, []
    with torch.no_grad():
        comp.restore_state()
        with seeded():
            reference = rec.dynamo_gm(*copy.deepcopy(comp.inputs))
        previous = None
        for index in sorted(rec.graphs):
            graph = rec.graphs[index]
            if previous is not None and graph is previous[0]:  # unchanged: the same outputs
                rows.append(NumericsRow(stage_names[index], "forward", previous[1].max_abs,
                                        previous[1].max_rel))
            else:
                rows.append(_run(comp, index, stage_names[index], reference))
            previous = (graph, rows[-1])
        if comp.codegen:
            rows.append(_run(comp, None, "codegen", reference))
        comp.restore_state()
    if rec.random:
        return rows, ["numerics: forward draws random numbers (dropout in training mode, or a "
                      "random op), and the stages draw them differently from eager, so their "
                      "outputs differ for that reason alone; no stage is singled out. Call "
                      "model.eval() (or remove the random op) to compare them."]
    return rows, _notes(rows)


def _run(comp, index: int | None, name: str, reference) -> NumericsRow:
    comp.restore_state()
    comp.runner.stage = index
    try:
        with seeded():
            out = comp.compiled(*copy.deepcopy(comp.inputs))
    except Exception:  # a stage graph that cannot run eagerly: no number rather than none
        return NumericsRow(name, "forward", math.nan, math.nan)
    finally:
        comp.runner.stage = None
    return NumericsRow(name, "forward", *compare(out, reference))


def moved(row: NumericsRow) -> bool:
    return not math.isfinite(row.max_rel) or row.max_rel > MOVE_REL


def _notes(rows: list[NumericsRow]) -> list[str]:
    first = next((i for i, r in enumerate(rows) if moved(r)), None)
    if first is None:
        return []
    row = rows[first]
    before = f"; the stage before it, {rows[first - 1].stage}, still matched" if first else ""
    return [f"numerics: the outputs first move at stage {row.stage}: largest difference from "
            f"the eager graph {row.max_abs:.4g} (relative {row.max_rel:.3g}){before}. Freezing "
            "changed the results there: look at what that pass rewrote (report.diff of it and "
            "the stage before)."]
