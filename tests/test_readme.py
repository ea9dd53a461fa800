"""The README's example runs as written and prints what the README says it prints."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks(lang: str) -> list[str]:
    """The fenced blocks whose opening fence names ``lang`` ("" for a bare fence)."""
    blocks, current, open_lang = [], [], None
    for line in README.read_text(encoding="utf-8").splitlines():
        fence = re.match(r"^```(\S*)\s*$", line)
        if fence and open_lang is None:
            open_lang, current = fence.group(1), []
        elif fence:
            if open_lang == lang:
                blocks.append("\n".join(current))
            open_lang = None
        elif open_lang is not None:
            current.append(line)
    return blocks


def _squash(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.needs_dot
def test_use_it_example_prints_what_the_readme_shows(tmp_path):
    """The first python block, saved as net.py (the README's sample output names that file),
    prints every part of the output block after it; ``...`` marks lines left out."""
    code = _blocks("python")[0]
    shown = next(b for b in _blocks("") if "[preserved_mutated]" in b)
    (tmp_path / "net.py").write_text(code, encoding="utf-8")
    run = subprocess.run([sys.executable, "net.py"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    printed = _squash(run.stdout)
    at = 0
    for part in shown.split("..."):
        part = _squash(part)
        if not part:
            continue
        found = printed.find(part, at)
        assert found >= 0, f"README shows:\n{part}\n\nthe example printed:\n{run.stdout[:3000]}"
        at = found + len(part)
