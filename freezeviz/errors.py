"""Errors that say what went wrong and what to do, with torch's own message as the cause."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence


class FreezeError(RuntimeError):
    """Freezing failed, or could not start. ``str(err)`` says why and what to do;
    ``err.__cause__`` holds torch's original exception when there was one."""

    def __init__(self, message: str, *, torch_message: str | None = None):
        self.torch_message = torch_message
        if torch_message:
            lines = torch_message.strip().splitlines()
            if len(lines) > 16:  # keep the start and the final error line, where torch says why
                lines = lines[:8] + ["  ..."] + lines[-6:]
            detail = "\n".join(lines)
            message = f"{message}\n\ntorch said:\n{detail}"
        super().__init__(message)


def did_you_mean(name: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.5)
    return f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""


_OVERLAP_RE = re.compile(r"overlaps")
_NO_FIELD_RE = re.compile(r"does not have a field with name '([^']*)'")


def _submodule_method_error(names: list[str], field: str, msg: str) -> FreezeError:
    owner, _, _ = names[0].rpartition(".")
    which = (f"the method {names[0]!r} of a submodule" if len(names) == 1 else
             "methods of submodules (" + ", ".join(repr(n) for n in names) + ")")
    return FreezeError(
        f"preserved_attrs names {which}. torch.jit.freeze freezes such a method as if it "
        f"belonged to the root module: it looks up the state the method reads on the root, "
        f"which has no {field!r}, and fails. Preserve the submodule instead ({owner!r}), which "
        f"keeps all its methods, or add a root method that calls self.{names[0]}() and "
        "preserve that.", torch_message=msg)


def explain_torch_freeze_error(exc: BaseException, preserved: list[str],
                               submodule_methods: Sequence[str] = ()) -> FreezeError:
    """Map a message from torch's freezer to a FreezeError that says what to do.

    ``submodule_methods``: the names in ``preserved`` that are methods of submodules
    (``"sub.helper"``), which torch freezes only when the root has every field they read."""
    msg = str(exc)
    if submodule_methods and (m := _NO_FIELD_RE.search(msg)):
        return _submodule_method_error(list(submodule_methods), m.group(1), msg)
    if "Freezing modules containing prim::ModuleContainerIndex" in msg:
        return FreezeError(
            "This module indexes a ModuleList or ModuleDict with a value known only at run time "
            "(prim::ModuleContainerIndex), which torch.jit.freeze cannot inline. Iterate over the "
            "container with a for loop instead of indexing it, or index it with a literal.",
            torch_message=msg)
    if "uses interface attributes" in msg or "failed to freeze interface attribute" in msg or \
            "Unexpected interface attribute" in msg:
        name = re.search(r"attribute '?(\w+)'?", msg)
        what = f" '{name.group(1)}'" if name else ""
        return FreezeError(
            f"The interface-typed attribute{what} cannot be frozen as asked. Freezing inlines "
            "interface submodules; it cannot keep one that is listed in preserved_attrs. Remove "
            "it from preserved_attrs (its methods are inlined), or give the attribute a concrete "
            "module type.", torch_message=msg)
    if "SetAttr on an interface type" in msg:
        return FreezeError(
            "A method assigns a new module to an interface-typed attribute (SetAttr on an "
            "interface). torch.jit.freeze cannot freeze such a module: move the assignment out "
            "of the scripted methods.", torch_message=msg)
    if _OVERLAP_RE.search(msg):
        return FreezeError(
            "Two attributes of this module hold overlapping values (for example a tensor and a "
            "list that contains the same tensor), and torch.jit.freeze cannot tell which one to "
            "inline. Keep each tensor in one attribute only, or store a copy (tensor.clone()).",
            torch_message=msg)
    if "return itself" in msg or "returns itself" in msg:
        return FreezeError(
            "forward (or a preserved method) returns the module itself (`return self`); a frozen "
            "module cannot do that, since freezing removes the module's state. Return tensors or "
            "values instead, or do not preserve that method.", torch_message=msg)
    if m := re.search(r"Unknown name: ([^\n]+)", msg):  # names may hold spaces
        return FreezeError(
            f"preserved_attrs names {m.group(1)!r}, which this module does not have. Use a name "
            "printed by `freezeviz.freeze(model).attributes` or a method name.", torch_message=msg)
    return FreezeError(
        "torch.jit.freeze failed on this module. The message below is torch's; freezeviz has "
        "no more specific advice for it.", torch_message=msg)
