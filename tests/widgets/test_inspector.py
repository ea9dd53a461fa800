"""FreezeInspector without a front end: traits, defaults, re-freezing, errors, caching,
selection, tabs and the static picture a saved notebook shows."""

from __future__ import annotations

import base64
import gc
import re
import time

import ipywidgets as W
import pytest
import torch

import freezeviz
from freezeviz.data.fates import Fate
from freezeviz.examples import MyModule2, resnet_tiny
from freezeviz.widgets import AttributeTable, FreezeInspector, GraphView
from freezeviz.widgets.state import PerReport

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
    # the browser gets the node map with the drawing: search and hover read it
    assert set(insp.right.node_map) >= set(node_ids(insp.right.svg))
    assert {r["path"] for r in insp.table.rows} >= {"modified_tensor", "version"}
    assert [m["name"] for m in insp.table.methods] == ["forward"]
    assert insp.table.fate_colors["preserved_mutated"][2] == Fate.PRESERVED_MUTATED.label
    row = next(r for r in insp.table.rows if r["path"] == "modified_tensor")
    assert row["fate"] == "preserved_mutated" and row["mutated"] and row["survives"]
    assert "torch.jit.freeze" in insp.tabs.repro_text.value
    assert "MyModule2" in insp.title.value
    # hovering one pane is mirrored in the other (in the browser, without the kernel)
    assert {((lk.source[0], lk.source[1]), (lk.target[0], lk.target[1]))
            for lk in insp.panes.links} >= {((insp.left, "hovered"), (insp.right, "hovered"))}


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
    insp.tabs.open_tab("warnings")
    assert "interface" in insp.tabs.warnings_html.value
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
    assert f"MyModule2: {insp.report.stage('scripted').label}" in insp.left.svg
    assert f"{insp.report.stage('scripted').graph.count():,} nodes" in insp.panes.before_info.value
    with pytest.raises(KeyError):
        insp.after_stage = "no_such_stage"
    # the after pane follows the final stage across re-freezes unless a stage was picked
    insp.preserved_attrs = ["version"]
    assert insp.after_stage == insp.report.final_stage().name
    assert insp.before_stage == "scripted"


def test_click_node_shows_details(insp):
    # the node that writes self.modified_tensor, as the report's final graph records it
    final = insp.report.final_stage().graph
    node = next(n for n in final.iter_nodes() if "modified_tensor" in n.writes)
    clicked = None
    for i in node_ids(insp.right.svg):
        sel = insp.select_node("after", i)
        assert sel["type"] in ("node", "input", "output")  # every drawn node resolves
        if sel["type"] == "node" and sel["node"] == node.id:
            clicked = i
    insp.right.clicked = clicked  # what clicking the node in the browser does
    sel = insp.selected
    assert sel["type"] == "node" and sel["kind"] == node.kind == "aten::add_"
    assert sel["attribute"] == "modified_tensor" and sel["fate"] == "preserved_mutated"
    path, line = sel["source"].rsplit(":", 1)
    assert path.endswith("examples.py")
    assert "modified_tensor" in open(path).read().splitlines()[int(line) - 1]
    assert "modified_tensor" in sel["code"]
    assert sel["pane"] == "after" and sel["in_other_pane"]
    assert insp.right.clicked == ""  # reset, so clicking it again works
    assert "aten::add_" in insp.details.value and "kept: written" in insp.details.value
    assert insp.left.selected == [clicked] and insp.right.selected == [clicked]
    assert insp.select_node("before", node_ids(insp.left.svg)[0])["pane"] == "before"
    assert insp.select_node("after", "fv_no_such_node")["type"] == "unknown"


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
    tabs = insp.tabs
    tabs.open_tab("stages")
    rows = tabs.stage_rows()
    tabs.show_unchanged.value = True
    assert len(tabs.stage_rows()) > len(rows)
    first = tabs.stage_rows()[0]
    assert first["toggle"] == "graph" and not first["prev"]
    tabs.stages.opened = [first["stage"]]  # as its "graph" button: torch's printout
    assert "graph(" in tabs.stages.texts[first["stage"]]
    # the first stage is where the method starts: never "no change", in the row or the picker
    assert "starting point" in first["summary"] and "no change" not in first["summary"]
    assert "no change" not in insp.before_picker.options[0][0]
    unchanged = [i for i, s in enumerate(insp.report.stages_of()[:-1]) if i and not s.changed]
    assert unchanged and all("no change" in insp.before_picker.options[i][0] for i in unchanged)
    tabs.open_tab("alias")
    assert "modified_tensor" in tabs.alias_html.value and "aten::add_" in tabs.alias_html.value
    tabs.open_tab("code")
    assert "def forward" in tabs.code_html.value
    tabs.open_tab("numerics")
    assert "example_inputs" in tabs.numerics_html.value
    tabs.open_tab("warnings")
    assert "training mode" in tabs.warnings_html.value
    second = tabs.stage_rows()[1]
    tabs.stages.compare = [second["prev"], second["stage"]]  # as its "compare" button
    stages = insp.report.stages_of()
    assert insp.before_stage == stages[0].name and insp.after_stage == stages[1].name
    assert tabs.stages.compare == []  # handled: the same button can be clicked again
    with pytest.raises(KeyError):
        tabs.open_tab("nope")


def test_numerics_tab_with_example_inputs():
    import torch

    insp = freezeviz.inspect(MyModule2(), example_inputs=(torch.ones(3),))
    insp.tabs.open_tab("numerics")
    assert insp.report.numerics
    html = insp.tabs.numerics_html.value
    assert "max abs" in html and "frozen" in html
    assert insp.tabs.titles[3] == "Numerics"


def test_static_html_fallback(insp):
    data = insp._repr_mimebundle_()
    assert WIDGET_VIEW in data and data[WIDGET_VIEW]["model_id"] == insp.model_id
    html = data["text/html"]
    # pictures as <img>, which untrusted (sanitised) HTML keeps; an inline <svg> it drops
    assert "<svg" not in html and html.count('src="data:image/svg+xml;base64,') == 2
    svgs = [base64.b64decode(m).decode() for m in
            re.findall(r'src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"', html)]
    assert svgs[0].startswith("<svg") and 'xmlns="http://www.w3.org/2000/svg"' in svgs[0]
    assert all("<?xml" not in s and "<!DOCTYPE" not in s for s in svgs)
    for svg, pane in zip(svgs, (insp.left, insp.right)):  # the panes' drawings, node for node
        assert re.findall(r'<g id="([^"]+)"', svg) == re.findall(r'<g id="([^"]+)"', pane.svg)
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


class _Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 4)

    def forward(self, x):
        x = torch.relu(self.lin(x))
        for _ in range(6):
            x = torch.sigmoid(x * 2 + 1 - x)
        return x


class _CallsOneBlockOften(torch.nn.Module):
    """One submodule run 30 times: a large graph, drawn with one collapsed box per run."""

    def __init__(self):
        super().__init__()
        self.blk = _Block()

    def forward(self, x):
        y = x
        for _ in range(30):
            y = self.blk(y) + x
        return y


def test_every_collapsed_run_resolves_to_its_nodes():
    insp = freezeviz.inspect(_CallsOneBlockOften().eval())
    assert "collapsed" in insp.right.message
    boxes = [i for i in node_ids(insp.right.svg) if i.startswith("fv_box_blk")]
    assert len(boxes) == 30  # one box per run, however many runs there are
    final = insp.report.final_stage().graph
    in_blk = sum(1 for n in final.iter_nodes() if n.scope.split(".")[0] == "blk")
    total = 0
    for i in boxes:
        sel = insp.select_node("after", i)
        assert sel["type"] == "collapsed" and sel["scope"] == "blk", (i, sel)
        assert sel["nodes"] == sum(sel["kinds"].values()) > 0  # its members, by kind
        assert f"{sel['nodes']} nodes" in insp.right.svg  # as the box's label says
        assert f"<td>{sel['nodes']}</td>" in insp.details.value
        total += sel["nodes"]
    assert 0 < total <= in_blk  # the runs split blk's drawn nodes between them
    insp.select_attribute("blk.lin.weight")  # marked where it is drawn, and only there
    assert insp.left.selected
    assert all(f'id="{i}"' in insp.left.svg for i in insp.left.selected)
    assert all(f'id="{i}"' in insp.right.svg for i in insp.right.selected)


def test_what_is_derived_from_a_report_goes_with_it():
    class Report:  # anything that can be referred to weakly
        pass

    dropped = []
    cache = PerReport(4, on_drop=dropped.append)
    a, b = Report(), Report()
    assert cache.get(a, "alias", lambda: "of a") == "of a"
    assert cache.get(a, "alias", lambda: "made again") == "of a"  # kept
    assert cache.get(b, "alias") is None  # per report
    cache.put(b, "alias", "of b")
    del a
    gc.collect()
    assert cache.get(b, "alias") == "of b" and len(cache) == 1
    assert dropped == ["of a"]  # dropped values are handed back (to close widgets)
    for i in range(6):
        cache.put(b, i, i)
    assert len(cache) == 4 and dropped[1:] == ["of b", 0, 1]  # bounded, oldest out first


def test_stage_rows_are_data_of_one_widget_and_keep_their_opened_texts():
    import ipywidgets as W

    from freezeviz.examples import conv_bn_relu

    insp = freezeviz.inspect(conv_bn_relu())
    stages = insp.tabs.stages
    rows = insp.tabs.stage_rows()
    changed = [r for r in rows if r["prev"]]
    assert changed and all(not r["disabled"] for r in changed)
    stages.opened = [changed[0]["stage"]]
    text = stages.texts[changed[0]["stage"]]
    assert text == insp.tabs.stage_text(changed[0]["prev"], changed[0]["stage"]) and "fv-diff" in text
    made = set(W.Widget.widgets)
    insp.preserved_attrs = ["bn.weight"]  # a new report: new rows, nothing opened, no widget made
    assert set(W.Widget.widgets) <= made
    assert stages.opened == [] and stages.texts == {}
    insp.tabs.show_unchanged.value = True
    assert len(insp.tabs.stage_rows()) == len(insp.report.stages_of())
    assert any(r["disabled"] for r in insp.tabs.stage_rows())  # passes that changed nothing
    insp.tabs.show_unchanged.value = False
    insp.preserved_attrs = []  # the first report again: its opened text comes back
    assert insp.tabs.stage_rows() == rows
    assert stages.opened == [changed[0]["stage"]] and stages.texts[changed[0]["stage"]] == text


def test_method_picker_switches_the_panes():
    from tests.corpus.modules import ExportedReset

    insp = freezeviz.inspect(ExportedReset(), preserved_attrs=["reset"])
    assert list(insp.method_picker.options) == ["forward", "reset"]
    assert insp.method_picker.layout.display != "none"  # shown when there is a choice
    forward_svg = insp.right.svg
    insp.method = "reset"
    final = insp.report.final_stage("reset")
    assert insp.after_stage == final.name and insp.right.svg != forward_svg
    assert f"{final.graph.count():,} nodes" in insp.panes.after_info.value
    assert insp.tabs.stage_rows()[0]["stage"] == insp.report.stages_of("reset")[0].name
    with pytest.raises(KeyError):
        insp.method = "no_such_method"


def _convbn_links():
    """An inspector on ConvBN, torch's name for the folded conv weight, the before pane's
    GetAttr conv.weight ids and the after pane's id of that constant."""
    from tests.corpus.modules import ConvBN

    module = ConvBN().eval()
    frozen = torch.jit.freeze(torch.jit.script(module))
    conv = next(n for n in frozen.graph.nodes() if n.kind() == "aten::conv2d")
    constant = conv.inputsAt(1).debugName()
    insp = freezeviz.inspect(module)
    before, after = insp.panes.drawing("before"), insp.panes.drawing("after")
    reads = sorted(sid for sid, ref in before.node_map.items()
                   if ref.key.startswith("prim::GetAttr:conv.weight#"))
    const = [sid for sid, ref in after.node_map.items() if ref.key == f"const:{constant}#0"]
    assert reads and len(const) == 1
    return insp, constant, reads, const[0]


def test_hover_links_a_getattr_and_the_constant_it_became():
    """Hovering GetAttr conv.weight (no twin after freezing) marks the constant torch made of
    it in the after pane, with the line saying so, and the reverse."""
    insp, constant, reads, const = _convbn_links()
    insp.left.hovered = reads[0]
    insp.right.hovered = reads[0]  # the browser mirrors the hovered id to the other pane
    assert insp.right.linked == [const]
    assert f"became the constant %{constant}" in insp.right.link_text
    assert insp.left.linked == [] and insp.left.link_text == ""

    insp.left.hovered = insp.right.hovered = ""
    assert insp.right.linked == [] and insp.right.link_text == ""
    insp.right.hovered = const
    insp.left.hovered = const
    assert sorted(insp.left.linked) == reads
    assert "read by GetAttr self.conv.weight before freezing" in insp.left.link_text
    assert insp.right.linked == []


def test_hover_on_a_node_in_both_panes_links_nothing(insp):
    shared = sorted(set(insp.left.node_map) & set(insp.right.node_map))[0]
    insp.left.hovered = insp.right.hovered = shared
    assert insp.left.linked == insp.right.linked == []
    assert insp.left.link_text == insp.right.link_text == ""


_BEFORE = {
    "fv_get_w0": ("prim::GetAttr:a.weight#0", "node", ("a.weight",)),
    "fv_get_w1": ("prim::GetAttr:a.weight#1", "node", ("a.weight",)),
    "fv_get_s": ("prim::GetAttr:scale#0", "node", ("scale",)),
    "fv_get_k": ("prim::GetAttr:keep#0", "node", ("keep",)),
    "fv_add": ("aten::add_@#m.py:3:4#0", "node", ("a.weight",)),
}
_AFTER = {
    # constant pooling merged two equal attributes into one constant
    "fv_c_pool": ("const:self.a.weight#0", "node", ("a.weight", "scale")),
    "fv_c_b": ("const:self.b.weight_fused_bn#0", "node", ("b.weight",)),
    "fv_get_k": ("prim::GetAttr:keep#0", "node", ("keep",)),
}


def test_attribute_links_say_what_the_report_says():
    """The same rules and words as FVGraph.attributeLinks (tests/web/test_graph_js.py)."""
    from freezeviz.render.nodemap import NodeRef
    from freezeviz.widgets.selection import attribute_links

    def refs(spec):
        return {sid: NodeRef(sid, key, kind, attributes=attrs)
                for sid, (key, kind, attrs) in spec.items()}

    before, after = refs(_BEFORE), refs(_AFTER)
    before["fv_box"] = NodeRef("fv_box", "box:b#0", "collapsed", attributes=("b.weight",),
                               box="b", members=("prim::GetAttr:b.weight#0",))
    ids, text = attribute_links(before, "fv_get_s", after, True)
    assert ids == ["fv_c_pool"]
    assert text == "GetAttr self.scale became the constant %self.a.weight"
    ids, text = attribute_links(after, "fv_c_pool", before, False)
    assert sorted(ids) == ["fv_get_s", "fv_get_w0", "fv_get_w1"]
    assert "read by GetAttr self.a.weight, GetAttr self.scale before freezing" in text
    ids, text = attribute_links(after, "fv_c_b", before, False)
    assert ids == ["fv_box"] and "inside the collapsed self.b" in text
    assert attribute_links(after, "fv_get_k", before, False) is None
    assert attribute_links(before, "fv_add", after, True) is None


def test_show_pass_puts_the_folding_pass_beside_the_stage_before_it():
    """BatchNorm folded into the conv (torch's frozen graph has no batch_norm): the pass
    that folded bn.weight goes in the after pane, the stage before it in the before pane."""
    from tests.corpus.modules import ConvBN

    module = ConvBN().eval()
    frozen = torch.jit.freeze(torch.jit.script(module))
    assert not any(n.kind() == "aten::batch_norm" for n in frozen.graph.nodes())
    insp = freezeviz.inspect(module)
    a = insp.report.attribute("bn.weight")
    assert a.fate == Fate.FOLDED and a.folded_by
    names = [s.name for s in insp.report.stages_of("forward")]
    insp.panes.show_pass(a.folded_by)
    assert insp.after_stage == a.folded_by
    assert insp.before_stage == names[names.index(a.folded_by) - 1]
    assert insp.right.svg == insp.panes.drawing("after").svg
    with pytest.raises(freezeviz.FreezeError, match="pick one of"):
        insp.panes.show_pass("no_such_pass")


def test_folded_attribute_details_offer_its_pass_in_one_click():
    """Selecting a folded attribute shows a button; clicking it puts the folding pass in the
    after pane. An attribute that was not folded shows no button."""
    from tests.corpus.modules import ConvBN

    insp = freezeviz.inspect(ConvBN().eval())
    button = insp.lower.pass_button
    folded = insp.report.attribute("bn.weight")
    assert folded.fate == Fate.FOLDED
    insp.select_attribute("bn.weight")
    assert button.layout.display != "none" and folded.folded_by in button.description
    button.click()
    assert insp.after_stage == folded.folded_by
    kept = next(a for a in insp.report.attributes if a.fate != Fate.FOLDED)
    insp.select_attribute(kept.path)
    assert button.layout.display == "none"


def test_colour_by_fate_draws_the_panes_without_the_diff():
    from tests.corpus import modules as M

    insp = freezeviz.inspect(M.ConvBN().eval())  # freezing folds the batch norm: a real diff
    diff_class = re.compile(r'class="node[^"]*\bfv(-|&#45;)(added|removed)\b')
    kinds = lambda: re.findall(r'data-kind="([^"]+)"', insp.legend.value)  # noqa: E731
    assert diff_class.search(insp.right.svg) and diff_class.search(insp.left.svg)
    assert {"diff:added", "diff:removed"} <= set(kinds())
    with_diff = insp.right.svg
    insp.legend.colour_by.value = "fate"
    assert not diff_class.search(insp.right.svg) and not diff_class.search(insp.left.svg)
    plain = insp.report.draw(insp.after_stage, title=None)
    assert set(node_ids(insp.right.svg)) == set(plain.node_map)
    fates = {f"fate:{a.fate.value}" for a in insp.report.attributes}
    assert set(kinds()) == fates | {"search"}
    # a stage picked meanwhile is drawn by fate too; back by change, the diff returns
    insp.before_stage = "scripted"
    assert not diff_class.search(insp.left.svg)
    insp.before_stage = "inlined"
    insp.legend.colour_by.value = "change"
    assert insp.right.svg == with_diff and {"diff:added", "diff:removed"} <= set(kinds())
