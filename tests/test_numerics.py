"""Numerics: every stage's outputs against the module's, with NaN and infinity shown as such."""

from __future__ import annotations

import json
import math
import re

import pytest
import torch
import torch.nn as nn

import freezeviz
from freezeviz.engine.torchscript.numerics import _compare


class ConvBiasBN(nn.Module):
    """BatchNorm with eps=0 over a zero running variance: 1/sqrt(0) is infinite, and folding
    it into the convolution moves the infinities around."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1)
        self.bn = nn.BatchNorm2d(1, eps=0.0)

    def forward(self, x):
        return self.bn(self.conv(x))


def _degenerate_bn():
    m = ConvBiasBN().eval()
    with torch.no_grad():
        m.bn.running_var.zero_()
        m.bn.running_mean.zero_()
        m.conv.weight.fill_(1.0)
        m.conv.bias.fill_(1.0)
    return m


X = torch.tensor([-2.0, 0.0, 0.5, 1.0, 3.0]).reshape(1, 1, 1, 5)


def _reject_constant(name):
    raise ValueError(f"bare {name} in JSON")


def test_stage_that_turns_nan_into_inf_is_not_reported_as_equal():
    m = _degenerate_bn()
    report = freezeviz.freeze(m, example_inputs=(X,))
    original = m(X).detach()
    frozen = report.frozen_module(X)
    # the premise, from torch itself: folding changed which outputs are NaN
    assert not torch.equal(original.isnan(), frozen.isnan())
    rows = {r.stage: r for r in report.numerics}
    for name in ("scripted", "inlined", "frozen"):  # same operations: same NaNs, same infs
        assert rows[name].max_abs == 0.0 and rows[name].max_rel == 0.0, rows[name]
    assert math.isnan(rows["fold_conv_bn"].max_abs)
    assert math.isnan(rows["fold_conv_bn"].max_rel)
    assert math.isnan(report.numerics[-1].max_abs)
    notes = [w for w in report.warnings if w.startswith("numerics")]
    assert any("fold_conv_bn" in w for w in notes), report.warnings
    assert any("NaN" in w and "module's own outputs" in w for w in notes), report.warnings


def test_report_json_stays_valid_with_non_finite_numerics():
    report = freezeviz.freeze(_degenerate_bn(), example_inputs=(X,))
    text = report.to_json()
    data = json.loads(text, parse_constant=_reject_constant)
    rows = {r["stage"]: r for r in data["numerics"]}
    assert rows["fold_conv_bn"]["max_abs"] == "nan"
    assert rows["scripted"]["max_abs"] == 0.0


def test_html_report_of_non_finite_numerics(tmp_path):
    from freezeviz.render.html import render_html

    report = freezeviz.freeze(_degenerate_bn(), example_inputs=(X,))
    page = render_html(report)
    blob = re.search(r'<script type="application/json" id="fv-data">(.*?)</script>', page, re.S)
    assert blob is not None
    json.loads(blob.group(1), parse_constant=_reject_constant)
    assert ">nan<" in page


@pytest.mark.parametrize("out, ref, expected", [
    (torch.tensor([1.0, float("nan")]), torch.tensor([1.0, 2.0]), (math.nan, math.nan)),
    (torch.tensor([1.0, 2.0]), torch.tensor([1.0, float("nan")]), (math.nan, math.nan)),
    (torch.tensor([float("inf"), 2.0]), torch.tensor([1.0, 2.0]), (math.inf, math.inf)),
    (torch.tensor([float("-inf")]), torch.tensor([float("inf")]), (math.inf, math.inf)),
    (torch.tensor([float("nan"), float("inf"), 2.5]),
     torch.tensor([float("nan"), float("inf"), 2.0]), (0.5, 0.25)),
    ((torch.tensor([1.0]), torch.tensor([float("nan")])),
     (torch.tensor([1.5]), torch.tensor([3.0])), (math.nan, math.nan)),
])
def test_compare_keeps_non_finite_differences(out, ref, expected):
    got = _compare(out, ref)
    for g, e in zip(got, expected):
        if math.isnan(e):
            assert math.isnan(g), got
        else:
            assert g == pytest.approx(e), got


def test_compare_counts_a_missing_output_as_a_difference():
    assert _compare((torch.ones(2),), (torch.ones(2), torch.ones(2))) == (math.inf, math.inf)
