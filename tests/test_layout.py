"""Where torch is allowed: data/, render/, web/ and the graph widget never import it, the engine
never imports a view, and a FreezeReport is plain data once pickled."""

from __future__ import annotations

import ast
import json
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import freezeviz
from tests.corpus import modules as M

PACKAGE = Path(freezeviz.__file__).parent
ROOT = PACKAGE.parent
TORCH_FREE = ["data", "render", "web", "widgets/graphview.py"]
VIEWS = ("freezeviz.render", "freezeviz.web", "freezeviz.widgets", "freezeviz.cli")

# Run first in each subprocess: ``import torch`` (or any torch.*) raises ImportError there.
NO_TORCH = "import sys; sys.modules['torch'] = None\n"


def _files(*parts: str) -> list[Path]:
    out = []
    for part in parts:
        p = PACKAGE / part
        out += sorted(p.rglob("*.py")) if p.is_dir() else [p]
    assert out, parts
    return out


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _imports(path: Path) -> set[str]:
    """Every module an import statement in ``path`` names, at any depth (lazy ones too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return names


def _is_under(name: str, packages) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


@pytest.mark.parametrize("path", _files(*TORCH_FREE), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_torch_free_modules_name_no_torch_import(path):
    found = {n for n in _imports(path)
             if _is_under(n, ("torch", "freezeviz.engine", "freezeviz.examples"))}
    assert not found, f"{path.name} imports {sorted(found)}"


@pytest.mark.parametrize("path", _files("engine"), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_engine_imports_no_view(path):
    found = {n for n in _imports(path) if _is_under(n, VIEWS)}
    assert not found, f"{path.name} imports {sorted(found)}"


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", NO_TORCH + code], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_torch_free_modules_import_where_torch_cannot():
    modules = [_module(p) for p in _files("data", "render", "web")]
    code = (
        "import importlib, types\n"
        "from pathlib import Path\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        # widgets/__init__ also brings the inspector, which may use torch: load graphview alone
        "import freezeviz\n"
        "pkg = types.ModuleType('freezeviz.widgets')\n"
        "pkg.__path__ = [str(Path(freezeviz.__file__).parent / 'widgets')]\n"
        "sys.modules['freezeviz.widgets'] = pkg\n"
        "importlib.import_module('freezeviz.widgets.graphview')\n"
        "print('ok', sorted(m for m, v in sys.modules.items()\n"
        "                   if v is not None and (m == 'torch' or m.startswith('torch.'))))\n"
    )
    done = _run(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ok", "[]"], done.stdout


def test_blocking_torch_really_blocks_it():
    """What the subprocess checks rest on: an import of torch fails there."""
    done = _run("import torch\n")
    assert done.returncode != 0 and "import of torch halted" in done.stderr


@pytest.mark.slow
def test_report_pickle_loads_where_torch_cannot(tmp_path):
    report = freezeviz.freeze(torch.jit.script(M.ConvBN().eval()), ["bn.running_mean"],
                              example_inputs=torch.randn(1, 3, 8, 8))
    assert report.frozen_module is not None and report.numerics
    path = tmp_path / "report.pickle"
    path.write_bytes(pickle.dumps(report))
    done = _run(
        "import json, pickle\n"
        f"r = pickle.loads(open({str(path)!r}, 'rb').read())\n"
        "assert r.frozen_module is None\n"
        "print(json.dumps({'dict': r.to_dict(), 'explain': r.explain('bn.running_var'),\n"
        "                  'code': [s.code for s in r.stages], 'diff': r.diff('frozen', 'final')}))\n")
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert got["dict"] == json.loads(json.dumps(report.to_dict()))
    assert got["explain"] == report.explain("bn.running_var")
    assert got["code"] == [s.code for s in report.stages] and "conv2d" in got["code"][-1]
    assert got["diff"] == report.diff("frozen", "final")


def test_report_round_trips_through_pickle_and_to_dict():
    report = freezeviz.freeze(torch.jit.script(M.ConvBN().eval()))
    again = pickle.loads(pickle.dumps(report))
    assert again.frozen_module is None and report.frozen_module is not None
    assert again.to_dict() == report.to_dict()
    assert json.loads(again.to_json()) == json.loads(report.to_json())
    assert again.stages == report.stages and again.attributes == report.attributes
