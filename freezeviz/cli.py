"""The ``freezeviz`` command: report, explain, stages, attrs, check, diff.

MODEL is a saved TorchScript file (``torch.jit.save``) or ``package.module:factory``, a
callable that returns an ``nn.Module`` or ``ScriptModule``. Mistakes (a missing file, a
factory that cannot be imported, an unknown preserved name, a module that does not freeze)
end with a message on stderr and a non-zero exit, never a traceback: exit 2 for wrong
command-line usage, 1 for a problem with the model (``check`` and ``diff``: also for a fate
that changed). Progress lines go to stderr, and so does anything the model prints while it is
built and frozen, so ``freezeviz attrs --json`` prints nothing but JSON on stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import importlib
import os
import re
import sys
import time
import unicodedata

PROG = "freezeviz"
EXIT_MODEL = 1
EXIT_CHANGED = 1  # check / diff: a fate changed
EXIT_USAGE = 2
REPORT_MARKER = '<meta name="generator" content="freezeviz">'  # in every page freezeviz writes

_FACTORY_RE = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*$")
_SHAPE_RE = re.compile(r"^\d+(?:[x×*]\d+)*$")


class UserError(Exception):
    """A mistake the user can fix: printed without a traceback."""

    def __init__(self, message: str, code: int = EXIT_MODEL):
        super().__init__(message)
        self.code = code


# --- output helpers ------------------------------------------------------------------------------

def _term(text: object, keep_newlines: bool = False) -> str:
    """Text safe for a terminal: control and bidi-override characters shown as escapes."""
    out = []
    for ch in str(text):
        if ch == "\n" and keep_newlines:
            out.append(ch)
        elif ch == "\n":
            out.append("\u21b5")
        elif ch == "\t":
            out.append("    " if keep_newlines else " ")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co"):
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    return "".join(out)


class _Progress:
    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.t0 = time.perf_counter()

    def __call__(self, message: str) -> None:
        if not self.quiet:
            print(f"{PROG}: {_term(message)}", file=sys.stderr, flush=True)


def _err(message: str) -> None:
    lines = _term(message, keep_newlines=True).rstrip().splitlines() or ["error"]
    print(f"{PROG}: error: {lines[0]}", file=sys.stderr)
    for line in lines[1:]:
        print(f"  {line}" if line else "", file=sys.stderr)


def _warn_all(report, progress: _Progress) -> None:
    for w in report.warnings:
        progress(f"warning: {w}")


def _flush_c_stdout() -> None:
    """Flush C's stdout buffer (TorchScript's print and C++ code write through it)."""
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except Exception:  # no C library to ask (not on this platform): nothing buffered we know of
        pass


@contextlib.contextmanager
def _stdout_to_stderr():
    """While the model is built and frozen, whatever it prints goes to stderr: Python's print
    (``sys.stdout``) and TorchScript's or C++'s (file descriptor 1). stdout then carries only
    the command's own output (JSON, HTML, tables)."""
    if sys.stdout is not None:
        sys.stdout.flush()
    _flush_c_stdout()
    try:
        saved_fd = os.dup(1)
    except OSError:  # no fd 1 (a closed stream): Python-level redirection still applies
        saved_fd = None
    if saved_fd is not None:
        try:
            os.dup2(2, 1)
        except OSError:
            os.close(saved_fd)
            saved_fd = None
    saved = sys.stdout
    sys.stdout = sys.stderr
    try:
        yield
    finally:
        sys.stdout = saved
        sys.stderr.flush()
        _flush_c_stdout()
        if saved_fd is not None:
            os.dup2(saved_fd, 1)
            os.close(saved_fd)


def _has_marker(path: str, marker: str) -> bool:
    try:
        with open(path, "rb") as fh:
            return marker.encode("utf-8") in fh.read(65536)
    except OSError:
        return False


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.exists(a) and os.path.exists(b) and os.path.samefile(a, b)
    except OSError:
        return False


def output_target(out: str, *, inputs: dict[str, str], marker: str, what: str, option: str = "-o",
                  default_name: str | None = None, stdout_ok: bool = True) -> str | None:
    """Where to write ``out``, checked before the slow work: ``None`` for ``-`` (stdout).

    Refuses (exit 2) a folder that does not exist, any of ``inputs`` (path -> what it is, e.g.
    "the model file"; also through a link), and an existing file that does not hold ``marker``,
    i.e. was not written by freezeviz: rewriting its own output is fine, anything else is not."""
    if out == "-" and stdout_ok:
        return None
    if default_name and os.path.isdir(out):
        out = os.path.join(out, default_name)
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        raise UserError(f"cannot write {option} {out}: the folder {folder} does not exist. "
                        f"Create it first (mkdir -p {folder}) or choose another path.", EXIT_USAGE)
    for spec, name in inputs.items():
        if _same_file(spec, out):
            raise UserError(f"{option} {out} is {name} itself ({spec}); writing there would "
                            f"replace it. Choose another path.", EXIT_USAGE)
    if os.path.isdir(out):
        raise UserError(f"{option} {out} is a folder; give a file path.", EXIT_USAGE)
    if os.path.isfile(out) and not _has_marker(out, marker):
        raise UserError(f"{option} {out} exists and is not a {what} written by freezeviz; "
                        "freezeviz replaces only its own files. Remove it or choose another "
                        "path.", EXIT_USAGE)
    return out


def write_output(path: str | None, text: str) -> None:
    """Write ``text`` to ``path`` (whole or not at all), or to stdout when ``path`` is None."""
    if path is None:
        sys.stdout.flush()
        buffer = getattr(sys.stdout, "buffer", None)
        if buffer is not None:  # UTF-8 whatever the locale says
            buffer.write(text.encode("utf-8", "replace"))
            buffer.flush()
        else:
            sys.stdout.write(text)
        return
    try:
        if os.path.exists(path) and not os.path.isfile(path):  # /dev/null, a pipe: write into it
            with open(path, "w", encoding="utf-8", errors="replace", newline="\n") as fh:
                fh.write(text)
            return
        tmp = f"{path}.tmp{os.getpid()}"
        try:
            with open(tmp, "w", encoding="utf-8", errors="replace", newline="\n") as fh:
                fh.write(text)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    except OSError as exc:
        raise UserError(f"cannot write {path!r}: {exc.strerror or exc}") from exc


# --- arguments -----------------------------------------------------------------------------------

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

    p = sub.add_parser(
        "report", parents=[common], formatter_class=_Formatter,
        help="write a self-contained HTML report (graphs of every stage, attributes, code)",
        description="Freeze MODEL and write one HTML file that works offline: before/after "
                    "graphs of every stage with a stage picker, pan and zoom; every attribute's "
                    "fate and why; alias analysis; the frozen code; numerics when --inputs is "
                    "given; warnings; the equivalent torch.jit.freeze call.",
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
    p.set_defaults(func=cmd_report)

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
    p.set_defaults(func=cmd_explain)

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
    p.set_defaults(func=cmd_stages)

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
    p.set_defaults(func=cmd_attrs)
    _check_parser(sub, common)
    _diff_parser(sub, common)
    return parser


def _backend(text: str) -> str:
    if text != "torchscript":
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a backend freezeviz supports; the only one is torchscript "
            "(torch.jit.freeze)")
    return text


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
    p.add_argument("--backend", metavar="NAME", type=_backend, default="torchscript",
                   help="how to freeze: torchscript (torch.jit.freeze; the only one today)")
    p.set_defaults(func=cmd_check)


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
    p.set_defaults(func=cmd_diff)


# --- loading the model ---------------------------------------------------------------------------

def _import_factory(spec: str):
    mod_name, _, attr = spec.partition(":")
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)  # like `python -m`: modules next to you are importable
    try:
        module = importlib.import_module(mod_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or mod_name
        if mod_name == missing or mod_name.startswith(missing + "."):
            raise UserError(f"cannot import {mod_name!r} (no module named {missing!r}). MODEL "
                            "is a TorchScript file or package.module:factory; run from the folder "
                            "that holds the package, or install it.") from exc
        raise UserError(f"importing {mod_name!r} failed: {type(exc).__name__}: {exc}") from exc
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # SyntaxError, SystemExit, anything the module raises
        raise UserError(f"importing {mod_name!r} failed: {type(exc).__name__}: "
                        f"{_first_line(exc)}") from exc
    obj = module
    for i, part in enumerate(attr.split(".")):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            where = mod_name if i == 0 else f"{mod_name}:{'.'.join(attr.split('.')[:i])}"
            names = [n for n in dir(obj) if not n.startswith("_")]
            close = difflib.get_close_matches(part, names, n=3, cutoff=0.5)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise UserError(f"{where!r} has no attribute {part!r}.{hint}") from None
    if not callable(obj):
        raise UserError(f"{spec!r} is a {type(obj).__name__}, not a callable that returns a "
                        "module.")
    return obj


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def load_model(spec: str, progress: _Progress):
    """``(model, display name)``: a file path (str) or the module a factory returned."""
    if os.path.isdir(spec):
        raise UserError(f"{spec!r} is a folder; MODEL is a TorchScript file (torch.jit.save) or "
                        "package.module:factory.")
    if os.path.exists(spec):
        return spec, os.path.basename(spec)
    if _FACTORY_RE.match(spec):
        progress(f"building {spec} ...")
        factory = _import_factory(spec)
        try:
            model = factory()
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            raise UserError(f"the factory {spec} raised {type(exc).__name__}: "
                            f"{_first_line(exc)}") from exc
        torch = sys.modules.get("torch")  # a factory that builds a module has imported torch
        if torch is None or not isinstance(model, torch.nn.Module):
            raise UserError(f"the factory {spec} returned a {type(model).__name__}; it must "
                            "return an nn.Module or a ScriptModule.")
        return model, spec.partition(":")[2]
    if ":" in spec and os.path.sep not in spec:
        raise UserError(f"{spec!r} is neither a file nor package.module:factory (a dotted module "
                        "path, a colon, a callable's name, e.g. freezeviz.examples:resnet50).")
    raise UserError(f"No such file: {spec!r}. MODEL is a TorchScript file saved with "
                    "torch.jit.save(torch.jit.script(model), path), or package.module:factory.")


def _make_inputs(shapes):
    if not shapes:
        return None
    import torch

    gen = torch.Generator().manual_seed(0)
    tensors = tuple(torch.randn(*s, generator=gen) for s in shapes)
    return tensors[0] if len(tensors) == 1 else tensors


def freeze_from_args(args, progress: _Progress, spec: str | None = None):
    """Build or load the model (``spec``, by default ``args.model``) and freeze it, with
    anything the model prints sent to stderr."""
    with _stdout_to_stderr():
        return _freeze_from_args(args, progress, args.model if spec is None else spec)


def _freeze_from_args(args, progress: _Progress, spec: str):
    from freezeviz import freeze
    from freezeviz.errors import FreezeError

    model, display = load_model(spec, progress)
    preserved = [n for group in args.preserve for n in group]
    inputs = _make_inputs(getattr(args, "inputs", None))
    how = "loading and freezing" if isinstance(model, str) else "freezing"
    progress(f"{how} {display} ...")
    try:
        return freeze(model, preserved, not args.no_optimize_numerics, example_inputs=inputs,
                      optimize_for_inference=args.optimize_for_inference)
    except FreezeError as exc:
        if inputs is None or not str(exc).startswith("example_inputs"):
            raise
        shapes = ",".join("x".join(map(str, s)) for s in args.inputs)
        detail = f"\n\ntorch said:\n{_torch_detail(exc.torch_message)}" if exc.torch_message else ""
        raise UserError(f"--inputs {shapes} does not run through the module (it fails before "
                        "freezing), so there are no numerics to compare. Give the shapes of the "
                        f"tensors that model(*inputs) accepts, in order.{detail}") from exc


# --- commands ------------------------------------------------------------------------------------

def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def cmd_report(args, progress: _Progress) -> int:
    from freezeviz.render.html import render_html

    path = output_target(args.output, inputs={args.model: "the model file"}, marker=REPORT_MARKER,
                         what="report", default_name="report.html")
    report = freeze_from_args(args, progress)
    _warn_all(report, progress)
    text = render_html(report, progress=progress)
    write_output(path, text)
    progress(f"done in {time.perf_counter() - progress.t0:.1f} s")
    size = _size(len(text.encode("utf-8", "replace")))
    if path is None:
        progress(f"wrote the report ({size}) to stdout")
    else:
        print(f"Wrote {path} ({size}): open it in a browser.")
    return 0


def cmd_explain(args, progress: _Progress) -> int:
    report = freeze_from_args(args, progress)
    try:
        text = report.explain(args.path)
    except KeyError as exc:
        raise UserError(str(exc.args[0]) if exc.args else str(exc)) from None
    print(_term(text, keep_newlines=True))
    _warn_all(report, progress)
    return 0


def _table(headers: list[str], rows: list[list[str]], right: set[int] = frozenset(),
           last_free: bool = True) -> list[str]:
    """Aligned columns; the last column is left ragged (it holds sentences)."""
    cols = len(headers)
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(cols)]
    out = []
    for r in [headers, *rows]:
        cells = []
        for i, cell in enumerate(r):
            if last_free and i == cols - 1:
                cells.append(cell)
            elif i in right:
                cells.append(cell.rjust(widths[i]))
            else:
                cells.append(cell.ljust(widths[i]))
        out.append("  ".join(cells).rstrip())
    return out


def cmd_stages(args, progress: _Progress) -> int:
    from freezeviz.render.html import stage_description

    report = freeze_from_args(args, progress)
    stages = report.stages
    methods = list(dict.fromkeys(s.method for s in stages))
    several = len(methods) > 1
    headers = ["#"] + (["method"] if several else []) + ["stage", "changed", "ms", "nodes",
                                                         "what it does"]
    rows = []
    for i, s in enumerate(stages):
        rows.append([str(i)] + ([_term(s.method)] if several else []) + [
            _term(s.name), "yes" if s.changed else "-",
            f"{s.seconds * 1000:.1f}" if s.seconds else "-", f"{s.graph.count():,}",
            _term(stage_description(report, s))])
    changed = sum(1 for s in stages if s.changed)
    print(f"{_term(report.module_name)}: {len(stages)} stages, {changed} changed the graph; "
          f"froze in {report.seconds:.2f} s")
    off = 1 if several else 0
    for line in _table(headers, rows, right={0, 3 + off, 4 + off}):
        print(line)
    if report.passes_check:
        print(f"\ncheck: {_term(report.passes_check)}")
    if args.diff:
        for i, s in enumerate(stages):
            prev = next((p for p in reversed(stages[:i]) if p.method == s.method), None)
            if prev is None or not s.changed or prev.graph is s.graph:
                continue
            print(f"\n=== {_term(s.label)}: changed the graph (vs {_term(prev.label)}) ===")
            text = report.diff(prev, s, s.method)
            sys.stdout.write(_term(text, keep_newlines=True) if text else "(only value names "
                             "changed)\n")
    _warn_all(report, progress)
    return 0


def cmd_attrs(args, progress: _Progress) -> int:
    report = freeze_from_args(args, progress)
    if args.json:
        from freezeviz.data.baseline import fates_document, to_json

        sys.stdout.write(to_json(fates_document(report)))
        _warn_all(report, progress)
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
        rows.append([_term("self." + a.path), _term(a.kind), _term(_short(a.type, 40)),
                     _term(fate), _term(why)])
    print(_term(report.summary()))
    print()
    if rows:
        for line in _table(["attribute", "kind", "type", "fate", "why"], rows):
            print(line)
    else:
        print("(this module has no attributes)")
    _warn_all(report, progress)
    return 0


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


# --- check and diff ------------------------------------------------------------------------------

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
    if _same_file(path, model):
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


def cmd_check(args, progress: _Progress) -> int:
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
        if _same_file(args.baseline, args.model):
            raise UserError(f"--baseline {args.baseline} is the model file itself; give the "
                            "fates file (JSON).", EXIT_USAGE)
        old = _read_fates(args.baseline)
    report = freeze_from_args(args, progress)
    _warn_all(report, progress)
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
            print(_term(changed.table(), keep_newlines=True))
        return 0
    changes = compare(old, doc, allow=args.allow)
    if args.format == "github":
        with open(args.baseline, encoding="utf-8") as fh:
            lines = baseline_lines(fh.read())
        print(changes.github(file=_annotation_path(args.baseline), lines=lines))
    print(_term(changes.table(), keep_newlines=True))
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


def cmd_diff(args, progress: _Progress) -> int:
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
            _warn_all(report, progress)
            docs[i] = fates_document(report)
    changes = compare(docs[0], docs[1])
    names = [os.path.basename(spec.rstrip("/\\")) or spec for spec in specs]
    # with the page on stdout (-o -), the table goes to stderr
    out = sys.stderr if not any(sides) and page is None else sys.stdout
    print(_term(f"{names[0]} -> {names[1]}"), file=out)
    print(_term(changes.table(), keep_newlines=True), file=out)
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


# --- main ----------------------------------------------------------------------------------------

def _torch_detail(text: str, limit: int = 14) -> str:
    """The useful part of torch's message. For an error raised inside the TorchScript
    interpreter that is the first frame (the user's line) and the error itself at the end."""
    lines = text.strip().splitlines()
    if not any(line.startswith("Traceback of TorchScript") for line in lines):
        return "\n".join(lines[:limit])
    first = next((i for i, line in enumerate(lines) if line.lstrip().startswith("File ")), None)
    frame: list[str] = []
    if first is not None:
        for line in lines[first:]:
            if frame and line.lstrip().startswith("File "):
                break
            frame.append(line)
            if "<--- HERE" in line:
                break
    last = max((i for i, line in enumerate(lines) if line and not line[0].isspace()
                and not line.startswith(("Traceback of TorchScript", "The following operation"))),
               default=len(lines) - 1)
    error = lines[last:]
    return "\n".join((frame[:8] + (["  ..."] if frame else []) + error)[:limit])


def _message(exc: BaseException) -> str:
    torch_message = getattr(exc, "torch_message", None)
    text = str(exc)
    if not torch_message:
        return text
    head = text.split("\n\ntorch said:", 1)[0]
    return f"{head}\n\ntorch said:\n{_torch_detail(torch_message)}"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    progress = _Progress(args.quiet)
    from freezeviz.errors import FreezeError

    try:
        return args.func(args, progress)
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`freezeviz attrs m.pt | head`); say nothing more
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except OSError:
            pass
        return EXIT_MODEL
    except (UserError, FreezeError) as exc:
        if args.traceback:
            raise
        _err(_message(exc))
        return getattr(exc, "code", EXIT_MODEL)
    except Exception as exc:
        if args.traceback:
            raise
        _err(f"unexpected {type(exc).__name__}: {exc}\n"
             f"(run again with --traceback to see where; if it is a freezeviz bug, please "
             f"report it with that output)")
        return EXIT_MODEL


if __name__ == "__main__":
    raise SystemExit(main())
