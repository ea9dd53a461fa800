"""FreezeInspector without a front end: traits, defaults, re-freezing, errors, caching,
selection, tabs and the static picture a saved notebook shows."""

from __future__ import annotations

import re
import time

import ipywidgets as W
import pytest

import freezeviz
from freezeviz.data.fates import Fate
from freezeviz.examples import MyModule2, resnet_tiny
from freezeviz.widgets import AttributeTable, FreezeInspector, GraphView

pytestmark = pytest.mark.needs_dot

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.fixture
def insp():
    return freezeviz.inspect(MyModule2())


def node_ids(svg: str) -> list[str]:
    return re.findall(r'<g id="(fv_[^"]+)" class="node', svg)


def test_is_a_widget_with_synced_traits(insp):
    assert isinstance(insp, FreezeInspector) and isinstance(insp, W.VBox)
    assert isinstance(insp.left, GraphView) and isinstance(insp.right, GraphView)
    assert isinstance(insp.table, AttributeTable)
    for name in ("svg", "hovered", "clicked", "selected", "query", "busy", "height"):
        assert name in insp.left.keys, name
    for name in ("rows", "methods", "preserved", "busy", "clicked", "fate_colors"):
        assert name in insp.table.keys, name
    assert insp.left._esm.strip() and insp.left._css.strip()
    assert "export default" in str(insp.left._esm)
    assert insp.left.height == "450px"
    assert isinstance(insp.tabs, W.Tab)
    assert insp.tabs.titles[:5] == ("Stages", "Alias analysis", "Frozen code", "Numerics (–)",
                                    "Repro")


def test_defaults(insp):
    report = insp.report
    assert insp.before_stage == "inlined"
    assert insp.after_stage == report.final_stage().name
    assert insp.preserved_attrs == []
    assert insp.selected is None and insp.error is None and not insp.busy
    assert insp.left.svg.lstrip().startswith(("<?xml", "<svg"))
    assert "<svg" in insp.right.svg
    assert {r["path"] for r in insp.table.rows} >= {"modified_tensor", "version"}
    assert [m["name"] for m in insp.table.methods] == ["forward"]
    assert insp.table.fate_colors["preserved_mutated"][2] == Fate.PRESERVED_MUTATED.label
    row = next(r for r in insp.table.rows if r["path"] == "modified_tensor")
    assert row["fate"] == "preserved_mutated" and row["mutated"] and row["survives"]
    assert "torch.jit.freeze" in insp.repro_text.value
    assert "MyModule2" in insp.title.value
    # hovering one pane is mirrored in the other (in the browser, without the kernel)
    assert {(lk.source[1], lk.target[1]) for lk in insp._links} >= {("hovered", "hovered")}


def test_toggle_preserve_version(insp):
    before = insp.report
    after_svg = insp.right.svg
    insp.table.preserved = ["version"]  # what ticking the box in the browser does
    assert insp.report is not before
    assert insp.report.attribute("version").fate is Fate.PRESERVED_REQUESTED
    assert insp.preserved_attrs == ["version"]
    assert insp.right.svg != after_svg
    assert "self.version" in insp.right.svg
    assert next(r for r in insp.table.rows if r["path"] == "version")["fate"] == \
        "preserved_requested"
    assert not insp.busy and insp.error is None
    insp.preserved_attrs = []  # and from Python
    assert insp.report.attribute("version").fate is Fate.REMOVED_UNUSED
    assert insp.table.preserved == []


def test_freeze_error_is_shown_and_last_good_state_kept():
    from tests.corpus.modules import WithInterface

    insp = freezeviz.inspect(WithInterface())
    good = insp.report
    svg = insp.right.svg
    insp.table.preserved = ["impl"]
    assert insp.error and "interface" in insp.error
    assert insp.report is good
    assert insp.preserved_attrs == []
    assert insp.table.preserved == []  # the box goes back
    assert insp.right.svg == svg
    assert insp.error_box.layout.display != "none" and "interface" in insp.error_box.value
    assert not insp.busy
    insp.tabs.selected_index = 5
    assert "interface" in insp.warnings_html.value
    # still usable: a good set clears the error
    insp.before_stage = "scripted"
    insp.preserved_attrs = []
    assert insp.error is None and insp.error_box.layout.display == "none"


def test_unknown_name_in_constructor_keeps_the_widget_usable():
    insp = freezeviz.inspect(MyModule2(), preserved_attrs=["nope"])
    assert insp.error and "nope" in insp.error
    assert insp.preserved_attrs == []
    assert "<svg" in insp.right.svg


def test_switching_back_is_cached(insp):
    first = insp.report
    insp.preserved_attrs = ["version"]
    second = insp.report
    right_svg = insp.right.svg
    t0 = time.perf_counter()
    insp.preserved_attrs = []
    back = time.perf_counter() - t0
    assert insp.report is first
    t0 = time.perf_counter()
    insp.preserved_attrs = ["version"]
    again = time.perf_counter() - t0
    assert insp.report is second and insp.right.svg == right_svg
    assert back < 0.05 and again < 0.05, (back, again)


def test_stage_pickers(insp):
    names = [s.name for s in insp.report.stages_of()]
    assert [v for _, v in insp.before_picker.options] == names
    left = insp.left.svg
    insp.before_stage = "scripted"
    assert insp.before_stage == "scripted" and insp.left.svg != left
    assert "CallMethod" in insp.report.stage("scripted").graph.text or insp.left.svg
    with pytest.raises(KeyError):
        insp.after_stage = "no_such_stage"
    # the after pane follows the final stage across re-freezes unless a stage was picked
    insp.preserved_attrs = ["version"]
    assert insp.after_stage == insp.report.final_stage().name
    assert insp.before_stage == "scripted"


def test_click_node_shows_details(insp):
    ids = node_ids(insp.right.svg)
    writer = next(i for i in ids if "aten_add_examples_py_37" in i)  # self.modified_tensor += 1
    insp.right.clicked = writer  # what clicking the node in the browser does
    sel = insp.selected
    assert sel["type"] == "node" and sel["kind"] == "aten::add_"
    assert sel["attribute"] == "modified_tensor" and sel["fate"] == "preserved_mutated"
    assert sel["source"].endswith("examples.py:37") and "modified_tensor" in sel["code"]
    assert sel["pane"] == "after" and sel["in_other_pane"]
    assert insp.right.clicked == ""  # reset, so clicking it again works
    assert "aten::add_" in insp.details.value and "kept: written" in insp.details.value
    assert insp.left.selected == [writer] and insp.right.selected == [writer]
    for i in ids:  # every drawn node resolves to something
        assert insp.select_node("after", i)["type"] in ("node", "input", "output")
    assert insp.select_node("before", node_ids(insp.left.svg)[0])["pane"] == "before"


def test_click_attribute_highlights_it(insp):
    insp.table.clicked = "modified_tensor"
    sel = insp.selected
    assert sel["type"] == "attribute" and sel["fate"] == "preserved_mutated" and sel["evidence"]
    assert insp.table.selected == "modified_tensor" and insp.table.clicked == ""
    assert insp.left.selected and insp.right.selected
    assert all(f'id="{i}"' in insp.right.svg for i in insp.right.selected)
    assert "self.modified_tensor" in insp.details.value
    insp.preserved_attrs = ["version"]  # an attribute selection survives a re-freeze
    assert insp.selected["attribute"] == "modified_tensor"


def test_tabs(insp):
    insp.tabs.selected_index = 0
    rows = len(insp.stages_box.children)
    insp.show_unchanged.value = True
    assert len(insp.stages_box.children) > rows
    first = insp.stages_box.children[0].children[0]
    toggle = first.children[1]
    toggle.value = True  # first stage: torch's printout of the graph
    assert "graph(" in insp.stages_box.children[0].children[1].value
    insp.tabs.selected_index = 1
    assert "modified_tensor" in insp.alias_html.value and "aten::add_" in insp.alias_html.value
    insp.tabs.selected_index = 2
    assert "def forward" in insp.code_html.value
    insp.tabs.selected_index = 3
    assert "example_inputs" in insp.numerics_html.value
    insp.tabs.selected_index = 5
    assert "training mode" in insp.warnings_html.value
    second = insp.stages_box.children[1].children[0]
    second.children[0].click()
    stages = insp.report.stages_of()
    assert insp.before_stage == stages[0].name and insp.after_stage == stages[1].name


def test_numerics_tab_with_example_inputs():
    import torch

    insp = freezeviz.inspect(MyModule2(), example_inputs=(torch.ones(3),))
    insp.tabs.selected_index = 3
    assert insp.report.numerics
    assert "max abs" in insp.numerics_html.value and "frozen" in insp.numerics_html.value
    assert insp.tabs.titles[3] == "Numerics"


def test_static_html_fallback(insp):
    data = insp._repr_mimebundle_()
    assert WIDGET_VIEW in data and data[WIDGET_VIEW]["model_id"] == insp.model_id
    html = data["text/html"]
    assert html.count("<svg") == 2
    assert "<?xml" not in html and "<!DOCTYPE" not in html
    assert "inlined" in html and insp.after_stage in html
    assert "text/plain" in data and "FreezeInspector" in data["text/plain"]


def test_larger_model_collapses_and_draws():
    t0 = time.perf_counter()
    insp = freezeviz.inspect(resnet_tiny())
    assert time.perf_counter() - t0 < 60
    assert "<svg" in insp.left.svg and "<svg" in insp.right.svg
    assert len(node_ids(insp.right.svg)) > 10
    insp.table.clicked = "conv1.weight"
    assert insp.selected["type"] == "attribute"
    for i in node_ids(insp.left.svg)[:40]:
        assert insp.select_node("before", i)["type"] != "unknown"
