"""Small modules, each showing one distinct behaviour of torch.jit.freeze.

They live in a real file because torch.jit.script needs their source.
"""

from typing import Dict, List

import torch
import torch.nn as nn
import torch.nn.functional as F

# --- the two examples of the torch.jit.freeze documentation (defined in freezeviz.examples)
from freezeviz.examples import MyModule, MyModule2  # noqa: E402,F401


# --- mutation ----------------------------------------------------------------------------
class InplaceBuffer(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("buf", torch.zeros(3))
        self.w = nn.Parameter(torch.ones(3))

    def forward(self, x):
        self.buf.add_(1)
        return x * self.w + self.buf


class AliasedWrite(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("a", torch.zeros(4))
        self.register_buffer("b", torch.ones(4))
        self.register_buffer("c", torch.ones(4))

    def forward(self, x):
        y = self.a
        y.add_(1)
        self.b[0:2].mul_(3)
        return x + self.a + self.b + self.c


class IntCounter(nn.Module):
    def __init__(self):
        super().__init__()
        self.count = 0
        self.scale = 2.0

    def forward(self, x):
        self.count += 1
        return x * self.scale


class ListAppend(nn.Module):
    hist: List[int]
    sizes: List[int]

    def __init__(self):
        super().__init__()
        self.hist = []
        self.sizes = [1, 2, 3]

    def forward(self, x):
        self.hist.append(x.size(0))
        return x * len(self.sizes)


class DictWrite(nn.Module):
    rw: Dict[str, int]
    ro: Dict[str, int]

    def __init__(self):
        super().__init__()
        self.rw = {"calls": 0}
        self.ro = {"k": 3}
        self.tup = (1, 2)

    def forward(self, x):
        self.rw["calls"] = self.rw["calls"] + 1
        return x * self.ro["k"] + self.tup[0]


class ExportedReset(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("stats", torch.zeros(2))
        self.step = 0

    def forward(self, x):
        return x + 1

    @torch.jit.export
    def reset(self):
        self.stats.zero_()
        self.step = 0


class HelperCounter(nn.Module):
    """A counter set in a helper method, and an EMA updated through a local alias."""

    def __init__(self):
        super().__init__()
        self.register_buffer("ema", torch.zeros(3))
        self.calls = 0
        self.alpha = 0.5

    def _bump(self):
        self.calls = self.calls + 1

    def _track(self, x):
        e = self.ema
        e.mul_(self.alpha).add_(x.mean())

    def forward(self, x):
        self._bump()
        self._track(x)
        return x + 1


class VersionedSub(nn.Module):
    def __init__(self):
        super().__init__()
        self.version = 3
        self.scale = 2.0

    def forward(self, x):
        return x * self.scale + self.version


class DottedPreserve(nn.Module):
    def __init__(self):
        super().__init__()
        self.sub = VersionedSub()
        self.other = VersionedSub()

    def forward(self, x):
        return self.sub(x) + self.other(x)


class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.acc = 0
        self.n = 3

    def forward(self, x):
        if self.training:
            x = x * 2
        for _ in range(self.n):
            self.acc += 1
            x = x + 1
        return x


class DataLoop(nn.Module):
    def __init__(self):
        super().__init__()
        self.limit = 4

    def forward(self, x):
        i = 0
        while i < int(x.sum().item()) and i < self.limit:
            x = x + 1
            i += 1
        if x.sum() > 0:
            x = x * 2
        return x


class ForkBody(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("fb", torch.zeros(2))

    def forward(self, x):
        self.fb.add_(1)
        return x + self.fb


class ForkMutation(nn.Module):
    def __init__(self):
        super().__init__()
        self.sub = ForkBody()

    def forward(self, x):
        fut = torch.jit.fork(self.sub, x)
        return torch.jit.wait(fut)


class ConvBN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class ConvMulAdd(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.register_buffer("scale", torch.full((1, 4, 1, 1), 0.5))

    def forward(self, x):
        return self.conv(x) * self.scale + 2.0


class LinearBN(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(6, 5)
        self.bn = nn.BatchNorm1d(5)

    def forward(self, x):
        return self.bn(self.lin(x))


class WithDropout(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)
        self.drop = nn.Dropout(0.5)
        self.p = 0.2

    def forward(self, x):
        x = self.drop(self.lin(x))
        return F.dropout(x, self.p, self.training)


class SharedInputLinears(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 4)
        self.c = nn.Linear(4, 4)

    def forward(self, x):
        return self.a(x) + self.b(x) + self.c(x)


@torch.jit.interface
class Act(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pass


class Double(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2


class WithInterface(nn.Module):
    impl: Act

    def __init__(self):
        super().__init__()
        self.impl = Double()

    def forward(self, x):
        return self.impl.forward(x)


class Overlapping(nn.Module):
    def __init__(self):
        super().__init__()
        t = torch.ones(2)
        self.t = t
        self.lst = [t]

    def forward(self, x):
        return x + self.t + self.lst[0]


class ViewAlias(nn.Module):
    def __init__(self):
        super().__init__()
        t = torch.zeros(4)
        self.t = t
        self.view = t[:2]

    def forward(self, x):
        self.t.add_(1)
        return x + self.view.sum()


@torch.jit.interface
class Layer(nn.Module):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        pass


class ModuleListIndex(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])

    def forward(self, x, i: int):
        layer: Layer = self.layers[i]
        return layer.forward(x)


class ModuleListLoop(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(3, 3), nn.Linear(3, 3)])
        self.drop = nn.Dropout(0.1)

    def forward(self, x):
        for layer in self.layers:
            x = self.drop(layer(x))
        return x


class ReturnsSelf(nn.Module):
    def forward(self, x):
        return self


class ReturnsSub(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 2)

    def forward(self, x):
        return x

    @torch.jit.export
    def get_lin(self):
        return self.lin


class NoForward(nn.Module):
    def __init__(self):
        super().__init__()
        self.k = 5

    @torch.jit.export
    def infer(self, x):
        return x * self.k


class Bump(nn.Module):
    """A preserved method writes state that forward reads."""

    def __init__(self):
        super().__init__()
        self.k = 1

    def forward(self, x):
        return x * self.k

    @torch.jit.export
    def bump(self):
        self.k = self.k + 1


class SubHelper(nn.Module):
    def __init__(self):
        super().__init__()
        self.z = 1

    def forward(self, x):
        return x + self.z

    @torch.jit.export
    def helper(self):
        return self.z


class DottedMethod(nn.Module):
    def __init__(self):
        super().__init__()
        self.sub = SubHelper()

    def forward(self, x):
        return self.sub(x)


class TwoLinearsExtra(nn.Module):
    """A sibling's mutation keeps its module; the untouched sibling is inlined."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(2, 2)
        self.b = nn.Linear(2, 2)
        self.a.register_buffer("extra", torch.zeros(2))

    def forward(self, x):
        self.a.extra.add_(1)
        return self.a(x) + self.b(x) + self.a.extra


class Strings(nn.Module):
    """Names and strings with characters that must be escaped everywhere."""

    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleDict({'odd"key{<x>}': nn.Linear(2, 2)})
        self.tag = "<script>alert('x')</script> & \"quotes\" \\ {braces}\nnewline é"

    def forward(self, x):
        if self.tag == "never":
            raise RuntimeError("<b>bold</b> {x}")
        return self.layers['odd"key{<x>}'](x)


class Untypable(nn.Module):
    def __init__(self):
        super().__init__()
        self.items = []

    def forward(self, x):
        return x + len(self.items)


@torch.jit.script
class ScriptClassCfg:
    def __init__(self, k: int):
        self.k = k


class ObjectAttr(nn.Module):
    def __init__(self):
        super().__init__()
        self.cfg = ScriptClassCfg(3)

    def forward(self, x):
        return x * self.cfg.k


class TracedTarget(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 3)

    def forward(self, x):
        return torch.relu(self.lin(x))
