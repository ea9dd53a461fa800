"""What a newcomer sees first: the demo, the freeze's duration, the training-mode warning, and
which stages changed the graph, counted the same way by the demo, the CLI, the summary and the
HTML report."""

from __future__ import annotations

import dataclasses
import re

import pytest
import torch

import freezeviz
from freezeviz import examples
from freezeviz.data.diff import normalize_graph_text
from freezeviz.data.report import duration_text


@pytest.mark.needs_dot
def test_stages_that_changed_the_graph_agree(tmp_path, monkeypatch, capsys):
    report = freezeviz.freeze(examples.net())
    changed = [s.label for s in report.changed_stages()]

    # the definition: a stage changed the graph if it differs from the previous stage of its
    # method; `scripted` is where each method starts
    for i, s in enumerate(report.stages):
        prev = next((p for p in reversed(report.stages[:i]) if p.method == s.method), None)
        differs = prev is not None and (normalize_graph_text(prev.graph.text)
                                        != normalize_graph_text(s.graph.text))
        assert s.changed == differs, s.label
    # torch as ground truth: inlining rewrites Net's calls, and freezing ends elsewhere again
    script = torch.jit.script(examples.net())
    scripted, inlined = script.graph, script.graph.copy()
    torch._C._jit_pass_inline(inlined)
    final = torch.jit.freeze(script).graph
    assert ("inlined" in changed) == (normalize_graph_text(str(scripted))
                                      != normalize_graph_text(str(inlined)))
    assert normalize_graph_text(str(final)) != normalize_graph_text(str(inlined))
    assert "scripted" not in changed and "fold_conv_bn" in changed

    assert report.summary().endswith(f"stages that changed the graph: {', '.join(changed)}")

    from freezeviz.cli import main
    assert main(["stages", "freezeviz.examples:net"]) == 0
    cli = capsys.readouterr().out
    assert re.search(rf"\b{len(report.stages)} stages, (\d+) changed the graph", cli).group(1) \
        == str(len(changed))

    monkeypatch.chdir(tmp_path)
    examples.main()
    demo = capsys.readouterr().out
    line = next(x for x in demo.splitlines() if x.startswith("Stages:"))
    assert [n[:-1] for n in re.findall(r"[\w#:]+\*", line)] == changed
    page = (tmp_path / "out" / "demo.html").read_text()
    assert f"{len(changed)} of {len(report.stages)} changed the graph" in page


@pytest.mark.needs_dot
def test_the_demo_shows_freezing_at_work(tmp_path, monkeypatch, capsys):
    report = freezeviz.freeze(examples.net())
    fates = {a.path: a.fate.value for a in report.attributes}
    # ground truth: what torch.jit.freeze kept
    kept = {n for n, _ in torch.jit.freeze(torch.jit.script(examples.net())).named_buffers()}
    assert kept == {"calls"} and fates["calls"] == "preserved_mutated"
    assert fates["conv.weight"] == "inlined" and fates["bn.running_mean"] == "folded"
    monkeypatch.chdir(tmp_path)
    examples.main()
    out = capsys.readouterr().out
    assert "fold_conv_bn" in out and "self.calls" in out
    # MyModule2 stays available as an example
    assert freezeviz.freeze(examples.my_module2()).attribute("modified_tensor")


def test_a_fast_freeze_reads_in_milliseconds():
    assert duration_text(0.012) == "12 ms"
    assert duration_text(0.0001) == "1 ms"
    assert duration_text(1.5) == "1.50 s"
    report = dataclasses.replace(freezeviz.freeze(examples.my_module2()), seconds=0.012)
    from freezeviz.widgets.header import Header
    header = Header()
    header.show(report, None)
    assert header.status.value == "froze in 12 ms"
    from freezeviz.render.html import _header
    assert "froze in <b>12 ms</b>" in _header(report, None)


def test_training_mode_warning_names_the_root_plainly():
    report = freezeviz.freeze(examples.Net())  # left in training mode
    (warning,) = [w for w in report.warnings if "training mode" in w]
    assert "((" not in warning and "))" not in warning
    assert "training mode (the root module, conv, bn)" in warning


def test_alias_table_says_what_a_setattr_writes_through():
    from freezeviz.render.fragments import alias_table
    report = freezeviz.freeze(examples.my_module2())
    writers = [w for info in report.alias for w in info.writers]
    # ground truth: the scripted graph assigns the attribute with prim::SetAttr
    graph = torch.jit.script(examples.my_module2()).graph
    assert any(n.kind() == "prim::SetAttr" for n in graph.nodes())
    setattr_rows = [w for w in writers if "SetAttr" in w.writer]
    assert setattr_rows and all(not w.value for w in setattr_rows)
    html = alias_table(setattr_rows)
    assert ">%<" not in html and "assigned" in html
    read = [w for w in writers if w.value]
    assert read and f"%{read[0].value}<" in alias_table(read)


def _torch_node_count(block) -> int:
    return sum(1 + sum(_torch_node_count(b) for b in n.blocks()) for n in block.nodes())


@pytest.mark.needs_dot
def test_collapse_message_counts_nodes_as_the_stage_pickers_do():
    from freezeviz.render.view import draw
    report = freezeviz.freeze(examples.resnet_tiny())
    stage = report.stage("inlined")
    graph = torch.jit.script(examples.resnet_tiny()).graph.copy()
    torch._C._jit_pass_inline(graph)
    nodes = _torch_node_count(graph)
    assert stage.graph.count() == nodes  # what the pickers, tables and CLI show
    full = draw(stage.graph, collapse=None, node_budget=None, timeout=None)
    view = draw(stage.graph, node_budget=full.node_count - 1, timeout=None)
    assert f"the full drawing has {full.node_count:,} boxes" in view.message
    assert f"the graph's {nodes:,} nodes, with scalar constants" in view.message


def test_a_folder_named_freezeviz_shadowing_the_package_gets_a_clear_message(tmp_path):
    import subprocess
    import sys
    from pathlib import Path
    package = Path(freezeviz.__file__).parent
    (tmp_path / "freezeviz").mkdir()  # a clone's root: no __init__.py
    # where an editable install's finder adds the real package's files to that namespace
    portion = tmp_path / "installed" / "freezeviz"
    portion.mkdir(parents=True)
    for name in ("__main__.py", "cli", "data", "errors.py"):
        (portion / name).symlink_to(package / name)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path / "installed")}
    proc = subprocess.run([sys.executable, "-m", "freezeviz", "--help"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 1
    assert "as an empty package named freezeviz" in proc.stderr
    assert "pip install -e ." in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.needs_dot
def test_inspector_panes_say_no_change_only_after_the_starting_point():
    insp = freezeviz.inspect(examples.net())
    insp.before_stage, insp.after_stage = "scripted", "remove_dropout"
    assert not insp.report.stage("scripted").changed
    assert not insp.report.stage("remove_dropout").changed  # Net has no dropout
    assert "no change" not in insp.panes.before_info.value
    assert "no change" in insp.panes.after_info.value
