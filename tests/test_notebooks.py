"""The notebooks in notebooks/: they run top to bottom, read well when saved, match their source.

Each notebook runs in a fresh ``python3`` kernel whose working directory is a temporary
folder, so whatever a notebook writes stays out of the repository. The saved notebooks are
written by ``notebooks/build_notebooks.py``; edit them there and run it again.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
EXPECTED = [
    "01_freezing_in_five_minutes.ipynb",
    "02_why_was_my_attribute_not_inlined.ipynb",
    "03_what_the_optimization_passes_do.ipynb",
    "04_a_real_size_model.ipynb",
]
CELL_TIMEOUT = 300
MAX_NOTEBOOK_BYTES = 1_000_000
MAX_SVG_BYTES = 300_000

params = pytest.mark.parametrize("name", EXPECTED, ids=[n.split("_", 1)[0] for n in EXPECTED])


def _read(name: str):
    return nbformat.read(str(NOTEBOOK_DIR / name), as_version=4)


def _builder():
    spec = importlib.util.spec_from_file_location("build_notebooks",
                                                  NOTEBOOK_DIR / "build_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_four_notebooks_are_there():
    found = sorted(p.name for p in NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
    assert found == EXPECTED
    assert list(_builder().NOTEBOOKS) == EXPECTED


@params
def test_first_cell_is_one_markdown_sentence(name):
    first = _read(name).cells[0]
    assert first.cell_type == "markdown"
    lines = [line for line in first.source.strip().splitlines() if line.strip()]
    text = " ".join(line.strip() for line in lines if not line.startswith("#"))
    assert text, f"{name}: the first cell has a title but no sentence"
    sentences = re.split(r"(?<=[.!?])\s+(?=[A-Z`])", text)
    assert len(sentences) == 1 and text.endswith("."), \
        f"{name}: the first cell should say in one sentence what the reader learns: {text!r}"


@params
def test_saved_notebook_matches_its_source(name):
    """The .ipynb holds exactly the cells of build_notebooks.py (edit there, then rebuild)."""
    saved = [(c.cell_type, c.source) for c in _read(name).cells]
    assert saved == list(_builder().NOTEBOOKS[name]), \
        f"{name} differs from notebooks/build_notebooks.py: run `python notebooks/build_notebooks.py`"


@params
def test_saved_notebook_is_small_and_executed(name):
    path = NOTEBOOK_DIR / name
    assert path.stat().st_size < MAX_NOTEBOOK_BYTES
    nb = _read(name)
    nbformat.validate(nb)
    assert "widgets" not in nb.metadata, "widget state should not be saved"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert any(c.outputs for c in code), f"{name} was saved without outputs"
    for cell in code:
        for out in cell.outputs:
            assert out.output_type != "error", f"{name}: saved with an error in a cell"
            svg = out.get("data", {}).get("image/svg+xml", "")
            assert len(svg.encode()) <= MAX_SVG_BYTES


@pytest.mark.needs_dot
@params
def test_notebook_runs_top_to_bottom(name, tmp_path):
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    from nbclient import NotebookClient

    nb = _read(name)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    client = NotebookClient(nb, kernel_name="python3", timeout=CELL_TIMEOUT,
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any error
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors
