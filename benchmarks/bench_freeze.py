"""The freezeviz benchmarks as a pyperf script: each value is measured in a fresh worker process.

    python benchmarks/bench_freeze.py -o results.json
    python benchmarks/bench_freeze.py -o results.json --only raw_resnet50,freezeviz_resnet50

``benchmarks/run.py`` (``make bench``) turns the results into ratios against raw
``torch.jit.freeze``. The models are the public benchmark set of ``benchmarks/models.py``:
``raw_<model>`` is ``torch.jit.script`` (or ``torch.jit.trace``) + ``torch.jit.freeze`` as a user
writes it, ``freezeviz_<model>`` is ``freezeviz.freeze`` of the same model. Every value is one
call (``loops=1``, no warm-up): a second freeze of the same model in the same process would
measure freezeviz's cache, which has its own benchmark (``freezeviz_resnet50_cached``). The
``memory_*`` benchmarks are in bytes: how far the process's peak resident memory rose above
what it held with the model built (Linux).
``report_<model>`` is ``freezeviz.freeze`` + writing the HTML report, to
``$FREEZEVIZ_BENCH_REPORT_DIR/<model>.html`` (the system's temporary folder by default).
"""

from __future__ import annotations

import gc
import os
import re
import subprocess
import sys
import tempfile
import time
import warnings

import pyperf

# run as a script from benchmarks/: the repository root makes ``benchmarks.models`` importable
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def _setup():
    warnings.simplefilter("ignore")
    import torch

    import freezeviz.engine.torchscript.run  # noqa: F401  (imported before timing, as torch is)

    torch.manual_seed(0)
    torch.set_num_threads(1)  # the same work for each value, whatever else the machine does
    return torch


def _timed(work, prepare=lambda: None):
    """A pyperf time function: ``prepare()`` untimed, then ``work(prepared)`` timed."""
    def time_func(loops):
        total = 0.0
        for _ in range(loops):
            state = prepare()
            t = time.perf_counter()
            work(state)
            total += time.perf_counter() - t
        return total
    return time_func


def _status_bytes(key: str) -> int:
    with open("/proc/self/status") as f:
        return int(re.search(rf"^{key}:\s+(\d+) kB", f.read(), re.M).group(1)) * 1024


def _peak_growth(work, prepare):
    """A pyperf "time" function whose value is bytes: the rise of peak RSS during ``work``."""
    def memory_func(loops):
        total = 0
        for _ in range(loops):
            state = prepare()
            gc.collect()
            base = _status_bytes("VmRSS")
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # the peak (VmHWM) starts again from what the process holds now
            work(state)
            total += _status_bytes("VmHWM") - base
        return total
    return memory_func


def _bench_model(name: str):
    from benchmarks.models import MODELS

    return MODELS[name]


def _built(name: str):
    """A ``prepare`` function: the model of the set and what freezeviz needs besides it."""
    def prepare():
        _setup()
        bench = _bench_model(name)
        return bench, bench.build(), bench.freeze_kwargs()
    return prepare


def _raw(state):
    import torch

    bench, model, kwargs = state
    torch.jit.freeze(bench.script(model, kwargs.get("example_kwarg_inputs")))


def _freezeviz(state):
    import freezeviz

    _, model, kwargs = state
    freezeviz.freeze(model, **kwargs)


def _frozen(name: str):
    def prepare():
        state = _built(name)()
        _freezeviz(state)
        return state
    return prepare


def _draw(state):
    import freezeviz

    _, model, kwargs = state
    report = freezeviz.freeze(model, **kwargs)
    for stage in ("inlined", "final"):
        _ = report.draw(stage).svg


def report_path(name: str) -> str:
    folder = os.environ.get("FREEZEVIZ_BENCH_REPORT_DIR") or tempfile.gettempdir()
    return os.path.join(folder, f"{name}.html")


def _report(state):
    import freezeviz
    from freezeviz.render.html import write_report

    bench, model, kwargs = state
    write_report(freezeviz.freeze(model, **kwargs), report_path(bench.name))


def _inspector(*toggles):
    """Time the last change of ``preserved_attrs`` of an open inspector, after the others."""
    def prepare():
        import torch

        import freezeviz

        _, model, _ = _built("resnet50")()
        insp = freezeviz.inspect(torch.jit.script(model))
        for preserved in toggles[:-1]:
            insp.preserved_attrs = preserved
        return insp

    def work(insp):
        insp.preserved_attrs = toggles[-1]
    return _timed(work, prepare)


def _synthetic():
    _setup()
    from freezeviz.data.snapshot import ConstantInfo, GraphSnapshot, NodeInfo, ValueInfo

    nodes, prev = [NodeInfo("n0", "prim::Constant", (), (ValueInfo("c1", "int"),),
                            constant=ConstantInfo("int", "1"))], "x"
    for i in range(1, 5001):
        kind = ("aten::add", "aten::mul", "aten::relu", "aten::conv2d")[i % 4]
        ins = (prev, "c1") if kind != "aten::relu" else (prev,)
        nodes.append(NodeInfo(f"n{i}", kind, ins, (ValueInfo(f"v{i}", "Tensor"),),
                              scope=f"block{i // 250}.layer{(i // 50) % 5}"))
        prev = f"v{i}"
    return GraphSnapshot("forward", (ValueInfo("x", "Tensor"),), (prev,), tuple(nodes), "")


def _draw_snapshot(snap):
    from freezeviz.render import draw

    _ = draw(snap).svg


def _cli_report(_):
    subprocess.run([sys.executable, "-m", "freezeviz", "report", "freezeviz.examples:resnet50",
                    "-q", "-o", report_path("cli_resnet50")], check=True, capture_output=True)


def _inductor_built(name: str):
    """A ``prepare`` function for the Inductor benchmarks: a model from freezeviz.examples and
    its example input; Dynamo's caches emptied so that every value is a first call."""
    def prepare():
        torch = _setup()
        from freezeviz import examples

        torch._dynamo.reset()
        shape = {"conv_bn_relu": (1, 3, 16, 16), "resnet_tiny": (1, 3, 32, 32)}[name]
        return getattr(examples, name)().eval(), torch.randn(*shape)
    return prepare


def _compile_first_call(state):
    """What a user's first call costs: torch.compile with freezing, code generation included
    (Inductor's on-disk kernel cache is warm after the first value: the cheaper, stricter
    comparison)."""
    import torch

    model, x = state
    with torch.no_grad(), torch._inductor.config.patch(freezing=True):
        torch.compile(model)(x)
    torch._dynamo.reset()


def _freezeviz_inductor(state):
    import freezeviz

    model, x = state
    freezeviz.freeze(model, example_inputs=(x,), backend="inductor")


INDUCTOR_SET = ("conv_bn_relu", "resnet_tiny")
SET = ("resnet50", "mobilenet_v3_small", "vit_b_16", "transformer6", "transformer24",
       "transformer48", "lstm", "mha", "bert")  # benchmarks/models.py MODELS, named here so
                                                # that listing them imports no torch
BENCHMARKS = {
    # each model's raw and freezeviz values next to each other: a ratio of values taken minutes
    # apart would carry whatever else the machine did in between
    **{f"{kind}_{m}": _timed(work, _built(m))
       for m in SET for kind, work in (("raw", _raw), ("freezeviz", _freezeviz))},
    "freezeviz_resnet50_cached": _timed(_freezeviz, _frozen("resnet50")),
    "draw_resnet50": _timed(_draw, _built("resnet50")),
    "draw_transformer6": _timed(_draw, _built("transformer6")),
    "report_resnet50": _timed(_report, _built("resnet50")),
    "report_transformer48": _timed(_report, _built("transformer48")),
    "inspector_toggle_resnet50": _inspector(["fc"]),
    "inspector_back_resnet50": _inspector(["fc"], []),
    "draw_synthetic_5000": _timed(_draw_snapshot, _synthetic),
    **{f"{kind}_{m}": _timed(work, _inductor_built(m))
       for m in INDUCTOR_SET for kind, work in (("compile_inductor", _compile_first_call),
                                                ("freezeviz_inductor", _freezeviz_inductor))},
    "cli_report_resnet50": _timed(_cli_report),
    **{f"memory_{kind}_{m}": _peak_growth(work, _built(m))
       for m in ("resnet50", "transformer48")
       for kind, work in (("raw", _raw), ("freezeviz", _freezeviz))},
}


def _forward_only(cmd, args):
    if args.only:
        cmd.extend(("--only", args.only))


def main() -> None:
    runner = pyperf.Runner(processes=3, values=1, warmups=0, loops=1, add_cmdline_args=_forward_only)
    runner.argparser.add_argument("--only", help="comma-separated benchmark names")
    args = runner.parse_args()
    for name in args.only.split(",") if args.only else BENCHMARKS:
        unit = "byte" if name.startswith("memory_") else "second"
        runner.bench_time_func(name, BENCHMARKS[name], metadata={"unit": unit})


if __name__ == "__main__":
    main()
