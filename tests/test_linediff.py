"""The unified diff of long printouts: a valid diff that turns one text into the other, and
difflib's own for short ones."""

from __future__ import annotations

import difflib
import random
import re

import pytest

from freezeviz.data.linediff import DIFFLIB_MAX, unified_diff

_HUNK = re.compile(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def _apply(a: list[str], diff: str) -> list[str]:
    """``a`` with the hunks of ``diff`` applied, each checked against ``a``."""
    lines = diff.splitlines(keepends=True)
    out, pos, k = [], 0, 2
    while k < len(lines):
        m = _HUNK.match(lines[k])
        assert m, lines[k]
        start = int(m.group(1)) - (1 if m.group(2) != "0" else 0)
        out += a[pos:start]
        pos = start
        k += 1
        while k < len(lines) and not lines[k].startswith("@@"):
            tag, text = lines[k][0], lines[k][1:]
            if tag in " -":
                assert a[pos] == text
                pos += 1
            if tag in " +":
                out.append(text)
            k += 1
    return out + a[pos:]


def _printout(n: int, rng: random.Random) -> list[str]:
    """A graph-like printout: mostly lines unique by their value names, some repeated."""
    out = []
    for i in range(n):
        if rng.random() < 0.1:
            out.append("  -> ()\n")
        elif rng.random() < 0.05:
            out.append("%x : int = prim::Constant[value=1]()\n")
        else:
            out.append(f"%v{i} : Tensor = aten::op{rng.randrange(9)}(%v{max(i - 1, 0)})\n")
    return out


def _edited(a: list[str], edits: int, rng: random.Random) -> list[str]:
    b = list(a)
    for _ in range(edits):
        at = rng.randrange(len(b))
        what = rng.random()
        if what < 0.3:
            del b[at: at + rng.randrange(1, 40)]
        elif what < 0.6:
            b[at:at] = [f"%new{at}_{k} : Tensor = aten::add(%q)\n" for k in range(rng.randrange(1, 9))]
        elif what < 0.8:
            b[at] = "  -> ()\n"
        else:  # a stretch moved elsewhere
            piece = b[at: at + 30]
            del b[at: at + 30]
            spot = rng.randrange(len(b) + 1)
            b[spot:spot] = piece
    return b


@pytest.mark.parametrize("seed", range(6))
def test_long_texts_diff_into_each_other(seed):
    rng = random.Random(seed)
    a = _printout(6_000, rng)
    b = _edited(a, rng.choice([1, 20, 400]), rng)
    diff = unified_diff(a, b, "a", "b")
    assert diff.startswith("--- a\n+++ b\n@@ ")
    assert _apply(a, diff) == b
    assert sum(ln.startswith(("+", "-")) for ln in diff.splitlines()[2:]) <= 2 * (len(a) + len(b))


def test_a_text_with_nothing_in_common_and_equal_texts():
    rng = random.Random(7)
    a = _printout(DIFFLIB_MAX + 10, rng)
    b = [f"other {i}\n" for i in range(DIFFLIB_MAX + 50)]
    assert _apply(a, unified_diff(a, b, "a", "b")) == b
    assert unified_diff(a, list(a), "a", "b") == ""


def test_short_texts_get_difflibs_own_diff():
    rng = random.Random(3)
    a = _printout(300, rng)
    b = _edited(a, 12, rng)
    assert unified_diff(a, b, "x", "y", 2) == "".join(
        difflib.unified_diff(a, b, fromfile="x", tofile="y", n=2))
