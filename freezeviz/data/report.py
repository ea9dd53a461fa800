"""FreezeReport: everything one freeze produced, as plain data plus the real frozen module."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from freezeviz.data.fates import Fate
from freezeviz.data.snapshot import SourceLoc, Stage, TextField


@dataclass(frozen=True)
class Evidence:
    """An IR node behind a decision."""

    kind: str  # "aten::add_", "prim::SetAttr", "prim::GetAttr", "prim::Constant", "log"
    description: str  # plain words: "writes it in place", "folded into constant %self.w"
    source: SourceLoc | None = None
    method: str = "forward"

    @property
    def code(self) -> str:
        """The source line, as kept with the module ("" where the module keeps no source)."""
        return (self.source.code or "") if self.source is not None else ""

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
    # stage name of the last pass that replaced its constant by a new one made from it
    # (optimize_for_inference: an MKLDNN copy, a transposed weight); ``constant`` names that one
    rewritten_by: str | None = None

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
    # torch's AliasDb.to_graphviz_str() (may be handed in as a DeferredText: printed when read)
    dot: str = TextField()  # type: ignore[assignment]


@dataclass(frozen=True)
class NumericsRow:
    stage: str
    method: str
    max_abs: float
    max_rel: float


def duration_text(seconds: float) -> str:
    """A freeze's duration as people read it: ``12 ms`` below a second, ``1.25 s`` above."""
    if seconds < 1:
        return f"{max(1, round(seconds * 1000))} ms"
    return f"{seconds:.2f} s"


def json_safe(value):
    """``value`` with every non-finite float written as "nan", "inf" or "-inf"."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


# torch.compile freezes only with grad mode off; the frozen graph is what Inductor compiles
_INDUCTOR_REPRO = """import torch
from torch._inductor import config

torch._dynamo.reset()
with torch.no_grad(), config.patch(freezing=True):
    compiled = torch.compile(model)
    out = compiled(*example_inputs)"""
FREEZERS = {"torchscript": "torch.jit.freeze", "inductor": "torch.compile's freezing (Inductor)"}


@dataclass(frozen=True)
class FreezeReport:
    """What ``freezeviz.freeze`` found: complete and immutable once built. ``frozen_module`` is
    the real frozen ScriptModule; everything else is plain data (a pickle leaves the module out,
    and loads where torch is not installed)."""

    module_name: str
    preserved_attrs: tuple[str, ...]
    optimize_numerics: bool
    optimize_for_inference: bool
    stages: tuple[Stage, ...]
    attributes: tuple[AttributeInfo, ...]
    methods: tuple[MethodInfo, ...]
    alias: tuple[AliasInfo, ...]
    warnings: tuple[str, ...]
    log: tuple[str, ...]
    passes_check: str
    numerics: tuple[NumericsRow, ...] = ()
    seconds: float = 0.0
    # Class constants (``__constants__``, ``Final``): torch.jit.script compiled them into the
    # code, so they are no module state; kept apart from ``attributes`` (one row per slot)
    constants: tuple[AttributeInfo, ...] = ()
    # How the ScriptModule was obtained: "scripted" or "traced" (from an nn.Module), "loaded"
    # (from source_path) or "given" (a ScriptModule passed in)
    obtained: str = "given"
    source_path: str | None = None
    # the names of the keyword inputs a traced module was traced with (example_kwarg_inputs)
    trace_kwargs: tuple[str, ...] = ()
    # the freezer that produced the report: "torchscript" (torch.jit.freeze) or "inductor"
    # (torch.compile with torch._inductor.config.freezing)
    backend: str = "torchscript"
    frozen_module: Any = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict:
        # a ScriptModule does not pickle, and would tie the pickle to torch
        return {**self.__dict__, "frozen_module": None}

    def __setstate__(self, state: dict) -> None:
        for key, value in state.items():
            object.__setattr__(self, key, value)

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

    def changed_stages(self) -> list[Stage]:
        """The stages (of every method) whose graph differs from the previous stage of the same
        method; each method's ``scripted`` stage is the starting point, never a change."""
        return [s for s in self.stages if s.changed]

    def final_stage(self, method: str = "forward") -> Stage:
        return self.stages_of(method)[-1]

    def attribute(self, path: str) -> AttributeInfo:
        """An attribute (or submodule) by path, or a class constant (``__constants__``)."""
        path = path.removeprefix("self.")
        for a in (*self.attributes, *self.constants):
            if a.path == path:
                return a
        from freezeviz.errors import did_you_mean

        names = [a.path for a in (*self.attributes, *self.constants)]
        names += [m.name for m in self.methods]
        raise KeyError(f"No attribute {path!r} in this module."
                       f"{did_you_mean(path, names)}")

    @property
    def freezer(self) -> str:
        """The freezer that made this report, as the words name it (``torch.jit.freeze``)."""
        return FREEZERS.get(self.backend, self.backend)

    @property
    def fates(self) -> dict[str, Fate]:
        return {a.path: a.fate for a in self.attributes}

    # --- words ----------------------------------------------------------------------------
    def explain(self, path: str) -> str:
        """The story of one attribute (or method), for a terminal.

        >>> import freezeviz
        >>> from freezeviz.examples import ConvBNReLU
        >>> report = freezeviz.freeze(ConvBNReLU().eval())
        >>> print(report.explain("bn.running_mean"))
        self.bn.running_mean (buffer, Tensor): inlined, then folded away [folded]
        <BLANKLINE>
        The freezer inlined it as the constant %self.bn.running_mean; then the pass
        `fold_conv_bn` folded that constant away (Folds a BatchNorm that follows a convolution
        into the convolution's weight and bias ...).
        <BLANKLINE>
        Evidence:
          - in forward(): prim::GetAttr read as %running_mean in forward() by aten::batch_norm ...
        """
        name = path.removeprefix("self.").removesuffix("()")
        method = next((m for m in self.methods if m.name == name), None)
        if method is not None and not any(a.path == name for a in self.attributes):
            return self._explain_method(method)
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
                elif e.source is not None:
                    lines.append("      (source text not kept with the module, so not quoted)")
                elif e.kind == "prim::SetAttr":
                    lines.append("      (TorchScript keeps no line for an assignment, and the code "
                                 "around this one does not single it out)")
        if a.warning:
            lines += ["", f"Warning: {a.warning}"]
        return "\n".join(lines)

    def _explain_method(self, m: MethodInfo) -> str:
        head = f"self.{m.name}() (method): "
        if self.backend == "inductor":
            # torch.compile traces what it calls, so only forward reaches the freezer
            return (head + f"compiled\n\ntorch.compile compiles {m.name}() (the method it is "
                    "called on): Dynamo traces it and, with freezing on, Inductor makes the "
                    "parameters and buffers it only reads constants of the frozen graph. Its "
                    f"stages: report.stages_of({m.name!r}).")
        if m.kept:
            why = ("torch.jit.freeze always keeps forward" if m.name == "forward"
                   else "You named it in preserved_attrs")
            return (head + f"kept\n\n{why}, so the frozen module keeps {m.name}(), "
                    "with the state it only reads inlined as constants. Its stages: "
                    f"report.stages_of({m.name!r}).")
        if m.preserved:
            return (head + f"removed\n\nYou named {m.name}() in preserved_attrs, yet the frozen "
                    "module no longer holds it.")
        return (head + f"removed\n\ntorch.jit.freeze keeps only forward and the methods named in "
                f"preserved_attrs, so the freezer removed {m.name}(). Add {m.name!r} to "
                "preserved_attrs to keep it, with the state it writes.")

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for a in self.attributes:
            counts[a.fate.value] = counts.get(a.fate.value, 0) + 1
        parts = ", ".join(f"{n} {Fate(k).label}" for k, n in counts.items())
        changed = [s.label for s in self.changed_stages()]
        # TorchScript's freezer is the default one; any other is named up front
        by = f" under {self.freezer}" if self.backend != "torchscript" else ""
        return (f"{self.module_name}{by}: {len(self.attributes)} attributes ({parts}); "
                f"stages that changed the graph: {', '.join(changed) or 'none'}")

    def repro(self) -> str:
        """The same freeze in plain torch, from what was passed to ``freezeviz.freeze``."""
        if self.backend == "inductor":
            return _INDUCTOR_REPRO
        pres = list(self.preserved_attrs)
        lines = ["import torch", *self._repro_module()]
        lines.append(f"frozen = torch.jit.freeze(module.eval(), preserved_attrs={pres!r}, "
                     f"optimize_numerics={self.optimize_numerics})")
        if self.optimize_for_inference:
            others = [m.name for m in self.methods if m.preserved and m.name != "forward"]
            lines.append(f"frozen = torch.jit.optimize_for_inference(frozen, other_methods={others!r})")
        return "\n".join(lines)

    def _repro_trace(self) -> str:
        if self.trace_kwargs:
            names = ", ".join(repr(k) for k in self.trace_kwargs)
            return ("module = torch.jit.trace(model, example_kwarg_inputs=example_kwarg_inputs, "
                    f"strict=False)  # keys: {names}")
        return "module = torch.jit.trace(model, example_inputs, strict=False)"

    def _repro_module(self) -> list[str]:
        if self.obtained == "scripted":
            return ["module = torch.jit.script(model)"]
        if self.obtained == "traced":
            return ["# torch.jit.script could not compile the model, so it was traced with the",
                    "# example inputs: the trace records the one path those inputs took.",
                    "model.eval()",
                    "with torch.no_grad():",
                    "    " + self._repro_trace()]
        if self.obtained == "loaded":
            return [f"module = torch.jit.load({self.source_path!r}, map_location='cpu')"]
        return ["module = model  # the ScriptModule passed in, used as it is"]

    # --- pictures and diffs (drawn from snapshots alone) ----------------------------------
    def draw(self, stage: str | Stage = "final", *, method: str = "forward",
             diff_against: str | Stage | None = None, **options):
        from freezeviz.render import draw

        st = self.stage(stage, method)
        other = self.stage(diff_against, method).graph if diff_against is not None else None
        options.setdefault("fates", self.fates)
        options.setdefault("title", f"{self.module_name}: {st.label}")
        if other is not None:
            a_index = self.stages.index(self.stage(diff_against, method))
            options.setdefault("diff_side", "after" if a_index < self.stages.index(st) else "before")
        return draw(st.graph, diff_against=other, **options)

    def diff(self, a: str | Stage, b: str | Stage, method: str = "forward") -> str:
        from freezeviz.data.diff import diff_text

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
            "constants": [a.to_dict() for a in self.constants],
            "methods": [asdict(m) for m in self.methods],
            "stages": [
                {"name": s.name, "method": s.method, "description": s.description,
                 "changed": s.changed, "seconds": round(s.seconds, 6),
                 "nodes": s.graph.count()}
                for s in self.stages
            ],
            "obtained": self.obtained,
            "source_path": self.source_path,
            "warnings": list(self.warnings),
            "passes_check": self.passes_check,
            "numerics": [json_safe(asdict(n)) for n in self.numerics],
        }

    def to_json(self, **kwargs) -> str:
        """Strict JSON: a NaN or an infinity is written as the string "nan", "inf" or "-inf"
        (bare NaN/Infinity are not JSON, and most parsers other than Python's reject them)."""
        kwargs.setdefault("allow_nan", False)
        return json.dumps(json_safe(self.to_dict()), **kwargs)

    def __repr__(self) -> str:
        return f"<FreezeReport {self.summary()}>"

    def _repr_mimebundle_(self, include=None, exclude=None):
        text = self.summary()
        try:
            svg = self.draw("final").svg
        except Exception:
            return {"text/plain": text}
        return {"text/plain": text, "image/svg+xml": svg}
