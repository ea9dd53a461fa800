"""freezeviz.data.diff: node identity across stages, matching, text diff and summary."""

from __future__ import annotations

import dataclasses
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "render"))
import render_models as rm

from freezeviz.data.diff import diff_summary, diff_text, match_nodes, node_key, node_keys


@pytest.fixture(scope="module")
def convbn():
    return rm.stages(rm.ConvBNReLU(), fold_conv_bn=True)


def _one(snap, kind):
    (node,) = [n for n in snap.iter_nodes() if n.kind == kind]
    return node


def test_keys_unique_and_stable(convbn):
    _, inlined, frozen, folded = convbn
    for snap in convbn:
        keys = node_keys(snap)
        assert len(set(keys.values())) == len(keys) == snap.count()
    for kind in ("aten::conv2d", "aten::relu"):
        keys = {node_key(s, _one(s, kind)) for s in (inlined, frozen, folded)}
        assert len(keys) == 1, keys
    bn = node_key(frozen, _one(frozen, "aten::batch_norm"))
    assert bn == node_key(inlined, _one(inlined, "aten::batch_norm"))
    assert bn not in node_keys(folded).values()
    # a node id works as well as the node
    conv = _one(frozen, "aten::conv2d")
    assert node_key(frozen, conv.id) == node_key(frozen, conv)


def test_match_nodes(convbn):
    _, inlined, frozen, folded = convbn
    m = match_nodes(frozen, folded)
    assert m[_one(frozen, "aten::conv2d").id] == _one(folded, "aten::conv2d").id
    assert _one(frozen, "aten::batch_norm").id not in m
    assert len(set(m.values())) == len(m)  # one to one
    m = match_nodes(inlined, frozen)
    assert m[_one(inlined, "aten::relu").id] == _one(frozen, "aten::relu").id
    assert not any(inlined.node(a).kind == "prim::GetAttr" for a in m)  # all inlined away
    same = match_nodes(frozen, frozen)
    assert same == {n.id: n.id for n in frozen.iter_nodes()}


def test_diff_text_like_print_changed(convbn):
    frozen, folded = convbn[2], convbn[3]
    text = diff_text(frozen, folded, "frozen", "fold_conv_bn")
    lines = text.splitlines()
    assert lines[0] == "--- frozen" and lines[1] == "+++ fold_conv_bn"
    assert any(ln.startswith("-") and "aten::batch_norm" in ln for ln in lines)
    assert any(ln.startswith("+") and "weight_fused_bn" in ln for ln in lines)
    assert "___torch_mangle" not in text
    assert diff_text(frozen, frozen) == ""
    # two compilations differ only in their mangled class names: no diff
    assert "___torch_mangle_" in frozen.text
    other = dataclasses.replace(frozen, text=re.sub(r"___torch_mangle_\d+", "___torch_mangle_77",
                                                    frozen.text))
    assert other.text != frozen.text and diff_text(frozen, other) == ""


def test_diff_summary(convbn):
    frozen, folded = convbn[2], convbn[3]
    summary = diff_summary(frozen, folded)
    assert summary["removed"]["aten::batch_norm"] == 1
    assert summary["added"]["prim::Constant"] >= 2  # the fused weight and bias
    assert "aten::conv2d" not in summary["removed"]
    assert summary["removed_total"] == sum(summary["removed"].values())
    assert summary["nodes_before"] == frozen.count() and summary["nodes_after"] == folded.count()
    assert summary["changed"]
    assert diff_summary(frozen, frozen)["changed"] is False


def test_folded_constants_show_as_added_and_paths_are_short():
    import torch

    import freezeviz
    from tests.corpus import modules as M

    report = freezeviz.freeze(torch.jit.script(M.ConvBN().eval()))
    view = report.draw("fold_conv_bn", diff_against="frozen")
    assert view.source.count("fv-added") >= 2  # weight_fused_bn and bias_fused_bn are new
    text = report.diff("frozen", "fold_conv_bn")
    assert "weight_fused_bn" in text and "batch_norm" in text
    assert "site-packages" not in text and "# conv.py:" in text
