"""Attribute fates as a stable JSON document (format 1), and comparing two sets of fates.

:func:`fates_document` turns a :class:`~freezeviz.data.report.FreezeReport` into the document that
``freezeviz attrs --json`` prints and ``freezeviz check`` keeps as its baseline (the schema is
``freezeviz/schemas/fates-1.schema.json``). It is sorted and holds no timings and no folders,
so the same model gives the same bytes on any machine and the file can live in a repository.

:func:`compare` takes two reports or documents (either side) and returns a :class:`FateChanges`:
a list of the attributes whose fate differs, falsy when there is none, printed as a table,
and writable as GitHub Actions annotations or a JUnit XML report. Never imports torch.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from freezeviz.data.fates import Fate
from freezeviz.data.report import json_safe
from freezeviz.errors import FreezeError

__all__ = ["ABSENT", "BaselineError", "FateChange", "FateChanges", "FORMAT", "SCHEMA", "compare",
           "fates_document", "read_fates", "to_json", "validate"]

FORMAT = 1
SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "fates-1.schema.json"
BACKENDS = ("torchscript", "inductor")
ABSENT = "absent"  # the "fate" of an attribute that one side does not have
FATES = tuple(f.value for f in Fate)
JUNIT_MARKER = '<testsuites name="freezeviz check"'
_MANGLE_RE = re.compile(r"___torch_mangle_\d+\.")
_SETTINGS = ("backend", "preserved_attrs", "optimize_numerics", "optimize_for_inference")
_MAKE_ONE = "`freezeviz check MODEL --baseline FILE --update` writes one"


class BaselineError(FreezeError, ValueError):
    """A fates file or dict that is not a format-1 document; the message says what is wrong."""


# --- writing the document --------------------------------------------------------------------------

def fates_document(report) -> dict[str, Any]:
    """The format-1 document of ``report``: settings, attributes and methods, sorted by name.

    Evidence keeps the file name and line of its source (``net.py:12``), never the folder;
    ``numerics`` is present only when the report has numerics (``example_inputs``)."""
    doc: dict[str, Any] = {
        "format": FORMAT,
        "generator": "freezeviz",
        "backend": getattr(report, "backend", "torchscript"),
        "module": _unmangle(report.module_name),
        "preserved_attrs": sorted(report.preserved_attrs),
        "optimize_numerics": bool(report.optimize_numerics),
        "optimize_for_inference": bool(report.optimize_for_inference),
        "attributes": [_attribute(a) for a in sorted(report.attributes, key=lambda a: a.path)],
        "methods": [{"name": m.name, "preserved": bool(m.preserved), "kept": bool(m.kept)}
                    for m in sorted(report.methods, key=lambda m: m.name)],
    }
    if report.numerics:
        doc["numerics"] = [{"stage": n.stage, "method": n.method, "max_abs": n.max_abs,
                            "max_rel": n.max_rel} for n in report.numerics]
    return doc


def _attribute(a) -> dict[str, Any]:
    return {
        "path": a.path, "kind": a.kind, "type": _unmangle(a.type), "fate": Fate(a.fate).value,
        "why": _unmangle(a.why), "constant": a.constant, "folded_by": a.folded_by,
        "rewritten_by": getattr(a, "rewritten_by", None), "warning": a.warning,
        "evidence": [{"kind": e.kind, "description": _unmangle(e.description), "method": e.method,
                      "source": e.source.short if e.source else None, "code": e.code}
                     for e in a.evidence],
    }


def _unmangle(text: str) -> str:
    """``___torch_mangle_N.`` differs between compilations of the same class: leave it out."""
    return _MANGLE_RE.sub("", text) if isinstance(text, str) else text


def to_json(data: Any) -> str:
    """Strict JSON text (no NaN or Infinity; non-ASCII and control characters as escapes)."""
    return json.dumps(json_safe(data), indent=2, ensure_ascii=True, allow_nan=False) + "\n"


# --- reading and checking a document ---------------------------------------------------------------

def read_fates(path: str | os.PathLike) -> dict[str, Any]:
    """Load and :func:`validate` a fates file; :class:`BaselineError` says what is wrong."""
    name = os.fspath(path)
    try:
        text = Path(name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BaselineError(f"there is no baseline file {name!r}; {_MAKE_ONE}.") from None
    except IsADirectoryError:
        raise BaselineError(f"{name!r} is a folder, not a fates file (JSON).") from None
    except UnicodeDecodeError:
        raise BaselineError(f"{name!r} is not a text file, so not a fates file (JSON); "
                            f"{_MAKE_ONE}.") from None
    except OSError as exc:
        raise BaselineError(f"cannot read {name!r}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BaselineError(f"{name!r} is not valid JSON (line {exc.lineno}, column {exc.colno}: "
                            f"{exc.msg}). It should be the output of `freezeviz attrs MODEL "
                            f"--json`; {_MAKE_ONE}.") from None
    return validate(data, where=name)


def validate(data: Any, where: str = "the fates document") -> dict[str, Any]:
    """``data`` if it is a format-1 document (the fields that are compared, and ``allow``)."""
    if not isinstance(data, dict):
        raise BaselineError(f"{where} is not a freezeviz fates document (a JSON object with "
                            f'"format": {FORMAT}); {_MAKE_ONE}.')
    if "format" not in data:
        raise BaselineError(f'{where} has no "format" key, so it is not a freezeviz fates '
                            f"document; {_MAKE_ONE}.")
    fmt = data["format"]
    if fmt != FORMAT or isinstance(fmt, bool):
        newer = isinstance(fmt, int) and not isinstance(fmt, bool) and fmt > FORMAT
        why = "a newer freezeviz wrote it; upgrade freezeviz" if newer else "it is not a format " \
              "freezeviz knows"
        raise BaselineError(f"{where} is in format {fmt!r}; this freezeviz reads format {FORMAT} "
                            f"({why}, or rewrite the file with --update).")
    if data.get("backend", "torchscript") not in BACKENDS:
        raise BaselineError(f"{where} was made with backend {data['backend']!r}; this freezeviz "
                            f"knows {', '.join(BACKENDS)}.")
    attrs = data.get("attributes")
    if not isinstance(attrs, list):
        raise BaselineError(f'{where} has no "attributes" list.')
    seen: set[str] = set()
    for i, a in enumerate(attrs):
        if not isinstance(a, dict) or not isinstance(a.get("path"), str):
            raise BaselineError(f'{where}: attributes[{i}] is not an object with a "path" string.')
        if a.get("fate") not in FATES:
            raise BaselineError(f"{where}: attributes[{i}] ({a['path']}) has fate {a.get('fate')!r}; "
                                f"a fate is one of {', '.join(FATES)}.")
        if a["path"] in seen:
            raise BaselineError(f"{where}: the attribute {a['path']!r} is listed twice.")
        seen.add(a["path"])
    if "allow" in data:
        allow_rules(data["allow"], where=f'{where}: "allow"')
    return data


def allow_rules(allow: Any, where: str = "allow") -> dict[str, frozenset[str]]:
    """``{path or pattern: fates it may have now}`` from a mapping (path -> fate or list of
    fates) or from ``"PATH=FATE"`` strings. ``absent``: the attribute may be gone."""
    if allow is None:
        return {}
    items: list[tuple[str, Any]] = []
    if isinstance(allow, Mapping):
        items = list(allow.items())
    elif isinstance(allow, (list, tuple, set, frozenset)):
        for entry in allow:
            path, sep, fate = str(entry).rpartition("=")
            if not sep or not path.strip():
                raise BaselineError(f"{where}: {entry!r} is not PATH=FATE (e.g. buf=preserved_mutated).")
            items.append((path.strip().removeprefix("self."), fate.strip()))
    else:
        raise BaselineError(f"{where} must map attribute paths to fates, e.g. "
                            '{"buf": "preserved_mutated"}.')
    rules: dict[str, set[str]] = {}
    for path, fates in items:
        values = [fates] if isinstance(fates, str) else fates
        if not isinstance(path, str) or not isinstance(values, list) or not values:
            raise BaselineError(f"{where}: {path!r} must map to a fate or a list of fates.")
        for value in values:
            if value not in FATES + (ABSENT,):
                raise BaselineError(f"{where}: {value!r} (for {path}) is not a fate; use one of "
                                    f"{', '.join(FATES + (ABSENT,))}.")
        rules.setdefault(path, set()).update(values)
    return {k: frozenset(v) for k, v in rules.items()}


def _allowed(rules: Mapping[str, frozenset[str]], path: str, fate: str) -> bool:
    for pattern, fates in rules.items():
        hit = pattern == path or (any(c in pattern for c in "*?") and fnmatch.fnmatchcase(path, pattern))
        if hit and fate in fates:
            return True
    return False


# --- comparing -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FateChange:
    """One attribute whose fate differs: ``old``/``new`` are fate names, ``None`` if absent."""

    path: str
    old: str | None
    new: str | None
    why: str  # the newer side's explanation (the older one's when the attribute is gone)
    kind: str = ""

    @property
    def old_text(self) -> str:
        return self.old or ABSENT

    @property
    def new_text(self) -> str:
        return self.new or ABSENT

    def __str__(self) -> str:
        return f"self.{self.path}: {self.old_text} -> {self.new_text}"


class FateChanges(list):
    """The attributes whose fate changed (a list of :class:`FateChange`), falsy when none did.

    ``accepted``: changes the allow list accepts (not in the list); ``notes``: settings that
    differ between the two sides (freezing options); ``pairs``: ``(path, old, new)`` for every
    attribute compared. ``str()`` is a table; ``repr()`` one line (what pytest shows for
    ``assert not freezeviz.compare(base, new)``)."""

    def __init__(self, changes: Iterable[FateChange] = (), *, accepted: Iterable[FateChange] = (),
                 notes: Iterable[str] = (), pairs: Iterable[tuple[str, str | None, str | None]] = (),
                 module: str = ""):
        super().__init__(changes)
        self.accepted = list(accepted)
        self.notes = list(notes)
        self.pairs = list(pairs)
        self.module = module

    def __repr__(self) -> str:
        if not self:
            extra = f", {len(self.accepted)} accepted" if self.accepted else ""
            return f"<FateChanges: no fate changed ({len(self.pairs)} compared{extra})>"
        return (f"<FateChanges: {len(self)} of {len(self.pairs)} attributes changed fate: "
                + "; ".join(str(c) for c in self) + ">")

    def __str__(self) -> str:
        return self.table()

    def table(self) -> str:
        """The changes as aligned columns: attribute, was, now, why (now)."""
        if self:
            lines = [f"{len(self)} of {len(self.pairs)} attributes changed fate:", *_rows(self)]
        else:
            lines = [f"No attribute changed fate ({len(self.pairs)} compared)."]
        if self.accepted:
            lines += ["", f"Accepted by the allow list ({len(self.accepted)}):", *_rows(self.accepted)]
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines)

    def github(self, file: str | None = None, lines: Mapping[str, int] | None = None) -> str:
        """GitHub Actions workflow commands: an ``::error`` per change, a ``::notice`` per
        accepted change, a ``::warning`` per note. ``file`` (the baseline) and ``lines``
        (path -> line in it) place the annotations on that file."""
        out = []
        for level, group in (("error", self), ("notice", self.accepted)):
            for c in group:
                props = {}
                if file:
                    props["file"] = file
                    if lines and c.path in lines:
                        props["line"] = str(lines[c.path])
                verb = "fate changed" if level == "error" else "fate changed (allowed)"
                props["title"] = f"{verb}: self.{c.path}"
                out.append(_gh_command(level, props, f"{c}. {c.why}".strip()))
        out += [_gh_command("warning", {"title": "freezeviz check"}, n) for n in self.notes]
        return "\n".join(out)

    def junit(self, name: str | None = None) -> str:
        """A JUnit XML report: one test case per attribute, failed where its fate changed."""
        module = self.module or "module"
        suite_name = name or f"freezeviz check: {module}"
        changed = {c.path: c for c in self}
        accepted = {c.path: c for c in self.accepted}
        n, failures = str(len(self.pairs)), str(len(self))
        # viewers split a class name at dots into packages: "model.pt" is one name
        classname = _xml("fates." + re.sub(r"[.\s]+", "_", module))
        root = ET.Element("testsuites", {"name": "freezeviz check", "tests": n,
                                         "failures": failures, "errors": "0"})
        suite = ET.SubElement(root, "testsuite", {"name": _xml(suite_name), "tests": n,
                                                  "failures": failures, "errors": "0",
                                                  "skipped": "0"})
        if self.notes:
            props = ET.SubElement(suite, "properties")
            for note in self.notes:
                ET.SubElement(props, "property", {"name": "note", "value": _xml(note)})
        for path, _old, _new in self.pairs:
            case = ET.SubElement(suite, "testcase", {"classname": classname,
                                                     "name": _xml(f"self.{path}")})
            if path in changed:
                c = changed[path]
                fail = ET.SubElement(case, "failure", {"type": "FateChanged",
                                                       "message": _xml(f"{c.old_text} -> {c.new_text}")})
                fail.text = _xml(f"{c}\n{c.why}")
            elif path in accepted:
                out = ET.SubElement(case, "system-out")
                out.text = _xml(f"{accepted[path]} (accepted by the allow list)")
        ET.indent(root)
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _rows(changes: Iterable[FateChange]) -> list[str]:
    rows = [["attribute", "was", "now", "why (now)"]]
    rows += [[_printable(f"self.{c.path}"), c.old_text, c.new_text, _printable(c.why)] for c in changes]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return ["  " + "  ".join([*(r[i].ljust(widths[i]) for i in range(3)), r[3]]).rstrip() for r in rows]


def _printable(text: str) -> str:
    """One line, with control and bidi-override characters shown as escapes."""
    return "".join(ch.encode("unicode_escape").decode("ascii")
                   if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") else ch for ch in text)


_GH_DATA = {"%": "%25", "\r": "%0D", "\n": "%0A"}
_GH_PROPERTY = {**_GH_DATA, ":": "%3A", ",": "%2C"}


def gh_escape(text: str, *, prop: bool = False) -> str:
    """Escape ``text`` for a workflow command as GitHub's toolkit does: ``%``, CR and LF in the
    message; also ``:`` and ``,`` in a property value."""
    table = _GH_PROPERTY if prop else _GH_DATA
    return "".join(table.get(ch, ch) for ch in text)


def _gh_command(level: str, props: Mapping[str, str], message: str) -> str:
    args = ",".join(f"{k}={gh_escape(v, prop=True)}" for k, v in props.items())
    return f"::{level}{' ' + args if args else ''}::{gh_escape(message)}"


_XML_BAD = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: str) -> str:
    """Text XML 1.0 can hold (it has no way to write most control characters)."""
    return _XML_BAD.sub("\ufffd", text)


def baseline_lines(text: str) -> dict[str, int]:
    """``path -> line`` of each attribute's ``"path"`` in a fates file's text (1-based)."""
    out: dict[str, int] = {}
    for i, line in enumerate(text.splitlines(), 1):
        m = re.match(r'\s*"path":\s*("(?:[^"\\]|\\.)*")\s*,?\s*$', line)
        if m:
            out.setdefault(json.loads(m.group(1)), i)
    return out


@dataclass
class _Side:
    doc: dict[str, Any]

    @property
    def fates(self) -> dict[str, str]:
        return {a["path"]: a["fate"] for a in self.doc["attributes"]}

    def info(self, path: str) -> dict[str, Any]:
        return next(a for a in self.doc["attributes"] if a["path"] == path)


def _side(obj: Any, which: str) -> _Side:
    if hasattr(obj, "attributes") and hasattr(obj, "preserved_attrs"):  # a FreezeReport
        return _Side(fates_document(obj))
    if isinstance(obj, (str, os.PathLike)):
        return _Side(read_fates(obj))
    if isinstance(obj, Mapping):
        return _Side(validate(dict(obj), where=f"the {which} fates"))
    raise BaselineError(f"compare() takes FreezeReports, fates documents (dicts, e.g. json.load "
                        f"of `freezeviz attrs --json`) or paths of fates files; the {which} "
                        f"argument is a {type(obj).__name__}.")


def compare(a, b, *, allow=None) -> FateChanges:
    """The attributes whose fate differs from ``a`` (the baseline) to ``b`` (now).

    Each side is a :class:`~freezeviz.data.report.FreezeReport`, a fates document (a dict in
    format 1, as ``freezeviz attrs --json`` prints) or the path of a fates file. ``allow``
    (path or pattern -> fate or fates, or ``"PATH=FATE"`` strings) and the ``"allow"`` section
    of either document accept known changes. Settings that differ (preserved_attrs,
    optimize_numerics...) are reported in ``notes``. ``assert not compare(base, report)``
    passes when no fate changed.

    >>> import freezeviz
    >>> from freezeviz.examples import MyModule2
    >>> base = freezeviz.freeze(MyModule2().eval(), preserved_attrs=["version"])
    >>> changes = compare(base, freezeviz.freeze(MyModule2().eval()))
    >>> changes
    <FateChanges: 1 of 3 attributes changed fate: self.version: preserved_requested -> removed_unused>
    >>> print(changes)
    1 of 3 attributes changed fate:
      attribute     was                  now             why (now)
      self.version  preserved_requested  removed_unused  No preserved method reads it, so the freezer removed it.
    Note: preserved_attrs was ['version'], now []
    >>> compare(base, base)
    <FateChanges: no fate changed (3 compared)>
    """
    old, new = _side(a, "first"), _side(b, "second")
    rules: dict[str, frozenset[str]] = {}
    for source in (old.doc.get("allow"), new.doc.get("allow"), allow):
        for path, fates in allow_rules(source).items():
            rules[path] = rules.get(path, frozenset()) | fates
    of, nf = old.fates, new.fates
    changes, accepted, pairs = [], [], []
    for path in sorted(set(of) | set(nf)):
        pairs.append((path, of.get(path), nf.get(path)))
        if of.get(path) == nf.get(path):
            continue
        info = new.info(path) if path in nf else old.info(path)
        change = FateChange(path, of.get(path), nf.get(path), str(info.get("why", "")),
                            str(info.get("kind", "")))
        (accepted if _allowed(rules, path, change.new_text) else changes).append(change)
    notes = [f"{key} was {old.doc[key]!r}, now {new.doc[key]!r}" for key in _SETTINGS
             if key in old.doc and key in new.doc and old.doc[key] != new.doc[key]]
    return FateChanges(changes, accepted=accepted, notes=notes, pairs=pairs,
                       module=str(new.doc.get("module") or old.doc.get("module") or ""))
