"""Two freezers side by side: what each did to every attribute of the same model.

:class:`FreezerComparison` is built from two FreezeReports of one model (TorchScript's
``torch.jit.freeze`` and Inductor's freezing, as ``freezeviz.compare_freezers`` makes them) by
:meth:`FreezerComparison.from_reports`. It holds one :class:`FreezerRow` per attribute path, in
the order the reports list them, with each freezer's fate, why, and the constant the attribute
became or the pass that folded it. Plain, immutable and picklable; never imports torch.

Paths line up as module paths (``conv.weight``): TorchScript's attribute paths and Inductor's
FQNs name the same parameter the same way. TorchScript also lists plain attributes (``training``,
``conv.transposed``) and submodules, which Inductor never sees; those rows have no Inductor side
and are not counted as differences. A parameter or buffer that only one report lists is.
"""

from __future__ import annotations

from dataclasses import dataclass

from freezeviz.data.baseline import _printable
from freezeviz.data.fates import Fate

__all__ = ["ABSENT", "FreezerComparison", "FreezerRow", "SideFate", "backend_label"]

ABSENT = "\u2014"  # what a freezer that does not see an attribute shows for it
STATE_KINDS = ("parameter", "buffer")  # every freezer sees these, so absence is a difference
_LABELS = {"torchscript": "TorchScript", "inductor": "Inductor"}


def backend_label(name: str) -> str:
    """``"TorchScript"`` for ``"torchscript"``; other names as they are."""
    return _LABELS.get(name, name)


@dataclass(frozen=True)
class SideFate:
    """One freezer's verdict on one attribute (from its AttributeInfo)."""

    fate: Fate
    why: str
    kind: str
    constant: str | None = None  # the constant it became, or the folded constant it went into
    folded_by: str | None = None  # the pass that folded it away
    rewritten_by: str | None = None  # the pass that replaced its constant by a new one
    warning: str | None = None

    @classmethod
    def of(cls, attr) -> SideFate:
        return cls(Fate(attr.fate), attr.why, attr.kind, attr.constant, attr.folded_by,
                   getattr(attr, "rewritten_by", None), attr.warning)

    @property
    def became(self) -> str:
        """What the attribute became, in a few words: ``constant self.conv.weight_fused_bn``,
        ``folded by fold_conv_bn``, ``folded by binary_folding into _frozen_param4``; "" for
        an attribute that was kept or removed."""
        if self.fate is Fate.FOLDED:
            into = f" into {self.constant}" if self.constant else ""
            return f"folded by {self.folded_by}{into}" if self.folded_by else f"folded{into}"
        if self.constant:
            by = f" (rewritten by {self.rewritten_by})" if self.rewritten_by else ""
            return f"constant {self.constant}{by}"
        return ""

    @property
    def short(self) -> str:
        """The fate's name and what it became, for one cell of a text table."""
        if not self.became:
            return self.fate.value
        return self.became if self.fate is Fate.FOLDED else f"{self.fate.value}: {self.became}"


@dataclass(frozen=True)
class FreezerRow:
    """One attribute path and what each freezer did to it (``None``: it does not see it)."""

    path: str
    kind: str  # parameter, buffer, attribute, module (the more specific side's)
    type: str
    left: SideFate | None
    right: SideFate | None

    @property
    def seen_by_both(self) -> bool:
        return self.left is not None and self.right is not None

    @property
    def differs(self) -> bool:
        """The fates differ; or a parameter or buffer is in one report only."""
        if self.seen_by_both:
            return self.left.fate is not self.right.fate
        return self.kind in STATE_KINDS

    def side(self, which: int) -> SideFate | None:
        return self.left if which == 0 else self.right


@dataclass(frozen=True)
class FreezerComparison:
    """What two freezers did to every attribute of one model (``left`` is TorchScript's and
    ``right`` Inductor's when made by ``freezeviz.compare_freezers``).

    ``differences()`` lists the rows that differ, ``table()`` prints them all, ``explain(path)``
    gives both stories of one attribute; in a notebook the comparison shows as a table with
    fate chips and the differing rows highlighted (plain HTML: it shows in an untrusted
    notebook too)."""

    module_name: str
    backends: tuple[str, str]
    rows: tuple[FreezerRow, ...]
    warnings: tuple[str, ...] = ()

    @classmethod
    def from_reports(cls, left, right) -> FreezerComparison:
        """The comparison of two FreezeReports of the same model (their ``backend`` names the
        columns; a report without one is TorchScript's)."""
        names = (getattr(left, "backend", "torchscript"), getattr(right, "backend", "torchscript"))
        warns = tuple(f"{backend_label(n)}: {w}" for n, r in zip(names, (left, right))
                      for w in r.warnings)
        return cls(left.module_name, names, _rows(left, right), warns)

    @property
    def labels(self) -> tuple[str, str]:
        a, b = (backend_label(n) for n in self.backends)
        return (f"{a} (1)", f"{b} (2)") if a == b else (a, b)

    def row(self, path: str) -> FreezerRow:
        path = path.removeprefix("self.")
        for r in self.rows:
            if r.path == path:
                return r
        from freezeviz.errors import did_you_mean

        raise KeyError(f"No attribute {path!r} in either report."
                       f"{did_you_mean(path, [r.path for r in self.rows])}")

    def differences(self) -> tuple[FreezerRow, ...]:
        """The rows whose fates differ (a parameter or buffer in one report only included)."""
        return tuple(r for r in self.rows if r.differs)

    def summary(self) -> str:
        a, b = self.labels
        both = sum(1 for r in self.rows if r.seen_by_both)
        return (f"{self.module_name}: {a} vs {b}: {len(self.differences())} of "
                f"{len(self.rows)} attributes differ ({both} seen by both)")

    def table(self, *, only_differences: bool = False) -> str:
        """Aligned text columns: a ``*`` marks a differing row, ``—`` a freezer that does not
        see the attribute."""
        rows = self.differences() if only_differences else self.rows
        cells = [["", "attribute", *self.labels]]
        cells += [["*" if r.differs else "", _printable(r.path),
                   *(_printable(s.short) if s else ABSENT for s in (r.left, r.right))]
                  for r in rows]
        widths = [max(len(c[i]) for c in cells) for i in range(3)]
        lines = [self.summary()]
        lines += ["  ".join([*(c[i].ljust(widths[i]) for i in range(3)), c[3]]).rstrip()
                  for c in cells]
        return "\n".join(lines)

    def explain(self, path: str) -> str:
        """Both freezers' stories of one attribute."""
        r = self.row(path)
        lines = [f"self.{r.path} ({r.kind}, {r.type})" + (": the freezers differ" if r.differs
                                                          else "")]
        for label, s in zip(self.labels, (r.left, r.right)):
            if s is None:
                lines += ["", f"{label}: {ABSENT} (not in its report)"]
                continue
            became = f" ({s.became})" if s.became else ""
            lines += ["", f"{label}: {s.fate.label} [{s.fate.value}]{became}", f"  {s.why}"]
            if s.warning:
                lines.append(f"  Warning: {s.warning}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<FreezerComparison {self.summary()}>"

    def __str__(self) -> str:
        return self.table()

    def _repr_html_(self) -> str:
        from freezeviz.render.sidebyside import comparison_html

        return comparison_html(self)

    def to_html(self) -> str:
        """A whole page (one file, no script, nothing loaded from the network)."""
        from freezeviz.render.sidebyside import comparison_page

        return comparison_page(self)


def _rows(left, right) -> tuple[FreezerRow, ...]:
    """One row per path of either report, in the left report's order, then the right's."""
    a = {x.path.removeprefix("self."): x for x in left.attributes}
    b = {x.path.removeprefix("self."): x for x in right.attributes}
    out = []
    for path in dict.fromkeys([*a, *b]):
        x, y = a.get(path), b.get(path)
        # the more specific kind: Inductor says "parameter" where TorchScript may say
        # "attribute" (an Optional[Tensor] slot such as a conv's bias)
        named = [v for v in (y, x) if v is not None]
        kind = next((v.kind for v in named if v.kind in STATE_KINDS), named[0].kind)
        out.append(FreezerRow(path, kind, (x or y).type, SideFate.of(x) if x else None,
                              SideFate.of(y) if y else None))
    return tuple(out)



FREEZERS = ("torchscript", "inductor")


def compare_freezers(freeze, model, example_inputs=None, **kw) -> FreezerComparison:
    """Freeze ``model`` with each of :data:`FREEZERS` through ``freeze`` (``freezeviz.freeze``,
    passed in so that this module needs no engine) and compare the two reports."""
    from freezeviz.errors import FreezeError

    reports = []
    for name in FREEZERS:
        try:
            reports.append(freeze(model, example_inputs=example_inputs, backend=name, **kw))
        except FreezeError as exc:
            raise FreezeError(f"The {backend_label(name)} freeze failed, so the two freezers "
                              f"cannot be compared:\n{exc}") from exc
    return FreezerComparison.from_reports(*reports)
