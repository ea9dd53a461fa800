"""The ``freezeviz`` command, run for real in a subprocess (``python -m freezeviz`` and the
installed console script): each command, its output, and every error path."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import freezeviz

from .corpus import modules as M

REPO = Path(__file__).resolve().parent.parent


def _env() -> dict:
    env = dict(os.environ)
    # the corpus modules are importable from the repository root (factories in tests)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env["PYTHONWARNINGS"] = "ignore::DeprecationWarning"
    return env


def run(*args: str, cwd: Path | None = None, script: str | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess:
    cmd = [script] if script else [sys.executable, "-m", "freezeviz"]
    return subprocess.run([*cmd, *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          env=_env(), timeout=timeout, check=False)


def run_all(*calls: tuple, cwd: Path | None = None) -> list[subprocess.CompletedProcess]:
    """Several independent runs at once (each one mostly waits for torch to import)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=max(2, min(4, os.cpu_count() or 2))) as pool:
        return list(pool.map(lambda args: run(*args, cwd=cwd), calls))


def _installed_script() -> str:
    here = shutil.which("freezeviz", path=os.path.dirname(sys.executable))
    found = here or shutil.which("freezeviz")
    if found is None:
        reason = "the freezeviz console script is not installed (pip install -e .)"
        if os.environ.get("FREEZEVIZ_REQUIRE_TOOLS", "") not in ("", "0"):
            pytest.fail(reason + " (FREEZEVIZ_REQUIRE_TOOLS is set)", pytrace=False)
        pytest.skip(reason)
    return found


def _save(module: torch.nn.Module, path: Path) -> Path:
    torch.jit.save(torch.jit.script(module.eval()), str(path))
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("models")
    return {name: _save(getattr(M, name)(), d / f"{name}.pt")
            for name in ("InplaceBuffer", "ConvBN", "MyModule2", "ReturnsSelf")}


def assert_error(proc: subprocess.CompletedProcess, code: int, *needles: str) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback (most recent call last)" not in proc.stderr, proc.stderr
    assert "freezeviz: error:" in proc.stderr or code == 2, proc.stderr
    for needle in needles:
        assert needle in proc.stderr, (needle, proc.stderr)


# --- the commands --------------------------------------------------------------------------------

def test_attrs_json_matches_the_library(models):
    path = models["InplaceBuffer"]
    proc = run("attrs", path, "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)  # stdout is JSON only; progress went to stderr
    assert "freezeviz: " in proc.stderr
    report = freezeviz.freeze(str(path))
    assert {a["path"]: a["fate"] for a in data["attributes"]} == \
        {a.path: a.fate.value for a in report.attributes}
    assert data["attributes"][0].keys() >= {"path", "kind", "type", "fate", "why", "evidence"}
    assert [s["name"] for s in data["stages"]] == [s.name for s in report.stages]
    assert data["module"] == report.module_name


def test_attrs_table_with_preserve(models):
    proc = run("attrs", models["MyModule2"], "--preserve", "version", "-q")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    lines = proc.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("attribute"))
    cols = [lines[header].index(c) for c in ("kind", "type", "fate", "why")]
    rows = {line.split()[0]: line for line in lines[header + 1:] if line.startswith("self.")}
    assert "kept: written" in rows["self.modified_tensor"]
    assert "kept: you asked" in rows["self.version"]
    for row in rows.values():  # aligned columns
        assert all(row[c - 2:c] == "  " for c in cols), row


def test_explain_names_the_writing_statement(models):
    proc = run("explain", models["InplaceBuffer"], "buf", script=_installed_script())
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "self.buf" in out and "kept: written" in out
    assert "modules.py:" in out
    assert "add_" in out
    assert "self.buf.add_(1)" in out  # the statement itself


def test_stages_diff_shows_the_conv_bn_fold(models):
    proc = run("stages", models["ConvBN"], "--diff")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    row = next(line for line in out.splitlines() if line.split()[1:2] == ["fold_conv_bn"])
    assert " yes " in row
    unchanged = next(line for line in out.splitlines() if line.split()[1:2] == ["remove_dropout"])
    assert " yes " not in unchanged
    assert "=== fold_conv_bn: changed the graph" in out
    assert "+++ fold_conv_bn" in out
    assert "-  %13 : Tensor = aten::batch_norm" in out or "aten::batch_norm" in out
    assert "weight_fused_bn" in out


def test_report_from_a_file_with_inputs(models, tmp_path):
    out = tmp_path / "out" / "convbn.html"
    proc = run("report", models["ConvBN"], "-o", out, "--inputs", "1x3x8x8")
    assert proc.returncode == 0, proc.stderr
    assert out.is_file()
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert '<section id="numerics"' in text
    assert "default-src 'none'" in text
    assert str(out) in proc.stdout
    stderr = proc.stderr
    assert "freezeviz: loading and freezing ConvBN.pt ..." in stderr
    assert "freezeviz: drawing 13 stages" in stderr or "freezeviz: drawing " in stderr


def test_report_from_a_factory(tmp_path):
    out = tmp_path / "cbr.html"
    proc = run("report", "freezeviz.examples:conv_bn_relu", "-o", out,
               "--no-optimize-numerics")
    assert proc.returncode == 0, proc.stderr
    assert "freezeviz: freezing conv_bn_relu ..." in proc.stderr
    text = out.read_text(encoding="utf-8")
    assert "optimize_numerics=<b>False</b>" in text
    assert "fold_conv_bn" not in text.split('<section id="stages"')[1].split("</section>")[0]


def test_help_has_examples():
    for cmd in ("report", "explain", "stages", "attrs"):
        proc = run(cmd, "--help")
        assert proc.returncode == 0
        assert "examples:" in proc.stdout and f"freezeviz {cmd} " in proc.stdout
    top = run("--help")
    assert top.returncode == 0 and "report" in top.stdout and "Exit status" in top.stdout


# --- errors --------------------------------------------------------------------------------------

def test_usage_errors_exit_2(models):
    procs = run_all((), ("report",), ("frobnicate", "x.pt"),
                    ("report", models["ConvBN"], "--inputs", "1xAx3"),
                    ("report", models["ConvBN"], "--inputs", ""),
                    ("attrs", models["ConvBN"], "--preserve", "a b"))
    assert_error(procs[0], 2)
    assert_error(procs[1], 2, "MODEL")
    assert_error(procs[2], 2, "invalid choice")
    assert_error(procs[3], 2, "not a shape")
    assert_error(procs[4], 2, "at least one shape")
    assert_error(procs[5], 2, "not an attribute")


def test_missing_file_and_not_torchscript(tmp_path):
    bad = tmp_path / "weights.pt"
    torch.save({"w": torch.ones(2)}, bad)
    procs = run_all(("attrs", tmp_path / "nope.pt"), ("attrs", tmp_path),
                    ("report", bad, "-o", tmp_path / "r.html"))
    assert_error(procs[0], 1, "No such file", "nope.pt")
    assert_error(procs[1], 1, "is a folder")
    assert_error(procs[2], 1, "torch.jit.load could not load")
    assert not (tmp_path / "r.html").exists()


def test_factories_that_do_not_work(tmp_path):
    (tmp_path / "facts.py").write_text(
        "def boom():\n    raise ValueError('boom: no weights here')\n\n"
        "def not_a_module():\n    return 42\n\n"
        "value = 3\n", encoding="utf-8")
    (tmp_path / "broken_mod.py").write_text("import no_such_dependency_xyz\n", encoding="utf-8")
    procs = run_all(("attrs", "no_such_pkg_xyz.models:make"), ("attrs", "freezeviz.examples:resnet5"),
                    ("attrs", "facts:boom"), ("attrs", "facts:not_a_module"),
                    ("attrs", "facts:value"), ("attrs", "broken_mod:make"),
                    ("attrs", "not a:valid spec"), cwd=tmp_path)
    assert_error(procs[0], 1, "cannot import 'no_such_pkg_xyz.models'")
    assert_error(procs[1], 1, "has no attribute 'resnet5'", "Did you mean")
    assert_error(procs[2], 1, "facts:boom raised ValueError: boom: no weights here")
    assert_error(procs[3], 1, "returned a int")
    assert_error(procs[4], 1, "not a callable")
    assert_error(procs[5], 1, "importing 'broken_mod' failed", "no_such_dependency_xyz")
    assert_error(procs[6], 1, "neither a file nor")


def test_model_problems_exit_1(models):
    procs = run_all(("attrs", models["InplaceBuffer"], "--preserve", "bufff"),
                    ("stages", models["ReturnsSelf"]),
                    ("explain", models["InplaceBuffer"], "nope_attr"),
                    ("report", models["ConvBN"], "--inputs", "1x5x8x8", "-o", os.devnull))
    assert_error(procs[0], 1, "'bufff'", "Did you mean 'buf'?")
    assert_error(procs[1], 1, "returns the module itself")
    assert_error(procs[2], 1, "No attribute 'nope_attr'")
    assert_error(procs[3], 1, "--inputs 1x5x8x8 does not run", "modules.py", "to have 3 channels")
    assert "Traceback" not in procs[3].stderr
