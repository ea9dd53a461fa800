"""The README's example runs as written and prints what the README says it prints."""

from __future__ import annotations

import os
import re
import shlex
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


@pytest.mark.slow
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
    _shows_in_order(run.stdout, shown)


def _shows_in_order(printed: str, shown: str) -> None:
    """Every ``...``-separated part of ``shown`` appears in ``printed``, in order."""
    printed, at = _squash(printed), 0
    for part in shown.split("..."):
        part = _squash(part)
        if not part:
            continue
        found = printed.find(part, at)
        assert found >= 0, f"README shows:\n{part}\n\nthe example printed:\n{printed[:3000]}"
        at = found + len(part)


@pytest.mark.slow
def test_inductor_example_prints_what_the_readme_shows(tmp_path):
    """The torch.compile section's example prints the block after it."""
    code = next(b for b in _blocks("python") if 'backend="inductor"' in b)
    shown = next(b for b in _blocks("") if "binary_folding#1" in b)
    (tmp_path / "two.py").write_text(code, encoding="utf-8")
    run = subprocess.run([sys.executable, "two.py"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    _shows_in_order(run.stdout, shown)


def _freezeviz(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "freezeviz", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONWARNINGS": "ignore"})


@pytest.mark.slow
def test_check_section_prints_what_the_readme_shows(tmp_path):
    """The "Checking fates in CI" commands, run on the "Use it" Net saved as model.pt: first a
    version that only reads ``self.calls`` (the baseline), then the README's own."""
    net = _blocks("python")[0].split("\nreport = ", 1)[0]
    reads = net.replace("self.calls += 1", "x = x + self.calls")
    assert reads != net
    save = '\ntorch.jit.save(torch.jit.script(Net().eval()), "model.pt")\n'
    commands = next(b for b in _blocks("bash") if "freezeviz check" in b).splitlines()
    runs = []
    for source, command in zip((reads, net), commands):
        (tmp_path / "net.py").write_text(source + save, encoding="utf-8")
        subprocess.run([sys.executable, "net.py"], cwd=tmp_path, check=True, timeout=300)
        runs.append(_freezeviz(*shlex.split(command.split("#", 1)[0])[1:], cwd=tmp_path))
    assert runs[0].returncode == 0, runs[0].stderr
    assert runs[1].returncode == 1, runs[1].stderr
    shown = next(b for b in _blocks("") if "changed fate:" in b)
    assert _squash(runs[1].stdout) == _squash(shown), runs[1].stdout
