"""The parser: every subcommand's options, help and examples."""

from __future__ import annotations

import argparse
import re

from freezeviz.cli import checks, show
from freezeviz.cli.io import PROG
from freezeviz.render.drawings import EXPANSIONS

_SHAPE_RE = re.compile(r"^\d+(?:[x×*]\d+)*$")


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",")]
    bad = [n for n in names if n and not re.match(r"^[A-Za-z_][\w.]*$", n)]
    if bad:
        raise argparse.ArgumentTypeError(
            f"{bad[0]!r} is not an attribute or method name (use a,b.c: comma-separated, "
            "dotted for submodules)")
    return [n for n in names if n]


def _shapes(text: str) -> list[tuple[int, ...]]:
    """``"1x3x224x224;1x10"`` -> ``[(1, 3, 224, 224), (1, 10)]``."""
    parts = [p.strip().replace(" ", "") for p in re.split(r"[;,]", text)]
    parts = [p for p in parts if p]
    if not parts:
        raise argparse.ArgumentTypeError("give at least one shape, e.g. 1x3x224x224")
    shapes = []
    for p in parts:
        if not _SHAPE_RE.match(p):
            raise argparse.ArgumentTypeError(
                f"{p!r} is not a shape; write dimensions joined by x, e.g. 1x3x224x224 "
                "(several inputs: 1x3x8x8,1x10)")
        dims = tuple(int(d) for d in re.split(r"[x×*]", p))
        if len(dims) > 8 or any(d > 1_000_000 for d in dims):
            raise argparse.ArgumentTypeError(f"{p!r} is not a sensible input shape")
        numel = 1
        for d in dims:
            numel *= d
        if numel > 500_000_000:
            raise argparse.ArgumentTypeError(f"{p!r} has {numel:,} elements; that is too many")
        shapes.append(dims)
    return shapes


def _count(text: str) -> int:
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a count; give a whole number, 0 or more")
    return int(text)


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog):
        super().__init__(prog, max_help_position=34)


MODEL_HELP = ("a TorchScript file saved with torch.jit.save, or package.module:factory, a "
              "callable that returns an nn.Module or ScriptModule (it is imported and called)")


def _common() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("freezing")
    g.add_argument("--preserve", metavar="NAMES", type=_names, action="append", default=[],
                   help="attributes or methods to keep, comma-separated (a,b.c); "
                        "torch.jit.freeze's preserved_attrs")
    g.add_argument("--no-optimize-numerics", action="store_true",
                   help="freeze with optimize_numerics=False (no conv/bn/add/mul folding)")
    g.add_argument("--optimize-for-inference", action="store_true",
                   help="also run torch.jit.optimize_for_inference's passes")
    o = p.add_argument_group("output")
    o.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    o.add_argument("--traceback", action="store_true",
                   help="show Python's traceback on errors (for reporting a bug)")
    return p


def _backend_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", choices=("torchscript", "inductor"), default="torchscript",
                   help="the freezer: torchscript (torch.jit.freeze, the default) or inductor "
                        "(torch.compile with Inductor's freezing; needs --inputs)")


def _inputs_arg(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--inputs", metavar="SHAPES", type=_shapes,
                   help=f"example input shapes, e.g. 1x3x224x224 (several: 1x3x8x8,1x10); random "
                        f"tensors, seed 0; {what}")


def build_parser() -> argparse.ArgumentParser:
    from freezeviz import __version__

    parser = argparse.ArgumentParser(
        prog=PROG, formatter_class=_Formatter,
        description="See what torch.jit.freeze does to a model: the real freeze, stage by "
                    "stage, with every attribute's fate explained.",
        epilog="examples:\n"
               "  freezeviz report model.pt -o report.html\n"
               "  freezeviz report freezeviz.examples:resnet50 --inputs 1x3x224x224\n"
               "  freezeviz explain model.pt bn.running_mean\n"
               "  freezeviz stages model.pt --diff\n"
               "  freezeviz attrs model.pt --json > fates.json\n"
               "  freezeviz check model.pt --baseline fates.json\n"
               "  freezeviz diff old.pt new.pt -o diff.html\n\n"
               "MODEL is " + MODEL_HELP + ".\n"
               "Exit status: 0 ok, 1 a problem with the model (check, diff: or a fate changed), "
               "2 wrong usage.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = _common()
    for add in (_report_parser, _explain_parser, _stages_parser, _attrs_parser, _check_parser,
                _diff_parser):
        add(sub, common)
    return parser


def _report_parser(sub, common) -> None:
    p = sub.add_parser(
        "report", parents=[common], formatter_class=_Formatter,
        help="write a self-contained HTML report (graphs of every stage, attributes, code)",
        description="Freeze MODEL and write one HTML file that works offline: before/after "
                    "graphs of every stage with a stage picker, pan and zoom; every attribute's "
                    "fate and why; alias analysis (torchscript); the frozen code; numerics when "
                    "--inputs is given; warnings; the equivalent torch.jit.freeze (or "
                    "torch.compile) call.",
        epilog="examples:\n"
               "  freezeviz report model.pt                       # writes report.html\n"
               "  freezeviz report model.pt -o out/model.html --preserve version\n"
               "  freezeviz report freezeviz.examples:resnet50 --inputs 1x3x224x224\n"
               "  freezeviz report mypkg.models:make_net --optimize-for-inference")
    p.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    p.add_argument("-o", "--output", metavar="PATH", default="report.html",
                   help="where to write the HTML (default: report.html; - for stdout). The "
                        "folder must exist; an existing file is replaced only if it is a "
                        "freezeviz report")
    _inputs_arg(p, "the report then compares each stage's output with the original module's")
    _backend_arg(p)
    p.add_argument("--detail", metavar="N", type=_count, default=None,
                   help="how many module boxes the report holds drawn open, so they open "
                        "in the file alone, without a Python kernel (default: "
                        f"{EXPANSIONS}). More makes a bigger file; 0 the smallest, where no "
                        "box opens (the notebook inspector opens any)")
    p.set_defaults(func=show.cmd_report)


def _explain_parser(sub, common) -> None:
    p = sub.add_parser(
        "explain", parents=[common], formatter_class=_Formatter,
        help="tell the story of one attribute: its fate, why, and the statements behind it",
        description="Freeze MODEL and explain what happened to one attribute (or submodule).",
        epilog="examples:\n"
               "  freezeviz explain model.pt buf\n"
               "  freezeviz explain model.pt bn.running_var\n"
               "  freezeviz explain freezeviz.examples:my_module2 modified_tensor --preserve version")
    p.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    p.add_argument("path", metavar="PATH", help="the attribute's path from the root, e.g. bn.running_var")
    _inputs_arg(p, "needed with --backend inductor")
    _backend_arg(p)
    p.set_defaults(func=show.cmd_explain)


def _stages_parser(sub, common) -> None:
    p = sub.add_parser(
        "stages", parents=[common], formatter_class=_Formatter,
        help="list the freeze's stages and passes: which changed the graph, time, node count",
        description="Freeze MODEL and list every stage: the passes torch runs, in torch's "
                    "order, whether each changed the graph, its time and the node count.",
        epilog="examples:\n"
               "  freezeviz stages model.pt\n"
               "  freezeviz stages model.pt --diff          # and what each changed stage changed\n"
               "  freezeviz stages freezeviz.examples:conv_bn_relu --diff")
    p.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    p.add_argument("--diff", action="store_true",
                   help="print the text diff of each changed stage against the one before it")
    _inputs_arg(p, "needed with --backend inductor")
    _backend_arg(p)
    p.set_defaults(func=show.cmd_stages)


def _attrs_parser(sub, common) -> None:
    p = sub.add_parser(
        "attrs", parents=[common], formatter_class=_Formatter,
        help="the attribute table: each attribute's fate and why (--json for machines)",
        description="Freeze MODEL and print every attribute and submodule with its fate: "
                    "inlined, folded, kept (asked or written), removed.",
        epilog="examples:\n"
               "  freezeviz attrs model.pt\n"
               "  freezeviz attrs model.pt --json | jq '.attributes[] | select(.fate==\"preserved_mutated\")'\n"
               "  freezeviz attrs freezeviz.examples:resnet_tiny --preserve fc")
    p.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    p.add_argument("--json", action="store_true",
                   help="print the fates as JSON, format 1 (freezeviz/schemas/fates-1.schema.json):"
                        " sorted, no timings, no folders; a baseline for freezeviz check")
    _inputs_arg(p, "the JSON then has numerics")
    _backend_arg(p)
    p.set_defaults(func=show.cmd_attrs)


def _allow(text: str) -> str:
    from freezeviz.data.baseline import BaselineError, allow_rules

    try:
        allow_rules([text], where="--allow")
    except BaselineError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--allow: ")) from None
    return text


def _check_parser(sub, common) -> None:
    p = sub.add_parser(
        "check", parents=[common], formatter_class=_Formatter,
        help="fail (exit 1) when an attribute's fate differs from a saved baseline (for CI)",
        description="Freeze MODEL and compare every attribute's fate with the baseline FILE "
                    "(written by --update or `freezeviz attrs --json`). Exit 0 when all match; "
                    "1 with a table of the changes (attribute, old fate -> new fate, why) when "
                    "any differs; 2 for usage errors, including a baseline that is not a fates "
                    "file. Settings that differ from the baseline's (--preserve...) are noted.",
        epilog="examples:\n"
               "  freezeviz check model.pt --baseline fates.json --update   # record the fates\n"
               "  freezeviz check model.pt --baseline fates.json            # compare with them\n"
               "  freezeviz check model.pt --baseline fates.json --allow buf=preserved_mutated\n"
               "  freezeviz check mypkg.models:make_net --baseline fates.json --format github "
               "--junit fates.xml")
    p.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    p.add_argument("--baseline", metavar="FILE", required=True,
                   help="the fates to compare with (JSON, format 1)")
    p.add_argument("--update", action="store_true",
                   help="write the current fates to the baseline (created if missing; its "
                        "\"allow\" section is kept) instead of comparing")
    p.add_argument("--allow", metavar="PATH=FATE", type=_allow, action="append", default=[],
                   help="accept PATH having FATE now (repeatable; PATH may use * and ?; FATE "
                        "absent: the attribute may be gone). Adds to the baseline's \"allow\"")
    p.add_argument("--format", choices=("text", "github"), default="text",
                   help="text (default) or github: also print GitHub Actions annotations")
    p.add_argument("--junit", metavar="FILE", help="also write a JUnit XML report to FILE")
    _inputs_arg(p, "needed with --backend inductor; the baseline then has numerics")
    _backend_arg(p)
    p.set_defaults(func=checks.cmd_check)


def _diff_parser(sub, common) -> None:
    p = sub.add_parser(
        "diff", parents=[common], formatter_class=_Formatter,
        help="the fate changes between two models (or two fates JSON files), with drawings",
        description="Compare the attribute fates of OLD and NEW, each a model or a fates JSON "
                    "file (`freezeviz attrs --json`). Prints the changes as a table; when both "
                    "are models and a fate changed, also writes an HTML page with the part of "
                    "both final graphs around each changed attribute. Exit 0 when no fate "
                    "changed, 1 when one did, 2 for usage errors.",
        epilog="examples:\n"
               "  freezeviz diff old.pt new.pt                  # table, and diff.html\n"
               "  freezeviz diff old.pt new.pt -o out/diff.html --preserve version\n"
               "  freezeviz diff fates-main.json fates.json      # table only")
    p.add_argument("old", metavar="OLD", help="the earlier version: " + MODEL_HELP +
                   "; or a fates JSON file")
    p.add_argument("new", metavar="NEW", help="the later version, as OLD")
    p.add_argument("-o", "--output", metavar="PATH", default="diff.html",
                   help="where to write the HTML page when both are models (default: diff.html;"
                        " - for stdout)")
    p.set_defaults(func=checks.cmd_diff)


