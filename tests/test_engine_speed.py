"""Work the engine must not do, or not do more than once: checked by counting it, against the
real torch freeze as ground truth for what each stage holds."""

from __future__ import annotations

import pickle

import torch

import freezeviz
from freezeviz.engine.torchscript import constants as C


def _count_code_printing(monkeypatch) -> list:
    """Counts torch printing the code of a graph (each stage's code but the scripted one)."""
    calls: list = []
    real = torch._C._create_function_from_graph

    def counted(name, graph):
        calls.append(name)
        return real(name, graph)

    monkeypatch.setattr(torch._C, "_create_function_from_graph", counted)
    return calls


def _torch_stage_codes(module) -> dict[str, str]:
    """torch's own printout of the graphs the stages stand for, made here step by step:
    inlined, frozen, after remove_dropout and after each later pass."""
    script = torch.jit.script(module)

    def code(graph) -> str:
        return torch._C._create_function_from_graph("forward", graph).code

    inlined = script.forward.graph.copy()
    torch._C._jit_pass_inline(inlined)
    frozen = torch._C._freeze_module(script._c, [])
    graph = frozen._get_method("forward").graph
    out = {"inlined": code(inlined), "frozen": code(graph)}
    torch._C._jit_pass_remove_dropout(frozen)
    out["remove_dropout"] = code(graph)
    work = graph.copy()
    for name, fn in (("concat_frozen_linear", "_jit_pass_concat_frozen_linear"),
                     ("fold_conv_bn", "_jit_pass_fold_frozen_conv_bn")):
        getattr(torch._C, fn)(work)
        out[name] = code(work)
    return out


def test_code_is_printed_when_read_and_is_torchs_printout(monkeypatch):
    from freezeviz.examples import conv_bn_relu

    torch.manual_seed(0)
    module = conv_bn_relu()
    truth = _torch_stage_codes(module)
    calls = _count_code_printing(monkeypatch)
    report = freezeviz.freeze(module)
    # torch's printer takes time that grows faster than the graph: nothing is printed (not
    # even by finding a stage in the list of stages) until someone reads a stage's code
    assert calls == []
    # (the first line names self's type, which each scripting of the module names anew)
    for name, text in truth.items():
        assert report.stage(name).code.splitlines()[1:] == text.splitlines()[1:], name
    printed = len(calls)
    assert 0 < printed <= len(truth)
    # read again, or through a stage that shares the graph before it: printed once
    assert [s.code for s in report.stages] and len(calls) == printed
    # a pickle holds plain text, equal to what was read
    again = pickle.loads(pickle.dumps(report))
    assert [s.code for s in again.stages] == [s.code for s in report.stages]
    assert all(type(s.__dict__["_code"]) is str for s in again.stages)


def test_pickling_a_report_prints_code_not_read_yet(monkeypatch):
    from freezeviz.examples import conv_bn_relu

    torch.manual_seed(0)
    module = conv_bn_relu()
    truth = _torch_stage_codes(module)
    calls = _count_code_printing(monkeypatch)
    report = freezeviz.freeze(module)
    again = pickle.loads(pickle.dumps(report))
    assert calls
    for name, text in truth.items():
        assert again.stage(name).code.splitlines()[1:] == text.splitlines()[1:], name


class Scaled(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = 2.0
        self.shift = 3

    def forward(self, x):
        return x * self.scale + self.shift


class ManyScalars(torch.nn.Module):
    """Many layers with equal scalar attributes, which constant pooling merges."""

    def __init__(self, n: int = 40):
        super().__init__()
        self.layers = torch.nn.ModuleList(Scaled() for _ in range(n))

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def test_pooled_scalars_are_matched_without_comparing_every_pair(monkeypatch):
    compared = []
    real = C._same_value

    def counted(node, value):
        compared.append(value)
        return real(node, value)

    monkeypatch.setattr(C, "_same_value", counted)
    module = ManyScalars().eval()
    report = freezeviz.freeze(module)
    scalars = [a for a in report.attributes if a.path.endswith((".scale", ".shift"))]
    assert len(scalars) == 80
    # each scalar attribute is looked up, not compared with each constant in turn (which
    # grew with the square of the depth)
    assert len(compared) < len(scalars)
    # the fates agree with the real freeze, which keeps none of them
    frozen = torch.jit.freeze(torch.jit.script(module))
    assert not frozen._c.hasattr("layers")
    assert all(a.fate.value == "inlined" for a in scalars)
    # pooling merged the equal constants into the first layer's, and the report says so
    assert "merged its constant into the equal constant %self.layers.0.scale" in \
        report.attribute("layers.7.scale").why
