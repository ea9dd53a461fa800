"""The notebooks in notebooks/: they run top to bottom, and what they show when saved is what
they show when run today.

The ``.ipynb`` files are the source: edit them in Jupyter. Each notebook runs in a fresh
``python3`` kernel whose working directory is a temporary folder, so whatever a notebook writes
stays out of the repository. The run's outputs, slimmed for reading on GitHub (no widget state,
no drawing or interactive view over a size), must equal the saved ones up to timings and
temporary names; ``make notebooks`` (FREEZEVIZ_UPDATE_NOTEBOOKS=1) saves them when they differ.
"""

from __future__ import annotations

import os
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
    "05_freezing_with_torch_compile.ipynb",
]
CELL_TIMEOUT = 300
MAX_NOTEBOOK_BYTES = 1_000_000
MAX_SVG_BYTES = 300_000
MAX_HTML_BYTES = 150_000
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
# What may differ between two runs of the same code: timings, sizes, rounding errors (they
# depend on the CPU's kernels), ipykernel's cell file names.
VOLATILE = [
    (re.compile(r"\b\d(?:\.\d+)?e-\d+\b"), "TINY"),
    (re.compile(r"\b\d+(?:[.,]\d+)*\s?(s|ms|KB|MB|GB|bytes)\b"), r"N \1"),
    (re.compile(r"\b\d{6,}\.py\b"), "CELL.py"),
    (re.compile(r"\b0x[0-9a-f]+\b"), "0xADDR"),
]

params = pytest.mark.parametrize("name", EXPECTED, ids=[n.split("_", 1)[0] for n in EXPECTED])


def _read(name: str):
    return nbformat.read(str(NOTEBOOK_DIR / name), as_version=4)


def _note(text: str):
    return nbformat.v4.new_output("stream", name="stdout", text=text + "\n")


def _slim_output(out):
    """``out`` as saved: without widget views; a drawing or view too big to read, as a note."""
    data = out.get("data", {})
    data.pop(WIDGET_MIME, None)
    out.get("metadata", {}).pop(WIDGET_MIME, None)
    for mime, limit, what in (("image/svg+xml", MAX_SVG_BYTES, "drawing"),
                              ("text/html", MAX_HTML_BYTES, "interactive view")):
        size = len(data.get(mime, "").encode())
        if size > limit:
            return _note(f"(a {size // 1000} KB {what}, left out of the saved notebook: "
                         "run the cell to see it)")
    return out


def slim(nb) -> None:
    """Outputs as the saved notebook keeps them: streams merged as Jupyter shows them."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.metadata.pop("execution", None)
        outputs = []
        for out in map(_slim_output, cell.outputs):
            last = outputs[-1] if outputs else None
            if out.output_type == "stream" and last is not None and last.output_type == "stream" \
                    and last.name == out.name:
                last.text += out.text
            elif out.output_type == "stream" or out.get("data"):
                outputs.append(out)
        cell.outputs = outputs


def _stable(text: str) -> str:
    for pattern, repl in VOLATILE:
        text = pattern.sub(repl, text)
    return text


def shown(nb) -> list[list[tuple]]:
    """What each code cell shows, comparable between runs: stream text and every text
    representation; drawings and pages by their text form (``<GraphView 7 nodes, 6 edges>``)."""
    cells = []
    for cell in (c for c in nb.cells if c.cell_type == "code"):
        outs = []
        for out in cell.outputs:
            if out.output_type == "stream":
                outs.append((out.name, _stable(out.text)))
            else:
                data = out.get("data", {})
                outs.append(tuple(sorted(data)) + tuple(
                    _stable(data[m]) for m in ("text/plain", "text/markdown") if m in data))
        cells.append(outs)
    return cells


def test_the_notebooks_are_there():
    found = sorted(p.name for p in NOTEBOOK_DIR.glob("*.ipynb"))
    assert found == EXPECTED


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
def test_saved_notebook_is_small_and_executed(name):
    path = NOTEBOOK_DIR / name
    assert path.stat().st_size < MAX_NOTEBOOK_BYTES
    nb = _read(name)
    nbformat.validate(nb)
    assert "widgets" not in nb.metadata, "widget state should not be saved"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.execution_count for c in code), f"{name}: not run top to bottom"
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), \
        f"{name}: saved after running cells out of order"
    for cell in code:
        for out in cell.outputs:
            assert out.output_type != "error", f"{name}: saved with an error in a cell"
            assert WIDGET_MIME not in out.get("data", {}), f"{name}: a widget view without its state"
            svg = out.get("data", {}).get("image/svg+xml", "")
            assert len(svg.encode()) <= MAX_SVG_BYTES


@pytest.mark.slow
@pytest.mark.needs_dot
@params
def test_notebook_runs_top_to_bottom_and_shows_what_is_saved(name, tmp_path):
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    from nbclient import NotebookClient

    saved = _read(name)
    nb = _read(name)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    client = NotebookClient(nb, kernel_name="python3", timeout=CELL_TIMEOUT, record_timing=False,
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any error
    slim(nb)
    if os.environ.get("FREEZEVIZ_UPDATE_NOTEBOOKS", "") not in ("", "0"):
        nbformat.write(nb, str(NOTEBOOK_DIR / name))
        return
    assert shown(nb) == shown(saved), \
        f"{name}: the saved outputs are out of date; run `make notebooks` to save the new ones"
