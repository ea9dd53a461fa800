"""HTML the inspector's panels share. Chips, escaping, diffs and the placeholder drawing are
the fragments every front end uses (:mod:`freezeviz.render.fragments`)."""

from __future__ import annotations

from freezeviz.data.fates import Fate
from freezeviz.render.fragments import chip, esc, placeholder_svg
from freezeviz.render.fragments import diff_html as _diff_html
from freezeviz.render.fragments import inline_svg as _inline_svg
from freezeviz.render.picture import svg_img

__all__ = ["call_html", "chip", "diff_html", "esc", "fate_colors", "inline_svg", "kv_table",
           "placeholder_svg", "static_picture", "title_html"]


def fate_colors() -> dict[str, tuple[str, str]]:
    """fate value -> (fill, border), as the drawings colour them."""
    from freezeviz.render.styles import FATE_COLORS

    return {f.value: tuple(c) for f, c in FATE_COLORS.items()}


def kv_table(rows: list[tuple[str, str]]) -> str:
    """Rows of (label, HTML) as a two-column table."""
    return "<table>" + "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in rows) + "</table>"


def inline_svg(svg: str, shrink: bool = True) -> str:
    """An SVG document made fit to inline in HTML; with ``shrink``, it scales down to its
    box (otherwise it keeps its natural size and the box scrolls)."""
    style = "max-width:100%;height:auto" if shrink else "display:block"
    return _inline_svg(svg).replace("<svg", f'<svg style="{style}"', 1)


def diff_html(diff: str) -> str:
    """A unified diff, coloured and cut to a readable length."""
    if not diff:
        return '<p class="fv-muted">The graph text did not change.</p>'
    return _diff_html(diff)[0]


STATIC_MAX_SVG_CHARS = 3_000_000


def static_picture(report, panes: list[tuple[str, str, str]]) -> str:
    """Self-contained HTML of the drawings side by side, from (side, stage, svg) triples:
    what a saved notebook shows without a kernel. The drawings are ``<img>`` elements, which
    sanitised (untrusted) HTML keeps, where it would reduce an inline ``<svg>`` to its text."""
    parts = []
    for side, stage, svg in panes:
        if len(svg) > STATIC_MAX_SVG_CHARS:
            svg = placeholder_svg("drawing too large to embed; run the notebook to see it")
        parts.append(
            '<div style="flex:1 1 0;min-width:0;border:1px solid #d1d5db;border-radius:6px;'
            'overflow:auto;max-height:640px;background:#fff">'
            '<div style="font:600 12px Helvetica,Arial,sans-serif;padding:4px 8px;'
            'background:#f9fafb;border-bottom:1px solid #e5e7eb;color:#374151">'
            f'{side}: {esc(stage)}</div>'
            f'<div style="padding:4px">{svg_img(svg, f"{side}: {stage}")}</div></div>')
    head = (f'<div style="font:13px Helvetica,Arial,sans-serif;margin:0 0 6px;color:#1f2937">'
            f'<b>freezeviz</b> · {esc(report.module_name)} · {call_html(report)}'
            f'<span style="color:#6b7280"> · static picture; run the cell for the interactive '
            f'inspector</span></div>')
    return (f'<div class="fv-static">{head}<div style="display:flex;gap:8px;'
            f'align-items:flex-start">{"".join(parts)}</div></div>')


def call_html(report) -> str:
    """The freezing call the report shows, as the person would write it."""
    if getattr(report, "backend", "torchscript") == "inductor":
        return ("<code>torch.compile(…)</code> with "
                "<code>torch._inductor.config.freezing = True</code>")
    pres = ", ".join(repr(p) for p in report.preserved_attrs)
    return f"<code>torch.jit.freeze(…, preserved_attrs=[{esc(pres)}])</code>"


def title_html(report) -> str:
    """The inspector's header: module, the freeze call, a chip per fate with its count."""
    counts: dict[Fate, int] = {}
    for a in report.attributes:
        counts[a.fate] = counts.get(a.fate, 0) + 1
    chips = " ".join(chip(f, count=n) for f, n in counts.items())
    return f"<b>{esc(report.module_name)}</b> · {call_html(report)} &nbsp; {chips}"
