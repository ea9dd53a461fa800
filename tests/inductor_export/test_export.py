"""torch.export input for Inductor freezing: an ExportedProgram's signature, read and unlifted
without changing the program, and the AOTInductor hazard, checked against real torch.export
(and, in the slow test, a real AOTInductor package)."""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
from torch import nn

import freezeviz
from freezeviz import FreezeError
from freezeviz.data.fates import Fate
from freezeviz.data.report import AttributeInfo
from freezeviz.engine.inductor.export import export_warnings, exported_input
from tests.inductor.models import ConvBN, Counter


class Nested(nn.Module):
    """A written buffer below the root, to check the paths of submodules."""

    def __init__(self):
        super().__init__()
        self.inner = Counter()

    def forward(self, x):
        return self.inner(x)


def _export(model, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.export.export(model.eval(), args, kwargs=kwargs or None)


def _decomposed_writes(ep) -> tuple[str, ...]:
    """torch's own answer: buffers_to_mutate of the decomposed program."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return tuple(ep.run_decompositions().graph_signature.buffers_to_mutate.values())


def _state(ep):
    """What must not change: the graph, the signature and every tensor of the program."""
    return (str(ep.graph), str(ep.graph_signature),
            {k: (v, v.detach().clone()) for k, v in ep.state_dict.items()})


def _unchanged(ep, before) -> bool:
    graph, sig, tensors = before
    return (str(ep.graph) == graph and str(ep.graph_signature) == sig
            and set(ep.state_dict) == set(tensors)
            and all(ep.state_dict[k] is t and torch.equal(t, c) for k, (t, c) in tensors.items()))


def _report(**fates):
    """A report-like object holding just the attributes export_warnings reads."""
    attrs = tuple(AttributeInfo(path, "buffer", "Tensor", Fate(f), "") for path, f in fates.items())
    return type("R", (), {"attributes": attrs})()


def test_counter_signature_matches_the_program():
    ep = _export(Counter(), torch.randn(2, 4))
    before = _state(ep)
    info = exported_input(ep)
    sig = ep.graph_signature
    assert info.parameters == tuple(sig.parameters) == ("fc.weight", "fc.bias")
    assert info.buffers == tuple(sig.buffers) == ("count",)
    assert sig.buffers_to_mutate == {}  # the raw export IR keeps the in-place op
    assert info.mutated_buffers == _decomposed_writes(ep) == ("count",)
    assert _unchanged(ep, before)


def test_example_inputs_are_the_programs():
    x = torch.randn(2, 4)
    ep = _export(Counter(), x)
    info = exported_input(ep)
    args, kwargs = ep.example_inputs
    assert len(info.example_inputs) == 1 and torch.equal(info.example_inputs[0], args[0])
    assert info.example_kwarg_inputs is None and kwargs == {}


def test_keyword_example_inputs_are_kept_apart():
    class Kw(nn.Module):
        def forward(self, x, *, scale):
            return x * scale

    x, s = torch.randn(3), torch.randn(3)
    ep = _export(Kw(), x, scale=s)
    info = exported_input(ep)
    assert torch.equal(info.example_inputs[0], x)
    assert set(info.example_kwarg_inputs) == {"scale"}
    assert torch.equal(info.example_kwarg_inputs["scale"], s)


def test_a_program_without_example_inputs():
    ep = _export(Counter(), torch.randn(2, 4))
    ep.example_inputs = None  # a program can come without them (e.g. older saved files)
    info = exported_input(ep)
    assert info.example_inputs is None and info.example_kwarg_inputs is None


def test_running_the_module_never_writes_the_program():
    """ep.module() shares the program's tensors: running the unlifted module three times
    must leave the program's counter at zero, and the program must still compute as before."""
    x = torch.randn(2, 4)
    model = Counter().eval()
    ep = _export(model, x)
    before = _state(ep)
    expected = copy.deepcopy(model)(x)  # count 0 -> 1, as the program's first call
    info = exported_input(ep)
    with torch.no_grad():
        outs = [info.module(x) for _ in range(3)]
    torch.testing.assert_close(outs[0], expected)
    torch.testing.assert_close(outs[2] - outs[0], torch.full_like(outs[0], 2.0))
    assert _unchanged(ep, before) and ep.state_dict["count"].item() == 0
    torch.testing.assert_close(ep.module()(x), expected)


def test_conv_bn_has_no_written_buffer():
    ep = _export(ConvBN(), torch.randn(1, 3, 8, 8))
    before = _state(ep)
    info = exported_input(ep)
    assert info.parameters == ("conv.weight", "conv.bias", "bn.weight", "bn.bias")
    assert info.buffers == tuple(ep.graph_signature.buffers)
    assert set(info.buffers) == {"bn.running_mean", "bn.running_var", "bn.num_batches_tracked"}
    assert info.mutated_buffers == _decomposed_writes(ep) == ()
    x = torch.randn(1, 3, 8, 8)
    torch.testing.assert_close(info.module(x), ep.module()(x))
    assert _unchanged(ep, before)
    assert export_warnings(_report(**dict.fromkeys(info.buffers, "folded")), info) == ()


def test_parameter_only_linear():
    ep = _export(nn.Linear(5, 2), torch.randn(3, 5))
    info = exported_input(ep)
    assert info.parameters == ("weight", "bias") and info.buffers == ()
    assert info.mutated_buffers == () and info.constants == ()
    assert export_warnings(_report(weight="inlined", bias="inlined"), info) == ()


def test_plain_tensor_attribute_is_a_lifted_constant():
    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = torch.tensor(3.0)

        def forward(self, x):
            return x * self.scale

    ep = _export(Scaled(), torch.randn(2))
    info = exported_input(ep)
    assert info.constants == tuple(ep.graph_signature.lifted_tensor_constants) == ("scale",)


def test_nested_written_buffer_has_its_full_path():
    x = torch.randn(2, 4)
    ep = _export(Nested(), x)
    before = _state(ep)
    info = exported_input(ep)
    assert info.mutated_buffers == ("inner.count",)
    with torch.no_grad():
        info.module(x)
    assert _unchanged(ep, before)


def test_written_buffers_without_decomposition(monkeypatch):
    """A program that does not decompose: the written buffers come from the raw graph's
    in-place ops, and agree with what the decomposed program says."""
    ep = _export(Nested(), torch.randn(2, 4))
    real = _decomposed_writes(ep)

    def fails(*a, **k):
        raise RuntimeError("no decomposition for a custom op")

    monkeypatch.setattr(ep, "run_decompositions", fails)
    assert exported_input(ep).mutated_buffers == real == ("inner.count",)


@pytest.mark.parametrize("obj", [nn.Linear(2, 2), "model.pt2", None])
def test_not_an_exported_program(obj):
    with pytest.raises(FreezeError, match="Expected a torch.export.ExportedProgram"):
        exported_input(obj)


def test_a_program_that_cannot_be_unlifted():
    ep = _export(Counter(), torch.randn(2, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        broken = copy.deepcopy(ep)
    del broken._state_dict["fc.weight"]  # as a hand-edited or truncated program would be
    with pytest.raises(FreezeError, match=r"could not turn this ExportedProgram back") as err:
        exported_input(broken)
    assert "fc.weight" in str(err.value)
    assert isinstance(err.value.__cause__, KeyError)


def test_hazard_names_each_written_buffer_and_what_the_freeze_did():
    ep = _export(Nested(), torch.randn(2, 4))
    info = exported_input(ep)
    kept = export_warnings(_report(**{"inner.count": "preserved_mutated"}), info)
    assert len(kept) == 1 and kept[0].startswith(
        "AOTInductor would make buffer inner.count a constant and drop its update; outputs "
        "drift over calls")
    assert "torch.compile keeps it as a graph input" in kept[0]
    folded = export_warnings(_report(**{"inner.count": "inlined"}), info)
    assert folded[0].startswith("The program writes buffer inner.count, yet the frozen graph "
                                "holds it as a constant")
    assert export_warnings(_report(**{"inner.count": "removed_unused"}), info) == ()


@pytest.mark.slow
def test_the_hazard_is_real_in_aotinductor(tmp_path):
    """The warning's claim, checked: an AOTInductor package of the counter program returns
    the first call's result on every call, while the model drifts by 1 per call."""
    x = torch.randn(2, 4)
    model = Counter().eval()
    ep = _export(copy.deepcopy(model), x)  # the program shares the model's tensors
    info = exported_input(ep)
    assert export_warnings(_report(count="preserved_mutated"), info)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        path = torch._inductor.aoti_compile_and_package(
            ep, package_path=str(tmp_path / "counter.pt2"),
            inductor_configs={"freezing": True})
        runner = torch._inductor.aoti_load_package(path)
        drift = [(model(x) - runner(x)).abs().max().item() for _ in range(3)]
    assert drift == pytest.approx([0.0, 1.0, 2.0], abs=1e-5)


def test_the_unlifted_module_is_not_in_training_mode():
    """ep.module() leaves every training flag True (and refuses .eval()), though the exported
    graph is fixed: the module handed to the freezer must not read as one in training mode."""
    x = torch.randn(1, 3, 8, 8)
    ep = _export(ConvBN(), x)
    assert ep.module().training  # what torch gives
    info = exported_input(ep)
    assert not any(m.training for m in info.module.modules())
    torch.testing.assert_close(info.module(x), ep.module()(x))


@pytest.mark.slow
def test_freezing_a_program_with_inductor_warns_and_leaves_it_alone():
    x = torch.randn(2, 4)
    ep = _export(Counter(), x)
    before = _state(ep)
    report = freezeviz.freeze(ep, backend="inductor")
    assert report.attribute("count").fate is Fate.PRESERVED_MUTATED
    hazard = [w for w in report.warnings if w.startswith("AOTInductor would make buffer count")]
    assert len(hazard) == 1 and "torch.compile keeps it as a graph input" in hazard[0]
    assert not any("training mode" in w for w in report.warnings)
    assert _unchanged(ep, before) and ep.state_dict["count"].item() == 0
