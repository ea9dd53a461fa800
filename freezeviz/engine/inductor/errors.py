"""What went wrong in a torch.compile freeze, and what to do, as a FreezeError."""

from __future__ import annotations

import copy

import torch

from freezeviz.errors import FreezeError

MAX_BREAKS = 8  # graph breaks listed in a message


def graph_breaks(model, args: tuple, kwargs: dict) -> list[str]:
    """Where Dynamo breaks the graph of ``model`` on these inputs (``torch._dynamo.explain``,
    on copies), one line each: the reason and the user's line."""
    try:
        with torch.no_grad():
            info = torch._dynamo.explain(copy.deepcopy(model))(*copy.deepcopy(args),
                                                               **copy.deepcopy(kwargs))
    except Exception:  # explain itself failed: the original error says enough
        return []
    finally:
        torch._dynamo.reset()
    lines = []
    for br in info.break_reasons:
        where = ""
        if br.user_stack:
            frame = br.user_stack[-1]
            where = f" at {frame.filename.rsplit('/', 1)[-1]}:{frame.lineno} ({frame.line})"
        reason = str(br.reason).strip().splitlines()[0] if str(br.reason).strip() else "?"
        lines.append(f"{reason}{where}")
    return list(dict.fromkeys(lines))


def compile_error(exc: BaseException | None, model, args: tuple, kwargs: dict) -> FreezeError:
    """A FreezeError for a failed compilation: graph breaks listed, or torch's message."""
    message = str(exc) if exc is not None else ""
    if "CxxCompiler" in message or "C++ compiler" in message:
        return FreezeError(
            "Inductor's code generation needs a C++ compiler, and none works here. Install "
            "one (g++ or clang++; set CXX if it is not on PATH), or freeze without code "
            "generation (the default), which shows every freezing pass all the same.",
            torch_message=message)
    if isinstance(exc, torch._dynamo.exc.BackendCompilerFailed):
        return FreezeError(
            "Inductor failed while freezing this model (inside compile_fx). Check that "
            "torch.compile(model) with torch._inductor.config.freezing=True runs under "
            "torch.no_grad(); if it does, this is a freezeviz bug: please report it.",
            torch_message=message)
    if exc is None or isinstance(exc, torch._dynamo.exc.Unsupported):
        breaks = graph_breaks(model, args, kwargs)
        listed = "".join(f"\n  - {b}" for b in breaks[:MAX_BREAKS])
        more = f"\n  ... and {len(breaks) - MAX_BREAKS} more" if len(breaks) > MAX_BREAKS else ""
        return FreezeError(
            "Dynamo cannot trace forward as one graph, so Inductor would freeze each piece "
            "apart. freezeviz explains one whole graph: rewrite the lines below so Dynamo can "
            "trace them (torch.compile(model, fullgraph=True) must work), or freeze a submodule "
            "that traces whole." + (f"\nGraph breaks:{listed}{more}" if breaks else ""),
            torch_message=message or None)
    return FreezeError(
        "torch.compile could not trace this model on the example inputs. Check that "
        "model(*example_inputs) runs, then that torch.compile(model, fullgraph=True) does.",
        torch_message=message)
