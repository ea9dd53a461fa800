"""Capture and parse the C++ freezer's own debug log.

torch's JIT logging writes to C++ ``std::cerr``, i.e. file descriptor 2, not ``sys.stderr``.
We redirect fd 2 to a temporary file for the duration of one call, always restore it (and the
logging option), hand back the lines, and pass anything that is not a log line on to the real
stderr so that no warning from torch is swallowed.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import torch

_LOG_RE = re.compile(r"^\[(DUMP|UPDATE|DEBUG) ([\w./-]+):(\d+)\] ?(.*)$")
_lock = threading.Lock()


@dataclass(frozen=True)
class LogLine:
    level: str  # DUMP, UPDATE, DEBUG
    file: str  # freeze_module.cpp
    line: int
    message: str

    def __str__(self) -> str:
        return f"[{self.level} {self.file}:{self.line}] {self.message}"


@contextlib.contextmanager
def capture_jit_log(option: str) -> Iterator[list[LogLine]]:
    """Enable ``torch._C._jit_set_logging_option(option)`` and collect its lines.

    The yielded list is filled when the block exits. Lines that are not JIT log lines
    (anything else C++ printed to fd 2 meanwhile) are written back to the real stderr.

    An interrupt (Ctrl-C) at any point leaves fd 2 and the logging option as they were: the
    undo is armed before each step it undoes, and while things are being put back a SIGINT
    waits until they are.
    """
    lines: list[LogLine] = []
    with _lock:
        try:
            sys.stderr.flush()
        except Exception:
            pass
        state = _Swap()
        try:
            with _interrupts_deferred():
                state.swap(option)
            yield lines
        finally:
            try:
                with _interrupts_deferred():
                    state.restore()
            finally:
                state.restore()  # has work left only after an interrupt that came too early
            _collect(state.text, lines)


class _Swap:
    """fd 2 pointed at a temporary file and the JIT log on; each step is undone only if it
    was done, and undoing twice does nothing."""

    def __init__(self):
        self.previous: str | None = None
        self.tmp = None
        self.saved: int | None = None
        self.swapped = False
        self.text = ""

    def swap(self, option: str) -> None:
        self.previous = torch._C._jit_get_logging_option()
        self.tmp = tempfile.TemporaryFile(mode="w+b")
        self.saved = os.dup(2)
        self.swapped = True  # set first: an interrupt inside dup2 may come after it took effect
        os.dup2(self.tmp.fileno(), 2)
        torch._C._jit_set_logging_option(option)

    def restore(self) -> None:
        try:
            if self.previous is not None:
                previous, self.previous = self.previous, None
                torch._C._jit_set_logging_option(previous)
        finally:
            try:
                if self.swapped:
                    self.swapped = False
                    os.dup2(self.saved, 2)
            finally:
                self._close()

    def _close(self) -> None:
        if self.saved is not None:
            saved, self.saved = self.saved, None
            os.close(saved)
        if self.tmp is not None:
            tmp, self.tmp = self.tmp, None
            try:
                tmp.seek(0)
                self.text = tmp.read().decode("utf-8", errors="replace")
            finally:
                tmp.close()


@contextlib.contextmanager
def _interrupts_deferred():
    """Hold SIGINT back for the block and deliver it after: Python runs signal handlers
    between bytecodes, so an interrupt could otherwise land between two steps that must not
    be separated. Only the main thread receives signals (and may install handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[tuple] = []
    try:
        if signal.getsignal(signal.SIGINT) is None:  # set outside Python: cannot be put back
            raise ValueError
        previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append((signum, frame)))
    except (ValueError, OSError):
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught:
            _deliver(previous, *caught[0])


def _deliver(handler, signum, frame) -> None:
    """Run the handler that was in place when SIGINT arrived, as Python would have."""
    if callable(handler):
        handler(signum, frame)
    elif handler == signal.SIG_DFL:
        signal.raise_signal(signum)


def _collect(text: str, lines: list[LogLine]) -> None:
    other = []
    for raw in text.splitlines():
        m = _LOG_RE.match(raw)
        if m:
            lines.append(LogLine(m.group(1), m.group(2), int(m.group(3)), m.group(4)))
        elif raw.strip():
            other.append(raw)
    if other:
        print("\n".join(other), file=sys.stderr)


# --- what the freezer's lines mean --------------------------------------------------------

# Names are whatever the module holds: ModuleDict keys may contain spaces, quotes, brackets,
# unicode and newlines, so a name is "anything" up to the fixed words that end the message.
# Only folds are read; the other messages' patterns tell where a message ends (_ENDED).
_FOLD_RE = re.compile(r"^Folding GetAttr %(.+?) with self\.(.+)$", re.S)
_SET_RE = re.compile(r"^attribute: (.+) is set$", re.S)
_WRITER_RE = re.compile(r"^attribute: (.+) in %(.+?) has inplace writer$", re.S)
_MUTABLE_RE = re.compile(r"^attribute: (.+) is mutable\.$", re.S)
_NOT_MAT_RE = re.compile(r"^(?:attribute: )?(.+) is not materializable\.$", re.S)
_FUNC_RE = re.compile(r"^(Analyzing|Recording mutable attrs for|Propagating) function: (\S+)$")
_MODULE_RE = re.compile(r"^Freezing Module: (\S+)$")
_ENDED = (_SET_RE, _WRITER_RE, _MUTABLE_RE, _NOT_MAT_RE, _FUNC_RE, _MODULE_RE)
_STARTS = ("Folding GetAttr ", "attribute: ", "Analyzing function: ",
           "Recording mutable attrs for function: ", "Propagating function: ",
           "Freezing Module: ", "Cleaning up module", "Inlining interface method ",
           "Function body: ")


def _messages(lines: list[LogLine]) -> list[str]:
    """The freezer's messages, with names that hold a newline joined back together.

    torch's logger prefixes every line of a message, so the message "Folding GetAttr %w with
    self.d.a<newline>b.w" arrives as two log lines; the second one starts like no message does.
    """
    out: list[tuple[tuple[str, str, int], str]] = []
    for line in lines:
        where, msg = (line.level, line.file, line.line), line.message
        if out and out[-1][0] == where and not msg.startswith(_STARTS) and \
                not any(r.match(out[-1][1]) for r in _ENDED):
            out[-1] = (where, out[-1][1] + "\n" + msg)
        else:
            out.append((where, msg))
    return [msg for _, msg in out]


@dataclass(frozen=True)
class FreezeDecisions:
    """The freezer's decisions, read from its log."""

    folded: tuple[tuple[str, str, str], ...]  # (getattr value, attribute path, function)
    lines: tuple[LogLine, ...]

    @property
    def folded_paths(self) -> set[str]:
        return {path for _, path, _ in self.folded}

    def text(self) -> str:
        return "\n".join(str(line) for line in self.lines)


def parse_freeze_log(lines: list[LogLine]) -> FreezeDecisions:
    folded = []
    function = "forward"
    for msg in _messages(lines):
        if m := _FUNC_RE.match(msg):
            function = m.group(2)
        elif m := _FOLD_RE.match(msg):
            folded.append((m.group(1), m.group(2), function))
    return FreezeDecisions(tuple(folded), tuple(lines))
