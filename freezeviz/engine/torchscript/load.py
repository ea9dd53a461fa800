"""Turn what the user passed (a ScriptModule, an nn.Module, a saved file) into the ScriptModule
to freeze, with messages that say what to do when torch cannot."""

from __future__ import annotations

import contextlib
import os
import warnings

import torch

from freezeviz.engine.torchscript.analysis import inventory, method_names, preserved_submodule_methods
from freezeviz.errors import FreezeError, did_you_mean


@contextlib.contextmanager
def quiet_torchscript_warnings(collected: list[str]):
    """Silence TorchScript's deprecation notices for one call; keep every other warning."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    seen = set()
    for w in caught:
        msg = str(w.message)
        if _is_torchscript_deprecation(w.category, msg):
            continue
        if msg not in seen:
            seen.add(msg)
            collected.append(f"{w.category.__name__}: {msg}")


def _is_torchscript_deprecation(category, msg: str) -> bool:
    about_torchscript = "torch.jit" in msg or "TorchScript" in msg or "torch.compile" in msg
    if issubclass(category, DeprecationWarning):
        return about_torchscript
    # torch 2.14 announces the same deprecation as a FutureWarning, which users see by default
    return issubclass(category, FutureWarning) and about_torchscript and "deprecat" in msg


def _script_error_hint(msg: str) -> str:
    if "could not get source code" in msg:
        return ("torch.jit.script needs the source of the module's class, and Python cannot find "
                "it (a class defined with exec() or typed into a bare interpreter). Define the "
                "class in a .py file or a notebook cell, or pass example_inputs=... (or "
                "example_kwarg_inputs={...}) so freezeviz can trace the module instead.")
    if "annotation" in msg.lower() or "Tried to access nonexistent attribute" in msg or \
            "empty" in msg.lower():
        return ("TorchScript could not infer the type of an attribute. Empty lists and dicts need "
                "a class-level annotation (e.g. `hist: List[int]`), and `from __future__ import "
                "annotations` hides those annotations from TorchScript. Or pass "
                "example_inputs=... to trace the module.")
    return ("Fix the construct torch points at below, or pass example_inputs=... (or "
            "example_kwarg_inputs={...} for keyword arguments) so freezeviz traces the module "
            "instead of scripting it.")


@contextlib.contextmanager
def eval_mode(module):
    """Put every module of the tree in eval mode for the block, then restore each flag."""
    mods = list(module.named_modules())
    flags = [(m, m.training) for _, m in mods]
    try:
        for m, flag in flags:
            if flag:
                m.training = False
        yield
    finally:
        for m, flag in flags:
            if m.training != flag:
                m.training = flag


def load_module(source, example_inputs=None, warns: list[str] | None = None,
                example_kwarg_inputs: dict | None = None):
    """Return ``(script_module, display_name)`` for a ScriptModule, nn.Module or .pt path."""
    warns = warns if warns is not None else []
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.exists(path):
            raise FreezeError(f"No such file: {path!r}. Pass a saved TorchScript file "
                              "(torch.jit.save), an nn.Module or a ScriptModule.")
        try:
            mod = torch.jit.load(path, map_location="cpu")
        except Exception as exc:
            raise FreezeError(
                f"torch.jit.load could not load {path!r}. freezeviz opens TorchScript files "
                "written by torch.jit.save(torch.jit.script(model), path). If this is not a "
                "TorchScript file (a state_dict or pickled nn.Module from torch.save), load it "
                "into its model class first and pass the module; if it is, torch's reason is "
                "below.", torch_message=str(exc)) from exc
        return mod, os.path.basename(path)
    if isinstance(source, torch.jit.ScriptModule):
        return source, type_name(source)
    if isinstance(source, torch.nn.Module):
        try:
            return torch.jit.script(source), type(source).__name__
        except Exception as exc:
            if example_inputs is None and example_kwarg_inputs is None:
                raise FreezeError(
                    f"torch.jit.script could not compile {type(source).__name__}. "
                    + _script_error_hint(str(exc)), torch_message=str(exc)) from exc
            warns.append(f"torch.jit.script failed ({_first_line(exc)}); traced the module with "
                         "the example inputs instead. A traced module records one path through "
                         "the code: branches on data are baked in.")
            traced = _trace(source, example_inputs, example_kwarg_inputs, exc)
            if _returns_container(traced):
                warns.append("forward returns a dict or a list, so it was traced with strict=False "
                             "(as torch.jit.trace asks): the trace holds the keys and length the "
                             "example inputs gave, and assumes other inputs give the same.")
            return traced, type(source).__name__
    raise FreezeError(f"freezeviz.freeze expects an nn.Module, a ScriptModule or a path to a "
                      f"TorchScript file, not {type(source).__name__}.")


def _trace(source, example_inputs, example_kwarg_inputs, script_exc):
    """torch.jit.trace as a user of a model with dict outputs would call it: ``strict=False``
    lets dicts and lists (transformers' ModelOutput too, an OrderedDict) be outputs."""
    try:
        with eval_mode(source), torch.no_grad():
            if example_kwarg_inputs is not None:
                return torch.jit.trace(source, example_kwarg_inputs=example_kwarg_inputs,
                                       strict=False)
            return torch.jit.trace(source, as_tuple(example_inputs), strict=False)
    except Exception as exc:
        raise FreezeError(
            f"{type(source).__name__} could neither be scripted nor traced. To trace, forward "
            "must accept the example inputs (example_inputs=(...) for positional arguments, "
            "example_kwarg_inputs={'name': tensor, ...} for keyword arguments) and return "
            "tensors, or tuples, lists and dicts of them; torch's reasons are below.",
            torch_message=f"script: {script_exc}\ntrace: {exc}") from exc


def _returns_container(traced) -> bool:
    outputs = list(traced.graph.outputs())
    return any(isinstance(o.type(), (torch._C.DictType, torch._C.ListType)) for o in outputs)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def as_tuple(inputs):
    return inputs if isinstance(inputs, tuple) else (inputs,)


def type_name(mod) -> str:
    try:
        return mod.original_name
    except Exception:
        return type(mod).__name__


def validate_preserved(cmod, preserved: list[str]) -> None:
    """Check names before torch does, so that mistakes get a useful message.

    A method of a submodule (``"sub.helper"``) is left to torch: it freezes one that reads no
    state the root module lacks, and refuses the others (explain_torch_freeze_error says why).
    """
    slots = {s.path for s in inventory(cmod)}
    methods = set(method_names(cmod))
    for name in preserved:
        if not isinstance(name, str):
            raise FreezeError(f"preserved_attrs must be a list of strings; got {name!r}.")
        if name in slots or name in methods or name in preserved_submodule_methods(cmod, [name]):
            continue
        raise FreezeError(f"preserved_attrs names {name!r}, which this module does not have."
                          f"{did_you_mean(name, sorted(slots | methods))}")


def check_not_frozen(script, name) -> None:
    if isinstance(script, torch.jit.ScriptModule) and not hasattr(script, "training"):
        raise FreezeError(f"{name} is already frozen (it has no `training` attribute). Pass the "
                          "module from before torch.jit.freeze; a frozen module cannot be frozen "
                          "again.")


def let_go_of_original(script) -> None:
    """torch.jit.script wraps each compiled method with functools.wraps(original bound
    method), so the ScriptModule holds the user's module alive. The cached one is freezeviz's
    own and must not: drop that back reference, or the module (and its cache entries) would
    live as long as the cache."""
    for sub in script.modules():
        for value in list(vars(sub).values()):
            if isinstance(value, torch._C.ScriptMethod):
                vars(value).pop("__wrapped__", None)

