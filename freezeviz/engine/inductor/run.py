"""Compile a copy of the model with ``torch.compile`` and Inductor freezing, recording each pass.

The compilation is torch's own: a Dynamo backend that calls ``compile_fx`` with freezing on,
under ``torch.no_grad()`` (freezing runs only with grad mode off). By default
``inner_compile`` returns the frozen FX graph to run as it is, skipping code generation; with
``codegen=True`` it also runs Inductor's code generation (``compile_fx_inner``).
"""

from __future__ import annotations

import copy
import time
import warnings

import torch

from freezeviz.engine.inductor import hooks as H
from freezeviz.engine.inductor.errors import compile_error
from freezeviz.engine.inductor.observe import install, read_placeholders
from freezeviz.engine.inductor.recorder import Recorder


class Runner:
    """What ``inner_compile`` returns: runs the frozen graph (or the compiled code), or, for
    the numerics, the graph of any recorded stage on the same arguments."""

    _boxed_call = True

    def __init__(self, rec: Recorder, final, names: tuple[str, ...]):
        self.rec, self.final, self.names = rec, final, names
        self.stage: int | None = None

    def __call__(self, args):
        if self.stage is None:
            return self.final(args)
        gm, names = self.rec.graphs[self.stage]
        given = dict(zip(self.names, args))
        index = self.rec.placeholder_index
        return gm(*[given[n] if n in given else self.rec.params[index[n]] for n in names])


def _named_state(module: torch.nn.Module):
    return [*module.named_parameters(remove_duplicate=False),
            *module.named_buffers(remove_duplicate=False)]


def tied_paths(module: torch.nn.Module) -> dict[str, tuple[str, ...]]:
    """First path of each parameter or buffer -> every path it is reached by (tied weights)."""
    by_id: dict[int, list[str]] = {}
    for path, t in [*module.named_parameters(remove_duplicate=False),
                    *module.named_buffers(remove_duplicate=False)]:
        by_id.setdefault(id(t), []).append(path)
    return {paths[0]: tuple(paths) for paths in by_id.values()}


def state_paths(gm, model: torch.nn.Module) -> dict[str, str]:
    """Dynamo's attribute names -> module paths, by the identity of the tensor each reads
    (Dynamo's own name map misses modules reached by index, as in ``nn.Sequential``)."""
    by_id: dict[int, str] = {}
    for path, t in [*model.named_parameters(remove_duplicate=False),
                    *model.named_buffers(remove_duplicate=False)]:
        by_id.setdefault(id(t), path)
    out = {}
    for node in gm.graph.find_nodes(op="get_attr"):
        path = by_id.get(id(getattr(gm, str(node.target), None)))
        if path is not None:
            out[str(node.target)] = path
    return out


class Compilation:
    """One recorded ``torch.compile`` of a private copy of the user's model."""

    def __init__(self, model: torch.nn.Module, codegen: bool, per_pass: bool):
        with warnings.catch_warnings():  # torch's pytree warns about its own spec classes
            warnings.simplefilter("ignore", FutureWarning)
            self.model = copy.deepcopy(model)  # the model's own state is never touched
        self.codegen, self.per_pass = codegen, per_pass
        self.before = dict(_named_state(self.model))  # to see attributes forward reassigns
        self.rec = Recorder({})
        self.compiled = self.runner = self.inputs = None
        self.saved: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.narrowed = False
        self.codegen_seconds = 0.0

    def backend(self, gm, example_inputs):
        rec = self.rec
        rec.groups = tied_paths(self.model)
        rec.flat_to_path = state_paths(gm, self.model)
        rec.dynamo_gm, self.inputs = gm, list(example_inputs)
        state = [getattr(gm, n.target) for n in gm.graph.find_nodes(op="get_attr")]
        self.saved = [(t, t.detach().clone()) for t in state if isinstance(t, torch.Tensor)]
        rec.add("dynamo", gm, time.perf_counter() - rec.clock, dynamo=True)
        rec.clock = time.perf_counter()
        cfx = H.module(H._CF)
        self.compiled = cfx.compile_fx(gm, example_inputs, inner_compile=self.inner)
        return self.compiled

    def inner(self, gm, example_inputs, **kwargs):
        rec = self.rec
        rec.active = False
        if not self.per_pass:
            self._public_stage(gm)
        names = tuple(n.name for n in gm.graph.find_nodes(op="placeholder"))
        if self.codegen:
            t0 = time.perf_counter()
            final = H.module(H._CF).compile_fx_inner(gm, example_inputs, **kwargs)
            self.codegen_seconds = time.perf_counter() - t0
        else:
            final = H.lookup("torch._functorch._aot_autograd.utils", "make_boxed_func")(gm.forward)
        self.runner = Runner(rec, final, names)
        return self.runner

    def _public_stage(self, gm) -> None:
        """Without the per-pass hooks: the frozen graph alone, its constants traced to the
        attributes whose tensors they are (a constant made by folding stays untraced)."""
        rec = self.rec
        read_placeholders(rec, gm)
        mine = {id(getattr(rec.dynamo_gm, flat, None)): path
                for flat, path in rec.flat_to_path.items()}
        for node in gm.graph.find_nodes(op="get_attr"):
            path = mine.get(id(getattr(gm, str(node.target), None)))
            if path is not None:
                rec.lineage.origin[str(node.target)] = frozenset(rec.groups.get(path, (path,)))
                rec.lineage.direct[path] = str(node.target)
        rec.add("frozen", gm, time.perf_counter() - rec.clock)

    def reassigned(self) -> list[str]:
        """Paths forward assigned a new tensor to (``self.steps = self.steps + 1``)."""
        return [p for p, t in _named_state(self.model) if p in self.before
                and t is not self.before[p]]

    def restore_state(self) -> None:
        """Put back every tensor the graph reads as it was before the first run (a stage
        that writes a buffer must not change the next stage's starting point)."""
        rec = self.rec
        if rec.params and not self.narrowed:  # only what the graphs write needs putting back
            written = {id(rec.params[i]) for i in rec.mutated if i < len(rec.params)}
            self.saved = [(t, s) for t, s in self.saved if id(t) in written]
            self.narrowed = True
        with torch.no_grad():
            for live, saved in self.saved:
                live.copy_(saved)


def compile_model(model, args: tuple, kwargs: dict, codegen: bool) -> Compilation:
    """Compile a copy of ``model`` with freezing on and run it once on copies of the inputs,
    recording every stage. Restores torch's functions and config whatever happens."""
    per_pass = not H.missing()
    comp = Compilation(model, codegen, per_pass)
    from torch._inductor import config

    torch._dynamo.reset()
    comp.rec.clock = time.perf_counter()
    try:
        with torch.no_grad(), config.patch(freezing=True), \
                H.patched(lambda p: install(comp.rec, p) if per_pass else None):
            compiled = torch.compile(comp.model, backend=comp.backend, fullgraph=True)
            with torch.random.fork_rng(devices=[]):  # the caller's random state is theirs
                compiled(*copy.deepcopy(args), **copy.deepcopy(kwargs))
    except torch._dynamo.exc.TorchDynamoException as exc:
        raise compile_error(exc, model, args, kwargs) from exc
    finally:
        torch._dynamo.reset()
    if comp.runner is None:
        raise compile_error(None, model, args, kwargs)
    return comp
