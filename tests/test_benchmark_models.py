"""The public benchmark set: every model builds and runs, and freezeviz freezes the small ones
exactly as torch.jit.freeze does."""

from __future__ import annotations

import pytest
import torch

import freezeviz
from benchmarks import bench_freeze, table
from benchmarks.models import MODELS, BenchModel, BertLike, LSTMModel, bert_inputs
from freezeviz.data.diff import normalize_graph_text
from freezeviz.engine.torchscript.analysis import inventory
from tests.test_corpus import check_constants


def _run(model, inputs):
    with torch.no_grad():
        return model(**inputs) if isinstance(inputs, dict) else model(*inputs)


def _tensors(out) -> list[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, dict):
        out = list(out.values())
    return [t for o in out for t in _tensors(o)]


# real-size weights take seconds to initialise and run on 2 cores
HEAVY = {"resnet50", "vit_b_16", "transformer24", "transformer48", "bert"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in HEAVY else n
                                  for n in MODELS])
def test_every_model_builds_and_runs(name):
    bench = MODELS[name]
    model = bench.build()
    assert not model.training
    outputs = _tensors(_run(model, bench.inputs()))
    assert outputs and all(torch.isfinite(t).all() for t in outputs)


def test_the_benchmarks_name_every_model():
    assert set(bench_freeze.SET) == set(MODELS)
    for name in MODELS:
        assert f"raw_{name}" in bench_freeze.BENCHMARKS
        assert f"freezeviz_{name}" in bench_freeze.BENCHMARKS


SMALL = {
    "lstm_small": BenchModel("lstm_small", lambda: LSTMModel(8, 16, layers=2, outputs=3),
                             lambda: (torch.randn(2, 5, 8),)),
    "mha": MODELS["mha"],
    "bert_2_layers": BenchModel("bert_2_layers", lambda: BertLike(2, 32, 4, 64, vocab=100,
                                                                  max_positions=16),
                                lambda: bert_inputs(2, 8, vocab=100), how="trace"),
}


def _freeze_both(bench: BenchModel, model):
    """freezeviz's report and torch's frozen module of one ScriptModule. A scripted model is
    scripted once for both: two scriptings of nn.MultiheadAttention may name a pooled constant
    differently (``%self._qkv_same_embed_dim`` or a number), so only one scripting compares
    graph texts. A traced model is traced by freezeviz itself, from its keyword inputs."""
    scripted = bench.script(model)
    if bench.how == "trace":
        return freezeviz.freeze(model, **bench.freeze_kwargs()), scripted
    return freezeviz.freeze(scripted), scripted


def _check_against_torch(report, scripted, inputs) -> None:
    """``report`` is torch.jit.freeze of ``scripted``: same graph, outputs and survivors; its
    fates name torch's constants."""
    expected = torch.jit.freeze(scripted)
    ours = normalize_graph_text(str(report.frozen_module.graph))
    assert ours == normalize_graph_text(str(expected.graph))
    assert normalize_graph_text(report.final_stage().graph.text) == ours
    for got, want in zip(_tensors(_run(report.frozen_module, inputs)),
                         _tensors(_run(expected, inputs))):
        torch.testing.assert_close(got, want)
    survivors = {s.path for s in inventory(expected._c)}
    assert survivors <= {a.path for a in report.attributes} | {"training"}
    for a in report.attributes:
        assert (a.path in survivors) == a.fate.survives, (a.path, a.fate, a.why)
    check_constants(report, expected, scripted, ["forward"], same_tensors=True)
    assert any(a.fate.value in ("inlined", "folded") for a in report.attributes)


@pytest.mark.parametrize("name", list(SMALL))
def test_freezeviz_matches_torch_on_the_small_models(name):
    bench = SMALL[name]
    model = bench.build()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    report, scripted = _freeze_both(bench, model)
    assert report.obtained == ("traced" if bench.how == "trace" else "given")
    _check_against_torch(report, scripted, bench.inputs())
    if bench.how == "script":  # the nn.Module itself, as the benchmark passes it: same fates
        fates = [(a.path, a.fate) for a in freezeviz.freeze(model).attributes]
        assert fates == [(a.path, a.fate) for a in report.attributes]
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_bert_like_traces_from_positional_inputs():
    """As a BERT model is usually given: ``example_inputs=(ids,)``, no wrapper."""
    bench = SMALL["bert_2_layers"]
    model = bench.build()
    ids = bench.inputs()["input_ids"]
    report = freezeviz.freeze(model, example_inputs=(ids,))
    assert report.obtained == "traced"
    with torch.no_grad():
        scripted = torch.jit.trace(model, (ids,), strict=False)
    _check_against_torch(report, scripted, (ids,))
    assert report.attribute("pooler.weight").fate.value in ("inlined", "folded")


def test_bert_like_only_traces():
    with pytest.raises(torch.jit.frontend.NotSupportedError, match="variable number of arguments"):
        torch.jit.script(SMALL["bert_2_layers"].build())


def test_table_judges_each_figure_against_its_target():
    values = {"raw_mha": 2.0, "freezeviz_mha": 2.5, "raw_lstm": 1.0, "freezeviz_lstm": 2.0,
              "memory_raw_resnet50": 100.0, "memory_freezeviz_resnet50": 120.0}
    rows = {r["measure"]: r for r in table.rows(values, {"transformer48": 6 * 2**20},
                                                {"transformer48": 1.5}, None)}
    assert rows["freeze / raw: mha"]["value"] == pytest.approx(1.25)
    assert rows["freeze / raw: mha"]["ok"] is True
    assert rows["freeze / raw: lstm"]["ok"] is False
    assert rows["peak memory / raw: resnet50"]["ok"] is True
    assert rows["HTML report size: transformer48"]["ok"] is False
    assert rows["Chromium, open report until drawn: transformer48"]["ok"] is True
    assert not any("resnet50_cached" in m or "vit" in m for m in rows)  # not measured: no row


@pytest.mark.parametrize("key,target", [
    ("first view / raw", 2.0), ("first_view_ratio_raw", 2.0), ("new set / raw", 1.5),
    ("seen set, ms", 150.0), ("seen_set_ms", 150.0), ("first view / raw (target <= 3)", 3.0),
    ("raw freeze, s", None), ("first view, s", None), ("seen_set_range_ms", None)])
def test_browser_figures_get_their_targets(key, target):
    assert table.browser_target(key) == target


def test_browser_module_targets_come_first():
    figures = {"first_view_ratio": 2.5, "seen_set_ms": 90.0, "seen_set_range_ms": 400.0,
               "repetitions": 3.0}
    rows = {r["measure"]: r for r in table.browser_rows(
        figures, {"first_view_ratio": 2.0, "seen_set_ms": 150.0})}
    assert rows["browser: first_view_ratio"]["ok"] is False
    assert rows["browser: seen_set_ms"]["ok"] is True
    assert rows["browser: seen_set_range_ms"]["target"] is None
    assert "browser: repetitions" not in rows


@pytest.mark.browser
@pytest.mark.needs_dot
def test_chromium_timing_waits_for_the_drawn_report(tmp_path, chromium_path):
    from benchmarks.chromium import open_times
    from freezeviz.examples import net
    from freezeviz.render.html import write_report

    path = write_report(freezeviz.freeze(net()), tmp_path / "net.html")
    seconds = open_times({"net": path}, repeats=1)["net"]
    assert 0 < seconds < 60
    (tmp_path / "blank.html").write_text("<html><body>no report</body></html>")
    with pytest.raises(Exception, match="never marked itself ready|Timeout"):
        open_times({"blank": str(tmp_path / "blank.html")}, repeats=1, timeout_s=3)
