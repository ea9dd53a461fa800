"""What the HTML report calls the parts of a freeze, by the freezer that made it.

TorchScript's freezer has options (``preserved_attrs``, ``optimize_numerics``), an alias
analysis and a JIT_LOG; torch.compile's freezing has none of these, and its first graph is
Dynamo's trace, not a scripted method. One table per backend keeps the page's code free of
backend checks.
"""

from __future__ import annotations

from freezeviz.render.fragments import esc

_TORCHSCRIPT = {
    "log": "The freezer's own log (JIT_LOG of freeze_module, {n} lines)",
    "before": "{m}() as scripted, before freezing",
    "code_sub": "what the frozen module runs",
    "footer": "Made by freezeviz from torch.jit.freeze run stage by stage",
}
_INDUCTOR = {
    "log": "Constant lineage: what each constant_fold made, and from which attributes ({n} lines)",
    "before": "{m}() as Dynamo traced it, before freezing",
    "code_sub": "the frozen graph Inductor compiles",
    "footer": "Made by freezeviz from torch.compile's freezing (Inductor) run stage by stage",
}


def phrase(report, key: str, **values) -> str:
    """The page's words for ``key`` (plain text, not escaped) for ``report``'s freezer."""
    table = _INDUCTOR if report.backend == "inductor" else _TORCHSCRIPT
    return table[key].format(**values)


def brand(report) -> str:
    return f"what {report.freezer} did"


def has_alias_analysis(report) -> bool:
    """Only TorchScript's freezer runs an alias analysis; an empty section says nothing."""
    return bool(report.alias) or report.backend != "inductor"


def shows_methods(report) -> bool:
    """torch.compile compiles the one method it is called on: a method list says nothing."""
    return bool(report.methods) and report.backend != "inductor"


def option_chips(report) -> list[str]:
    """The header's chips for how the freeze was asked for (HTML)."""
    if report.backend == "inductor":
        return ["<b>torch.compile(model)</b> with <b>freezing=True</b>"]
    opts = [f"preserved_attrs=<b>{esc(list(report.preserved_attrs))}</b>",
            f"optimize_numerics=<b>{report.optimize_numerics}</b>"]
    if report.optimize_for_inference:
        opts.append("optimize_for_inference=<b>True</b>")
    return opts
