"""A ``torch.export`` ExportedProgram as input to Inductor freezing.

There is no public "freeze an ExportedProgram": ``torch.compile(ep.module())`` with freezing on
runs Inductor's freezing pipeline on it. :func:`exported_input` unlifts the program into that
module and reads, from the graph signature, which module paths are parameters and buffers and
which buffers the program writes. :func:`export_warnings` says when the program is one that
AOTInductor would run wrongly (a buffer it writes becomes a constant).

The ExportedProgram is never changed: the unlifted module shares the program's tensors, so the
buffers the program writes are given their own copies in it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import torch

from freezeviz.data.fates import Fate
from freezeviz.errors import FreezeError

__all__ = ["ExportedInput", "export_warnings", "exported_input", "is_exported_program"]


@dataclass(frozen=True)
class ExportedInput:
    """What the Inductor backend freezes for an ExportedProgram, with its signature's paths."""

    module: torch.nn.Module  # ep.module(): the unlifted program, a GraphModule
    parameters: tuple[str, ...]  # module paths (FQNs), in the program's input order
    buffers: tuple[str, ...]
    # buffers the program writes: buffers_to_mutate of the decomposed program (the raw export
    # IR keeps in-place ops and leaves buffers_to_mutate empty)
    mutated_buffers: tuple[str, ...]
    # the positional and keyword inputs torch.export traced with, when the program keeps them
    example_inputs: tuple | None = None
    example_kwarg_inputs: dict[str, Any] | None = None
    constants: tuple[str, ...] = ()  # lifted tensor constants: plain tensor attributes


def is_exported_program(obj) -> bool:
    return isinstance(obj, torch.export.ExportedProgram)


def exported_input(ep) -> ExportedInput:
    """Unlift ``ep`` and read its signature; ``ep`` is left as it was.

    Raises FreezeError for an object that is no ExportedProgram, or one that torch cannot
    turn back into a module."""
    if not is_exported_program(ep):
        raise FreezeError(
            f"Expected a torch.export.ExportedProgram, got {type(ep).__name__}. Export the model "
            "first (ep = torch.export.export(model, (x,))), or pass the nn.Module itself with "
            "example_inputs.")
    sig = ep.graph_signature
    mutated = _mutated_buffers(ep)
    module = _unlift(ep)
    _own_copies(module, mutated)
    _mark_inference(module)
    args, kwargs = _example_inputs(ep)
    return ExportedInput(module=module, parameters=tuple(sig.parameters),
                         buffers=tuple(sig.buffers), mutated_buffers=mutated,
                         example_inputs=args, example_kwarg_inputs=kwargs,
                         constants=tuple(getattr(sig, "lifted_tensor_constants", ())))


def _unlift(ep) -> torch.nn.Module:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ep.module()
    except Exception as exc:
        raise FreezeError(
            "torch could not turn this ExportedProgram back into a module (ep.module() failed), "
            "so it cannot be frozen. Export the model again with torch.export.export(model, "
            "args); if the program was edited or loaded from a file, check that its state_dict "
            "holds every parameter and buffer its graph signature names.",
            torch_message=f"{type(exc).__name__}: {exc}") from exc


def _mark_inference(module: torch.nn.Module) -> None:
    """Clear the training flags of the unlifted module. The exported graph is fixed, so the
    flag means nothing to it (``ep.module().eval()`` raises NotImplementedError), yet
    ``ep.module()`` leaves it True, which reads as a module in training mode."""
    for sub in module.modules():
        sub.training = False


def _mutated_buffers(ep) -> tuple[str, ...]:
    """The buffers the decomposed program writes (``run_decompositions`` returns a new program
    and leaves ``ep`` as it was); where the program does not decompose, the buffers an
    in-place op of the raw graph writes."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            decomposed = ep.run_decompositions()
    except Exception:
        return _written_in_raw_graph(ep)
    return tuple(dict.fromkeys(decomposed.graph_signature.buffers_to_mutate.values()))


def _written_in_raw_graph(ep) -> tuple[str, ...]:
    """Buffers passed to an argument the op's schema marks as written (``Tensor(a!)``)."""
    by_input = dict(ep.graph_signature.inputs_to_buffers)
    found: dict[str, None] = {}
    for node in ep.graph.nodes:
        schema = getattr(node.target, "_schema", None)
        if node.op != "call_function" or schema is None:
            continue
        for arg, value in zip(schema.arguments, node.args):
            info = arg.alias_info
            name = getattr(value, "name", None)
            if info is not None and info.is_write and name in by_input:
                found[by_input[name]] = None
    return tuple(found)


def _own_copies(module: torch.nn.Module, paths: tuple[str, ...]) -> None:
    """Give each written buffer of the unlifted module its own tensor: ``ep.module()`` shares
    the program's tensors, and running the module would otherwise write the program's state."""
    for path in paths:
        owner_path, _, name = path.rpartition(".")
        try:
            owner = module.get_submodule(owner_path)
        except AttributeError:
            continue  # a buffer the unlifted module does not hold under that path
        if name in owner._buffers and owner._buffers[name] is not None:
            owner._buffers[name] = owner._buffers[name].clone()


def _example_inputs(ep) -> tuple[tuple | None, dict[str, Any] | None]:
    """``ep.example_inputs`` is ``(args, kwargs)`` when the program keeps them (a program
    loaded from a file may not)."""
    kept = getattr(ep, "example_inputs", None)
    if not kept:
        return None, None
    args, kwargs = kept
    return (tuple(args) if args is not None else None), (dict(kwargs) if kwargs else None)


# --- the AOTInductor hazard -------------------------------------------------------------------

_CONSTANT_FATES = (Fate.INLINED, Fate.FOLDED)


def export_warnings(report, info: ExportedInput) -> tuple[str, ...]:
    """One warning per buffer the program writes: AOTInductor (torch 2.13, freezing on or off)
    makes such a buffer a constant of the compiled package and drops its update, so a package
    built from this program returns the first call's result on every call. Said more sharply
    when the frozen graph in ``report`` holds the buffer as a constant too."""
    fates = {a.path: a for a in report.attributes}
    out = []
    for path in info.mutated_buffers:
        attr = fates.get(path)
        if attr is not None and attr.fate == Fate.REMOVED_UNUSED:
            continue  # nothing reads it, so nothing can drift
        out.append(_hazard(path, attr))
    return tuple(out)


def _hazard(path: str, attr) -> str:
    head = (f"AOTInductor would make buffer {path} a constant and drop its update; outputs "
            "drift over calls (a package from aoti_compile_and_package, with freezing on or off, "
            "returns what the first call returned on every call).")
    if attr is not None and attr.fate in _CONSTANT_FATES:
        return (f"The program writes buffer {path}, yet the frozen graph holds it as a constant: "
                f"its update is lost and outputs drift over calls. {head} Pass the state in as "
                "an input and return its new value instead of writing a buffer.")
    kept = (" torch.compile keeps it as a graph input, so this freeze is right."
            if attr is not None and attr.fate == Fate.PRESERVED_MUTATED else "")
    return (f"{head}{kept} To deploy with AOTInductor, pass the state in as an input and return "
            "its new value instead of writing a buffer.")
