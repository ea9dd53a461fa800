"""MODEL on the command line: a TorchScript file or ``package.module:factory``, built (with
whatever it prints sent to stderr) and frozen; torch's own messages cut to the useful lines."""

from __future__ import annotations

import difflib
import os
import pkgutil
import re
import sys

from freezeviz.cli.io import EXIT_USAGE, Progress, UserError, stdout_to_stderr

_FACTORY_RE = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*$")


def _import_factory(spec: str):
    """The callable ``spec`` names (``pkgutil.resolve_name``), or a message saying what to fix."""
    mod_name, _, attr = spec.partition(":")
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)  # like `python -m`: modules next to you are importable
    try:
        obj = pkgutil.resolve_name(spec)
    except ModuleNotFoundError as exc:
        missing = exc.name or mod_name
        if mod_name == missing or mod_name.startswith(missing + "."):
            raise UserError(f"cannot import {mod_name!r} (no module named {missing!r}). MODEL "
                            "is a TorchScript file or package.module:factory; run from the folder "
                            "that holds the package, or install it.") from exc
        raise UserError(f"importing {mod_name!r} failed: {type(exc).__name__}: {exc}") from exc
    except KeyboardInterrupt:
        raise
    except AttributeError as exc:
        if mod_name in sys.modules:  # the module imported; a name in ``attr`` is missing
            raise UserError(_missing_attribute(sys.modules[mod_name], mod_name, attr)) from None
        raise UserError(f"importing {mod_name!r} failed: {type(exc).__name__}: "
                        f"{_first_line(exc)}") from exc
    except BaseException as exc:  # SyntaxError, SystemExit, anything the module raises
        raise UserError(f"importing {mod_name!r} failed: {type(exc).__name__}: "
                        f"{_first_line(exc)}") from exc
    if not callable(obj):
        raise UserError(f"{spec!r} is a {type(obj).__name__}, not a callable that returns a "
                        "module.")
    return obj


def _missing_attribute(module, mod_name: str, attr: str) -> str:
    """Which part of ``attr`` is missing, with close names as a hint."""
    obj = module
    parts = attr.split(".")
    for i, part in enumerate(parts):
        if not hasattr(obj, part):
            where = mod_name if i == 0 else f"{mod_name}:{'.'.join(parts[:i])}"
            names = [n for n in dir(obj) if not n.startswith("_")]
            close = difflib.get_close_matches(part, names, n=3, cutoff=0.5)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            return f"{where!r} has no attribute {part!r}.{hint}"
        obj = getattr(obj, part)
    return f"{mod_name!r}: looking up {attr!r} raised AttributeError."


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def load_model(spec: str, progress: Progress):
    """``(model, display name)``: a file path (str) or the module a factory returned."""
    if os.path.isdir(spec):
        raise UserError(f"{spec!r} is a folder; MODEL is a TorchScript file (torch.jit.save) or "
                        "package.module:factory.")
    if os.path.exists(spec):
        return spec, os.path.basename(spec)
    if _FACTORY_RE.match(spec):
        progress(f"building {spec} ...")
        factory = _import_factory(spec)
        try:
            model = factory()
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            raise UserError(f"the factory {spec} raised {type(exc).__name__}: "
                            f"{_first_line(exc)}") from exc
        torch = sys.modules.get("torch")  # a factory that builds a module has imported torch
        if torch is None or not isinstance(model, torch.nn.Module):
            raise UserError(f"the factory {spec} returned a {type(model).__name__}; it must "
                            "return an nn.Module or a ScriptModule.")
        return model, spec.partition(":")[2]
    if ":" in spec and os.path.sep not in spec:
        raise UserError(f"{spec!r} is neither a file nor package.module:factory (a dotted module "
                        "path, a colon, a callable's name, e.g. freezeviz.examples:resnet50).")
    raise UserError(f"No such file: {spec!r}. MODEL is a TorchScript file saved with "
                    "torch.jit.save(torch.jit.script(model), path), or package.module:factory.")


def _make_inputs(shapes):
    if not shapes:
        return None
    import torch

    gen = torch.Generator().manual_seed(0)
    tensors = tuple(torch.randn(*s, generator=gen) for s in shapes)
    return tensors[0] if len(tensors) == 1 else tensors


def freeze_from_args(args, progress: Progress, spec: str | None = None):
    """Build or load the model (``spec``, by default ``args.model``) and freeze it, with
    anything the model prints sent to stderr."""
    with stdout_to_stderr():
        return _freeze_from_args(args, progress, args.model if spec is None else spec)


def _freeze_from_args(args, progress: Progress, spec: str):
    from freezeviz import freeze
    from freezeviz.errors import FreezeError

    backend = getattr(args, "backend", "torchscript")
    if backend == "inductor" and not getattr(args, "inputs", None):
        raise UserError("--backend inductor needs --inputs SHAPES (e.g. --inputs 1x3x224x224): "
                        "torch.compile traces forward on real inputs.", EXIT_USAGE)
    model, display = load_model(spec, progress)
    preserved = [n for group in args.preserve for n in group]
    inputs = _make_inputs(getattr(args, "inputs", None))
    how = "loading and freezing" if isinstance(model, str) else "freezing"
    progress(f"{how} {display} ...")
    try:
        return freeze(model, preserved, not args.no_optimize_numerics, example_inputs=inputs,
                      optimize_for_inference=args.optimize_for_inference, backend=backend)
    except FreezeError as exc:
        if inputs is None or not str(exc).startswith("example_inputs"):
            raise
        shapes = ",".join("x".join(map(str, s)) for s in args.inputs)
        detail = f"\n\ntorch said:\n{_torch_detail(exc.torch_message)}" if exc.torch_message else ""
        raise UserError(f"--inputs {shapes} does not run through the module (it fails before "
                        "freezing), so there are no numerics to compare. Give the shapes of the "
                        f"tensors that model(*inputs) accepts, in order.{detail}") from exc




def _torch_detail(text: str, limit: int = 14) -> str:
    """The useful part of torch's message. For an error raised inside the TorchScript
    interpreter that is the first frame (the user's line) and the error itself at the end."""
    lines = text.strip().splitlines()
    if not any(line.startswith("Traceback of TorchScript") for line in lines):
        return "\n".join(lines[:limit])
    first = next((i for i, line in enumerate(lines) if line.lstrip().startswith("File ")), None)
    frame: list[str] = []
    if first is not None:
        for line in lines[first:]:
            if frame and line.lstrip().startswith("File "):
                break
            frame.append(line)
            if "<--- HERE" in line:
                break
    last = max((i for i, line in enumerate(lines) if line and not line[0].isspace()
                and not line.startswith(("Traceback of TorchScript", "The following operation"))),
               default=len(lines) - 1)
    error = lines[last:]
    return "\n".join((frame[:8] + (["  ..."] if frame else []) + error)[:limit])


def error_message(exc: BaseException) -> str:
    torch_message = getattr(exc, "torch_message", None)
    text = str(exc)
    if not torch_message:
        return text
    head = text.split("\n\ntorch said:", 1)[0]
    return f"{head}\n\ntorch said:\n{_torch_detail(torch_message)}"
