"""FreezeReport: everything one freeze produced, as plain data plus the real frozen module."""

from __future__ import annotations

import json
import linecache
from dataclasses import asdict, dataclass, field
from typing import Any

from .fates import Fate
from .snapshot import SourceLoc, Stage


@dataclass(frozen=True)
class Evidence:
    """An IR node behind a decision."""

    kind: str  # "aten::add_", "prim::SetAttr", "prim::GetAttr", "prim::Constant", "log"
    description: str  # plain words: "writes it in place", "folded into constant %self.w"
    source: SourceLoc | None = None
    method: str = "forward"

    @property
    def code(self) -> str:
        """The source line itself, when the file is readable."""
        if self.source is None:
            return ""
        return linecache.getline(self.source.file, self.source.line).strip()

    def __str__(self) -> str:
        where = f" at {self.source.short}" if self.source else ""
        code = f": {self.code}" if self.code else ""
        return f"{self.kind} {self.description}{where}{code}"


@dataclass(frozen=True)
class AttributeInfo:
    path: str
    kind: str  # parameter, buffer, attribute, module
    type: str
    fate: Fate
    why: str
    evidence: tuple[Evidence, ...] = ()
    constant: str | None = None  # debug name of the constant it became (final stage)
    folded_by: str | None = None  # stage name of the pass that folded it away
    warning: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["fate"] = self.fate.value
        d["evidence"] = [
            {"kind": e.kind, "description": e.description, "method": e.method,
             "source": f"{e.source.file}:{e.source.line}" if e.source else None,
             "code": e.code}
            for e in self.evidence
        ]
        return d


@dataclass(frozen=True)
class MethodInfo:
    name: str
    preserved: bool  # forward and methods named in preserved_attrs
    kept: bool  # still on the frozen module


@dataclass(frozen=True)
class AliasWriter:
    value: str  # debug name of the state read that has writers
    attribute: str
    writer: str  # node kind
    source: SourceLoc | None


@dataclass(frozen=True)
class AliasInfo:
    """Alias analysis of one analysed graph (isFrozen=True, as the freezer runs it)."""

    graph: str  # "forward", "forward/fork0", "reset"
    writers: tuple[AliasWriter, ...]
    dot: str  # torch's AliasDb.to_graphviz_str()


@dataclass(frozen=True)
class NumericsRow:
    stage: str
    method: str
    max_abs: float
    max_rel: float


@dataclass
class FreezeReport:
    """What ``freezeviz.freeze`` found. ``frozen_module`` is the real frozen ScriptModule."""

    module_name: str
    preserved_attrs: tuple[str, ...]
    optimize_numerics: bool
    optimize_for_inference: bool
    stages: list[Stage]
    attributes: list[AttributeInfo]
    methods: list[MethodInfo]
    alias: list[AliasInfo]
    warnings: list[str]
    log: tuple[str, ...]
    passes_check: str
    numerics: list[NumericsRow] = field(default_factory=list)
    seconds: float = 0.0
    frozen_module: Any = field(default=None, repr=False, compare=False)

    # --- lookup ---------------------------------------------------------------------------
    def stage(self, name: str | Stage, method: str = "forward") -> Stage:
        if isinstance(name, Stage):
            return name
        if name == "final":
            return self.final_stage(method)
        for s in self.stages:
            if s.name == name and s.method == method:
                return s
        names = ", ".join(s.name for s in self.stages if s.method == method)
        raise KeyError(f"No stage {name!r} for method {method!r}. Stages: {names}")

    def stages_of(self, method: str = "forward") -> list[Stage]:
        return [s for s in self.stages if s.method == method]

    def final_stage(self, method: str = "forward") -> Stage:
        return self.stages_of(method)[-1]

    def attribute(self, path: str) -> AttributeInfo:
        path = path.removeprefix("self.")
        for a in self.attributes:
            if a.path == path:
                return a
        from .errors import did_you_mean

        raise KeyError(f"No attribute {path!r} in this module."
                       f"{did_you_mean(path, [a.path for a in self.attributes])}")

    @property
    def fates(self) -> dict[str, Fate]:
        return {a.path: a.fate for a in self.attributes}

    # --- words ----------------------------------------------------------------------------
    def explain(self, path: str) -> str:
        """The story of one attribute, for a terminal."""
        a = self.attribute(path)
        lines = [f"self.{a.path} ({a.kind}, {a.type}): {a.fate.label} [{a.fate.value}]", "",
                 a.why]
        if a.evidence:
            lines += ["", "Evidence:"]
            for e in a.evidence:
                where = f"  {e.source.short}" if e.source else ""
                lines.append(f"  - in {e.method}(): {e.kind} {e.description}{where}")
                if e.code:
                    lines.append(f"      {e.code}")
        if a.warning:
            lines += ["", f"Warning: {a.warning}"]
        return "\n".join(lines)

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for a in self.attributes:
            counts[a.fate.value] = counts.get(a.fate.value, 0) + 1
        parts = ", ".join(f"{n} {Fate(k).label}" for k, n in counts.items())
        changed = [s.name for s in self.stages_of() if s.changed and s.name not in ("scripted",)]
        return (f"{self.module_name}: {len(self.attributes)} attributes ({parts}); "
                f"stages that changed the graph: {', '.join(changed) or 'none'}")

    def repro(self) -> str:
        """The equivalent ``torch.jit.freeze`` call."""
        pres = list(self.preserved_attrs)
        call = f"frozen = torch.jit.freeze(scripted.eval(), preserved_attrs={pres!r}"
        call += f", optimize_numerics={self.optimize_numerics})"
        lines = ["import torch", "scripted = torch.jit.script(model)  # or torch.jit.load(path)", call]
        if self.optimize_for_inference:
            others = [m.name for m in self.methods if m.preserved and m.name != "forward"]
            lines.append(f"frozen = torch.jit.optimize_for_inference(frozen, other_methods={others!r})")
        return "\n".join(lines)

    # --- pictures and diffs (drawn from snapshots alone) ----------------------------------
    def draw(self, stage: str | Stage = "final", *, method: str = "forward",
             diff_against: str | Stage | None = None, **options):
        from .render import draw

        st = self.stage(stage, method)
        other = self.stage(diff_against, method).graph if diff_against is not None else None
        options.setdefault("fates", self.fates)
        options.setdefault("title", f"{self.module_name}: {st.label}")
        if other is not None:
            a_index = self.stages.index(self.stage(diff_against, method))
            options.setdefault("diff_side", "after" if a_index < self.stages.index(st) else "before")
        return draw(st.graph, diff_against=other, **options)

    def diff(self, a: str | Stage, b: str | Stage, method: str = "forward") -> str:
        from .diff import diff_text

        sa, sb = self.stage(a, method), self.stage(b, method)
        return diff_text(sa.graph, sb.graph, a_name=sa.label, b_name=sb.label)

    # --- machines -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "module": self.module_name,
            "preserved_attrs": list(self.preserved_attrs),
            "optimize_numerics": self.optimize_numerics,
            "optimize_for_inference": self.optimize_for_inference,
            "attributes": [a.to_dict() for a in self.attributes],
            "methods": [asdict(m) for m in self.methods],
            "stages": [
                {"name": s.name, "method": s.method, "description": s.description,
                 "changed": s.changed, "seconds": round(s.seconds, 6),
                 "nodes": s.graph.count()}
                for s in self.stages
            ],
            "warnings": list(self.warnings),
            "passes_check": self.passes_check,
            "numerics": [asdict(n) for n in self.numerics],
        }

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    def __repr__(self) -> str:
        return f"<FreezeReport {self.summary()}>"

    def _repr_mimebundle_(self, include=None, exclude=None):
        text = self.summary()
        try:
            svg = self.draw("final").svg
        except Exception:
            return {"text/plain": text}
        return {"text/plain": text, "image/svg+xml": svg}
