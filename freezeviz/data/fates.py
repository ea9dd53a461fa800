"""The vocabulary of attribute fates: one source of truth for names and plain-word labels."""

from __future__ import annotations

from enum import Enum


class Fate(str, Enum):
    """What freezing did to one attribute (or submodule) of the module tree."""

    INLINED = "inlined"
    FOLDED = "folded"
    PRESERVED_REQUESTED = "preserved_requested"
    PRESERVED_MUTATED = "preserved_mutated"
    PRESERVED_ALIASED = "preserved_aliased"
    REMOVED_UNUSED = "removed_unused"
    KEPT_SUBMODULE = "kept_submodule"

    def __str__(self) -> str:
        return self.value

    @property
    def label(self) -> str:
        return FATE_LABELS[self]

    @property
    def survives(self) -> bool:
        """Does the frozen module still hold an attribute with this fate?"""
        return self in (Fate.PRESERVED_REQUESTED, Fate.PRESERVED_MUTATED, Fate.PRESERVED_ALIASED,
                        Fate.KEPT_SUBMODULE)


FATE_LABELS = {
    Fate.INLINED: "inlined as a constant",
    Fate.FOLDED: "inlined, then folded away",
    Fate.PRESERVED_REQUESTED: "kept: you asked",
    Fate.PRESERVED_MUTATED: "kept: written",
    Fate.PRESERVED_ALIASED: "kept: an output aliases it",
    Fate.REMOVED_UNUSED: "removed: unused",
    Fate.KEPT_SUBMODULE: "kept submodule",
}
