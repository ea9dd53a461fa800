"""State reached through lists, tuples and dicts; recurrent layers, which read their weights
only through such a list; and layers whose fresh values are equal, so that torch's constant
pooling merges their constants.

A real file, because torch.jit.script needs the source. No `from __future__ import
annotations`: TorchScript reads the class-level annotations of empty or typed containers.
"""

from typing import Dict, List, Tuple

import torch
import torch.nn as nn


# --- recurrent layers: nn.LSTM and nn.GRU read weight_ih_l0 & co. through _flat_weights ------
class LSTMWrap(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(3, 4, num_layers=2)

    def forward(self, x):
        out, _ = self.rnn(x)
        return out


class GRUWrap(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(3, 4, bidirectional=True)

    def forward(self, x):
        out, _ = self.rnn(x)
        return out


# --- containers of tensors ----------------------------------------------------------------
class TensorList(nn.Module):
    """Only read: the loop is unrolled and each element becomes a constant of its own."""

    ws: List[torch.Tensor]

    def __init__(self):
        super().__init__()
        self.ws = [torch.randn(3), torch.randn(3)]

    def forward(self, x):
        for w in self.ws:
            x = x * w
        return x


class TensorDict(nn.Module):
    d: Dict[str, torch.Tensor]

    def __init__(self):
        super().__init__()
        self.d = {"scale": torch.randn(3), "shift": torch.randn(3)}

    def forward(self, x):
        return x * self.d["scale"] + self.d["shift"]


class TensorTuple(nn.Module):
    pair: Tuple[torch.Tensor, torch.Tensor]

    def __init__(self):
        super().__init__()
        self.pair = (torch.randn(3), torch.randn(3))

    def forward(self, x):
        return x * self.pair[0] + self.pair[1]


class ParamsThroughList(nn.Module):
    """Parameters read only through a list that holds them, as nn.LSTM does."""

    def __init__(self):
        super().__init__()
        self.a = nn.Parameter(torch.randn(3))
        self.b = nn.Parameter(torch.randn(3))
        self.ws = [self.a, self.b]

    def forward(self, x):
        return x * self.ws[0] + self.ws[1]


class ElementWritten(nn.Module):
    """An element written in place: torch's alias analysis does not count that as a write of
    the list, so the freezer inlines the list all the same."""

    def __init__(self):
        super().__init__()
        self.register_buffer("a", torch.zeros(3))
        self.register_buffer("b", torch.ones(3))
        self.ws = [self.a, self.b]

    def forward(self, x):
        self.ws[0].add_(1)
        return x * self.ws[0] + self.ws[1]


class TensorsInKeptList(nn.Module):
    """Buffers held by a list that forward appends to, so the list stays module state."""

    def __init__(self):
        super().__init__()
        self.register_buffer("a", torch.randn(3))
        self.ws: List[torch.Tensor] = [self.a]

    def forward(self, x):
        self.ws.append(x)
        return x + self.ws[0]


# --- equal values: fresh BatchNorms hold ones and zeros, which constant pooling merges -------
class ConvBNBN(nn.Module):
    """The second BatchNorm cannot fold into the convolution once the first has."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.bn2 = nn.BatchNorm2d(4)

    def forward(self, x):
        return self.bn2(self.bn(self.conv(x)))


class BNStack(nn.Module):
    """Several BatchNorms: two fold into their convolutions, the one after a pooling does not."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(4)
        self.pool = nn.AvgPool2d(2)
        self.bn3 = nn.BatchNorm2d(4)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        x = torch.relu(self.bn2(self.conv2(x)))
        return self.bn3(self.pool(x))


class TwinBN(nn.Module):
    """Two BatchNorms on the same input: with equal statistics, pooling makes their ops equal
    too, and common-subexpression elimination merges them."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn_a = nn.BatchNorm2d(4)
        self.bn_b = nn.BatchNorm2d(4)

    def forward(self, x):
        y = self.conv(x)
        return self.bn_a(y) + self.bn_b(y)


def random_statistics(make):
    """The same architecture with random BatchNorm statistics and affine values, so that no
    two of them are equal."""

    def build():
        module = make()
        gen = torch.Generator().manual_seed(1)
        with torch.no_grad():
            for m in module.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.running_mean.uniform_(-1, 1, generator=gen)
                    m.running_var.uniform_(0.5, 2, generator=gen)
                    m.weight.uniform_(0.5, 2, generator=gen)
                    m.bias.uniform_(-1, 1, generator=gen)
        return module

    build.__name__ = f"{make.__name__}_random"
    return build
