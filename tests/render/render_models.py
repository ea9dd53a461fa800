"""Small real modules for the render tests (ResNet-50 comes from freezeviz.examples).

They live in a real file because torch.jit.script needs their source.
"""


import torch
from torch import nn

from freezeviz.engine.torchscript.analysis import find_writers
from freezeviz.engine.torchscript.extract import snapshot_graph
from tests.corpus.modules import InplaceBuffer  # noqa: F401  (used by conftest as rm.InplaceBuffer)


class ConvBNReLU(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.bn(self.conv(x)))


class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)

    def forward(self, x, n: int):
        y = self.lin(x)
        if bool(y.sum() > 0):
            y = y * 2
        else:
            y = torch.relu(y) + 1
        for i in range(n):
            y = y + i
        return y


class Hostile(nn.Module):
    """ModuleDict keys with quotes, braces, angle brackets, newlines; nasty strings."""

    def __init__(self):
        super().__init__()
        keys = ['q"uote', "{brace}", "<b>ang</b>", "new\nline", "back\\slash&amp;", "é☃"]
        self.mods = nn.ModuleDict({k: nn.Linear(2, 2) for k in keys})
        self.tag = '<script>alert(1)</script>'

    def forward(self, x):
        names: list[str] = []
        for k, m in self.mods.items():
            x = m(x)
            names.append(k)
        if self.tag == '<script>alert(1)</script>':
            x = x + 1
        names.append('"quoted" & <tags> \\ {braces}\n' + self.tag)
        return x, names


def stages(module: nn.Module, preserved=None, fold_conv_bn: bool = False):
    """(scripted, inlined, frozen[, conv-bn folded]) snapshots of ``module.eval()``."""
    m = torch.jit.script(module.eval())
    scripted = snapshot_graph(m.forward.graph)
    g = m.forward.graph.copy()
    torch._C._jit_pass_inline(g)
    inlined = snapshot_graph(g, writes=find_writers(g, "forward")[0])
    frozen_mod = torch.jit.freeze(m, preserved_attrs=preserved or [], optimize_numerics=False)
    fg = frozen_mod.graph
    frozen = snapshot_graph(fg, writes=find_writers(fg, "forward")[0])
    out = [scripted, inlined, frozen]
    if fold_conv_bn:
        g2 = frozen_mod.graph.copy()
        torch._C._jit_pass_fold_frozen_conv_bn(g2)
        out.append(snapshot_graph(g2))
    return out
