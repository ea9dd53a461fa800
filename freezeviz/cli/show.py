"""``report``, ``explain``, ``stages``, ``attrs``: one frozen model shown as a page or text."""

from __future__ import annotations

import sys
import time

from freezeviz.cli.io import (REPORT_MARKER, Progress, UserError, output_target, short, size_text, table, term,
                              warn_all, write_output)
from freezeviz.cli.model import freeze_from_args
from freezeviz.data.report import duration_text

def cmd_report(args, progress: Progress) -> int:
    from freezeviz.render.html import render_html

    path = output_target(args.output, inputs={args.model: "the model file"}, marker=REPORT_MARKER,
                         what="report", default_name="report.html")
    report = freeze_from_args(args, progress)
    warn_all(report, progress)
    text = render_html(report, progress=progress, detail=args.detail)
    write_output(path, text)
    progress(f"done in {time.perf_counter() - progress.t0:.1f} s")
    size = size_text(len(text.encode("utf-8", "replace")))
    if path is None:
        progress(f"wrote the report ({size}) to stdout")
    else:
        print(f"Wrote {path} ({size}): open it in a browser.")
    return 0


def cmd_explain(args, progress: Progress) -> int:
    report = freeze_from_args(args, progress)
    try:
        text = report.explain(args.path)
    except KeyError as exc:
        raise UserError(str(exc.args[0]) if exc.args else str(exc)) from None
    print(term(text, keep_newlines=True))
    warn_all(report, progress)
    return 0



def cmd_stages(args, progress: Progress) -> int:
    from freezeviz.render.html import stage_description

    report = freeze_from_args(args, progress)
    stages = report.stages
    methods = list(dict.fromkeys(s.method for s in stages))
    several = len(methods) > 1
    headers = ["#"] + (["method"] if several else []) + ["stage", "changed", "ms", "nodes",
                                                         "what it does"]
    rows = []
    for i, s in enumerate(stages):
        rows.append([str(i)] + ([term(s.method)] if several else []) + [
            term(s.name), "yes" if s.changed else "-",
            f"{s.seconds * 1000:.1f}" if s.seconds else "-", f"{s.graph.count():,}",
            term(stage_description(report, s))])
    changed = len(report.changed_stages())
    print(f"{term(report.module_name)}: {len(stages)} stages, {changed} changed the graph; "
          f"froze in {duration_text(report.seconds)}")
    off = 1 if several else 0
    for line in table(headers, rows, right={0, 3 + off, 4 + off}):
        print(line)
    if report.passes_check:
        print(f"\ncheck: {term(report.passes_check)}")
    if args.diff:
        for i, s in enumerate(stages):
            prev = next((p for p in reversed(stages[:i]) if p.method == s.method), None)
            if prev is None or not s.changed or prev.graph is s.graph:
                continue
            print(f"\n=== {term(s.label)}: changed the graph (vs {term(prev.label)}) ===")
            text = report.diff(prev, s, s.method)
            sys.stdout.write(term(text, keep_newlines=True) if text else "(only value names "
                             "changed)\n")
    warn_all(report, progress)
    return 0


def cmd_attrs(args, progress: Progress) -> int:
    report = freeze_from_args(args, progress)
    if args.json:
        from freezeviz.data.baseline import fates_document, to_json

        sys.stdout.write(to_json(fates_document(report)))
        warn_all(report, progress)
        return 0
    rows = []
    for a in report.attributes:
        fate = a.fate.label
        extra = []
        if a.constant:
            extra.append(f"constant {a.constant}")
        if a.folded_by:
            extra.append(f"folded by {a.folded_by}")
        why = a.why + (f" ({'; '.join(extra)})" if extra else "") + (
            f" WARNING: {a.warning}" if a.warning else "")
        rows.append([term("self." + a.path), term(a.kind), term(short(a.type, 40)),
                     term(fate), term(why)])
    print(term(report.summary()))
    print()
    if rows:
        for line in table(["attribute", "kind", "type", "fate", "why"], rows):
            print(line)
    else:
        print("(this module has no attributes)")
    warn_all(report, progress)
    return 0

