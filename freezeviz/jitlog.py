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
    """
    lines: list[LogLine] = []
    with _lock:
        try:
            sys.stderr.flush()
        except Exception:
            pass
        previous = torch._C._jit_get_logging_option()
        tmp = tempfile.TemporaryFile(mode="w+b")
        saved = os.dup(2)
        os.dup2(tmp.fileno(), 2)
        torch._C._jit_set_logging_option(option)
        try:
            yield lines
        finally:
            torch._C._jit_set_logging_option(previous)
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            text = tmp.read().decode("utf-8", errors="replace")
            tmp.close()
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

_FOLD_RE = re.compile(r"^Folding GetAttr %(\S+) with self\.(\S+)$")
_SET_RE = re.compile(r"^attribute: (\S+) is set$")
_WRITER_RE = re.compile(r"^attribute: (\S+) in %(\S+) has inplace writer$")
_MUTABLE_RE = re.compile(r"^attribute: (\S+) is mutable\.$")
_NOT_MAT_RE = re.compile(r"^(?:attribute: )?(\S+) is not materializable\.$")
_FUNC_RE = re.compile(r"^(Analyzing|Recording mutable attrs for|Propagating) function: (\S+)$")
_MODULE_RE = re.compile(r"^Freezing Module: (\S+)$")


@dataclass(frozen=True)
class FreezeDecisions:
    """The freezer's decisions, read from its log."""

    folded: tuple[tuple[str, str, str], ...]  # (getattr value, attribute path, function)
    set_attrs: tuple[tuple[str, str], ...]  # (attribute name, function)
    inplace_writers: tuple[tuple[str, str, str], ...]  # (attribute name, value name, function)
    mutable: tuple[str, ...]  # names the freezer could not fold ("is mutable.")
    not_materializable: tuple[str, ...]
    lines: tuple[LogLine, ...]

    @property
    def folded_paths(self) -> set[str]:
        return {path for _, path, _ in self.folded}

    def text(self) -> str:
        return "\n".join(str(line) for line in self.lines)


def parse_freeze_log(lines: list[LogLine]) -> FreezeDecisions:
    folded, set_attrs, writers, mutable, not_mat = [], [], [], [], []
    function = "forward"
    for line in lines:
        msg = line.message.strip()
        if m := _FUNC_RE.match(msg):
            function = m.group(2)
        elif m := _FOLD_RE.match(msg):
            folded.append((m.group(1), m.group(2), function))
        elif m := _SET_RE.match(msg):
            set_attrs.append((m.group(1), function))
        elif m := _WRITER_RE.match(msg):
            writers.append((m.group(1), m.group(2), function))
        elif m := _MUTABLE_RE.match(msg):
            mutable.append(m.group(1))
        elif m := _NOT_MAT_RE.match(msg):
            not_mat.append(m.group(1))
    return FreezeDecisions(tuple(folded), tuple(set_attrs), tuple(writers), tuple(mutable),
                           tuple(not_mat), tuple(lines))
