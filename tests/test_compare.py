"""``freezeviz.compare`` and ``freezeviz diff``: the fate changes between two reports, fates
files or models, each expected change checked against the real ``torch.jit.freeze``."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import freezeviz
from freezeviz.data.baseline import FateChange, fates_document, to_json

from .test_check import Net, ReluBeforeBN, WritesCalls, cli, rows, torch_frozen
from .test_cli import _env


def test_non_finite_numerics_are_strings():
    report = freezeviz.freeze(Net(), example_inputs=torch.randn(1, 3, 6, 6))
    rows_ = report.numerics
    assert rows_, "numerics must have run"
    report = dataclasses.replace(report, numerics=(type(rows_[0])("a", "forward", math.nan, math.inf),
                                                   type(rows_[0])("b", "forward", -math.inf, 0.5)))
    text = to_json(fates_document(report))
    assert "NaN" not in text and "Infinity" not in text
    data = json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c}"))
    assert [(n["max_abs"], n["max_rel"]) for n in data["numerics"]] == [("nan", "inf"),
                                                                        ("-inf", 0.5)]


# --- the Python API --------------------------------------------------------------------------------

def test_compare_takes_reports_and_documents(tmp_path):
    old, new = freezeviz.freeze(Net()), freezeviz.freeze(WritesCalls())
    doc = json.loads(to_json(fates_document(old)))
    path = tmp_path / "fates.json"
    path.write_text(to_json(doc), encoding="utf-8")
    for a in (old, doc, path, str(path)):
        changes = freezeviz.compare(a, new)
        assert changes and len(changes) == 1
        assert changes[0] == FateChange("calls", "inlined", "preserved_mutated",
                                        new.attribute("calls").why, "buffer")
    assert not freezeviz.compare(old, doc) and not freezeviz.compare(doc, old)
    assert str(freezeviz.compare(old, doc)) == "No attribute changed fate (20 compared)."
    back = freezeviz.compare(new, old)
    assert [(c.old, c.new) for c in back] == [("preserved_mutated", "inlined")]
    text = str(back)
    assert text.splitlines()[0] == "1 of 20 attributes changed fate:"
    assert re.search(r"self\.calls\s+preserved_mutated\s+inlined\s+forward\(\) only reads it", text)
    assert not freezeviz.compare(old, new, allow={"calls": "preserved_mutated"})
    assert freezeviz.compare(old, new, allow=["calls=preserved_mutated"]).accepted
    with pytest.raises(freezeviz.FreezeError, match='no "format" key'):
        freezeviz.compare({"attributes": []}, new)
    with pytest.raises(freezeviz.FreezeError, match="takes FreezeReports"):
        freezeviz.compare(42, new)


def test_compare_reports_attributes_that_appear_or_vanish():
    old = fates_document(freezeviz.freeze(Net()))
    new = json.loads(json.dumps(old))
    gone = new["attributes"].pop(0)
    new["attributes"].append({"path": "zz_new", "fate": "inlined", "why": "new one"})
    changes = freezeviz.compare(old, new)
    assert [(c.path, c.old, c.new) for c in changes] == [(gone["path"], gone["fate"], None),
                                                         ("zz_new", None, "inlined")]
    assert "absent" in str(changes)
    assert not freezeviz.compare(old, new, allow={gone["path"]: "absent", "zz_*": "inlined"})


@pytest.mark.slow
def test_assert_not_compare_explains_itself_in_pytest(tmp_path):
    test_file = tmp_path / "test_fates_here.py"
    test_file.write_text(
        "import freezeviz\n"
        "from tests.test_check import Net, WritesCalls\n"
        "from freezeviz.data.baseline import fates_document\n\n"
        "def test_fates():\n"
        "    base = fates_document(freezeviz.freeze(Net()))\n"
        "    assert not freezeviz.compare(base, freezeviz.freeze(WritesCalls()))\n",
        encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(test_file)], capture_output=True, text=True, cwd=tmp_path,
                          env=_env(), timeout=300, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert ("AssertionError: assert not <FateChanges: 1 of 20 attributes changed fate: "
            "self.calls: inlined -> preserved_mutated>") in proc.stdout, proc.stdout


# --- diff ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("versions")
    out = {}
    for name, cls in (("v1", Net), ("v2", WritesCalls), ("v3", ReluBeforeBN)):
        out[name] = d / f"{name}.pt"
        torch.jit.save(torch.jit.script(cls().eval()), str(out[name]))
    return out


@pytest.mark.needs_dot
def test_diff_of_two_models_draws_both_sides(saved, tmp_path, capsys):
    page = tmp_path / "diff.html"
    code, out, err = cli(capsys, "diff", saved["v1"], saved["v2"], "-o", page)
    assert code == 1, err
    assert rows(out) == {"self.calls": ["inlined", "preserved_mutated"]}
    html = page.read_text(encoding="utf-8")
    assert '<meta name="generator" content="freezeviz">' in html
    assert "default-src 'none'" in html and "<script" not in html
    section = html.split('<section id="c0">')[1].split("</section>")[0]
    was, now = section.split('<div class="fv-cmp-pane">')[1:3]
    assert "<svg" in was and "<svg" in now
    assert "self.calls" in was and "prim::GetAttr" not in was  # a constant in v1
    assert "GetAttr self.calls" in now and "add_" in now  # read and written in v2
    # ground truth for the drawing's claim
    assert "prim::GetAttr" not in str(torch_frozen(Net()).graph)
    assert 'prim::GetAttr[name="calls"]' in str(torch_frozen(WritesCalls()).graph)


@pytest.mark.needs_dot
def test_diff_of_a_fold_that_stops(saved, tmp_path, capsys):
    page = tmp_path / "bn.html"
    code, out, err = cli(capsys, "diff", saved["v1"], saved["v3"], "-o", page)
    assert code == 1
    html = page.read_text(encoding="utf-8")
    section = html.split('<section id="c2">')[1].split("</section>")[0]  # bn.running_mean
    assert "self.bn.running_mean" in section
    was, now = section.split('<div class="fv-cmp-pane">')[1:3]
    assert "<svg" not in was and "No node of the final graphs reads or writes" in was
    assert "fold_conv_bn" in was
    assert "<svg" in now and "batch_norm" in now


def test_diff_of_fates_files_prints_the_table_only(saved, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    old = tmp_path / "old.json"
    old.write_text(to_json(fates_document(freezeviz.freeze(Net()))), encoding="utf-8")
    code, out, err = cli(capsys, "diff", old, saved["v2"])
    assert code == 1
    assert rows(out) == {"self.calls": ["inlined", "preserved_mutated"]}
    assert "Note: OLD is a fates file, which holds no graphs, so there are no drawings" in out
    assert not (tmp_path / "diff.html").exists()
    code, out, err = cli(capsys, "diff", old, old)
    assert code == 0 and "No attribute changed fate" in out
    assert not (tmp_path / "diff.html").exists()
