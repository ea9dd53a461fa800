"""The ``freezeviz`` command, run for real in a subprocess (``python -m freezeviz`` and the
installed console script): each command, its output, and every error path."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import freezeviz

from .corpus import modules as M

REPO = Path(__file__).resolve().parent.parent

# every test starts `python -m freezeviz` (torch imports in each): seconds apiece
pytestmark = pytest.mark.slow


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
    assert re.search(r"^freezeviz( \w+)?: error: ", proc.stderr, re.M), proc.stderr  # argparse's too
    for needle in needles:
        assert needle in proc.stderr, (needle, proc.stderr)


# --- the commands --------------------------------------------------------------------------------

def test_attrs_json_matches_the_library(models):
    path = models["InplaceBuffer"]
    first, second = run_all(("attrs", path, "--json"), ("attrs", path, "--json"))
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout)  # stdout is JSON only; progress went to stderr
    assert "freezeviz: " in first.stderr
    report = freezeviz.freeze(str(path))
    assert {a["path"]: a["fate"] for a in data["attributes"]} == \
        {a.path: a.fate.value for a in report.attributes}
    assert data["attributes"][0].keys() >= {"path", "kind", "type", "fate", "why", "evidence"}
    assert data["module"] == report.module_name
    assert data["format"] == 1 and data["preserved_attrs"] == []
    # stable, so that it can be committed: sorted, no timings, no folders, same bytes each run
    assert second.stdout == first.stdout
    paths = [a["path"] for a in data["attributes"]]
    assert paths == sorted(paths)
    assert "seconds" not in first.stdout and "stages" not in data
    assert str(REPO) not in first.stdout and str(path.parent) not in first.stdout
    sources = [e["source"] for a in data["attributes"] for e in a["evidence"] if e["source"]]
    assert sources and all("/" not in s and re.fullmatch(r".+\.py:\d+", s) for s in sources)


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
    fold = out.split("=== fold_conv_bn: changed the graph", 1)[1].split("\n=== ", 1)[0]
    bn = [line[:1] for line in fold.splitlines() if "aten::batch_norm" in line]
    assert bn and set(bn) == {"-"}, fold  # the fold removes batch_norm and adds none
    assert "weight_fused_bn" in out


def test_report_from_a_file_with_inputs(models, tmp_path):
    (tmp_path / "out").mkdir()
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
    want = freezeviz.freeze(torch.jit.load(str(models["ConvBN"])),
                            example_inputs=(torch.randn(1, 3, 8, 8),))
    assert f"freezeviz: drawing {len(want.stages)} stages (" in stderr, stderr


def _views_held(page: str) -> int:
    """How many opened module views a report holds for opening boxes without a kernel."""
    data = re.search(r'<script type="application/json" id="fv-data">(.*?)</script>', page, re.S)
    return sum(len(side["views"]) for side in json.loads(data.group(1))["expand"].values())


def test_report_detail_trades_size_for_views(tmp_path):
    from freezeviz.examples import resnet_tiny
    from freezeviz.render.drawings import EXPANSIONS
    from freezeviz.render.html import render_html

    model = "freezeviz.examples:resnet_tiny"
    out = {n: tmp_path / f"detail-{n}.html" for n in ("0", "2", "default")}
    procs = run_all(("report", model, "-q", "-o", out["0"], "--detail", "0"),
                    ("report", model, "-q", "-o", out["2"], "--detail", "2"),
                    ("report", model, "-q", "-o", out["default"]),
                    ("report", model, "--detail", "-1"), ("report", "--help"))
    for proc in procs[:3]:
        assert proc.returncode == 0, proc.stderr
    pages = {n: path.read_text(encoding="utf-8") for n, path in out.items()}
    library = render_html(freezeviz.freeze(resnet_tiny()), detail=2)
    assert _views_held(pages["0"]) == 0
    assert _views_held(pages["2"]) == _views_held(library) == 2
    assert 2 < _views_held(pages["default"]) <= EXPANSIONS
    assert len(pages["0"]) < len(pages["2"]) < len(pages["default"])
    assert_error(procs[3], 2, "--detail", "0 or more")
    assert "--detail N" in procs[4].stdout and "kernel" in procs[4].stdout


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
    for cmd in ("report", "explain", "stages", "attrs", "check", "diff"):
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
    assert procs[0].returncode == 2 and procs[0].stderr.startswith("usage: freezeviz")  # the help
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


# --- where output goes ---------------------------------------------------------------------------

class PrintingNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 2)

    def forward(self, x):
        print("forward says hello")
        return self.lin(x)


def printing_net() -> torch.nn.Module:
    print("the factory says hello")
    return PrintingNet()


class NonFiniteNet(torch.nn.Module):
    def forward(self, x):
        # random integers differ between runs and x / 0 is infinite: numerics are not finite
        return torch.randint(0, 1000, (8,)), x / 0.0


def non_finite_net() -> torch.nn.Module:
    return NonFiniteNet()


def _strict_json(text: str):
    def refuse(name: str):
        raise AssertionError(f"bare {name} in JSON output")

    return json.loads(text, parse_constant=refuse)


def test_report_never_writes_over_the_model_or_other_files(models, tmp_path):
    model = tmp_path / "model.pt"
    shutil.copy(models["ConvBN"], model)
    notes = tmp_path / "notes.html"
    notes.write_text("<p>my notes</p>", encoding="utf-8")
    link = tmp_path / "link.html"
    link.symlink_to(model)
    before = model.read_bytes()
    procs = run_all(("report", model, "-o", model), ("report", model, "-o", notes),
                    ("report", model, "-o", link), cwd=tmp_path)
    assert_error(procs[0], 2, "is the model file itself")
    assert_error(procs[1], 2, "notes.html", "not a report written by freezeviz")
    assert_error(procs[2], 2, "is the model file itself")
    assert model.read_bytes() == before
    assert notes.read_text(encoding="utf-8") == "<p>my notes</p>"
    assert not list(tmp_path.glob("*.tmp*"))


def test_report_rewrites_its_own_report(models, tmp_path):
    out = tmp_path / "r.html"
    for _ in range(2):  # the second run replaces the first run's report
        proc = run("report", models["ConvBN"], "-o", out, "-q")
        assert proc.returncode == 0, proc.stderr
        assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_report_dash_means_stdout(models, tmp_path):
    proc = run("report", models["ConvBN"], "-o", "-", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("<!DOCTYPE html>") and proc.stdout.rstrip().endswith("</html>")
    assert '<meta name="generator" content="freezeviz">' in proc.stdout
    assert not (tmp_path / "-").exists()
    assert list(tmp_path.iterdir()) == []


def test_report_into_a_missing_folder_is_an_error(models, tmp_path):
    out = tmp_path / "no" / "such" / "r.html"
    proc = run("report", models["ConvBN"], "-o", out)
    assert_error(proc, 2, "does not exist", str(tmp_path / "no" / "such"))
    assert not (tmp_path / "no").exists()


def test_json_stays_json_when_the_model_prints(tmp_path):
    proc = run("attrs", "tests.test_cli:printing_net", "--json", "--inputs", "1x4", cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    data = _strict_json(proc.stdout)  # nothing but JSON on stdout
    assert data["format"] == 1
    assert "the factory says hello" in proc.stderr
    assert "forward says hello" in proc.stderr  # TorchScript's print writes to fd 1 from C++
    assert {a["path"]: a["fate"] for a in data["attributes"]}["lin.weight"] == "inlined"


def test_json_never_has_bare_nan_or_infinity():
    proc = run("attrs", "tests.test_cli:non_finite_net", "--json", "--inputs", "2x3", cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    data = _strict_json(proc.stdout)
    values = [row[k] for row in data["numerics"] for k in ("max_abs", "max_rel")]
    assert values and all(isinstance(v, (int, float)) or v in ("nan", "inf", "-inf") for v in values)
    assert any(isinstance(v, str) for v in values), values  # the non-finite case really ran
