"""Opening module boxes in the inspector's panes (the same set in both), the after pane's
label on the final stage, and the inspector on torch.compile's freezing (Inductor).

What each pane draws is checked against ``report.draw(..., expanded=...)``; fates against
the module ``torch.jit.freeze`` returns, or the graph Inductor's freezing leaves."""

from __future__ import annotations

import pytest
import torch

import freezeviz
from freezeviz.examples import conv_bn_relu, resnet_tiny
from freezeviz.render.nodemap import node_map_dict
from freezeviz.widgets.html import static_picture, title_html

pytestmark = pytest.mark.needs_dot


@pytest.fixture(scope="module")
def model():
    return resnet_tiny()  # opens on the module overview: one box per top-level module


@pytest.fixture
def insp(model):
    return freezeviz.inspect(model)


def tokens(view) -> set[str]:
    return {ref["expand"] for ref in view.node_map.values() if ref.get("expand")}


def expected_map(insp, side: str, opened) -> dict:
    """The node map ``report.draw`` gives pane ``side``'s stage with ``opened`` open."""
    before, after = insp.before_stage, insp.after_stage
    mine, other = (before, after) if side == "before" else (after, before)
    view = insp.report.draw(mine, diff_against=other, diff_side=side, expanded=opened)
    return node_map_dict(view.node_map)


def test_expanded_opens_a_module_in_both_panes(insp):
    assert "layer3" in tokens(insp.left) and "layer3" in tokens(insp.right)
    assert not any(t.startswith("layer3.") for t in tokens(insp.right))  # closed at first
    shown = insp.left.revision
    insp.expanded = ["layer3"]
    assert insp.expanded == ["layer3"]
    for side, view in (("before", insp.left), ("after", insp.right)):
        assert view.expanded == ["layer3"]
        assert view.node_map == expected_map(insp, side, {"layer3"})
        # layer3 is drawn open: its block is a box of its own, with its ⊕
        assert "layer3.0" in tokens(view)
        assert view.revision > shown  # both panes and the table show the same, later update
    assert insp.table.revision == insp.left.revision == insp.right.revision
    insp.expanded = []
    assert not any(t.startswith("layer3.") for t in tokens(insp.right))
    assert insp.right.node_map == expected_map(insp, "after", set())


def test_a_click_in_one_pane_redraws_both(insp):
    # what the front end sends for a ⊕ in the left pane: the anchor (linked to the right
    # pane in the browser), then the set
    insp.left.anchor = "layer3"
    insp.left.expanded = ["layer3"]
    assert insp.right.expanded == ["layer3"] and insp.right.anchor == "layer3"
    assert insp.right.node_map == expected_map(insp, "after", {"layer3"})
    # a new stage is a new view: no box to keep in place, and still opened
    insp.before_stage = "frozen"
    assert insp.left.anchor == insp.right.anchor == ""
    assert insp.left.node_map == expected_map(insp, "before", {"layer3"})


def test_a_token_a_stage_lacks_is_ignored(insp):
    insp.expanded = ["layer3", "no_such_module"]
    assert insp.right.node_map == expected_map(insp, "after", {"layer3"})


def test_drawings_are_cached_per_expanded_set(insp):
    first = insp.right.svg
    insp.expanded = ["layer2"]
    assert insp.right.svg != first
    insp.expanded = []
    assert insp.right.svg is first  # the drawing made before, not laid out again


def test_a_new_method_closes_everything(insp):
    insp.expanded = ["layer3"]
    insp.panes.show(insp.report, "forward", reset=True)
    assert insp.expanded == [] and insp.right.expanded == []


def test_after_pane_says_final_on_the_final_stage(insp):
    final = insp.report.final_stage().name
    assert insp.after_stage == final
    labels = dict((v, k) for k, v in insp.after_picker.options)
    assert labels[final].endswith(f"final · {final}") and "no change" not in labels[final]
    assert "final graph" in insp.panes.after_info.value
    # other stages that changed nothing still say so
    names = [s.name for s in insp.report.stages_of("forward")]
    quiet = [s.name for s in insp.report.stages_of("forward")[1:-1] if not s.changed]
    assert quiet and all("no change" in labels[n] and "final" not in labels[n] for n in quiet)
    insp.after_stage = names[-2]
    assert "final graph" not in insp.panes.after_info.value


@pytest.fixture(scope="module")
def inductor_insp():
    torch.manual_seed(0)
    return freezeviz.inspect(conv_bn_relu(), example_inputs=(torch.randn(1, 3, 8, 8),),
                             backend="inductor")


def test_inspect_with_inductor_shows_its_stages_and_fates(inductor_insp):
    insp = inductor_insp
    report = insp.report
    assert report.backend == "inductor"
    names = [s.name for s in report.stages_of("forward")]
    assert "frozen" in names and "constant_fold#1" in names
    assert [v for _, v in insp.after_picker.options] == names
    assert insp.after_stage == names[-1]
    # ground truth, the graphs Inductor's freezing left: Dynamo's graph reads the conv's
    # weight and BN's statistics; the final graph takes the input alone (every parameter
    # became a constant), so each is folded
    first, final = (report.stages_of("forward")[i].graph.text for i in (0, -1))
    assert final.count("= placeholder[") == 1
    fates = {r["path"]: r["fate"] for r in insp.table.rows}
    assert fates == {a.path: a.fate.value for a in report.attributes}
    for path in ("conv.weight", "bn.running_mean", "bn.running_var"):
        assert path.replace(".", "_") in first
        assert fates[path] == "folded"
    assert insp.table.keep_off and "preserved_attrs" in insp.table.keep_off


def test_inductor_header_and_picture_name_torch_compile(inductor_insp):
    report = inductor_insp.report
    for html in (title_html(report), inductor_insp.title.value, inductor_insp.static_html(),
                 static_picture(report, [("after", "frozen", inductor_insp.right.svg)])):
        assert "torch.compile" in html and "torch.jit.freeze" not in html


def test_torchscript_table_has_keep_boxes(insp):
    assert insp.table.keep_off == ""
    assert "torch.jit.freeze(" in insp.title.value


def test_example_kwarg_inputs_reach_the_freeze():
    class Scaled(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(4, 4)

        def forward(self, x, *, scale: float = 1.0):
            return self.lin(x) * scale

    model, x = Scaled().eval(), torch.randn(2, 4)
    insp = freezeviz.inspect(model, example_kwarg_inputs={"x": x}, backend="inductor")
    want = freezeviz.freeze(model, example_kwarg_inputs={"x": x}, backend="inductor")
    assert [s.name for s in insp.report.stages] == [s.name for s in want.stages]
    assert insp.state.example_kwarg_inputs == {"x": x}
    assert {a.path: a.fate for a in insp.report.attributes} == {
        a.path: a.fate for a in want.attributes}
