"""The Inductor backend against torch's own frozen graph (a plain torch.compile with freezing)."""

from __future__ import annotations

import copy
import json
import math

import pytest
import torch

import freezeviz
from freezeviz.data.fates import Fate
from freezeviz.data.baseline import SCHEMA, fates_document, to_json, validate
from freezeviz.errors import FreezeError
from freezeviz.examples import ConvBNReLU, resnet_tiny
from tests.inductor import models as M
from tests.inductor.truth import torch_frozen, truth_fates

X4 = torch.randn(2, 4, generator=torch.Generator().manual_seed(0))
IMG = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(1))
CASES = {
    "conv_bn_relu": (lambda: ConvBNReLU().eval(), IMG),
    "linear_scale": (M.LinearScale, X4),
    "mutated_buffer": (M.Counter, X4),
    "output_aliases_parameter": (M.AliasOut, X4),
    "global_tensor": (M.GlobalTensor, X4),
    "reassigned_attribute": (M.Reassigned, X4),
    "weight_tying": (M.Tied, X4),
    "resnet_tiny": (resnet_tiny, torch.randn(1, 3, 32, 32)),
    "transformer_block": (M.transformer_block, torch.randn(1, 5, 16)),
}
SLOW = {"resnet_tiny", "transformer_block"}
_reports: dict = {}


def _case(name):
    if name not in _reports:
        make, x = CASES[name]
        torch.manual_seed(0)
        model = make().eval()
        report = freezeviz.freeze(model, example_inputs=(x,), backend="inductor")
        _reports[name] = (model, x, report, torch_frozen(model, (x,)))
    return _reports[name]


def _eager(model, x):
    with torch.no_grad():
        out = copy.deepcopy(model)(x)
    out = tuple(o.detach() for o in out) if isinstance(out, tuple) else out.detach()
    return out if isinstance(out, tuple) else (out,)


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n
                                  for n in CASES])
def test_fates_match_torchs_frozen_graph(name):
    model, x, report, (work, seen, out) = _case(name)
    truth = truth_fates(work, seen)
    assert report.backend == "inductor"
    assert report.final_stage().graph.text == str(seen["final"].graph)
    assert {a.path for a in report.attributes} == set(truth)
    final_targets = {str(n.target) for n in seen["final"].graph.find_nodes(op="get_attr")}
    for a in report.attributes:
        want = truth[a.path]
        if want == "gone":  # read by forward, so its value went into another constant
            assert a.fate.value == "folded", (a.path, a.why)
            assert a.constant in final_targets, (a.path, a.constant)
        else:
            assert a.fate.value == want, (a.path, a.why)
    # the frozen graph runs like the compiled model: same difference from eager
    outs = out if isinstance(out, tuple) else (out,)
    diff = max(float((o.detach() - e).abs().max()) for o, e in zip(outs, _eager(model, x)))
    assert math.isclose(report.numerics[-1].max_abs, diff, abs_tol=1e-5)


def test_conv_bn_lineage_names_the_folded_bias():
    model, _, report, (_, seen, _) = _case("conv_bn_relu")
    bias = report.attribute("bn.bias")
    assert bias.fate.value == "folded"
    assert {"bn.running_mean", "bn.running_var", "bn.weight"} <= set(
        report.final_stage().graph.producer(_value_of(report, bias.constant)).constant.attributes)
    conv, bn = model.conv, model.bn
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    conv_bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    expected = (conv_bias - bn.running_mean) * scale + bn.bias
    got = getattr(seen["final"], bias.constant)
    torch.testing.assert_close(got.reshape(-1), expected.detach())


def _value_of(report, target):
    return next(n.outputs[0].name for n in report.final_stage().graph.iter_nodes()
                if n.attr("target") == target)


def test_mutated_buffer_names_the_write_and_leaves_the_module_alone():
    model, _, report, _ = _case("mutated_buffer")
    assert float(model.count) == 0.0  # the user's module was never run
    count = report.attribute("count")
    assert count.fate.value == "preserved_mutated"
    assert any(e.kind == "operator.iadd" and e.source and "self.count += 1" in e.code
               for e in count.evidence)


def test_alias_is_said_apart_from_a_write():
    report = _case("output_aliases_parameter")[2]
    w = report.attribute("w")
    assert w.fate.value == "preserved_aliased" and w.fate.survives and "aliases" in w.why
    assert "aliases" in w.fate.label and "written" not in w.fate.label
    assert report.attribute("b").fate.value == "inlined"
    jsonschema = pytest.importorskip("jsonschema")
    document = json.loads(to_json(fates_document(report)))
    validate(document)
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.validate(document, schema)
    assert schema["$defs"]["fate"]["enum"] == [f.value for f in Fate]
    assert {a["path"]: a["fate"] for a in document["attributes"]}["w"] == "preserved_aliased"


def test_global_tensor_is_an_input_not_an_attribute():
    report = _case("global_tensor")[2]
    assert len(report.stages[0].graph.inputs) == 2  # x and the global
    assert {a.path for a in report.attributes} == {"fc.weight", "fc.bias"}


def test_tied_weight_shares_its_fate_and_says_so():
    report = _case("weight_tying")[2]
    emb, out = report.attribute("emb.weight"), report.attribute("out.weight")
    assert emb.fate == out.fate and emb.constant == out.constant
    assert "same tensor as emb.weight" in out.why and "tied" not in emb.why


def test_reassigned_attribute_is_warned_about():
    model, _, report, _ = _case("reassigned_attribute")
    assert float(model.steps) == 0.0
    steps = report.attribute("steps")
    assert steps.fate.value == "folded" and "recompiles" not in (steps.warning or "x")
    assert "every call compiles" in steps.warning and steps.warning in report.warnings
    assert report.attribute("fc.bias").warning is None


def test_training_mode_keeps_running_stats_and_leaves_random_state_alone():
    torch.manual_seed(0)
    model = ConvBNReLU().train()
    rng = torch.get_rng_state()
    report = freezeviz.freeze(model, example_inputs=(IMG.expand(2, -1, -1, -1),),
                              backend="inductor")
    assert torch.equal(torch.get_rng_state(), rng) and model.training
    assert float(model.bn.num_batches_tracked) == 0
    work, seen, _ = torch_frozen(model, (IMG.expand(2, -1, -1, -1),))
    truth = truth_fates(work, seen)
    for path in ("bn.running_mean", "bn.running_var", "bn.num_batches_tracked"):
        assert truth[path] == report.attribute(path).fate.value == "preserved_mutated"
    assert any("training mode" in w for w in report.warnings)
    # dropout draws random numbers differently in each stage: no stage is blamed for it
    assert not any("first move" in w for w in report.warnings)
    assert any("random numbers" in w for w in report.warnings)


def test_binary_folding_miscompile_is_flagged_at_its_pass():
    torch.manual_seed(0)
    model, x = M.TwoConvScales().eval(), torch.randn(1, 3, 4, 4)
    report = freezeviz.freeze(model, example_inputs=(x,), backend="inductor")
    _, _, out = torch_frozen(model, (x,))
    wrong = max(float((o - e).abs().max()) for o, e in zip(out, _eager(model, x)))
    assert wrong > 0.1  # torch's own frozen graph is off
    rows = {r.stage: r for r in report.numerics}
    assert rows["constant_fold#1"].max_abs < 1e-5
    assert math.isclose(rows["binary_folding#1"].max_abs, wrong, rel_tol=1e-4)
    assert any("first move at stage binary_folding#1" in w for w in report.warnings)
    # the fates say what went in: one tensor the pass made, for both convolutions' scales
    why = report.attribute("c1.weight").why
    assert "computed with other_tensor, a tensor no attribute stands for" in why, why
    assert "c2.weight" in why.split("other_tensor", 1)[1], why
    steps = [e.description for e in report.attribute("c1.weight").evidence]
    assert any("from the constants _frozen_param0, other_tensor" in t for t in steps), steps


def test_torch_is_left_as_it_was_after_an_interrupt(monkeypatch):
    import torch._inductor.freezing as fz
    from torch._inductor import config
    from torch._inductor.fx_passes import freezing_patterns as fp

    def interrupted(gm):
        raise KeyboardInterrupt

    monkeypatch.setattr(fz, "view_to_reshape", interrupted)
    fold = fz.constant_fold
    with pytest.raises(KeyboardInterrupt):
        freezeviz.freeze(M.LinearScale(), example_inputs=(X4,), backend="inductor")
    assert fz.view_to_reshape is interrupted and fz.constant_fold is fold
    assert "apply" not in vars(fp.binary_folding_pass)
    assert not config.freezing and torch.is_grad_enabled()


def test_other_torch_falls_back_to_public_stages(monkeypatch):
    from freezeviz.engine.inductor import hooks

    monkeypatch.setattr(hooks, "HOOKS", (*hooks.HOOKS, ("torch._inductor.freezing", "gone_fn")))
    model = M.Counter().eval()
    report = freezeviz.freeze(model, example_inputs=(X4,), backend="inductor")
    assert [s.name for s in report.stages] == ["dynamo", "frozen"]
    assert any("gone_fn" in w and "public stages" in w for w in report.warnings)
    work, seen, _ = torch_frozen(model, (X4,))
    truth = truth_fates(work, seen)
    fates = report.fates
    assert fates["count"].value == truth["count"] == "preserved_mutated"
    assert fates["fc.bias"].value == "inlined" and truth["fc.bias"] == "inlined"


def test_errors_say_what_to_do():
    with pytest.raises(FreezeError, match="needs example_inputs"):
        freezeviz.freeze(M.LinearScale(), backend="inductor")
    with pytest.raises(FreezeError, match="ScriptModule"):
        freezeviz.freeze(torch.jit.script(M.LinearScale()), example_inputs=(X4,),
                         backend="inductor")
    with pytest.raises(FreezeError, match="example_inputs do not run through the module"):
        freezeviz.freeze(M.LinearScale(), example_inputs=(torch.randn(2, 5),), backend="inductor")
    with pytest.raises(FreezeError, match="preserved_attrs"):
        freezeviz.freeze(M.LinearScale(), ["scale"], example_inputs=(X4,), backend="inductor")


class _Breaks(torch.nn.Module):
    def forward(self, x):
        y = x + 1
        torch._dynamo.graph_break()
        return y * 2


def test_graph_breaks_are_listed():
    with pytest.raises(FreezeError, match=r"(?s)one graph.*Graph breaks:.*test_inductor.py"):
        freezeviz.freeze(_Breaks(), example_inputs=(X4,), backend="inductor")


@pytest.mark.needs_dot
def test_views_work_unchanged_on_an_inductor_report(tmp_path):
    import pickle

    report = _case("conv_bn_relu")[2]
    final = report.draw("final")
    assert "self.bn.running_var" in final.svg and "_convolution_pointwise" in final.svg
    assert report.draw("frozen", diff_against="aot").svg
    assert "torch.compile" in report.repro() and "jit" not in report.repro()
    again = pickle.loads(pickle.dumps(report))
    assert again.backend == "inductor" and again.fates == report.fates
    assert '"fate": "folded"' in report.to_json()


def test_cli_takes_the_backend(capsys):
    from freezeviz.cli import main

    code = main(["explain", "freezeviz.examples:conv_bn_relu", "bn.bias", "--backend",
                 "inductor", "--inputs", "1x3x8x8", "-q"])
    out = capsys.readouterr().out
    assert code == 0 and "[folded]" in out and "replace_params_with_constants" in out
    assert main(["stages", "freezeviz.examples:conv_bn_relu", "--backend", "inductor",
                 "-q"]) == 2
    assert "--backend inductor needs --inputs" in capsys.readouterr().err


@pytest.mark.slow
def test_codegen_runs_the_generated_code():
    from freezeviz.engine.inductor.backend import InductorBackend

    torch.manual_seed(0)
    model, x = M.TwoConvScales().eval(), torch.randn(1, 3, 4, 4)
    report = freezeviz.freeze(model, example_inputs=(x,), backend=InductorBackend(codegen=True))
    with torch.no_grad(), torch._inductor.config.patch(freezing=True):
        torch._dynamo.reset()
        out = torch.compile(copy.deepcopy(model))(x)
        torch._dynamo.reset()
    wrong = max(float((o - e).abs().max()) for o, e in zip(out, _eager(model, x)))
    assert report.stages[-1].name == "codegen" and report.numerics[-1].stage == "codegen"
    assert [r.stage for r in report.numerics].count("codegen") == 1
    assert math.isclose(report.numerics[-1].max_abs, wrong, rel_tol=1e-4)
    # without codegen, the same model and inputs: another report, with no codegen stage
    plain = freezeviz.freeze(model, example_inputs=(x,), backend="inductor")
    assert "codegen" not in [s.name for s in plain.stages]
