"""A report is reused only while everything it was computed from is unchanged.

Each test freezes, changes the module (or the inputs, or the file), freezes again and compares
the answer with a fresh ``torch.jit.freeze`` of the changed module.
"""

from __future__ import annotations

import copy
import gc
import os
import re
import weakref

import pytest
import torch
import torch.nn as nn

import freezeviz
from freezeviz.engine import api as engine
from freezeviz.engine.torchscript.analysis import inventory
from freezeviz.engine.torchscript.extract import tensor_preview
from freezeviz.data.diff import normalize_graph_text
from tests.inductor.models import ConvBN

# --- modules whose state lives outside parameters and persistent buffers -------------------


class ListRows(nn.Module):
    def __init__(self, n: int = 4):
        super().__init__()
        self.rows = [torch.ones(n), torch.ones(n)]

    def forward(self, x):
        return x + self.rows[1]


class DictRows(nn.Module):
    def __init__(self):
        super().__init__()
        self.d = {"a": torch.ones(4)}

    def forward(self, x):
        return x + self.d["a"]


class PlainTensor(nn.Module):
    def __init__(self):
        super().__init__()
        self.t = torch.ones(4)

    def forward(self, x):
        return x * self.t


class NonPersistent(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("nb", torch.ones(4), persistent=False)

    def forward(self, x):
        return x - self.nb


class PrivateFloat(nn.Module):
    def __init__(self):
        super().__init__()
        self._scale = 2.0

    def forward(self, x):
        return x * self._scale


class IntK(nn.Module):
    def __init__(self):
        super().__init__()
        self.k = 2

    def forward(self, x):
        return x / self.k


class Lin(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)

    def forward(self, x):
        return self.lin(x)


def _set_k_float(m):
    m.k = 2.0


def _replace_nb(m):
    m.nb = torch.full((4,), 7.0)


def _set_private(m):
    m._scale = 3.0


MUTATIONS = {
    "list element in place": (ListRows, lambda m: m.rows[1].mul_(5)),
    "dict element in place": (DictRows, lambda m: m.d["a"].add_(2)),
    "plain tensor in place": (PlainTensor, lambda m: m.t.mul_(3)),
    "non-persistent buffer replaced": (NonPersistent, _replace_nb),
    "private float": (PrivateFloat, _set_private),
    "int to float": (IntK, _set_k_float),
    "parameter through .data": (Lin, lambda m: m.lin.weight.data.mul_(2)),
}

SCRIPT_MUTATIONS = {
    # a list long enough that its printed form does not show the second tensor's values
    "list element in place": (lambda: ListRows(64), lambda m: m.rows[1].mul_(5)),
    "dict element in place": (DictRows, lambda m: m.d["a"].add_(2)),
    "plain tensor in place": (PlainTensor, lambda m: m.t.mul_(3)),
    "non-persistent buffer replaced": (NonPersistent, _replace_nb),
    "private float": (PrivateFloat, _set_private),
    "parameter through .data": (Lin, lambda m: m.lin.weight.data.mul_(2)),
}


def _tensor_constants(graph) -> list:
    out = []
    for node in graph.findAllNodes("prim::Constant"):
        value = node.output().toIValue()
        if isinstance(value, torch.Tensor):
            out.append(value)
    return out


def assert_same_freeze(report, truth, x):
    """The report's frozen module is torch's: same graph, same constants, same outputs."""
    got = report.frozen_module
    assert normalize_graph_text(str(got.graph)) == normalize_graph_text(str(truth.graph))
    a, b = _tensor_constants(got.graph), _tensor_constants(truth.graph)
    assert len(a) == len(b)
    for p, q in zip(a, b):
        assert torch.equal(p, q)
    assert torch.equal(got(x), truth(x))
    # and what the report shows of them was read from this state, not an older one
    shown = sorted(n.constant.preview for n in report.final_stage().graph.nodes
                   if n.constant is not None and n.constant.kind == "tensor")
    assert shown == sorted(tensor_preview(t) for t in b)


@pytest.mark.parametrize("case", sorted(MUTATIONS))
def test_nn_module_changed_after_a_freeze_is_frozen_again(case):
    make, mutate = MUTATIONS[case]
    m = make().eval()
    x = torch.randn(4)
    first = freezeviz.freeze(m)
    mutate(m)
    again = freezeviz.freeze(m)
    assert_same_freeze(again, torch.jit.freeze(torch.jit.script(m)), x)
    assert again is not first


@pytest.mark.parametrize("case", sorted(SCRIPT_MUTATIONS))
def test_script_module_changed_after_a_freeze_is_frozen_again(case):
    make, mutate = SCRIPT_MUTATIONS[case]
    sm = torch.jit.script(make().eval())
    x = torch.randn(sm.rows[0].numel() if hasattr(sm, "rows") else 4)
    first = freezeviz.freeze(sm)
    mutate(sm)
    again = freezeviz.freeze(sm)
    assert_same_freeze(again, torch.jit.freeze(sm), x)
    assert again is not first


def test_unchanged_module_gets_the_same_report():
    m = ListRows().eval()
    first = freezeviz.freeze(m)
    assert freezeviz.freeze(m) is first
    assert freezeviz.freeze(copy.deepcopy(m)) is not first  # another module, its own report


class _Opaque:
    """An attribute freezeviz cannot look inside: state held by a C type."""

    def __init__(self):
        self.lock = __import__("threading").Lock()


class WithOpaque(nn.Module):
    def __init__(self):
        super().__init__()
        self.opaque = _Opaque()
        self.w = torch.ones(4)

    def forward(self, x):
        return x * self.w


def test_module_with_state_that_cannot_be_read_is_recomputed():
    m = WithOpaque().eval()
    first = freezeviz.freeze(m)
    again = freezeviz.freeze(m)
    assert again is not first  # no key is complete, so no reuse
    m.w.mul_(2)
    assert_same_freeze(freezeviz.freeze(m), torch.jit.freeze(torch.jit.script(m)), torch.ones(4))


# --- example inputs --------------------------------------------------------------------------


def _scale_model():
    torch.manual_seed(0)
    m = ConvBN().eval()
    with torch.no_grad():
        m.bn.running_var.uniform_(0.1, 3.0)
        m.bn.running_mean.uniform_(-1, 1)
    return m


def _final_error(m, report, x):
    """The largest difference of torch's frozen module from the module, on ``x``."""
    with torch.no_grad():
        return (report.frozen_module(x) - m(x)).abs().max().item()


def test_inputs_changed_in_place_without_a_version_bump():
    m = _scale_model()
    x = torch.zeros(1, 3, 6, 6)
    first = freezeviz.freeze(m, example_inputs=(x,))
    assert first.numerics[-1].max_abs == _final_error(m, first, x)
    x.data.copy_(torch.randn(1, 3, 6, 6) * 100)  # .data: same tensor, same version
    again = freezeviz.freeze(m, example_inputs=(x,))
    assert again.numerics[-1].max_abs == _final_error(m, again, x)
    assert again.numerics[-1].max_abs != first.numerics[-1].max_abs


def test_new_inputs_at_a_recycled_address_are_not_mistaken_for_old_ones():
    m = _scale_model()
    x = torch.zeros(1, 3, 6, 6)
    old_id = id(x)
    first = freezeviz.freeze(m, example_inputs=(x,))
    del x
    gc.collect()
    kept, y = [], None
    for _ in range(10_000):  # CPython hands the freed address out again, soon
        t = torch.randn(2, 3, 9, 9) * 100
        if id(t) == old_id:
            y = t
            break
        kept.append(t)
    assert y is not None, "no tensor was allocated at the freed address"
    again = freezeviz.freeze(m, example_inputs=(y,))
    assert again.numerics[-1].max_abs == _final_error(m, again, y)
    assert again is not first


class ShapeBaked(nn.Module):
    """Does not script (an untyped empty list); a trace keeps the branch its input took."""

    def __init__(self):
        super().__init__()
        self.items = []

    def forward(self, x):
        if x.shape[0] > 2:
            return x * 3 + len(self.items)
        return x + len(self.items)


def test_traced_module_is_traced_again_for_other_inputs():
    m = ShapeBaked().eval()
    first = freezeviz.freeze(m, example_inputs=(torch.ones(2),))
    y = torch.ones(3)
    again = freezeviz.freeze(m, example_inputs=(y,))
    truth = torch.jit.freeze(torch.jit.trace(m, (y,)))
    assert torch.equal(again.frozen_module(y), truth(y))
    assert torch.equal(again.frozen_module(y), torch.full((3,), 3.0))
    assert again is not first


# --- files -----------------------------------------------------------------------------------


def test_file_rewritten_with_the_same_size_and_time(tmp_path):
    path = tmp_path / "m.pt"
    a = torch.jit.script(Lin().eval())
    torch.jit.save(a, str(path))
    stat = os.stat(path)
    first = freezeviz.freeze(str(path))
    b = torch.jit.script(Lin().eval())
    with torch.no_grad():
        b.lin.weight.mul_(3)
    torch.jit.save(b, str(path))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert os.stat(path).st_size == stat.st_size and os.stat(path).st_mtime_ns == stat.st_mtime_ns
    again = freezeviz.freeze(str(path))
    truth = torch.jit.freeze(torch.jit.load(str(path)).eval())
    assert_same_freeze(again, truth, torch.randn(4))
    assert again is not first
    assert freezeviz.freeze(str(path)) is again  # the same bytes: the same report


def test_file_reports_are_not_kept_forever(tmp_path):
    refs = []
    for i in range(engine.CACHE_SIZE + 2):
        path = tmp_path / f"m{i}.pt"
        torch.jit.save(torch.jit.script(Lin().eval()), str(path))
        refs.append(weakref.ref(freezeviz.freeze(str(path)).frozen_module))
    gc.collect()
    assert refs[0]() is None
    assert sum(r() is not None for r in refs) <= engine.CACHE_SIZE


def test_reports_of_a_module_die_with_it():
    m = Lin().eval()
    ref = weakref.ref(freezeviz.freeze(m).frozen_module)
    del m
    gc.collect()
    assert ref() is None


# --- quantized modules -----------------------------------------------------------------------


class QuantLinear(nn.Module):
    def __init__(self):
        super().__init__()
        self.quant = torch.ao.quantization.QuantStub()
        self.fc = nn.Linear(4, 3)
        self.dequant = torch.ao.quantization.DeQuantStub()

    def forward(self, x):
        return self.dequant(self.fc(self.quant(x)))


def _quantized():
    torch.manual_seed(0)
    m = QuantLinear().eval()
    m.qconfig = torch.ao.quantization.get_default_qconfig("fbgemm")
    prepared = torch.ao.quantization.prepare(m)
    prepared(torch.randn(8, 4))
    return torch.ao.quantization.convert(prepared)


def test_eager_quantized_module_freezes_and_fates_match_torch():
    qm = _quantized()
    report = freezeviz.freeze(qm)
    truth = torch.jit.freeze(torch.jit.script(qm))
    x = torch.randn(2, 4)
    # packed weights print with their address
    text = [re.sub(r"0x[0-9a-f]+", "0x", normalize_graph_text(str(g)))
            for g in (report.frozen_module.graph, truth.graph)]
    assert text[0] == text[1]
    assert torch.equal(report.frozen_module(x), truth(x))
    survivors = {s.path for s in inventory(truth._c)}
    assert report.attributes
    for a in report.attributes:
        assert (a.path in survivors) == a.fate.survives, (a.path, a.fate)
    assert freezeviz.freeze(qm) is report
    qm.fc.set_weight_bias(qm.fc.weight(), qm.fc.bias() + 1)  # new packed params
    again = freezeviz.freeze(qm)
    assert again is not report
    assert torch.equal(again.frozen_module(x), torch.jit.freeze(torch.jit.script(qm))(x))


# --- the inspector's own reports -------------------------------------------------------------


def test_inspector_does_not_show_a_report_of_an_older_state():
    pytest.importorskip("ipywidgets")
    m = ListRows().eval()
    insp = freezeviz.inspect(m)
    first = insp.report
    m.rows[1].mul_(5)
    insp.preserved_attrs = ["rows"]
    insp.preserved_attrs = []
    assert_same_freeze(insp.report, torch.jit.freeze(torch.jit.script(m)), torch.randn(4))
    assert insp.report is not first
