"""Small real modules (and a ResNet-50 built from torch.nn blocks) for the render tests.

They live in a real file because torch.jit.script needs their source.
"""


import torch
from torch import nn

from freezeviz.analysis import find_writers
from freezeviz.extract import snapshot_graph


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


class InplaceBuffer(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("buf", torch.zeros(3))
        self.w = nn.Parameter(torch.ones(3))

    def forward(self, x):
        self.buf.add_(1)
        return x * self.w + self.buf


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


class Bottleneck(nn.Module):
    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        width = planes
        self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu(out + identity)


class ResNet50(nn.Module):
    def __init__(self, layers=(3, 4, 6, 3), num_classes=1000):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make(64, layers[0])
        self.layer2 = self._make(128, layers[1], 2)
        self.layer3 = self._make(256, layers[2], 2)
        self.layer4 = self._make(512, layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(2048, num_classes)

    def _make(self, planes, blocks, stride=1):
        down = None
        if stride != 1 or self.inplanes != planes * 4:
            down = nn.Sequential(nn.Conv2d(self.inplanes, planes * 4, 1, stride, bias=False),
                                 nn.BatchNorm2d(planes * 4))
        layers = [Bottleneck(self.inplanes, planes, stride, down)]
        self.inplanes = planes * 4
        layers += [Bottleneck(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


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
