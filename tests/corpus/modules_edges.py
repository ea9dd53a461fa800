"""Edge cases of naming and of what torch.jit.freeze really does to odd state.

Names with spaces and newlines, constants that optimize_for_inference rewrites, writes inside
torch.jit.fork, None-valued state, class constants, and methods of submodules named in
preserved_attrs. They live in a real file because torch.jit.script needs their source.
"""

from typing import Final

import torch
import torch.nn as nn
import torch.nn.functional as F


class SpacedKeys(nn.Module):
    """ModuleDict keys may hold spaces, unicode, quotes and newlines (not dots)."""

    KEYS = ("layer one", "ünï", "a'b\"c", "a\nb", "is set")

    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleDict({k: nn.Linear(3, 3) for k in self.KEYS})

    def forward(self, x):
        for layer in self.layers.values():
            x = layer(x)
        return x


class ConvThenLinear(nn.Module):
    """optimize_for_inference rewrites both weights: the conv's into an MKLDNN copy, the
    Linear's into its transpose (and leaves the original unused in the graph)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.lin = nn.Linear(8, 4)

    def forward(self, x):
        y = F.relu(self.conv(x)).mean((2, 3))
        return self.lin(y)


class ForkSelfWrite(nn.Module):
    """A method of the module itself, forked, writes a buffer in place."""

    def __init__(self):
        super().__init__()
        self.register_buffer("fb", torch.zeros(2))

    def bump(self, x):
        self.fb.add_(1)
        return x + self.fb

    def forward(self, x):
        fut = torch.jit.fork(self.bump, x)
        return torch.jit.wait(fut)


class ForkSelfCount(nn.Module):
    """A forked method assigns an int: the frozen module fails when the fork runs."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def bump(self, x):
        self.count += 1
        return x + 1

    def forward(self, x):
        fut = torch.jit.fork(self.bump, x)
        return torch.jit.wait(fut)


class ForkAssignOnly(nn.Module):
    """A forked method assigns an int it never reads: the freezer removes it."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def bump(self, x):
        self.count = 5
        return x + 1

    def forward(self, x):
        fut = torch.jit.fork(self.bump, x)
        return torch.jit.wait(fut)


class NoneState(nn.Module):
    """None-valued state: a None buffer only tested against None, Linear(bias=False), and a
    None bias the root passes to F.linear itself."""

    def __init__(self):
        super().__init__()
        self.register_buffer("nb", None)
        self.lin = nn.Linear(3, 3, bias=False)
        self.w2 = nn.Parameter(torch.eye(3))
        self.register_buffer("b2", None)

    def forward(self, x):
        if self.nb is not None:
            x = x + self.nb
        return F.linear(self.lin(x), self.w2, self.b2)


class WithConstants(nn.Module):
    """Class constants: torch.jit.script compiles their values into the code."""

    __constants__ = ["c"]
    k: Final[int]

    def __init__(self):
        super().__init__()
        self.c = 3
        self.k = 5
        self.lin = nn.Linear(2, 2)

    def forward(self, x):
        return self.lin(x) * self.c + self.k


class PureHelper(nn.Module):
    def __init__(self):
        super().__init__()
        self.z = 1

    def forward(self, x):
        return x + self.z

    @torch.jit.export
    def helper(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2


class DottedPureMethod(nn.Module):
    """preserved_attrs=["sub.helper"]: torch accepts it, since helper reads no state."""

    def __init__(self):
        super().__init__()
        self.sub = PureHelper()

    def forward(self, x):
        return self.sub(x)


class ReadsZ(nn.Module):
    def __init__(self):
        super().__init__()
        self.z = 1

    def forward(self, x):
        return x

    @torch.jit.export
    def helper(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.z


class ShadowedByRoot(nn.Module):
    """preserved_attrs=["sub.helper"] where the root also has a `z`: torch looks `self.z` of
    sub.helper up on the root and freezes the root's value into sub.helper."""

    def __init__(self):
        super().__init__()
        self.sub = ReadsZ()
        self.z = 100

    def forward(self, x):
        return self.sub(x) * self.z
