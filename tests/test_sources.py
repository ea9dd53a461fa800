"""Source locations and quoted code: taken from the source TorchScript keeps with the module,
pointing at the statement that does the writing, named readably for notebook cells; and the
repro snippet says how the module was obtained."""

from __future__ import annotations

import importlib.util
import linecache
import re
import sys
import uuid
import warnings

import pytest
import torch

import freezeviz
from freezeviz.data.snapshot import SourceLoc
from freezeviz.data.diff import normalize_graph_text
from tests.corpus import modules as M


def _import_file(path, monkeypatch):
    """Import ``path`` as a fresh module (unique name, so torch's type cache never mixes)."""
    name = f"fv_src_{uuid.uuid4().hex[:10]}"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, mod)
    spec.loader.exec_module(mod)
    return mod


def _line_of(path, statement: str) -> int:
    lines = path.read_text().splitlines()
    hits = [i + 1 for i, line in enumerate(lines) if line.strip() == statement]
    assert len(hits) == 1, (statement, hits)
    return hits[0]


# --- 1. quoted code comes from the module, not from whatever the file holds today ----------

WRITER = '''
import torch


class Writer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("buf", torch.zeros(3))

    def forward(self, x):
        self.buf.add_(1)
        return x + self.buf
'''

# Same number of lines; what sits on the writer's line now is a different statement.
EDITED = '''
import torch


class Writer(torch.nn.Module):
    def forward(self, x):
        return x


    def __init__(self):
        super().__init__()
        self.register_buffer("buf", torch.zeros(3))
'''


@pytest.mark.parametrize("kind", ["saved", "scripted"])
def test_evidence_quotes_the_modules_own_source_after_the_file_changed(tmp_path, monkeypatch,
                                                                       kind):
    src = tmp_path / "writer_model.py"
    src.write_text(WRITER)
    line = _line_of(src, "self.buf.add_(1)")
    scripted = torch.jit.script(_import_file(src, monkeypatch).Writer().eval())
    target = scripted
    if kind == "saved":
        target = tmp_path / "writer.pt"
        torch.jit.save(scripted, str(target))
        target = str(target)
    src.write_text(EDITED)
    linecache.clearcache()
    assert linecache.getline(str(src), line).strip() == "super().__init__()"

    report = freezeviz.freeze(target)
    buf = report.attribute("buf")
    assert buf.fate.value == "preserved_mutated"
    ev = next(e for e in buf.evidence if e.kind == "aten::add_")
    assert ev.source.line == line
    assert ev.code == "self.buf.add_(1)"
    text = report.explain("buf")
    assert "self.buf.add_(1)" in text
    assert "__init__" not in text and "super()" not in text
    assert report.to_dict()["attributes"][0]["evidence"][0]["code"] == "self.buf.add_(1)"


def test_traced_module_says_its_source_text_is_not_kept():
    report = freezeviz.freeze(torch.jit.trace(M.InplaceBuffer().eval(), (torch.randn(3),),
                                              check_trace=False))
    evs = [e for e in report.attribute("buf").evidence if e.source is not None]
    assert evs and all(e.code == "" for e in evs)
    assert "source text not kept" in report.explain("buf")


def _corpus_modules():
    import io

    from tests.corpus.cases import CASES

    for case in CASES:
        if case.error:
            continue
        model = case.make().eval()
        if case.how == "trace":
            yield torch.jit.trace(model, case.inputs(), check_trace=False)
            continue
        scripted = torch.jit.script(model)
        yield scripted
        buffer = io.BytesIO()
        torch.jit.save(scripted, buffer)
        buffer.seek(0)
        try:
            yield torch.jit.load(buffer)
        except RuntimeError:  # torch cannot load back some names it saves (quotes in keys)
            continue


def test_locations_agree_with_torchs_own_printing_across_the_corpus():
    """File, line and column as torch prints them (``# file.py:12:8``) for every node of every
    corpus module, scripted, saved and loaded, or traced; code for every scripted node."""
    from freezeviz.engine.torchscript.extract import iter_torch_nodes
    from freezeviz.engine.torchscript.sources import node_source

    printed_re = re.compile(r"# (.+):(\d+):(\d+)$")
    checked = with_code = 0
    for script in _corpus_modules():
        traced = isinstance(script, torch.jit.TopLevelTracedModule)
        for method in script._c._method_names():
            graph = script._c._get_method(method).graph.copy()
            torch._C._jit_pass_inline(graph)
            for node in iter_torch_nodes(graph):
                m = printed_re.search(str(node).split("\n", 1)[0])
                loc = node_source(node)
                printed = (m.group(1), int(m.group(2)), int(m.group(3))) if m else None
                assert (loc and (loc.file, loc.line, loc.col)) == printed, str(node)
                checked += 1
                if loc is not None and not traced:
                    assert loc.code == linecache.getline(loc.file, loc.line).strip(), loc
                    with_code += 1
    assert checked > 500 and with_code > 300, (checked, with_code)


# --- 2. an assignment's line is its own, not the line of the value it stores ---------------

FAR = '''
import warnings
from typing import List

import torch


def noop(fn):
    return fn


class Far(torch.nn.Module):
    """Docstring
    over lines.
    """

    hist: List[int]

    def __init__(self):
        super().__init__()
        self.register_buffer("buf", torch.zeros(3))
        self.cache = torch.zeros(1)
        self.flag = False
        self.count = 0
        self.hist = []

    @torch.jit.export
    @noop
    def helper(
        self,
        x: torch.Tensor,
        y: int,
    ) -> torch.Tensor:
        """Doc
        string.
        """
        z = x * y
        self.buf.mul_(2)
        self.count = self.count + 1
        return z

    def forward(self, x):
        if self.training:
            x = x + 1
        a = x.relu()
        b = a.sum(dim=0, keepdim=True) * 2
        c = b - 1
        d = c.mean()
        e = c * 3
        f = e + 4
        g = f - 5
        self.hist.append(3)
        if not self.flag:
            warnings.warn("first call")
            self.flag = True
        self.cache = d
        self.buf.add_(1)
        return self.helper(g, 2)
'''


def test_assignment_lines_are_the_assignments_own(tmp_path, monkeypatch):
    src = tmp_path / "far_model.py"
    src.write_text(FAR)
    report = freezeviz.freeze(_import_file(src, monkeypatch).Far().eval())
    expected = {
        "flag": "self.flag = True",  # stores a pooled constant first used on an earlier line
        "cache": "self.cache = d",  # stores a value computed five lines earlier
        "count": "self.count = self.count + 1",  # inside a decorated, multi-line-signature helper
        "hist": "self.hist.append(3)",
        "buf": "self.buf.add_(1)",
    }
    for attr, statement in expected.items():
        ev = report.attribute(attr).evidence[0]
        assert ev.source is not None, attr
        assert (ev.source.file, ev.source.line) == (str(src), _line_of(src, statement)), attr
        assert ev.code == statement, attr
        assert f"far_model.py:{_line_of(src, statement)}" in report.attribute(attr).why, attr
    mul = [e for e in report.attribute("buf").evidence if e.kind == "aten::mul_"]
    assert mul and mul[0].source.line == _line_of(src, "self.buf.mul_(2)")
    # torch's own freeze keeps each of them as module state, as the evidence says
    frozen = torch.jit.freeze(torch.jit.script(_import_file(src, monkeypatch).Far().eval()))
    for attr in expected:
        assert frozen._c.hasattr(attr), attr


CALLS = '''
import torch


class Sub(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.x = 0

    def forward(self, v: int) -> int:
        self.x = v
        return v + 1


class Calls(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.x = 0
        self.y = 0
        self.z = 0
        self.sub = Sub()

    def helper(self, a: int) -> int:
        b = a * 2
        self.y = b
        return b

    def forward(self, t: torch.Tensor):
        n = t.size(0)
        if n > 2:
            self.x = 1
        else:
            self.x = 2
        self.x = 3
        q = self.helper(n)
        self.z = q
        r = self.helper(q)
        self.x = 4
        self.y = r
        w = self.sub(r)
        self.x = w



        self.z = 7




        return t * w
'''


def test_assignment_lines_are_right_or_absent_never_wrong(tmp_path, monkeypatch):
    src = tmp_path / "calls_model.py"
    src.write_text(CALLS)
    report = freezeviz.freeze(_import_file(src, monkeypatch).Calls().eval())
    lines = src.read_text().splitlines()
    found = {}
    for attr in ("x", "y", "z", "sub.x"):
        info = report.attribute(attr)
        assert info.fate.value == "preserved_mutated", attr
        name = attr.rsplit(".", 1)[-1]
        for ev in info.evidence:
            assert ev.kind == "prim::SetAttr"
            if ev.source is None:
                assert "keeps no line for an assignment" in report.explain(attr)
                continue
            text = lines[ev.source.line - 1].strip()
            assert ev.code == text and re.match(rf"self\.{name} = ", text), (attr, ev.source)
            found.setdefault(attr, set()).add(text)
    # the branches and the statement after them are told apart; so is the helper's own line
    assert found["x"] >= {"self.x = 1", "self.x = 2", "self.x = 3"}
    assert "self.y = b" in found["y"]


# --- 3. repro() says how the module was obtained ------------------------------------------

def _run_repro(report, **names):
    scope = {"torch": torch, **names}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(report.repro(), scope)
    return scope["frozen"]


def _same_graph(a, b):
    # equal up to the type-name mangling torch adds on each new scripting
    return normalize_graph_text(str(a.graph)) == normalize_graph_text(str(b.graph))


def test_repro_scripts_a_scriptable_module():
    model = M.ConvBN().eval()
    report = freezeviz.freeze(model)
    assert report.obtained == "scripted" and report.to_dict()["obtained"] == "scripted"
    assert "torch.jit.script(model)" in report.repro()
    assert "torch.jit.trace" not in report.repro()
    assert _same_graph(_run_repro(report, model=model), report.frozen_module)


def test_repro_traces_a_module_that_had_to_be_traced():
    model = M.Untypable()
    inputs = (torch.randn(2),)
    report = freezeviz.freeze(model, example_inputs=inputs)
    assert report.obtained == "traced"
    text = report.repro()
    assert "torch.jit.trace(" in text and "example_inputs" in text
    assert "torch.jit.script(" not in re.sub(r"#.*", "", text)
    assert "#" in text  # says why it was traced
    frozen = _run_repro(report, model=model, example_inputs=inputs)
    assert _same_graph(frozen, report.frozen_module)


def test_repro_loads_a_saved_file(tmp_path):
    path = tmp_path / "convbn.pt"
    torch.jit.save(torch.jit.script(M.ConvBN().eval()), str(path))
    report = freezeviz.freeze(str(path))
    assert report.obtained == "loaded"
    assert f"torch.jit.load({str(path)!r}" in report.repro()
    assert "torch.jit.script" not in report.repro()
    assert _same_graph(_run_repro(report), report.frozen_module)


def test_repro_uses_a_given_script_module_as_it_is():
    script = torch.jit.script(M.IntCounter().eval())
    report = freezeviz.freeze(script, preserved_attrs=["count"])
    assert report.obtained == "given"
    text = re.sub(r"#.*", "", report.repro())
    assert "torch.jit.script" not in text and "torch.jit.load" not in text
    assert _same_graph(_run_repro(report, model=script), report.frozen_module)


# --- 4. torch's FutureWarning deprecation notice does not reach report.warnings ------------

def test_torchscript_future_warning_is_filtered(monkeypatch):
    real_script = torch.jit.script

    def script(*args, **kwargs):
        warnings.warn("`torch.jit.script` is deprecated. Please use `torch.compile` instead.",
                      FutureWarning, stacklevel=2)
        warnings.warn("something else will change", FutureWarning, stacklevel=2)
        return real_script(*args, **kwargs)

    monkeypatch.setattr(torch.jit, "script", script)
    report = freezeviz.freeze(M.IntCounter().eval())
    assert not any("deprecated" in w for w in report.warnings), report.warnings
    assert any("something else will change" in w for w in report.warnings), report.warnings


# --- 5. notebook cells ---------------------------------------------------------------------

@pytest.mark.parametrize("file, cell, short", [
    ("/tmp/ipykernel_12345/1222941837.py", None, "notebook cell, line 14"),
    ("/tmp/ipykernel_12345/1222941837.py", 3, "cell In[3], line 14"),
    ("<ipython-input-7-0123abcd>", None, "cell In[7], line 14"),
    ("/home/me/model.py", None, "model.py:14"),
])
def test_notebook_cell_locations_read_as_cells(file, cell, short):
    loc = SourceLoc(file, 14, 0, None, cell)
    assert loc.short == short
    assert "1222941837" not in str(loc)


def test_cell_number_comes_from_ipython(monkeypatch):
    from freezeviz.engine.torchscript import sources

    name = "/tmp/ipykernel_999/31415.py"

    class Compile:
        _filename_map = {name: 5}

    class Shell:
        compile = Compile()

    monkeypatch.setattr(sources, "_ipython_shell", lambda: Shell())
    assert sources.cell_number(name) == 5
    assert sources.cell_number("/tmp/ipykernel_999/27182.py") is None
    assert sources.cell_number("/home/me/model.py") is None


def test_model_defined_in_a_cell_reads_as_a_cell(tmp_path, monkeypatch):
    # a file named the way ipykernel names the cells it compiles
    cell_dir = tmp_path / "ipykernel_4242"
    cell_dir.mkdir()
    src = cell_dir / "1222941837.py"
    src.write_text(WRITER)
    report = freezeviz.freeze(_import_file(src, monkeypatch).Writer().eval())
    ev = report.attribute("buf").evidence[0]
    line = _line_of(src, "self.buf.add_(1)")
    assert ev.source.short == f"notebook cell, line {line}"
    assert "1222941837" not in report.explain("buf")
    assert f"notebook cell, line {line}" in report.attribute("buf").why
    assert ev.code == "self.buf.add_(1)"


IPYTHON_SESSION = """
import json, warnings
warnings.simplefilter("ignore")
from IPython.core.interactiveshell import InteractiveShell
from ipykernel.compiler import XCachingCompiler
shell = InteractiveShell.instance(compiler_class=XCachingCompiler, colors="NoColor")
shell.run_cell({cell!r}, store_history=True)
shell.run_cell('''
import freezeviz
report = freezeviz.freeze(Writer().eval())
ev = report.attribute("buf").evidence[0]
out = dict(short=ev.source.short, code=ev.code, file=ev.source.file,
           explain=report.explain("buf"))
''', store_history=True)
print(json.dumps(shell.user_ns["out"]))
"""


@pytest.mark.slow
def test_model_defined_in_an_ipykernel_cell(tmp_path):
    pytest.importorskip("IPython")
    pytest.importorskip("ipykernel")
    import json
    import subprocess

    script = tmp_path / "session.py"
    script.write_text(IPYTHON_SESSION.format(cell=WRITER.strip()))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=240, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    line = WRITER.strip().splitlines().index("        self.buf.add_(1)") + 1
    assert re.search(r"ipykernel_\d+", out["file"])  # the file ipykernel compiled the cell as
    assert out["short"] == f"cell In[1], line {line}"
    assert out["code"] == "self.buf.add_(1)"
    assert f"cell In[1], line {line}" in out["explain"]
    assert out["file"].rsplit("/", 1)[-1] not in out["explain"]
