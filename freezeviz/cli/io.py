"""Terminal and file output shared by the commands: the user-error type, exit codes, progress
lines on stderr, text safe for a terminal, aligned tables, and writing a file whole or not at all
(never over a file freezeviz did not write)."""

from __future__ import annotations

import contextlib
import os
import sys
import time
import unicodedata

PROG = "freezeviz"
EXIT_MODEL = 1
EXIT_CHANGED = 1  # check / diff: a fate changed
EXIT_USAGE = 2
REPORT_MARKER = '<meta name="generator" content="freezeviz">'  # in every page freezeviz writes


class UserError(Exception):
    """A mistake the user can fix: printed without a traceback."""

    def __init__(self, message: str, code: int = EXIT_MODEL):
        super().__init__(message)
        self.code = code


# --- output helpers ------------------------------------------------------------------------------

def term(text: object, keep_newlines: bool = False) -> str:
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


class Progress:
    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.t0 = time.perf_counter()

    def __call__(self, message: str) -> None:
        if not self.quiet:
            print(f"{PROG}: {term(message)}", file=sys.stderr, flush=True)


def print_error(message: str) -> None:
    lines = term(message, keep_newlines=True).rstrip().splitlines() or ["error"]
    print(f"{PROG}: error: {lines[0]}", file=sys.stderr)
    for line in lines[1:]:
        print(f"  {line}" if line else "", file=sys.stderr)


def warn_all(report, progress: Progress) -> None:
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
def stdout_to_stderr():
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


def same_file(a: str, b: str) -> bool:
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
        if same_file(spec, out):
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




def size_text(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)



def table(headers: list[str], rows: list[list[str]], right: set[int] = frozenset(),
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



def short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


