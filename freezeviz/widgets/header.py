"""The inspector's header: module, the freeze call and fate counts, the method picker, the
freezing status, and the error of the last failed re-freeze."""

from __future__ import annotations

import ipywidgets as W

from freezeviz.data.report import duration_text
from freezeviz.widgets.html import esc, title_html
from freezeviz.widgets.parts import html


class Header(W.VBox):
    """:attr:`title`, :attr:`method_picker` and :attr:`status` in a row; :attr:`error_box`
    under them, shown only while there is an error."""

    def __init__(self):
        self.title = W.HTML(layout=W.Layout(flex="1 1 0", min_width="0"))
        self.title.add_class("fv-title")
        self.status = html()
        self.status.add_class("fv-status")
        self.method_picker = W.Dropdown(description="method",
                                        layout=W.Layout(width="220px", display="none"))
        row = W.HBox([self.title, self.method_picker, self.status],
                     layout=W.Layout(width="100%"))
        row.add_class("fv-header")
        self.error_box = W.HTML(layout=W.Layout(display="none"))
        self.error_box.add_class("fv-error")
        super().__init__([row, self.error_box], layout=W.Layout(width="100%"))
        self._report = None

    def show(self, report, error: str | None) -> None:
        self._report = report
        self.title.value = title_html(report)
        self.set_busy(False)
        self.error_box.value = ("<b>Freezing failed; showing the last good result.</b>"
                                f"<pre>{esc(error)}</pre>") if error else ""
        self.error_box.layout.display = "" if error else "none"

    def set_methods(self, methods: list[str], method: str) -> None:
        """Offer ``methods`` (the picker shows only when there is a choice)."""
        self.method_picker.options = methods
        self.method_picker.value = method
        self.method_picker.layout.display = "" if len(methods) > 1 else "none"

    def set_busy(self, busy: bool) -> None:
        r = self._report
        done = f"froze in {duration_text(r.seconds)}" if r is not None and r.seconds else ""
        self.status.value = '<span class="fv-spin"></span>freezing…' if busy else done
