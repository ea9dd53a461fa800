"""Example models, defined here so that nothing is downloaded.

``python -m freezeviz.examples`` runs the demo: freezes :class:`Net` (a convolution, a BatchNorm
and a call counter: freezing inlines the weights, folds the BatchNorm into the convolution and
keeps the counter), prints what happened to each attribute, and writes an HTML report.
Each factory is usable from the command line: ``freezeviz report freezeviz.examples:resnet50``.
"""

from __future__ import annotations

import torch
import torch.nn as nn


class MyModule(nn.Module):
    """First example of the torch.jit.freeze documentation: a Parameter and a Linear."""

    def __init__(self, N: int = 2, M: int = 3):
        super().__init__()
        self.weight = nn.Parameter(torch.rand(N, M))
        self.linear = nn.Linear(N, M)

    def forward(self, input):
        output = self.weight.mm(input)
        output = self.linear(output)
        return output


class MyModule2(nn.Module):
    """Second example of the torch.jit.freeze documentation: a mutated tensor, a version."""

    def __init__(self) -> None:
        super().__init__()
        self.modified_tensor = torch.tensor(10.0)
        self.version = 1

    def forward(self, input):
        self.modified_tensor += 1
        return input + self.modified_tensor


class Net(nn.Module):
    """The README's model: its weights are inlined, its BatchNorm is folded into the
    convolution, and the counter it writes on every call is kept as module state."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.bn = nn.BatchNorm2d(8)
        self.register_buffer("calls", torch.zeros(()))
        # statistics as after training: a fresh BatchNorm's weight and running_var are equal
        # (all ones), and torch would pool them into one constant
        with torch.no_grad():
            for t in (self.bn.weight, self.bn.running_var):
                t.uniform_(0.5, 1.5)
            for t in (self.bn.bias, self.bn.running_mean):
                t.uniform_(-0.5, 0.5)

    def forward(self, x):
        self.calls += 1
        return torch.relu(self.bn(self.conv(x)))


class ConvBNReLU(nn.Module):
    def __init__(self, cin: int = 3, cout: int = 8):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.drop = nn.Dropout(0.1)

    def forward(self, x):
        return self.drop(torch.relu(self.bn(self.conv(x))))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample if downsample is not None else nn.Identity()

    def forward(self, x):
        identity = self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """The ResNet of torchvision, written out so that no package or download is needed."""

    def __init__(self, layers=(3, 4, 6, 3), num_classes: int = 1000, width: int = 64):
        super().__init__()
        self.inplanes = width
        self.conv1 = nn.Conv2d(3, width, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = self._make_layer(width, layers[0])
        self.layer2 = self._make_layer(width * 2, layers[1], 2)
        self.layer3 = self._make_layer(width * 4, layers[2], 2)
        self.layer4 = self._make_layer(width * 8, layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(width * 8 * Bottleneck.expansion, num_classes)

    def _make_layer(self, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * 4:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * 4, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * 4))
        layers = [Bottleneck(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * 4
        layers += [Bottleneck(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet50() -> nn.Module:
    """ResNet-50 (25.6 M parameters), random weights, eval mode."""
    return ResNet((3, 4, 6, 3)).eval()


def resnet_tiny() -> nn.Module:
    """A small ResNet (one block per stage, width 8): quick to freeze and draw."""
    return ResNet((1, 1, 1, 1), num_classes=10, width=8).eval()


def transformer_encoder(layers: int = 6, d_model: int = 512) -> nn.Module:
    """``nn.TransformerEncoder``: 6 layers, d_model 512, 8 heads, eval mode."""
    layer = nn.TransformerEncoderLayer(d_model, nhead=8, dim_feedforward=2048, batch_first=True)
    return nn.TransformerEncoder(layer, num_layers=layers, enable_nested_tensor=False).eval()


def conv_bn_relu() -> nn.Module:
    return ConvBNReLU().eval()


def my_module() -> nn.Module:
    return MyModule().eval()


def my_module2() -> nn.Module:
    return MyModule2().eval()


def net() -> nn.Module:
    return Net().eval()


def main() -> None:
    import os

    import freezeviz

    report = freezeviz.freeze(net())
    print("freezeviz demo: torch.jit.freeze(Net().eval())  (conv -> bn -> relu, a call counter)\n")
    unused = [a for a in report.attributes if a.fate.value == "removed_unused"]
    for a in report.attributes:
        if a not in unused:
            print(f"  self.{a.path:<18} {a.fate.label:<28} {a.why}")
    print(f"  ... and {len(unused)} attributes that nothing reads, removed as unused:",
          ", ".join(a.path for a in unused))
    for path in ("bn.running_mean", "calls"):
        print()
        print(report.explain(path))
    print()
    changed = {id(s) for s in report.changed_stages()}
    print("Stages:", ", ".join(f"{s.label}{'*' if id(s) in changed else ''}" for s in report.stages),
          "(* = changed the graph)")
    try:
        from freezeviz.render.html import write_report
    except ImportError:
        return
    os.makedirs("out", exist_ok=True)
    path = write_report(report, "out/demo.html")
    print(f"\nWrote {path}: open it in a browser.")


if __name__ == "__main__":
    main()
