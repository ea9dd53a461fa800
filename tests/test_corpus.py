"""Every corpus module, frozen by freezeviz and by torch.jit.freeze: they must agree."""

from __future__ import annotations

import copy
import pickle
import re

import pytest
import torch

import freezeviz
from freezeviz.engine.torchscript.analysis import get_path, inventory
from freezeviz.data.diff import normalize_graph_text
from tests.corpus import modules as M
from tests.corpus import modules_containers as C
from tests.corpus.cases import CASES, Case

OK = [c for c in CASES if c.error is None]
ERRORS = [c for c in CASES if c.error is not None]


def build(case: Case, tmp_path):
    """(what to pass to freezeviz, the eval ScriptModule torch.jit.freeze gets)."""
    torch.manual_seed(0)
    mod = case.make()
    if case.how == "nn":
        return mod, None
    if case.how == "trace":
        scripted = torch.jit.trace(mod.eval(), case.inputs())
        return scripted, scripted
    scripted = torch.jit.script(mod if case.how == "train" else mod.eval())
    if case.how == "load":
        path = tmp_path / f"{case.name}.pt"
        torch.jit.save(scripted, str(path))
        return str(path), torch.jit.load(str(path))
    return scripted, scripted


def truth(scripted, case: Case):
    if case.how == "train":
        scripted = copy.deepcopy(scripted).eval()
    frozen = torch.jit.freeze(scripted, case.preserved, case.optimize_numerics)
    if case.optimize_for_inference:
        others = [p for p in case.preserved if frozen._c._has_method(p)]
        frozen = torch.jit.optimize_for_inference(frozen, others)
    return frozen


@pytest.mark.parametrize("case", OK, ids=str)
def test_matches_real_freeze(case: Case, tmp_path):
    arg, scripted = build(case, tmp_path)
    report = freezeviz.freeze(arg, case.preserved, case.optimize_numerics,
                              example_inputs=case.inputs() if case.inputs else None,
                              optimize_for_inference=case.optimize_for_inference)
    if scripted is None:  # an nn.Module: torch gets the same scripting
        scripted = torch.jit.script(arg.eval())
    expected = truth(scripted, case)

    # the frozen module is torch's: same graph for every method it keeps
    methods = ["forward"] if expected._c._has_method("forward") else []
    methods += [p for p in case.preserved if expected._c._has_method(p) and p != "forward"]
    assert methods
    for m in methods:
        ours = normalize_graph_text(str(report.frozen_module._c._get_method(m).graph))
        theirs = normalize_graph_text(str(expected._c._get_method(m).graph))
        assert ours == theirs, f"{m} differs from torch.jit.freeze"
        assert normalize_graph_text(report.final_stage(m).graph.text) == theirs

    # fates agree with what really survives on torch's frozen module, both ways
    survivors = {s.path for s in inventory(expected._c)}
    paths = {a.path for a in report.attributes}
    assert survivors <= paths | {"training"}, survivors - paths
    for a in report.attributes:
        assert (a.path in survivors) == a.fate.survives, (a.path, a.fate, a.why)
        assert len(a.why) > 20 and a.why.endswith("."), a.why

    # every constant a fate names is one torch's final graph holds, with the attribute's values
    check_constants(report, expected, arg if case.how == "load" else scripted, methods,
                    same_tensors=case.how not in ("load", "train"))

    # the case's own expectations
    for path, fate in case.expect.items():
        assert report.attribute(path).fate.value == fate, report.explain(path)
    if case.warning:
        assert any(re.search(case.warning, w) for w in report.warnings), report.warnings

    # stages: named, in torch's order, plain data
    names = [s.name for s in report.stages_of(methods[0])]
    assert names[:3] == ["scripted", "inlined", "frozen"]
    if methods[0] == "forward":
        assert names[3:5] == ["remove_dropout", "concat_frozen_linear"]
        if case.optimize_numerics:
            assert names[5:9] == ["fold_conv_bn", "fold_conv_add_or_sub", "fold_conv_mul_or_div",
                                  "fold_linear_bn"]
        assert "MISMATCH" not in report.passes_check
    pickle.loads(pickle.dumps(report.stages))


def test_frozen_constants_share_memory_with_the_module():
    """What tracing by identity rests on: the freezer's constants are the module's tensors."""
    scripted = torch.jit.script(C.LSTMWrap().eval())
    frozen = torch._C._freeze_module(scripted._c, [])
    held = {t.untyped_storage().data_ptr()
            for n in frozen._get_method("forward").graph.findAllNodes("prim::Constant")
            for t in _tensors(n.output().toIValue())}
    assert held and held == {p.untyped_storage().data_ptr() for p in scripted.parameters()}


# Fresh BatchNorms hold ones and zeros, which torch's constant pooling merges into one
# constant; random statistics keep every constant apart. torch's graphs are the same.
EQUAL_VALUES = [(M.ConvBN, False), (M.LinearBN, False), (C.ConvBNBN, False), (C.BNStack, False),
                (C.BNStack, True)]


@pytest.mark.parametrize("make,ofi", EQUAL_VALUES,
                         ids=[f"{m.__name__}{'-ofi' if o else ''}" for m, o in EQUAL_VALUES])
def test_fates_do_not_depend_on_equal_values(make, ofi):
    reports = []
    for build in (make, C.random_statistics(make)):
        torch.manual_seed(0)
        scripted = torch.jit.script(build().eval())
        reports.append(freezeviz.freeze(scripted, optimize_for_inference=ofi))
    fresh, rand = reports
    assert normalize_graph_text(fresh.final_stage().graph.text).count("aten::") == \
        normalize_graph_text(rand.final_stage().graph.text).count("aten::")

    def story(a):
        why = re.sub(r" Torch's constant pooling.*", "", a.why)
        return a.fate, a.folded_by, re.sub(r"%\S+", "%c", why)

    assert [story(a) for a in fresh.attributes] == [story(a) for a in rand.attributes]
    # the merge is said apart, in the why and as a note, and only where it happened
    pooled = [a for a in fresh.attributes if "constant pooling" in a.why]
    assert any(a.path.endswith(".weight") for a in pooled)
    for a in pooled:
        assert any("constant pooling merged" in e.description for e in a.evidence), a.path
    assert not [a.path for a in rand.attributes
                if "constant pooling" in a.why and a.kind in ("parameter", "buffer")]


@pytest.mark.parametrize("case", ERRORS, ids=str)
def test_errors_are_explained(case: Case, tmp_path):
    mod = case.make()
    arg = mod if case.how == "nn" else torch.jit.script(mod.eval())
    before = {k: v.clone() for k, v in arg.state_dict().items()}
    with pytest.raises(freezeviz.FreezeError, match=case.error) as info:
        freezeviz.freeze(arg, case.preserved)
    # what to do, in plain words, and nothing changed
    assert len(str(info.value)) > 60
    after = arg.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)


# --- fates against the constants of torch's final graph ----------------------------------

_NUMBERED = re.compile(r"%(\d+)(?!\d)")


def _numbered(text: str) -> list[str]:
    """Unnamed values of the main graph in order of first appearance (as normalize_graph_text
    renumbers them): the k-th in our graph is the k-th in torch's."""
    main = re.split(r"(?m)^(?=with )", text)[0]
    return list(dict.fromkeys(_NUMBERED.findall(main)))


def _final_constants(report, expected, methods) -> tuple[dict, set]:
    """Debug name (as our final stage spells it) -> value, for every constant of torch's final
    graphs, and the names of those still used (transpose_frozen_linear leaves dead ones behind).
    MKLDNN constants count too: optimize_for_inference rewrites weights into them."""
    out, used = {}, set()
    for m in methods:
        graph = expected._c._get_method(m).graph
        rename = dict(zip(_numbered(str(graph)), _numbered(report.final_stage(m).graph.text)))
        for kind in ("prim::Constant", "prim::ConstantMKLDNNTensor"):
            for node in graph.findAllNodes(kind):
                name = node.output().debugName()
                if kind == "prim::ConstantMKLDNNTensor":
                    value = node.t("value")
                else:
                    value = node.output().toIValue()
                out[rename.get(name, name)] = value
                if node.output().uses():
                    used.add(rename.get(name, name))
    return out, used


def _tensors(value) -> list:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors(v)]
    return []


def _same_tensor(a, b) -> bool:
    """The very tensor (same memory, same view), not merely equal values."""
    if a.is_mkldnn or b.is_mkldnn or a.numel() == 0 or b.numel() == 0:
        return False
    return (a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()
            and a.storage_offset() == b.storage_offset() and a.shape == b.shape
            and a.stride() == b.stride() and a.dtype == b.dtype)


def _equal(a, b) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and not a.is_mkldnn
                and not b.is_mkldnn and a.dtype == b.dtype and a.shape == b.shape
                and torch.equal(a, b.detach()))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:
        return a is b


def _relaid(a, b) -> bool:
    """The same values in another layout: an MKLDNN copy, or a transposed weight
    (transpose_frozen_linear)."""
    if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
        return False
    a = a.to_dense() if a.is_mkldnn else a
    return (a.dtype == b.dtype and a.numel() == b.numel()
            and torch.equal(a.detach().flatten().sort().values, b.detach().flatten().sort().values))


def _holds(constant, value) -> bool:
    """The constant holds the attribute's values: the same value, one element of it (a list
    taken apart by constant propagation), a list with it as an element (nn.LSTM's
    _flat_weights for weight_ih_l0), or the same values laid out anew."""
    if _equal(constant, value) or _relaid(constant, value):
        return True
    if isinstance(value, (list, tuple, dict)):
        return any(_equal(constant, t) for t in _tensors(value))
    if isinstance(value, torch.Tensor):
        return any(_equal(t, value) for t in _tensors(constant))
    return False


def _own_name(name: str, paths: set[str]) -> bool:
    """The freezer's name for an attribute's constant (``self.a.b``, ``self.a.b.1``) or an
    unnamed one; anything else is a pass's rewrite (``_fused_bn``, ``_mkldnn``)."""
    if name.isdigit():
        return True
    base = name.removeprefix("self.")
    while base not in paths:
        head, dot, tail = base.rpartition(".")
        if not dot or not tail.isdigit():
            return False
        base = head
    return True


def _our_constant(report, methods, name):
    for m in methods:
        node = report.final_stage(m).graph.producer(name)
        if node is not None and node.constant is not None:
            return node.constant
    return None


def check_constants(report, expected, scripted, methods, same_tensors: bool) -> None:
    consts, used = _final_constants(report, expected, methods)
    paths = {a.path for a in report.attributes}
    values = {}
    for a in report.attributes:
        if a.kind != "module":
            try:
                values[a.path] = get_path(scripted._c, a.path)
            except Exception:
                pass
    named = {}  # constant -> attributes whose fate names it
    for a in report.attributes:
        if a.constant is None:
            continue
        assert a.constant in consts, (
            f"{a.path} names %{a.constant}, which torch's final graph does not hold", a.why)
        named.setdefault(a.constant, []).append(a.path)
        # the report's picture of that constant is torch's
        ours = _our_constant(report, methods, a.constant)
        if ours is not None and ours.shape is not None and isinstance(consts[a.constant],
                                                                      torch.Tensor):
            assert ours.shape == tuple(consts[a.constant].shape), (a.path, a.constant)
        if _own_name(a.constant, paths) and a.path in values:
            assert _holds(consts[a.constant], values[a.path]), (
                f"{a.path}: %{a.constant} does not hold its values", a.why)
    if not same_tensors:
        return
    for a in report.attributes:
        if a.path not in values or a.fate.survives or a.constant is not None:
            continue  # kept as module state, or inlined as a constant checked above
        for t in _tensors(values[a.path]):
            for name, c in consts.items():
                if name not in used:
                    continue
                if isinstance(c, torch.Tensor):
                    if not _same_tensor(c, t):
                        continue
                    # a constant of its own, unless its fate names it, or constant pooling
                    # merged it into another attribute's constant of equal value
                    ok = a.constant == name or any(
                        _equal(values.get(p), values[a.path]) for p in named.get(name, ()))
                elif any(_same_tensor(e, t) for e in _tensors(c)):
                    ok = a.constant == name
                else:
                    continue
                assert ok, (f"{a.path} ({a.fate.value}) is still held by torch's final constant "
                            f"%{name}", a.why)
