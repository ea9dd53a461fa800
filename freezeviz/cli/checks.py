"""``check`` and ``diff``: attribute fates compared with a baseline or between two models."""

from __future__ import annotations

import os
import sys

from freezeviz.cli.io import (EXIT_CHANGED, EXIT_USAGE, REPORT_MARKER, Progress, UserError, output_target, same_file,
                              term, warn_all, write_output)
from freezeviz.cli.model import freeze_from_args

def _read_fates(path: str):
    """A fates document, or exit 2 saying what is wrong with the file."""
    from freezeviz.data.baseline import BaselineError, read_fates

    try:
        return read_fates(path)
    except BaselineError as exc:
        raise UserError(str(exc), EXIT_USAGE) from None


def _baseline_for_update(path: str, model: str):
    """The existing baseline (to keep its "allow"), None if there is none yet. A file that is
    not a fates document is never overwritten."""
    if same_file(path, model):
        raise UserError(f"--baseline {path} is the model file itself; give the fates file "
                        "(JSON) instead.", EXIT_USAGE)
    if not os.path.lexists(path):
        output_target(path, inputs={model: "the model file"}, marker="", what="fates file",
                      option="--baseline",
                      stdout_ok=False)  # the folder must exist
        return None
    try:
        return _read_fates(path)
    except UserError as exc:
        raise UserError(f"{exc}\n--update replaces only a fates file; remove {path} first or "
                        "choose another --baseline.", EXIT_USAGE) from None


def _annotation_path(path: str) -> str:
    """The baseline's path as GitHub shows files: relative to the workspace, with slashes."""
    root = os.environ.get("GITHUB_WORKSPACE") or os.getcwd()
    rel = os.path.relpath(os.path.abspath(path), root)
    return (path if rel.startswith("..") else rel).replace(os.sep, "/")


def cmd_check(args, progress: Progress) -> int:
    from freezeviz.data.baseline import JUNIT_MARKER, baseline_lines, compare, fates_document, to_json

    junit = None
    if args.junit:
        junit = output_target(args.junit, inputs={args.model: "the model file",
                                                  args.baseline: "the baseline"},
                              marker=JUNIT_MARKER,
                              what="JUnit report", option="--junit", stdout_ok=False)
    if args.update:
        old = _baseline_for_update(args.baseline, args.model)
    else:
        if same_file(args.baseline, args.model):
            raise UserError(f"--baseline {args.baseline} is the model file itself; give the "
                            "fates file (JSON).", EXIT_USAGE)
        old = _read_fates(args.baseline)
    report = freeze_from_args(args, progress)
    warn_all(report, progress)
    doc = fates_document(report)
    if args.update:
        if old is not None and "allow" in old:
            doc["allow"] = old["allow"]
        write_output(args.baseline, to_json(doc))
        changed = compare(old, doc) if old is not None else None
        what = "created" if old is None else f"{len(changed)} fate(s) changed" if changed else "no fate changed"
        print(f"Wrote {args.baseline}: the fates of {len(doc['attributes'])} attributes "
              f"({what}).")
        if changed:
            print(term(changed.table(), keep_newlines=True))
        return 0
    changes = compare(old, doc, allow=args.allow)
    if args.format == "github":
        with open(args.baseline, encoding="utf-8") as fh:
            lines = baseline_lines(fh.read())
        print(changes.github(file=_annotation_path(args.baseline), lines=lines))
    print(term(changes.table(), keep_newlines=True))
    if changes:
        print(f"\nIf these changes are intended, record them: freezeviz check {args.model} "
              f"--baseline {args.baseline} --update (or accept one with --allow PATH=FATE).")
    if junit is not None:
        write_output(junit, changes.junit())
        progress(f"wrote the JUnit report {junit}")
    return EXIT_CHANGED if changes else 0


def _is_json_file(spec: str) -> bool:
    """A fates file starts with "{"; a TorchScript file is a zip archive ("PK")."""
    try:
        with open(spec, "rb") as fh:
            return fh.read(64).lstrip()[:1] == b"{"
    except OSError:
        return False


def cmd_diff(args, progress: Progress) -> int:
    from freezeviz.data.baseline import compare, fates_document

    sides = [_is_json_file(spec) for spec in (args.old, args.new)]
    page = None
    if not any(sides):
        page = output_target(args.output, marker=REPORT_MARKER, what="page",
                             inputs={args.old: "the model OLD", args.new: "the model NEW"},
                             default_name="diff.html")
    specs = (args.old, args.new)
    docs = [_read_fates(spec) if is_json else None for spec, is_json in zip(specs, sides)]
    reports = [None if is_json else freeze_from_args(args, progress, spec)
               for spec, is_json in zip(specs, sides)]
    for i, report in enumerate(reports):
        if report is not None:
            warn_all(report, progress)
            docs[i] = fates_document(report)
    changes = compare(docs[0], docs[1])
    names = [os.path.basename(spec.rstrip("/\\")) or spec for spec in specs]
    # with the page on stdout (-o -), the table goes to stderr
    out = sys.stderr if not any(sides) and page is None else sys.stdout
    print(term(f"{names[0]} -> {names[1]}"), file=out)
    print(term(changes.table(), keep_newlines=True), file=out)
    if any(sides):
        which = " and ".join(n for n, j in zip(("OLD", "NEW"), sides) if j)
        what = "is a fates file, which holds" if sum(sides) == 1 else "are fates files, which hold"
        print(f"\nNote: {which} {what} no graphs, so there are no drawings: the table is all.",
              file=out)
    elif not changes:
        progress("no fate changed, so there is nothing to draw (no page written)")
    else:
        from freezeviz.render.compare_page import render_compare_page

        text = render_compare_page(reports[0], reports[1], changes, old_name=names[0],
                                   new_name=names[1], progress=progress)
        write_output(page, text)
        if page is None:
            progress("wrote the page to stdout")
        else:
            print(f"Wrote {page}: the graphs around each changed attribute; open it in a "
                  "browser.", file=out)
    return EXIT_CHANGED if changes else 0


