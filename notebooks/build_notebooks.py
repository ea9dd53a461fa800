"""Write the freezeviz notebooks from the Python source below, run them, keep small outputs.

    python notebooks/build_notebooks.py              # write and run all four notebooks
    python notebooks/build_notebooks.py 02 04        # only the notebooks whose names start so
    python notebooks/build_notebooks.py --no-execute # write them without outputs

Edit the notebooks here, not in Jupyter: ``tests/test_notebooks.py`` checks that the saved
``.ipynb`` files have exactly the cells written here. Each notebook runs in a fresh kernel
whose working directory is a temporary folder, so nothing it writes lands in the repository.
Saved outputs stay small enough to read on GitHub: drawings over ``MAX_SVG_BYTES`` and
inspector fallbacks over ``MAX_HTML_BYTES`` are replaced by a one-line note, and widget state
is dropped (the inspector's static HTML stands in for it until the notebook runs again).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
MAX_SVG_BYTES = 300_000
MAX_HTML_BYTES = 150_000
MAX_NOTEBOOK_BYTES = 1_000_000
CELL_TIMEOUT = 300
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def md(text: str) -> tuple[str, str]:
    return ("markdown", textwrap.dedent(text).strip())


def code(text: str) -> tuple[str, str]:
    return ("code", textwrap.dedent(text).strip())


# --------------------------------------------------------------------------------------------
# 01: freezing in five minutes
# --------------------------------------------------------------------------------------------
NB01 = [
    md("""
    # Freezing in five minutes

    In this notebook you will learn what `torch.jit.freeze` does to a module's attributes, on the two examples of its documentation, and how to read freezeviz's answer in the inspector and in code.
    """),
    code("""
    import inspect as pyinspect

    import torch

    import freezeviz
    from freezeviz.examples import MyModule, MyModule2

    torch.manual_seed(0);
    """),
    md("""
    ## Example 1: a Parameter and a Linear

    The documentation's first example: `forward` reads `self.weight` and calls `self.linear`,
    and nothing ever writes them.
    """),
    code("""
    print(pyinspect.getsource(MyModule))
    """),
    md("""
    `freezeviz.inspect` runs the real `torch.jit.freeze` and shows what happened: the stages
    of freezing, the graph of each stage, and every attribute with its fate and the reason.
    """),
    code("""
    freezeviz.inspect(MyModule().eval())
    """),
    md("""
    The same facts in code: `freezeviz.freeze` returns a `FreezeReport`. Both tensors (and
    the Linear's code) went into the graph as constants; the `training` flags are gone,
    because no method reads them any more.
    """),
    code("""
    report = freezeviz.freeze(MyModule().eval())
    for a in report.attributes:
        print(f"self.{a.path:<16} {a.fate.label}")
    """),
    code("""
    print(report.explain("weight"))
    """),
    md("""
    Before freezing, every call is inlined and the graph reads its tensors from `self` with
    `prim::GetAttr` (boxes, coloured by what freezing will do: blue is "inlined"):
    """),
    code("""
    report.draw("inlined")
    """),
    md("""
    After freezing, those reads are constants (cylinders). Drawn against the inlined graph,
    what the freezer put in is green:
    """),
    code("""
    report.draw("final", diff_against="inlined")
    """),
    md("""
    `report.frozen_module` is the module torch built, and `report.repro()` is the plain
    `torch.jit.freeze` call that builds it:
    """),
    code("""
    print(report.repro())
    report.frozen_module(torch.ones(3, 2))
    """),
    md("""
    ## Example 2: a mutated tensor and a preserved attribute

    The second example adds 1 to `self.modified_tensor` on every call, and preserves
    `version`, which `forward` never reads.
    """),
    code("""
    print(pyinspect.getsource(MyModule2))
    """),
    code("""
    insp = freezeviz.inspect(MyModule2(), preserved_attrs=["version"])
    insp
    """),
    md("""
    `insp.report` is the report the inspector shows. `modified_tensor` is written by
    `forward`, so it cannot become a constant; `version` stays because we asked.
    """),
    code("""
    print(insp.report.explain("modified_tensor"))
    print()
    print(insp.report.explain("version"))
    """),
    md("""
    Set `insp.preserved_attrs` to freeze again with other names (with a live kernel the
    inspector above follows). Without `preserved_attrs`, `version` is removed: nothing reads it.
    """),
    code("""
    insp.preserved_attrs = []
    print(insp.report.explain("version"))
    """),
    md("""
    The frozen graph still reads `modified_tensor` from the module and writes it back (red:
    an attribute that is written, and the nodes that write it):
    """),
    code("""
    insp.report.draw("final")
    """),
    md("""
    Next: [notebook 2](02_why_was_my_attribute_not_inlined.ipynb) debugs attributes that were
    not inlined, [notebook 3](03_what_the_optimization_passes_do.ipynb) follows the passes
    that run after freezing, and [notebook 4](04_a_real_size_model.ipynb) does all this on
    ResNet-50.
    """),
]

# --------------------------------------------------------------------------------------------
# 02: why was my attribute not inlined?
# --------------------------------------------------------------------------------------------
NB02 = [
    md("""
    # Why was my attribute not inlined?

    In this notebook you will learn to find out, with `report.explain`, why freezing kept an attribute you expected to become a constant (or dropped one you needed), and how to fix it.
    """),
    code("""
    import torch
    import torch.nn as nn

    import freezeviz

    torch.manual_seed(0);
    """),
    md("""
    ## 1. A buffer updated through a local alias

    `RunningPeak` divides by the largest value it has seen. `p = self.peak` reads like a
    local copy, but `p` *is* the buffer: `p.copy_(...)` writes it.
    """),
    code("""
    class RunningPeak(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("peak", torch.ones(4))
            self.gain = nn.Parameter(torch.full((4,), 2.0))

        def forward(self, x):
            p = self.peak
            p.copy_(torch.maximum(p, x.abs().amax(0)))
            return x * self.gain / p


    report = freezeviz.freeze(RunningPeak().eval())
    print(report.explain("peak"))
    """),
    md("""
    **Fix.** The peak was meant to be measured once, before deployment. Move the update into
    a method of its own, call it before freezing, and freeze `forward` alone: nothing in the
    frozen code writes `peak` any more, so it becomes a constant.
    """),
    code("""
    class CalibratedPeak(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("peak", torch.ones(4))
            self.gain = nn.Parameter(torch.full((4,), 2.0))

        def calibrate(self, x):
            self.peak.copy_(torch.maximum(self.peak, x.abs().amax(0)))

        def forward(self, x):
            return x * self.gain / self.peak


    model = CalibratedPeak().eval()
    model.calibrate(torch.randn(64, 4))
    report = freezeviz.freeze(model)
    print(report.explain("peak"))
    report.draw("final")
    """),
    md("""
    ## 2. A counter set in a helper method

    `forward` calls a helper that counts calls. The helper is inlined into `forward`, so its
    `self.calls += 1` is a write in `forward`, and `calls` stays module state.
    """),
    code("""
    class Scaler(nn.Module):
        def __init__(self):
            super().__init__()
            self.calls = 0
            self.scale = 2.0

        def _count(self):
            self.calls += 1

        def forward(self, x):
            self._count()
            return x * self.scale


    report = freezeviz.freeze(Scaler().eval())
    print(report.explain("calls"))
    """),
    md("""
    **Fix.** Count only in eager Python: TorchScript compiles `torch.jit.is_scripting()` as
    `True` and drops the branch, so the frozen module neither counts nor keeps `calls`.
    """),
    code("""
    class CountingInEagerOnly(nn.Module):
        def __init__(self):
            super().__init__()
            self.calls = 0
            self.scale = 2.0

        def _count(self):
            self.calls += 1

        def forward(self, x):
            if not torch.jit.is_scripting():
                self._count()
            return x * self.scale


    report = freezeviz.freeze(CountingInEagerOnly().eval())
    print(report.explain("calls"))
    report.draw("final")
    """),
    md("""
    ## 3. A submodule kept because of one mutated buffer

    Two identical heads; `forward` bumps a buffer of head `a`. Head `b` is inlined and
    disappears, but head `a` stays a submodule of the frozen module. Why?
    """),
    code("""
    class Head(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = nn.Linear(4, 4)
            self.register_buffer("extra", torch.zeros(1))

        def forward(self, x):
            return self.proj(x)


    class TwoHeads(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = Head()
            self.b = Head()

        def forward(self, x):
            self.a.extra.add_(1)
            return self.a(x) + self.b(x)


    report = freezeviz.freeze(TwoHeads().eval())
    print(report.explain("a"))
    print()
    print(report.explain("a.extra"))
    """),
    md("""
    The rest of head `a` was inlined all the same; only the module object survives, to hold
    `extra`. **Fix.** Keep mutable state where it belongs: move the counter to the module
    that updates it.
    """),
    code("""
    class TwoHeadsFixed(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = Head()
            self.b = Head()
            self.register_buffer("seen", torch.zeros(1))

        def forward(self, x):
            self.seen.add_(1)
            return self.a(x) + self.b(x)


    report = freezeviz.freeze(TwoHeadsFixed().eval())
    for path in ("a", "b", "seen"):
        print(f"self.{path:<5} {report.attribute(path).fate.label}")
    report.draw("final")
    """),
    md("""
    ## 4. An attribute used only in a method that was not preserved

    `Smoother` has a `reset` method, exported to TorchScript. Freezing keeps only `forward`
    unless told otherwise: `reset` is dropped, `avg` looks read-only and is inlined, and
    `steps` (used only by `reset`) is removed.
    """),
    code("""
    class Smoother(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("avg", torch.zeros(4))
            self.steps = 0

        def forward(self, x):
            return x - self.avg

        @torch.jit.export
        def reset(self):
            self.avg.zero_()
            self.steps = 0


    report = freezeviz.freeze(Smoother().eval())
    print(report.explain("avg"))
    print()
    print(report.explain("steps"))
    print()
    print("methods kept:", [m.name for m in report.methods if m.kept])
    """),
    md("""
    **Fix.** Preserve the method: `preserved_attrs=["reset"]`. Its writes now count, so `avg`
    and `steps` stay module state, and the frozen module still has `reset`.
    """),
    code("""
    report = freezeviz.freeze(Smoother().eval(), preserved_attrs=["reset"])
    print(report.explain("avg"))
    print()
    print("methods kept:", [m.name for m in report.methods if m.kept])
    report.draw("final", method="reset")
    """),
    md("""
    ## 5. Preserving an attribute of a submodule

    Deployment code reads `model.sub.version` after freezing, but freezing removes it:
    nothing in `forward` reads it.
    """),
    code("""
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.version = 2
            self.lin = nn.Linear(4, 4)

        def forward(self, x):
            return self.lin(x)


    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.sub = Block()

        def forward(self, x):
            return self.sub(x)


    report = freezeviz.freeze(Model().eval())
    print(report.explain("sub.version"))
    """),
    md("""
    `preserved_attrs` names are paths from the root module; a bare `"version"` does not
    name it:
    """),
    code("""
    try:
        freezeviz.freeze(Model().eval(), preserved_attrs=["version"])
    except freezeviz.FreezeError as err:
        print(err)
    """),
    md("""
    **Fix.** `preserved_attrs=["sub.version"]`. The freezer keeps `version` and, to hold it,
    the `sub` module; `sub.lin` is still inlined.
    """),
    code("""
    report = freezeviz.freeze(Model().eval(), preserved_attrs=["sub.version"])
    print(report.explain("sub"))
    print()
    print("frozen_module.sub.version =", report.frozen_module.sub.version)
    report.draw("final")
    """),
]

# --------------------------------------------------------------------------------------------
# 03: what the optimization passes do
# --------------------------------------------------------------------------------------------
NB03 = [
    md("""
    # What the optimization passes do

    In this notebook you will learn what each optimization pass that runs after freezing does to the graph, and how to check that the frozen model still computes the same numbers.
    """),
    code("""
    import torch
    import torch.nn as nn
    from IPython.display import Markdown

    import freezeviz

    torch.manual_seed(0);
    """),
    md("""
    A small network with every pattern the passes look for: a convolution followed by a
    BatchNorm, a Dropout, and two Linear layers that read the same input. A few batches in
    training mode give the BatchNorm real running statistics.
    """),
    code("""
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, padding=1)
            self.bn = nn.BatchNorm2d(8)
            self.drop = nn.Dropout(0.2)
            self.a = nn.Linear(8, 4)
            self.b = nn.Linear(8, 4)

        def forward(self, x):
            y = torch.relu(self.bn(self.conv(x)))
            y = self.drop(y.mean((2, 3)))
            return self.a(y) + self.b(y)


    net = Net()
    with torch.no_grad():
        for _ in range(5):
            net(torch.randn(16, 3, 12, 12) * 2 + 1)
    net.eval()
    x = torch.randn(2, 3, 12, 12)
    """),
    md("""
    `example_inputs` makes freezeviz run every stage's graph on `x` and compare it with the
    original module.
    """),
    code("""
    report = freezeviz.freeze(net, example_inputs=(x,))
    for s in report.stages_of():
        if "#" not in s.name:
            print(f"{s.name:<22} {'changed' if s.changed else '-':<8} {s.graph.count():>3} nodes  "
                  f"{s.description}")
    """),
    md("""
    The four folding passes run in a loop until a whole round changes nothing; the second
    round's stages (`fold_conv_bn#2`, ...) are left out above.

    ## Dropout removal

    In eval mode `self.training` is the constant `False`, so `remove_dropout` deletes the
    `aten::dropout` call (and `drop` itself was inlined):
    """),
    code("""
    print(report.diff("frozen", "remove_dropout"))
    """),
    md("""
    ## Linear concatenation

    `concat_frozen_linear` would merge `a` and `b`, which read the same input, into one
    matmul, but only for weights on CUDA. On CPU it leaves the graph alone:
    """),
    code("""
    print(report.stage("concat_frozen_linear").changed)
    """),
    md("""
    ## Conv + BatchNorm folding

    `fold_conv_bn` folds the BatchNorm into the convolution's weight and bias (new constants
    `weight_fused_bn`, `bias_fused_bn`). From `frozen` to `fold_conv_bn` the diff shows that,
    and the dropout removal before it:
    """),
    code("""
    print(report.diff("frozen", "fold_conv_bn"))
    """),
    md("""
    The frozen graph, drawn against `fold_conv_bn`: in red, what the two passes removed.
    """),
    code("""
    report.draw("frozen", diff_against="fold_conv_bn")
    """),
    md("""
    The BatchNorm's tensors are *folded*: inlined by the freezer, then merged away by a pass.
    """),
    code("""
    print(report.explain("bn.running_var"))
    """),
    md("""
    ## `optimize_numerics` on and off

    Folding changes the arithmetic (it multiplies weights by `weight / sqrt(var + eps)` once
    instead of at each call), so its results can differ in the last bits.
    `optimize_numerics=False` skips the folding passes; the BatchNorm then stays in the graph.
    """),
    code("""
    report_off = freezeviz.freeze(net, optimize_numerics=False, example_inputs=(x,))
    print("stages:", ", ".join(s.name for s in report_off.stages_of()))
    print()
    for path in ("bn.weight", "bn.running_var", "conv.weight"):
        on, off = report.attribute(path).fate, report_off.attribute(path).fate
        print(f"self.{path:<16} on: {on.label:<26} off: {off.label}")
    """),
    md("""
    ## The numbers, stage by stage

    `report.numerics` has one row per stage: the largest difference between that stage's
    output on `x` and the original module's. Only the folding moves the numbers, and only in
    the last bits of a float32.
    """),
    code("""
    def numerics_table(report):
        changed = {s.name: s.changed for s in report.stages_of()}
        rows = ["| stage | changed the graph | max abs. difference | max rel. difference |",
                "|---|---|---|---|"]
        for n in report.numerics:
            rows.append(f"| `{n.stage}` | {'yes' if changed[n.stage] else ''} "
                        f"| {n.max_abs:.1e} | {n.max_rel:.1e} |")
        return Markdown("\\n".join(rows))


    numerics_table(report_off)
    """),
    code("""
    numerics_table(report)
    """),
    md("""
    ## `optimize_for_inference=True`

    `torch.jit.optimize_for_inference` runs three more passes: `fuse_conv_add_relu` (CUDA
    only, no change on CPU), `convert_to_mkldnn` (runs the convolution on MKLDNN tensors),
    and `transpose_frozen_linear` (stores each Linear's weight transposed, so the call
    becomes `matmul` + `add`).
    """),
    code("""
    report_inf = freezeviz.freeze(net, example_inputs=(x,), optimize_for_inference=True)
    print(report_inf.final_stage().code)
    """),
    code("""
    numerics_table(report_inf)
    """),
    code("""
    report_inf.draw("final", diff_against="fuse_conv_add_relu")
    """),
]

# --------------------------------------------------------------------------------------------
# 04: a real-size model
# --------------------------------------------------------------------------------------------
NB04 = [
    md("""
    # A real-size model

    In this notebook you will learn to read the freeze of a real-size model (ResNet-50 and a transformer encoder): summaries, drawings collapsed by module, searching attributes by fate, and the HTML report.
    """),
    code("""
    import os
    import tempfile
    import time
    from collections import Counter

    import torch
    import torch.nn as nn

    import freezeviz
    from freezeviz import Fate
    from freezeviz.examples import resnet50, transformer_encoder

    torch.manual_seed(0);
    """),
    md("""
    ## ResNet-50

    `freezeviz.examples.resnet50()` is torchvision's ResNet-50 written out (no download),
    with random weights. A fresh model has many equal tensors (every BatchNorm starts at ones
    and zeros) and the freezer merges equal constants, so first give the BatchNorms
    trained-looking values.
    """),
    code("""
    model = resnet50()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.normal_(1, 0.1)
                m.bias.normal_(0, 0.1)
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)

    start = time.perf_counter()
    report = freezeviz.freeze(model)
    print(f"froze in {time.perf_counter() - start:.0f} s")
    print(report.summary())
    """),
    md("""
    The final graph has a few hundred nodes. `collapse=1` draws each top-level module
    (`layer1` ... `layer4`) as one box; `collapse=None` draws everything.
    """),
    code("""
    report.draw("final", collapse=1)
    """),
    md("""
    ## Searching

    `report.attributes` is a plain list: filter it like any other. Which attributes were
    folded away, and by which pass?
    """),
    code("""
    folded = [a for a in report.attributes if a.fate is Fate.FOLDED]
    print(len(folded), "folded attributes, by", Counter(a.folded_by for a in folded))
    print(Counter(a.path.rsplit(".", 1)[-1] for a in folded))
    print()
    print(report.explain("layer3.5.bn3.running_var"))
    """),
    md("""
    The convolution in front of each BatchNorm took its place, under a new name:
    """),
    code("""
    print(report.explain("layer3.5.conv3.weight"))
    """),
    md("""
    `highlight=` marks attributes (or nodes) in a drawing. Here the stem's BatchNorm tensors,
    just before `fold_conv_bn` folds them into `conv1`:
    """),
    code("""
    stem = {a.path for a in folded if a.path.startswith("bn1.")}
    report.draw("concat_frozen_linear", collapse=1, highlight=stem)
    """),
    md("""
    ## The HTML report

    `write_report` writes one self-contained HTML file (stages, drawings, every attribute):
    open it in a browser, or attach it to a bug report.
    """),
    code("""
    from freezeviz.render.html import write_report

    out_dir = os.path.join(tempfile.gettempdir(), "freezeviz")
    path = write_report(report, os.path.join(out_dir, "resnet50_report.html"))
    print(path, f"({os.path.getsize(path) / 1e6:.1f} MB)")
    """),
    md("""
    ## A transformer encoder

    `nn.TransformerEncoder` with 6 layers, d_model 512. Its `forward` is mostly checks that
    pick a fast path, so the graph is much bigger than ResNet-50's.
    """),
    code("""
    tf = transformer_encoder()
    start = time.perf_counter()
    report_tf = freezeviz.freeze(tf)
    print(f"froze in {time.perf_counter() - start:.0f} s")
    print(report_tf.summary())
    print(f"{report_tf.final_stage().graph.count()} nodes in the final graph")
    """),
    md("""
    Not everything became a constant: each attention layer's packed input projection
    (`in_proj_weight`, `in_proj_bias`) is still module state. torch's alias analysis sees
    in-place writes in the attention code (`masked_fill_`, list `append`s) on values that
    may alias these tensors, so it cannot prove them unwritten, and the freezer keeps them,
    exactly as plain `torch.jit.freeze` does:
    """),
    code("""
    kept = [a for a in report_tf.attributes if a.fate is Fate.PRESERVED_MUTATED]
    print(sorted({a.path.split(".", 2)[-1] for a in kept}), "in", len(kept) // 2, "layers")
    a = report_tf.attribute("layers.0.self_attn.in_proj_weight")
    print(a.why)
    print(a.evidence[0])
    frozen_attn = getattr(report_tf.frozen_module.layers, "0").self_attn
    print("still on the frozen module:", hasattr(frozen_attn, "in_proj_weight"))
    """),
    md("""
    Drawn with `collapse=0`, each encoder layer is one box (the full graph has thousands of
    nodes; `draw` collapses big graphs on its own and says so in `view.message`):
    """),
    code("""
    report_tf.draw("final", collapse=0)
    """),
]

NOTEBOOKS: dict[str, list[tuple[str, str]]] = {
    "01_freezing_in_five_minutes.ipynb": NB01,
    "02_why_was_my_attribute_not_inlined.ipynb": NB02,
    "03_what_the_optimization_passes_do.ipynb": NB03,
    "04_a_real_size_model.ipynb": NB04,
}


# --------------------------------------------------------------------------------------------
# building, running, slimming
# --------------------------------------------------------------------------------------------
def make_notebook(cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    """A notebook with these cells; cell ids are fixed, so rebuilding gives small diffs."""
    nb = new_notebook()
    for i, (kind, source) in enumerate(cells):
        cell = new_markdown_cell(source) if kind == "markdown" else new_code_cell(source)
        cell.id = f"cell-{i:02d}"
        nb.cells.append(cell)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def execute(nb: nbformat.NotebookNode, cwd: str | Path) -> nbformat.NotebookNode:
    """Run ``nb`` top to bottom in a fresh kernel started in ``cwd``; raises on any error."""
    from nbclient import NotebookClient

    client = NotebookClient(nb, kernel_name=KERNELSPEC["name"], timeout=CELL_TIMEOUT,
                            record_timing=False, resources={"metadata": {"path": str(cwd)}})
    client.execute()
    return nb


def _note(text: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_output("stream", name="stdout", text=text + "\n")


def slim(nb: nbformat.NotebookNode) -> list[str]:
    """Drop widget state and outputs too big for a saved notebook; returns what was dropped."""
    dropped = []
    nb.metadata.pop("widgets", None)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        cell.metadata.pop("execution", None)
        outputs = []
        for out in cell.get("outputs", []):
            data = out.get("data")
            if data is None:
                last = outputs[-1] if outputs else None
                if (out.get("output_type") == "stream" and last is not None
                        and last.get("output_type") == "stream" and last.name == out.name):
                    last.text += out.text  # one block of text, as Jupyter shows it
                else:
                    outputs.append(out)
                continue
            data.pop(WIDGET_MIME, None)
            out.get("metadata", {}).pop(WIDGET_MIME, None)
            svg = data.get("image/svg+xml")
            if svg is not None and len(svg.encode()) > MAX_SVG_BYTES:
                kb = len(svg.encode()) // 1000
                dropped.append(f"cell {i}: drawing of {kb} KB")
                outputs.append(_note(f"(a {kb} KB drawing, left out of the saved notebook: "
                                     "run the cell to see it)"))
                continue
            html = data.get("text/html")
            if html is not None and len(html.encode()) > MAX_HTML_BYTES:
                kb = len(html.encode()) // 1000
                dropped.append(f"cell {i}: HTML output of {kb} KB")
                outputs.append(_note(f"(a {kb} KB interactive view, left out of the saved "
                                     "notebook: run the cell to see it)"))
                continue
            if not data:
                continue
            outputs.append(out)
        cell.outputs = outputs
    return dropped


def build(name: str, execute_it: bool = True) -> dict:
    """Write notebook ``name`` (run and slimmed unless ``execute_it`` is False)."""
    nb = make_notebook(NOTEBOOKS[name])
    info: dict = {"name": name, "seconds": None, "dropped": []}
    if execute_it:
        start = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="freezeviz-nb-") as cwd:
            execute(nb, cwd)
        info["seconds"] = time.perf_counter() - start
        info["dropped"] = slim(nb)
    path = HERE / name
    nbformat.validate(nb)
    nbformat.write(nb, str(path))
    info["bytes"] = path.stat().st_size
    if info["bytes"] > MAX_NOTEBOOK_BYTES:
        info["dropped"].append(f"WARNING: {info['bytes']:,} bytes, over {MAX_NOTEBOOK_BYTES:,}")
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", help="build only notebooks whose names start so")
    parser.add_argument("--no-execute", action="store_true", help="write without running")
    args = parser.parse_args(argv)
    names = [n for n in NOTEBOOKS if not args.only or any(n.startswith(p) for p in args.only)]
    if not names:
        parser.error(f"no notebook matches {args.only}; have {', '.join(NOTEBOOKS)}")
    for name in names:
        info = build(name, execute_it=not args.no_execute)
        took = "" if info["seconds"] is None else f" in {info['seconds']:.0f} s"
        print(f"{name}: {info['bytes'] / 1000:.0f} KB{took}")
        for line in info["dropped"]:
            print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
