"""Both freezers side by side: TorchScript's and Inductor's fate of every attribute, lined up by
module path, checked against the two real freezes: torch.jit.freeze's frozen module (which
attributes survive) and the frozen graph Inductor hands to code generation (which parameters
and buffers stay graph inputs)."""

from __future__ import annotations

import copy
import dataclasses
import html.parser
import json
import pickle
import re
import warnings

import pytest
import torch
from torch import nn

import freezeviz
from freezeviz import FreezeError
from freezeviz.data.fates import Fate
from freezeviz.data.sidebyside import ABSENT, FreezerComparison, SideFate
from tests.inductor.models import ConvBN, Counter


class AliasedOutput(nn.Module):
    """forward returns a view of ``w``: Inductor keeps it as a graph input, TorchScript
    inlines it."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(4, 4))
        self.lin = nn.Linear(4, 4)

    def forward(self, x):
        return self.lin(x), self.w.t()


CASES = {"conv_bn": (ConvBN, (1, 3, 8, 8)), "aliased_output": (AliasedOutput, (2, 4)),
         "counter": (Counter, (2, 4))}


@pytest.fixture(scope="module")
def ts_pair():
    """Two real TorchScript freezes of ConvBN that differ: the BatchNorm is folded into the
    convolution only with optimize_numerics."""
    model = ConvBN().eval()
    return FreezerComparison.from_reports(freezeviz.freeze(model),
                                          freezeviz.freeze(model, optimize_numerics=False))


@pytest.fixture(scope="module")
def freezes():
    """name -> (model, inputs, comparison, TorchScript report, Inductor report)."""
    out = {}
    for name, (cls, shape) in CASES.items():
        torch.manual_seed(0)
        model, x = cls().eval(), (torch.randn(*shape),)
        cmp = freezeviz.compare_freezers(model, example_inputs=x)
        ts = freezeviz.freeze(model, example_inputs=x)
        ind = freezeviz.freeze(model, example_inputs=x, backend="inductor")
        out[name] = (model, x, cmp, ts, ind)
    return out


def _state_paths(model) -> set[str]:
    return {n for n, _ in model.named_parameters()} | {n for n, _ in model.named_buffers()}


def _survives_torch_jit_freeze(model, path: str) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frozen = torch.jit.freeze(torch.jit.script(model))
    obj = frozen._c
    for part in path.split("."):
        if not obj.hasattr(part):
            return False
        obj = obj.getattr(part)
    return True


def _inductor_graph_inputs(model, inputs) -> set[str]:
    """The parameters and buffers (module paths) the frozen graph Inductor hands to code
    generation keeps as inputs, from a plain torch.compile with freezing."""
    from torch._functorch._aot_autograd.utils import make_boxed_func
    from torch._inductor import config
    from torch._inductor.compile_fx import compile_fx

    seen = {}

    def inner(gm, example_inputs, **kw):
        seen["frozen"] = gm
        return make_boxed_func(gm.forward)

    def backend(gm, example_inputs):
        seen["fqn"] = gm.meta["dynamo_flat_name_to_original_fqn"]
        return compile_fx(gm, example_inputs, inner_compile=inner)

    torch._dynamo.reset()
    try:
        with torch.no_grad(), config.patch(freezing=True):  # a copy: forward may write state
            torch.compile(copy.deepcopy(model), backend=backend)(*inputs)
    finally:
        torch._dynamo.reset()
    descs = [n.meta.get("desc") for n in seen["frozen"].graph.nodes if n.op == "placeholder"]
    return {seen["fqn"][d.target] for d in descs if hasattr(d, "target")}


@pytest.mark.slow
def test_paths_line_up_and_rows_are_the_reports(freezes):
    model, _, cmp, ts, ind = freezes["conv_bn"]
    assert cmp.backends == ("torchscript", "inductor")
    assert cmp.labels == ("TorchScript", "Inductor")
    both = {r.path for r in cmp.rows if r.seen_by_both}
    assert both == _state_paths(model)  # conv.weight, bn.running_mean ... in both reports
    assert [r.path for r in cmp.rows] == list(dict.fromkeys(
        [a.path for a in ts.attributes] + [a.path for a in ind.attributes]))
    for r in cmp.rows:
        for side, report in ((r.left, ts), (r.right, ind)):
            if side is not None:
                assert side == SideFate.of(report.attribute(r.path))
    assert cmp.row("self.conv.weight").kind == "parameter"


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_each_side_agrees_with_its_real_freeze(freezes, name):
    model, x, cmp, _, _ = freezes[name]
    kept_by_inductor = _inductor_graph_inputs(model, x)
    for path in sorted(_state_paths(model)):
        r = cmp.row(path)
        assert r.left.fate.survives == _survives_torch_jit_freeze(model, path), path
        if r.right.fate is not Fate.REMOVED_UNUSED:
            assert r.right.fate.survives == (path in kept_by_inductor), path


@pytest.mark.slow
def test_a_view_returned_by_forward_is_where_the_freezers_differ(freezes):
    model, x, cmp, _, _ = freezes["aliased_output"]
    w = cmp.row("w")
    assert not _survives_torch_jit_freeze(model, "w") and "w" in _inductor_graph_inputs(model, x)
    assert w.differs and w.left.fate is Fate.INLINED and w.right.fate.survives
    assert w in cmp.differences()
    assert all(r.left.fate is not r.right.fate for r in cmp.differences() if r.seen_by_both)
    same = [r for r in cmp.rows if r.seen_by_both and r not in cmp.differences()]
    assert all(r.left.fate is r.right.fate for r in same)


@pytest.mark.slow
def test_a_written_buffer_is_kept_by_both_and_the_model_is_untouched(freezes):
    model, _, cmp, _, _ = freezes["counter"]
    count = cmp.row("count")
    assert count.left.fate is count.right.fate is Fate.PRESERVED_MUTATED
    assert not count.differs
    assert model.count.item() == 0


@pytest.mark.slow
def test_attributes_one_freezer_sees(freezes):
    _, _, cmp, ts, _ = freezes["conv_bn"]
    only_ts = [r for r in cmp.rows if r.right is None]
    assert {r.path for r in only_ts} >= {"training", "conv", "bn.training"}
    assert all(r.kind not in ("parameter", "buffer") and not r.differs for r in only_ts)
    # a parameter only one report lists is a difference
    less = dataclasses.replace(ts, attributes=tuple(a for a in ts.attributes
                                                    if a.path != "bn.weight"))
    _, _, _, _, ind = freezes["conv_bn"]
    row = FreezerComparison.from_reports(less, ind).row("bn.weight")
    assert row.left is None and row.differs


@pytest.mark.slow
def test_table_marks_differences_and_absence(freezes):
    _, _, cmp, _, _ = freezes["aliased_output"]
    lines = cmp.table().splitlines()
    assert lines[0] == cmp.summary()
    assert re.split(r"\s{2,}", lines[1].strip()) == ["attribute", "TorchScript", "Inductor"]
    marked = [line.split()[1] for line in lines[2:] if line.startswith("*")]
    assert marked == [r.path for r in cmp.differences()]
    assert sum(ABSENT in line for line in lines[2:]) == sum(not r.seen_by_both for r in cmp.rows)
    only = cmp.table(only_differences=True).splitlines()
    assert len(only) == 2 + len(cmp.differences())
    assert "inlined" in cmp.explain("w") and "the freezers differ" in cmp.explain("w")
    with pytest.raises(KeyError, match="Did you mean 'w'"):
        cmp.row("ww")


class _Tags(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: set[str] = set()
        self.rows: list[dict] = []
        self.attrs: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attrs += [k for k, _ in attrs]
        if tag == "tr":
            self.rows.append(dict(attrs))


@pytest.mark.slow
def test_notebook_html_is_plain_and_highlights_the_differences(freezes):
    _, _, cmp, _, _ = freezes["aliased_output"]
    page = cmp._repr_html_()
    parsed = _Tags()
    parsed.feed(page)
    # what an untrusted notebook keeps: no script, stylesheet, picture or handler
    assert parsed.tags <= {"div", "p", "b", "table", "thead", "tbody", "tr", "th", "td", "span",
                           "details", "summary", "ul", "li"}
    assert not any(a.startswith("on") for a in parsed.attrs)
    body = [r for r in parsed.rows if "data-path" in r]
    assert [r["data-path"] for r in body] == [r.path for r in cmp.rows]
    assert [r["class"] == "fv-differs" for r in body] == [r.differs for r in cmp.rows]
    for r in cmp.rows:
        for s in (r.left, r.right):
            if s is not None:
                assert f'data-fate="{s.fate.value}"' in page


def test_text_from_the_model_is_escaped(ts_pair):
    cmp = ts_pair
    row = cmp.rows[0]
    evil = dataclasses.replace(row, path='<script>alert("x")</script>',
                               left=dataclasses.replace(row.left, why="<img src=x onerror=1>"))
    page = dataclasses.replace(cmp, rows=(evil,))._repr_html_()
    assert "<script>" not in page and "<img" not in page and "&lt;script&gt;" in page


def test_page_loads_nothing(ts_pair, tmp_path):
    cmp = ts_pair
    page = cmp.to_html()
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert "<script" not in page and cmp._repr_html_() in page
    (tmp_path / "cmp.html").write_text(page, encoding="utf-8")


def test_pickles_without_torch_objects(ts_pair):
    cmp = ts_pair
    again = pickle.loads(pickle.dumps(cmp))
    assert again == cmp and again.table() == cmp.table()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cmp.rows = ()


def test_a_freezer_that_fails_says_which():
    with pytest.raises(FreezeError, match="The Inductor freeze failed, so the two freezers"):
        freezeviz.compare_freezers(Counter().eval())  # Inductor needs example_inputs


def test_two_torchscript_freezes_side_by_side(ts_pair):
    cmp = ts_pair
    assert cmp.labels == ("TorchScript (1)", "TorchScript (2)")
    assert all(r.seen_by_both for r in cmp.rows)
    differ = {r.path for r in cmp.differences()}
    assert {"bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"} <= differ
    for path in ("bn.weight", "bn.running_var"):
        r = cmp.row(path)
        assert r.left.fate is Fate.FOLDED and r.left.folded_by == "fold_conv_bn"
        assert r.left.became == "folded by fold_conv_bn"
        assert r.right.fate is Fate.INLINED and r.right.became.startswith("constant self.bn.")
    assert cmp.row("conv.weight").left.became == "constant self.conv.weight_fused_bn"
    assert "conv.weight" not in differ
    html = cmp._repr_html_()
    assert html.count('class="fv-differs"') == len(differ)
    assert repr(cmp).startswith("<FreezerComparison ConvBN: TorchScript (1) vs TorchScript (2): ")


# In the first output: each body row's path, class and computed background, the chips' fills.
UNTRUSTED_JS = """() => {
    const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const cell = w && w.content && w.content.widgets[0];
    const table = cell && cell.node.querySelector('.jp-OutputArea-output table');
    if (!table) return null;
    return {
        trusted: cell.model.trusted,
        rows: Array.from(table.querySelectorAll('tbody tr')).map(tr => ({
            path: tr.cells[1].innerText, cls: tr.className,
            background: getComputedStyle(tr).backgroundColor})),
        chips: Array.from(table.querySelectorAll('.fv-chip')).map(
            c => getComputedStyle(c).backgroundColor),
    };
}"""


@pytest.mark.browser
def test_saved_table_shows_in_an_untrusted_notebook(ts_pair, tmp_path, free_port, browser):
    """JupyterLab sanitises an untrusted notebook's HTML: the table, its highlighted rows and
    the chips' colours must survive it."""
    from tests.widgets.test_browser import _start_lab, _stop_lab, _wait

    cmp = ts_pair
    root = tmp_path / "lab"
    root.mkdir()
    nb = {"cells": [{"cell_type": "code", "execution_count": 1, "id": "c0", "metadata": {},
                     "source": "freezeviz.compare_freezers(model, example_inputs=(x,))",
                     "outputs": [{"output_type": "execute_result", "execution_count": 1,
                                  "metadata": {}, "data": {"text/html": cmp._repr_html_(),
                                                           "text/plain": repr(cmp)}}]}],
          "metadata": {"language_info": {"name": "python"}}, "nbformat": 4, "nbformat_minor": 5}
    (root / "cmp.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    lab = _start_lab(root, free_port, tmp_path / "lab.log")
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(f"http://127.0.0.1:{free_port}/lab/tree/cmp.ipynb?reset", timeout=60_000)
            shown = _wait(page, "the saved table", UNTRUSTED_JS, 60)
        finally:
            page.close()
    finally:
        _stop_lab(lab, free_port)
    assert shown["trusted"] is False
    # the sanitiser drops data-* attributes; classes and inline styles stay
    assert [r["path"] for r in shown["rows"]] == [f"self.{r.path}" for r in cmp.rows]
    tint = "rgba(213, 94, 0, 0.13)"  # DIFFER_STYLE's, over JupyterLab's row striping
    for seen, row in zip(shown["rows"], cmp.rows):
        assert (seen["cls"] == "fv-differs") == row.differs
        assert (seen["background"] == tint) == row.differs, seen
    assert len(shown["chips"]) == 2 * len(cmp.rows)
    assert "rgba(0, 0, 0, 0)" not in shown["chips"]


def test_each_freezers_warnings_are_kept_and_named(ts_pair):
    model = ConvBN().eval()
    a = freezeviz.freeze(model)
    b = dataclasses.replace(a, warnings=("numerics moved at fold_conv_bn",))
    cmp = FreezerComparison.from_reports(a, b)
    assert cmp.warnings == ("TorchScript: numerics moved at fold_conv_bn",)
    assert ts_pair.warnings == ()
    assert "numerics moved at fold_conv_bn" in cmp._repr_html_()
