"""Modules that only trace: dict and ModelOutput-like outputs, keyword inputs."""

from __future__ import annotations

import warnings

import pytest
import torch

import freezeviz
# transformers-style outputs: a dataclass that is also an ordered dict of its fields
from benchmarks.models import EncoderOutput
from freezeviz.data.diff import normalize_graph_text


class TinyBert(torch.nn.Module):
    """Embedding, one attention block, a pooler; ``**kwargs`` keeps torch.jit.script out."""

    def __init__(self, output: str = "dict"):
        super().__init__()
        self.output = output
        self.embeddings = torch.nn.Embedding(50, 16)
        self.attention = torch.nn.MultiheadAttention(16, 2, batch_first=True)
        self.norm = torch.nn.LayerNorm(16)
        self.pooler = torch.nn.Linear(16, 16)
        self.unused = torch.nn.Linear(16, 4)

    def forward(self, input_ids, attention_mask=None, **kwargs):
        h = self.embeddings(input_ids)
        pad = None if attention_mask is None else attention_mask == 0
        a, _ = self.attention(h, h, h, key_padding_mask=pad, need_weights=False)
        h = self.norm(h + a)
        pooled = torch.tanh(self.pooler(h[:, 0]))
        if self.output == "dict":
            return {"last_hidden_state": h, "pooler_output": pooled}
        return EncoderOutput(last_hidden_state=h, pooler_output=pooled)


def _inputs():
    torch.manual_seed(0)
    ids = torch.randint(0, 50, (2, 5))
    mask = torch.ones(2, 5, dtype=torch.long)
    mask[1, 3:] = 0
    return ids, mask


def _by_hand(model, args=(), kwargs=None):
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        if kwargs is None:
            traced = torch.jit.trace(model, args, strict=False)
        else:
            traced = torch.jit.trace(model, example_kwarg_inputs=kwargs, strict=False)
        return torch.jit.freeze(traced.eval())


def _surviving(frozen) -> set[str]:
    return {n for n, _ in frozen.named_parameters()} | {n for n, _ in frozen.named_buffers()}


def _check_against_torch(report, truth, run):
    assert report.obtained == "traced"
    assert normalize_graph_text(str(report.frozen_module.graph)) == \
        normalize_graph_text(str(truth.graph))
    for key, value in run(truth).items():
        assert torch.allclose(run(report.frozen_module)[key], value)
    survivors = _surviving(truth)
    kept = ("preserved_requested", "preserved_mutated")
    for a in report.attributes:
        if a.kind in ("parameter", "buffer"):
            assert (a.fate.value in kept) == (a.path in survivors), (a.path, a.fate)
    fate = {a.path: a.fate.value for a in report.attributes}
    assert fate["pooler.weight"] in ("inlined", "folded")
    assert fate["unused.weight"] == "removed_unused"


@pytest.mark.parametrize("output", ["dict", "model_output"])
def test_positional_inputs_trace_a_dict_output(output):
    model = TinyBert(output).eval()
    ids, _ = _inputs()
    report = freezeviz.freeze(model, example_inputs=(ids,))
    truth = _by_hand(model, (ids,))
    _check_against_torch(report, truth, lambda m: m(ids))
    assert any("strict=False" in w for w in report.warnings)
    assert report.numerics and all(r.max_abs < 1e-5 for r in report.numerics)


@pytest.mark.parametrize("output", ["dict", "model_output"])
def test_keyword_inputs_trace_and_run_numerics(output):
    model = TinyBert(output).eval()
    ids, mask = _inputs()
    kwargs = {"input_ids": ids, "attention_mask": mask}
    report = freezeviz.freeze(model, example_kwarg_inputs=kwargs)
    truth = _by_hand(model, kwargs=kwargs)
    _check_against_torch(report, truth, lambda m: m(ids, mask))
    assert report.numerics and all(r.max_abs < 1e-5 for r in report.numerics)
    # the mask reached the trace: padded positions change the output
    assert not torch.allclose(report.frozen_module(ids, mask)["last_hidden_state"],
                              report.frozen_module(ids, torch.ones_like(mask))["last_hidden_state"])


def test_keyword_inputs_are_part_of_the_cache_key():
    model = TinyBert().eval()
    ids, mask = _inputs()
    first = freezeviz.freeze(model, example_kwarg_inputs={"input_ids": ids, "attention_mask": mask})
    same = freezeviz.freeze(model, example_kwarg_inputs={"input_ids": ids.clone(),
                                                         "attention_mask": mask.clone()})
    assert same is first
    other_mask = torch.ones_like(mask)
    other = freezeviz.freeze(model, example_kwarg_inputs={"input_ids": ids,
                                                          "attention_mask": other_mask})
    assert other is not first
    only_ids = freezeviz.freeze(model, example_kwarg_inputs={"input_ids": ids})
    assert only_ids is not first and only_ids is not other
    # one input fewer: the trace took the other path, without the mask
    assert len(list(only_ids.frozen_module.graph.inputs())) == 2


def test_repro_traces_with_the_keyword_inputs():
    model = TinyBert("model_output").eval()
    ids, mask = _inputs()
    kwargs = {"input_ids": ids, "attention_mask": mask}
    report = freezeviz.freeze(model, example_kwarg_inputs=kwargs)
    text = report.repro()
    assert "example_kwarg_inputs=example_kwarg_inputs" in text and "strict=False" in text
    scope = {"torch": torch, "model": model, "example_kwarg_inputs": kwargs}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(text, scope)
    assert normalize_graph_text(str(scope["frozen"].graph)) == \
        normalize_graph_text(str(report.frozen_module.graph))


def test_bad_keyword_inputs_say_what_to_do():
    model = TinyBert().eval()
    ids, mask = _inputs()
    with pytest.raises(freezeviz.FreezeError, match="example_kwarg_inputs must be a dict"):
        freezeviz.freeze(model, example_kwarg_inputs=(ids, mask))
    with pytest.raises(freezeviz.FreezeError, match="either example_inputs or example_kwarg"):
        freezeviz.freeze(model, example_inputs=(ids,), example_kwarg_inputs={"input_ids": ids})
    with pytest.raises(freezeviz.FreezeError, match="could neither be scripted nor traced") as info:
        freezeviz.freeze(model, example_kwarg_inputs={"input_ids": ids, "mask": mask})
    assert "example_kwarg_inputs" in str(info.value)
