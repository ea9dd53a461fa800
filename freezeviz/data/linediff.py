"""A unified diff of two long lists of lines, in time that grows with their length.

:func:`difflib.unified_diff` compares every line with every other in the worst case: the
printouts of a 48-layer transformer before and after freezing (70,000 lines) take it minutes.
Here the lines that occur exactly once on each side anchor the match (the "patience" method:
SSA value names make most lines of a graph printout unique); :mod:`difflib` matches only the
short stretches between anchors. Below :data:`DIFFLIB_MAX` lines the diff is difflib's own.
"""

from __future__ import annotations

import bisect
import difflib
from collections import Counter

DIFFLIB_MAX = 2_000  # lines per side below which difflib matches the whole text
_GAP_MAX = 400  # a stretch between anchors longer than this is anchored again within itself
_DEPTH_MAX = 40  # stretches within stretches anchored again; deeper ones go to difflib whole


def unified_diff(a: list[str], b: list[str], fromfile: str, tofile: str, n: int = 3) -> str:
    """The lines of :func:`difflib.unified_diff` (``a`` and ``b`` end with newlines), joined."""
    if max(len(a), len(b)) < DIFFLIB_MAX:
        return "".join(difflib.unified_diff(a, b, fromfile=fromfile, tofile=tofile, n=n))
    matcher = difflib.SequenceMatcher(None, (), ())
    matcher.a, matcher.b = a, b  # the matching blocks are given: b's index is never needed
    matcher.matching_blocks, matcher.opcodes = _blocks(a, b), None
    out: list[str] = []
    for group in matcher.get_grouped_opcodes(n):
        if not out:
            out += [f"--- {fromfile}\n", f"+++ {tofile}\n"]
        first, last = group[0], group[-1]
        out.append(f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@\n")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out += [" " + line for line in a[i1:i2]]
                continue
            out += ["-" + line for line in a[i1:i2]]
            out += ["+" + line for line in b[j1:j2]]
    return "".join(out)


def _range(start: int, stop: int) -> str:
    """difflib's unified range: ``start,length`` (1-based; ``start`` alone for one line)."""
    length = stop - start
    first = start + 1 if length else start
    return f"{first}" if length == 1 else f"{first},{length}"


def _blocks(a: list[str], b: list[str]) -> list[tuple[int, int, int]]:
    """Matching blocks as difflib gives them: (i, j, size), adjacent ones merged, ending with
    the sentinel ``(len(a), len(b), 0)``."""
    raw: list[tuple[int, int, int]] = []
    _match(a, 0, len(a), b, 0, len(b), raw, 0)
    merged: list[list[int]] = []
    for i, j, k in raw:
        if merged and merged[-1][0] + merged[-1][2] == i and merged[-1][1] + merged[-1][2] == j:
            merged[-1][2] += k
        elif k:
            merged.append([i, j, k])
    return [tuple(m) for m in merged] + [(len(a), len(b), 0)]  # type: ignore[misc]


def _match(a, alo, ahi, b, blo, bhi, out, depth: int) -> None:
    """Append the matching blocks of ``a[alo:ahi]`` and ``b[blo:bhi]`` to ``out``, in order
    (``depth``: stretches this one lies within)."""
    while alo < ahi and blo < bhi and a[alo] == b[blo]:  # common head
        out.append((alo, blo, 1))
        alo, blo = alo + 1, blo + 1
    tail = []
    while alo < ahi and blo < bhi and a[ahi - 1] == b[bhi - 1]:  # common tail
        ahi, bhi = ahi - 1, bhi - 1
        tail.append((ahi, bhi, 1))
    anchors = _anchors(a, alo, ahi, b, blo, bhi) \
        if alo < ahi and blo < bhi and depth < _DEPTH_MAX else []
    if anchors:
        for i, j in anchors:
            _match(a, alo, i, b, blo, j, out, depth + 1)
            out.append((i, j, 1))
            alo, blo = i + 1, j + 1
        _match(a, alo, ahi, b, blo, bhi, out, depth + 1)
    elif alo < ahi and blo < bhi and ((ahi - alo) * (bhi - blo) <= _GAP_MAX * _GAP_MAX
                                      or depth >= _DEPTH_MAX):
        matcher = difflib.SequenceMatcher(None, a[alo:ahi], b[blo:bhi], autojunk=False)
        out += [(alo + i, blo + j, k) for i, j, k in matcher.get_matching_blocks() if k]
    # else: nothing on one side, or a long stretch with no line once on each side: replaced
    out += reversed(tail)


def _anchors(a, alo, ahi, b, blo, bhi) -> list[tuple[int, int]]:
    """Lines occurring once in ``a[alo:ahi]`` and once in ``b[blo:bhi]``, as (i, j) pairs of
    the longest run increasing on both sides."""
    count_a, count_b = Counter(a[alo:ahi]), Counter(b[blo:bhi])
    where_b = {b[j]: j for j in range(blo, bhi) if count_b[b[j]] == 1}
    pairs = [(i, where_b[a[i]]) for i in range(alo, ahi)
             if count_a[a[i]] == 1 and a[i] in where_b]
    return _longest_increasing(pairs)


def _longest_increasing(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The longest subsequence of ``pairs`` (sorted by i) whose j increase."""
    tops: list[int] = []  # j ending the best run of each length
    ends: list[int] = []  # index into pairs of that run's last pair
    back: list[int] = []
    for k, (_, j) in enumerate(pairs):
        at = bisect.bisect_left(tops, j)
        back.append(ends[at - 1] if at else -1)
        if at == len(tops):
            tops.append(j)
            ends.append(k)
        else:
            tops[at], ends[at] = j, k
    out, k = [], ends[-1] if ends else -1
    while k >= 0:
        out.append(pairs[k])
        k = back[k]
    return out[::-1]
