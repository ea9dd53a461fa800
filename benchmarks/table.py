"""The benchmark table: each figure, its target and whether this run meets it.

A row is a dict: ``measure``, ``value``, ``unit`` (``x raw``, ``s``, ``ms``, ``MB``),
``target`` (an upper bound, or None) and ``ok`` (None without a target). Rows whose
benchmarks did not run (``run.py --only``) are left out.
"""

from __future__ import annotations

import re

from benchmarks.bench_freeze import INDUCTOR_SET, SET

MB = 2**20
ENGINE_TARGET = 1.5


def _row(measure: str, value: float, unit: str, target: float | None = None) -> dict:
    return {"measure": measure, "value": value, "unit": unit, "target": target,
            "ok": None if target is None else bool(value <= target)}


def _ratio(values: dict, top: str, bottom: str) -> float | None:
    if top in values and bottom in values and values[bottom] > 0:
        return values[top] / values[bottom]
    return None


def engine_rows(values: dict) -> list[dict]:
    out = []
    for m in SET:
        r = _ratio(values, f"freezeviz_{m}", f"raw_{m}")
        if r is not None:
            out.append(_row(f"freeze / raw: {m}", r, "x raw", ENGINE_TARGET))
    deep = _ratio(values, "freezeviz_transformer48", "raw_transformer48")
    shallow = _ratio(values, "freezeviz_transformer6", "raw_transformer6")
    if deep is not None and shallow is not None:
        out.append(_row("freeze / raw at 48 layers over at 6 (flat: 1)", deep / shallow, "x"))
    r = _ratio(values, "freezeviz_resnet50_cached", "raw_resnet50")
    if r is not None:
        out.append(_row("repeat freeze (cached) / raw: resnet50", r, "x raw", 0.05))
    return out


def inductor_rows(values: dict) -> list[dict]:
    """Inductor's freezing, pass by pass (no code generation), against the first call of a
    plain torch.compile with freezing on the same model."""
    out = []
    for m in INDUCTOR_SET:
        r = _ratio(values, f"freezeviz_inductor_{m}", f"compile_inductor_{m}")
        if r is not None:
            out.append(_row(f"backend=inductor / torch.compile first call: {m}", r,
                            "x compile", 1.0))
    return out


def memory_rows(values: dict) -> list[dict]:
    out = []
    for m in ("resnet50", "transformer48"):
        r = _ratio(values, f"memory_freezeviz_{m}", f"memory_raw_{m}")
        if r is not None:
            out.append(_row(f"peak memory / raw: {m}", r, "x raw", 1.3))
    return out


def drawing_rows(values: dict, sizes: dict, opened: dict) -> list[dict]:
    targets = {"draw_resnet50": 2.5, "report_resnet50": 2.0}
    out = []
    for name, what in (("draw_resnet50", "freeze + 2 SVGs"), ("draw_transformer6", "freeze + 2 SVGs"),
                       ("report_resnet50", "freeze + HTML report"),
                       ("report_transformer48", "freeze + HTML report")):
        model = name.split("_", 1)[1]
        r = _ratio(values, name, f"raw_{model}")
        if r is not None:
            out.append(_row(f"{what} / raw: {model}", r, "x raw", targets.get(name)))
    size_targets = {"resnet50": 1.0, "transformer48": 5.0}
    for model, size in sizes.items():
        out.append(_row(f"HTML report size: {model}", size / MB, "MB", size_targets.get(model)))
    for model, seconds in opened.items():
        out.append(_row(f"Chromium, open report until drawn: {model}", seconds, "s",
                        2.0 if model == "transformer48" else None))
    return out


def python_inspector_rows(values: dict) -> list[dict]:
    out = []
    r = _ratio(values, "inspector_toggle_resnet50", "raw_resnet50")
    if r is not None:
        out.append(_row("inspector (Python) new preserved set / raw: resnet50", r, "x raw", 1.5))
    if "inspector_back_resnet50" in values:
        out.append(_row("inspector (Python) back to a seen set: resnet50",
                        values["inspector_back_resnet50"] * 1000, "ms", 50.0))
    for name, what in (("cli_report_resnet50", "freezeviz report CLI, whole process: resnet50"),
                       ("draw_synthetic_5000", "draw of a synthetic 5,001-node graph")):
        if name in values:
            out.append(_row(what, values[name], "s"))
    return out


# benchmarks/browser.py's figures, recognised by name when the name does not state its target
_BROWSER_TARGETS = ((r"first.?view", r"raw|ratio", 2.0), (r"new.?set", r"raw|ratio", 1.5),
                    (r"seen.?set", r"\bms\b|_ms\b", 150.0))
_STATED = re.compile(r"(?:target\s*)?(?:<=|≤)\s*([0-9.]+)")


def browser_target(key: str) -> float | None:
    stated = _STATED.search(key)
    if stated:
        return float(stated.group(1))
    low = key.lower()
    if "range" in low:  # the spread of the repetitions, not a latency
        return None
    for what, unit, target in _BROWSER_TARGETS:
        if re.search(what, low) and re.search(unit, low):
            return target
    return None


def _browser_unit(key: str) -> str:
    low = key.lower()
    return "ms" if re.search(r"\bms\b|_ms$", low) else "x raw" \
        if re.search(r"(?:^|_)raw(?:$|_)|ratio", low) else ""


def browser_rows(browser: dict | None, targets: dict | None = None) -> list[dict]:
    """benchmarks/browser.py's figures, judged by its own ``TARGETS`` where it has them (by
    their names otherwise)."""
    if not browser:
        return []
    target = targets.get if targets is not None else browser_target
    return [_row(f"browser: {key}", float(value), _browser_unit(key), target(key))
            for key, value in browser.items()
            if isinstance(value, (int, float)) and key != "repetitions"]


def rows(values: dict, sizes: dict, opened: dict, browser: dict | None,
         browser_targets: dict | None = None) -> list[dict]:
    return (engine_rows(values) + inductor_rows(values) + memory_rows(values) + drawing_rows(values, sizes, opened)
            + python_inspector_rows(values) + browser_rows(browser, browser_targets))


def raw_values(values: dict) -> dict:
    """pyperf's medians as they are: seconds, and peak growth in MB."""
    return {"seconds": {k: v for k, v in values.items() if not k.startswith("memory_")},
            "peak_growth_mb": {k: v / MB for k, v in values.items() if k.startswith("memory_")}}


def _fmt(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"


def format_table(table: list[dict], values: dict, processes: dict, date: str) -> str:
    procs = ", ".join(f"{k} {v}" for k, v in processes.items())
    lines = [f"\nfreezeviz benchmarks, {date} (medians; processes per benchmark: {procs})",
             f"  {'measure':<58} {'value':>9} {'unit':<6} {'target':>8}  result"]
    for r in table:
        target = "" if r["target"] is None else f"<= {_fmt(r['target'])}"
        result = "-" if r["ok"] is None else ("PASS" if r["ok"] else "FAIL")
        lines.append(f"  {r['measure']:<58} {_fmt(r['value']):>9} {r['unit']:<6} "
                     f"{target:>8}  {result}")
    judged = [r for r in table if r["ok"] is not None]
    lines.append(f"  {sum(r['ok'] for r in judged)} of {len(judged)} targets met")
    raw = [f"{m} {values[f'raw_{m}']:.2f}" for m in SET if f"raw_{m}" in values]
    if raw:
        lines.append("  raw torch.jit.script/trace + freeze, s: " + ", ".join(raw))
    memory = [f"{m} +{values[f'memory_raw_{m}'] / MB:.0f} MB" for m in ("resnet50", "transformer48")
              if f"memory_raw_{m}" in values]
    if memory:
        lines.append("  raw peak memory growth: " + ", ".join(memory))
    return "\n".join(lines)


def markdown_table(table: list[dict]) -> str:
    """The rows as the README's Markdown table: measure, value, target, met."""
    lines = ["| measure | measured | target | met |", "|---|---|---|---|"]
    for r in table:
        unit = "" if r["unit"] in ("", "x") else f" {r['unit']}".replace("x raw", "× raw") \
            .replace("x compile", "× compile")
        target = "" if r["target"] is None else f"≤ {_fmt(r['target'])}"
        met = "" if r["ok"] is None else ("yes" if r["ok"] else "**no**")
        lines.append(f"| {r['measure']} | {_fmt(r['value'])}{unit} | {target} | {met} |")
    return "\n".join(lines)
