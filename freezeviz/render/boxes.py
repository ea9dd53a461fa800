"""Which modules are drawn as one box, and what such a box says.

A drawing opens modules down to a depth and, beyond it, the modules named in an ``expanded``
set (:class:`Collapse`); everything deeper is one box per module run. A box's label names
the module, counts its nodes and main ops, the fates of the attributes under it (``3 inlined
· 1 folded``) and how many of its nodes the stage changed, so an overview of a large graph
still shows what freezing did where.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Mapping
from typing import NamedTuple

from freezeviz.data.fates import Fate
from freezeviz.render import styles as S

EXPAND, COLLAPSE = "\u2295", "\u2296"  # ⊕ on a closed box, ⊖ on an opened one
CHECK_PREFIX = "if:"  # an expanded-set entry naming a check (its node key follows)
FATE_WORDS = {Fate.INLINED: "inlined", Fate.FOLDED: "folded",
              Fate.PRESERVED_REQUESTED: "kept (asked)", Fate.PRESERVED_MUTATED: "kept (written)",
              Fate.PRESERVED_ALIASED: "kept (aliased)",
              Fate.REMOVED_UNUSED: "removed", Fate.KEPT_SUBMODULE: "kept module"}


class Collapse(NamedTuple):
    """Modules at most ``depth`` deep are open (all when None), and those in ``expanded``."""

    depth: int | None = None
    expanded: frozenset[str] = frozenset()

    def box(self, scope: str) -> str | None:
        """The module path of the closed box a node of ``scope`` is drawn in, if any."""
        if self.depth is None or not scope:
            return None
        parts = scope.split(".")
        for i in range(self.depth, len(parts)):
            path = ".".join(parts[: i + 1])
            if path not in self.expanded:
                return path
        return None


def policy(depth: int | None | Collapse) -> Collapse:
    return depth if isinstance(depth, Collapse) else Collapse(depth)


def fate_counts(fates: Mapping[str, Fate | None], path: str) -> str:
    """``"3 inlined · 1 folded"``: the fates of the attributes under module ``path``."""
    counts = _counts_under(tuple(fates.items())).get(path)
    return " \u00b7 ".join(f"{counts[f]} {FATE_WORDS[f]}" for f in Fate if counts[f]) \
        if counts else ""


@functools.lru_cache(maxsize=8)
def _counts_under(fates: tuple[tuple[str, Fate | None], ...]) -> dict[str, Counter]:
    """Module path -> the fates of the attributes under it, for every module with some: each
    drawing of a report asks for the boxes it draws closed (a report draws dozens)."""
    out: dict[str, Counter] = {}
    for path, fate in fates:
        if fate is None:
            continue
        parts = path.split(".")
        for i in range(1, len(parts)):
            out.setdefault(".".join(parts[:i]), Counter())[fate] += 1
    return out


def box_label(path: str, count: int, ops: Counter, fates: str, changed: int,
              change: str) -> str:
    """The label of module ``path`` drawn closed."""
    summary = ", ".join(S.clean(k, 24) + (f"\u00d7{n}" if n > 1 else "")
                        for k, n in ops.most_common(3)) + (", \u2026" if len(ops) > 3 else "")
    lines = [f"{EXPAND} {S.clean(path, 50)}", f"{count} nodes" + (f": {summary}" if summary else "")]
    lines += [fates] if fates else []
    if changed:
        lines.append(f"\u25cf {changed} {change} by this step")
    return "\n".join(lines)
