"""Small models whose Inductor freezing the tests check against torch's own frozen graph."""

from __future__ import annotations

import torch
from torch import nn

GLOBAL_SCALE = torch.tensor([0.5, 2.0, 1.5, 3.0])


class ConvBN(nn.Module):
    """A convolution and the BatchNorm after it: the fold every freezer does."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)

    def forward(self, x):
        return self.bn(self.conv(x))


class LinearScale(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.register_buffer("scale", torch.tensor([1.0, 2.0, 3.0, 4.0]))

    def forward(self, x):
        return self.fc(x) * self.scale


class Counter(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.register_buffer("count", torch.zeros(1))

    def forward(self, x):
        self.count += 1
        return self.fc(x) + self.count


class AliasOut(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(4, 4))
        self.b = nn.Parameter(torch.randn(4))

    def forward(self, x):
        return x @ self.w + self.b, self.w.t()


class GlobalTensor(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return self.fc(x) * GLOBAL_SCALE


class Reassigned(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.register_buffer("steps", torch.zeros(1))

    def forward(self, x):
        self.steps = self.steps + 1
        return self.fc(x) + self.steps


class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Linear(4, 6, bias=False)
        self.head = nn.Linear(6, 4, bias=False)
        self.out = nn.Linear(4, 6, bias=False)
        self.out.weight = self.emb.weight
        self.register_buffer("unused", torch.ones(2))

    def forward(self, x):
        return self.out(self.head(self.emb(x)))


class TwoConvScales(nn.Module):
    """Two 1x1 convs scaled by different constants: torch 2.13's binary folding gives the
    second scale to both (every folded operand is registered as the one buffer other_tensor)."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 4, 1)
        self.c2 = nn.Conv2d(3, 4, 1)

    def forward(self, x):
        return self.c1(x) * 2.0, self.c2(x) * 3.0


def transformer_block() -> nn.Module:
    return nn.TransformerEncoderLayer(16, nhead=2, dim_feedforward=32, batch_first=True).eval()
