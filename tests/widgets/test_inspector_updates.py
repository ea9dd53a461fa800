"""What the inspector sends to the browser when the preserved set changes: the table rows
whose fate changed (not all rows), no busy marks for a set frozen before, the sets that are
cached (so the browser sends those clicks at once), and which update each part shows.
The fates themselves are checked against the module ``torch.jit.freeze`` returns."""

from __future__ import annotations

import pytest
import torch

import freezeviz
from freezeviz.examples import resnet_tiny
from freezeviz.widgets.table import attribute_rows


@pytest.fixture(scope="module")
def model():
    return resnet_tiny()  # 265 attributes: a table worth not resending


@pytest.fixture
def insp(model):
    return freezeviz.inspect(model)


def _parts(insp):
    """Every widget of the inspector, with the one that drew it."""
    seen, todo = [], [insp]
    while todo:
        w = todo.pop()
        seen.append(w)
        todo.extend(getattr(w, "children", ()))
    return seen


@pytest.fixture
def sent(insp, monkeypatch):
    """(widget, state keys) of every update the inspector's widgets send from now on."""
    log = []
    for w in _parts(insp):
        def record(msg, buffers=None, w=w):
            log.append((w, set(msg.get("state", {}))))
        monkeypatch.setattr(w, "_send", record)
    return log


def _frozen_keeps(model, preserved, path) -> bool:
    """Whether the module torch.jit.freeze returns still holds ``path`` (its C++ object:
    the Python wrapper of a frozen module lists no children)."""
    obj = torch.jit.freeze(torch.jit.script(model), preserved_attrs=preserved)._c
    *mods, name = path.split(".")
    for part in mods:
        if not obj.hasattr(part):
            return False
        obj = obj.getattr(part)
    return obj.hasattr(name)


def test_a_new_set_sends_only_the_rows_that_changed(model, insp, sent):
    first = list(insp.table.rows)  # what the browser holds
    insp.preserved_attrs = ["fc.weight"]
    table = [keys for w, keys in sent if w is insp.table]
    assert not any("rows" in keys for keys in table)  # not the 265 rows again
    patch = insp.table.row_patch
    assert any("row_patch" in keys for keys in table)
    changed = {r["path"] for r, f in zip(attribute_rows(insp.report), first) if r != f}
    assert set(patch) == changed and 1 <= len(patch) <= 8
    # the real freeze keeps fc.weight now, and the row says so
    assert _frozen_keeps(model, ["fc.weight"], "fc.weight")
    assert not _frozen_keeps(model, [], "fc.weight")
    assert patch["fc.weight"]["fate"] == "preserved_requested" and patch["fc.weight"]["survives"]
    # Python's rows, the browser's copy with the patch, and a new browser's state agree
    assert insp.table.rows == attribute_rows(insp.report)
    assert [patch.get(r["path"], r) for r in first] == insp.table.rows
    state = insp.table.get_state()
    assert [state["row_patch"].get(r["path"], r) for r in state["rows"]] == insp.table.rows


def test_rows_set_whole_drop_the_patch(insp):
    insp.preserved_attrs = ["fc.weight"]
    assert insp.table.row_patch
    rows = attribute_rows(insp.report)[:3]
    insp.table.rows = rows  # another set of attributes: the patch no longer applies
    assert insp.table.row_patch == {} and insp.table.rows == rows


def test_a_seen_set_sends_no_busy_marks_and_is_known_as_cached(model, insp, sent):
    insp.preserved_attrs = ["fc.weight"]
    assert insp.state.lookup([])[1] is not None and insp.state.lookup(["fc.weight"])[1] is not None
    sent.clear()
    insp.preserved_attrs = []
    assert not any("busy" in keys for _, keys in sent)  # nothing to wait for
    assert any("svg" in keys for w, keys in sent if w is insp.right)  # the frozen pane changed
    row = next(r for r in insp.table.rows if r["path"] == "fc.weight")
    assert row["survives"] == _frozen_keeps(model, [], "fc.weight") is False


def test_every_part_says_which_update_it_shows(insp):
    parts = (insp.left, insp.right, insp.table)
    first = {p.revision for p in parts}
    assert len(first) == 1 and first.pop() >= 1
    before = insp.left.revision
    insp.preserved_attrs = ["fc.bias"]
    assert {p.revision for p in parts} == {before + 1}


def test_a_new_set_sends_its_stage_rows_as_data_not_widgets(insp, sent):
    import ipywidgets as W

    first_rows = insp.tabs.stage_rows()
    sent.clear()
    made = set(W.Widget.widgets)
    insp.preserved_attrs = ["fc.weight"]
    assert set(W.Widget.widgets) <= made  # nothing made: the stages are rows of one widget
    assert any("rows" in keys for w, keys in sent if w is insp.tabs.stages)
    insp.preserved_attrs = []
    assert insp.tabs.stage_rows() == first_rows
    stages = insp.report.stages_of()
    assert [r["stage"] for r in first_rows] == [s.name for i, s in enumerate(stages)
                                                if i == 0 or s.changed]


def test_plain_texts_and_boxes_share_one_layout_and_style(insp):
    texts = [insp.details, insp.legend.row, insp.header.status, insp.tabs.alias_html]
    assert len({id(w.layout) for w in texts}) == 1 and len({id(w.style) for w in texts}) == 1
    from freezeviz.widgets import parts

    shared = parts.plain_layout()
    shared.close()  # as Widget.close_all() would: the next widgets get a live one
    again = parts.html("x")
    assert again.layout is not shared and again.layout.comm is not None


def test_a_new_set_reads_the_module_once(model, insp, monkeypatch):
    """The inspector reads the module's content to look up its reports; the freeze of a new
    set reuses that reading instead of hashing every tensor again. A module changed in
    between is still seen: each click reads it anew."""
    from freezeviz.engine import api, cache

    reads = []
    real = cache.content_key
    monkeypatch.setattr(cache, "content_key", lambda *o: reads.append(o) or real(*o))
    monkeypatch.setattr(api, "content_key", cache.content_key)
    insp.preserved_attrs = ["fc.weight"]
    assert sum(1 for o in reads if o and o[0] is insp.state.module) == 1
    with torch.no_grad():
        model.fc.bias.add_(1.0)
    try:
        insp.preserved_attrs = ["fc.bias"]
        assert "fc.bias" in insp.report.preserved_attrs
        assert torch.equal(insp.report.frozen_module.fc.bias, model.fc.bias)
    finally:
        with torch.no_grad():
            model.fc.bias.sub_(1.0)
