"""The lower half of the inspector: the attribute table with its "keep" boxes, and the
details panel beside it."""

from __future__ import annotations

import ipywidgets as W

from freezeviz.data.fates import Fate
from freezeviz.widgets.details import details_html
from freezeviz.widgets.graphview import AttributeTable
from freezeviz.widgets.html import fate_colors
from freezeviz.widgets.parts import box, html
from freezeviz.widgets.state import PerReport


# why the keep boxes cannot change anything, for freezers that take no preserved_attrs
KEEP_OFF = {"inductor": "torch.compile's freezing takes no preserved_attrs: it keeps exactly "
                        "the parameters and buffers forward writes or returns"}


def attribute_rows(report) -> list[dict]:
    """One row per attribute, as :class:`AttributeTable` shows them. ``mutated``: some
    method writes it (so preserving it keeps a value that changes)."""
    written = {w.attribute for info in report.alias for w in info.writers}
    rows = []
    for a in report.attributes:
        mutated = (a.fate is Fate.PRESERVED_MUTATED or a.path in written or any(
            e.kind == "prim::SetAttr" or e.kind.endswith("_") for e in a.evidence))
        rows.append({"path": a.path, "kind": a.kind, "type": a.type, "fate": a.fate.value,
                     "fate_label": a.fate.label, "why": a.why, "warning": a.warning or "",
                     "survives": a.fate.survives, "mutated": bool(mutated)})
    return rows


def method_rows(report) -> list[dict]:
    """One row per root method; forward is always kept, so its box is locked."""
    return [{"name": m.name, "preserved": m.preserved, "kept": m.kept,
             "locked": m.name == "forward"} for m in report.methods]


class AttributePanel(W.HBox):
    """:attr:`table` (an :class:`AttributeTable`) and :attr:`details` (HTML) side by side."""

    def __init__(self, cache_size: int = 8):
        self.table = AttributeTable(fate_colors={k: [v[0], v[1], Fate(k).label]
                                                 for k, v in fate_colors().items()})
        table_box = box([self.table])
        table_box.add_class("fv-at-box")
        self.details = html(details_html(None, None))
        self.details.add_class("fv-details")
        # a folded attribute: one click puts the pass that folded it beside the stage before it
        self.pass_button = W.Button(layout=W.Layout(display="none", width="auto"))
        self.pass_button.add_class("fv-pass-button")
        self.on_show_pass = None  # set by the inspector: called with the pass stage's name
        self.pass_button.on_click(lambda _: self.on_show_pass and self.on_show_pass(
            self.pass_button.tooltip))
        details_box = box([self.details, self.pass_button])
        details_box.add_class("fv-details-box")
        super().__init__([table_box, details_box], layout=W.Layout(width="100%"))
        self.add_class("fv-lower")
        self._rows = PerReport(2 * max(1, cache_size))

    def show(self, report) -> None:
        """Fill the table from ``report`` (rows cached per report)."""
        rows = self._rows.get(report, "rows", lambda: attribute_rows(report))
        with self.table.hold_sync():
            self.table.show_rows(rows)
            self.table.methods = method_rows(report)
            self.table.preserved = list(report.preserved_attrs)
            self.table.keep_off = KEEP_OFF.get(report.backend, "")

    def describe(self, report, selection: dict | None) -> None:
        """Show ``selection`` in the details panel and mark its row in the table."""
        self.details.value = details_html(report, selection)
        self.table.selected = (selection or {}).get("attribute") or ""
        folded_by = (selection or {}).get("folded_by") if (selection or {}).get(
            "type") == "attribute" else None
        self.pass_button.tooltip = folded_by or ""
        self.pass_button.description = f"show the pass that folded it: {folded_by}"
        self.pass_button.layout.display = "" if folded_by else "none"
