"""freezeviz benchmarks: time and memory as ratios against raw torch.jit.freeze, in one run.

    python benchmarks/run.py            # everything (a few minutes on 2 cores)
    python benchmarks/run.py --quick    # fewer repeats

Each measurement runs in its own fresh Python process, so peak memory (ru_maxrss) and caches
are not shared between them. Results are printed and written to benchmarks/results/latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- one measurement per process -----------------------------------------------------------

def one(name: str) -> dict:
    warnings.simplefilter("ignore")
    import torch

    import freezeviz
    import freezeviz.engine.torchscript.run  # noqa: F401  (imports happen before timing, as torch's do)
    from freezeviz import examples

    torch.manual_seed(0)
    torch.set_num_threads(1)
    if name == "raw_resnet50":
        model = examples.resnet50()
        base = _rss_mb()
        t = time.perf_counter()
        torch.jit.freeze(torch.jit.script(model))
        return {"seconds": time.perf_counter() - t, "peak_mb": _peak_mb() - base}
    if name == "raw_transformer":
        model = examples.transformer_encoder()
        t = time.perf_counter()
        torch.jit.freeze(torch.jit.script(model))
        return {"seconds": time.perf_counter() - t}
    if name == "freezeviz_resnet50":
        model = examples.resnet50()
        base = _rss_mb()
        t = time.perf_counter()
        report = freezeviz.freeze(model)
        first = time.perf_counter() - t
        t = time.perf_counter()
        again = freezeviz.freeze(model)
        cached = time.perf_counter() - t
        assert again is report
        return {"seconds": first, "cached_seconds": cached, "peak_mb": _peak_mb() - base,
                "stages": len(report.stages), "attributes": len(report.attributes)}
    if name == "draw_resnet50":
        model = examples.resnet50()
        t = time.perf_counter()
        report = freezeviz.freeze(model)
        t_freeze = time.perf_counter() - t
        out = {"freeze_seconds": t_freeze}
        for stage in ("inlined", "final"):
            t = time.perf_counter()
            view = report.draw(stage)
            svg = view.svg
            out[f"{stage}_seconds"] = time.perf_counter() - t
            out[f"{stage}_nodes"] = view.node_count
            out[f"{stage}_svg_kb"] = len(svg) // 1024
            out[f"{stage}_message"] = view.message
        out["seconds"] = t_freeze + out["inlined_seconds"] + out["final_seconds"]
        return out
    if name == "transformer":
        model = examples.transformer_encoder()
        t = time.perf_counter()
        report = freezeviz.freeze(model)
        out = {"freeze_seconds": time.perf_counter() - t}
        for stage in ("inlined", "final"):
            view = report.draw(stage)
            t = time.perf_counter()
            _ = view.svg
            out[f"{stage}_layout_seconds"] = view.layout_seconds or time.perf_counter() - t
            out[f"{stage}_nodes"] = view.node_count
            out[f"{stage}_edges"] = view.edge_count
            out[f"{stage}_collapse"] = view.collapse
        return out
    if name == "synthetic_5000":
        from freezeviz.data.snapshot import ConstantInfo, GraphSnapshot, NodeInfo, ValueInfo
        from freezeviz.render import draw

        nodes, prev = [], "x"
        one_const = NodeInfo("n0", "prim::Constant", (), (ValueInfo("c1", "int"),),
                             constant=ConstantInfo("int", "1"))
        nodes.append(one_const)
        for i in range(1, 5001):
            kind = ("aten::add", "aten::mul", "aten::relu", "aten::conv2d")[i % 4]
            ins = (prev, "c1") if kind != "aten::relu" else (prev,)
            nodes.append(NodeInfo(f"n{i}", kind, ins, (ValueInfo(f"v{i}", "Tensor"),),
                                  scope=f"block{i // 250}.layer{(i // 50) % 5}"))
            prev = f"v{i}"
        snap = GraphSnapshot("forward", (ValueInfo("x", "Tensor"),), (prev,), tuple(nodes), "")
        t = time.perf_counter()
        view = draw(snap)
        _ = view.svg
        return {"seconds": time.perf_counter() - t, "layout_seconds": view.layout_seconds,
                "graph_nodes": len(nodes), "drawn_nodes": view.node_count,
                "drawn_edges": view.edge_count, "collapse": view.collapse,
                "message": view.message}
    if name == "inspector_resnet50":
        model = torch.jit.script(examples.resnet50())
        t = time.perf_counter()
        insp = freezeviz.inspect(model)
        open_s = time.perf_counter() - t
        t = time.perf_counter()
        insp.preserved_attrs = ["fc"]
        toggle = time.perf_counter() - t
        t = time.perf_counter()
        insp.preserved_attrs = []
        back = time.perf_counter() - t
        return {"open_seconds": open_s, "toggle_seconds": toggle, "back_seconds": back}
    if name == "cli_report_resnet50":
        out = os.path.join(HERE, "results", "resnet50_report.html")
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "freezeviz", "report", "freezeviz.examples:resnet50",
                        "-o", out], check=True, capture_output=True)
        return {"seconds": time.perf_counter() - t, "bytes": os.path.getsize(out)}
    raise SystemExit(f"unknown benchmark {name}")


def run_one(name: str) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--one", name], capture_output=True,
                          text=True, cwd=ROOT)
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def median_of(name: str, repeats: int) -> dict:
    runs = [run_one(name) for _ in range(repeats)]
    good = [r for r in runs if "error" not in r]
    if not good:
        return runs[0]
    out = dict(good[0])
    for key in good[0]:
        if isinstance(good[0][key], float):
            out[key] = statistics.median(r[key] for r in good)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--quick", action="store_true", help="one repeat instead of three")
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one)))
        return 0
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    n = 1 if args.quick else 3
    r = {}
    for name in ("raw_resnet50", "freezeviz_resnet50", "draw_resnet50"):
        print(f"running {name} x{n} ...", file=sys.stderr)
        r[name] = median_of(name, n)
    for name in ("raw_transformer", "transformer", "synthetic_5000", "inspector_resnet50",
                 "cli_report_resnet50"):
        print(f"running {name} ...", file=sys.stderr)
        r[name] = run_one(name)

    raw = r["raw_resnet50"]
    fz = r["freezeviz_resnet50"]
    dr = r["draw_resnet50"]
    ratios = {}
    if "seconds" in raw and "seconds" in fz:
        ratios["freeze / raw script+freeze (target <= 1.5)"] = fz["seconds"] / raw["seconds"]
        ratios["cached repeat / raw (target <= 0.05)"] = fz["cached_seconds"] / raw["seconds"]
        ratios["peak memory / raw (target <= 1.3)"] = fz["peak_mb"] / raw["peak_mb"]
    if "seconds" in dr and "seconds" in raw:
        ratios["freeze + 2 SVGs / raw (target <= 2.5)"] = dr["seconds"] / raw["seconds"]
    insp = r.get("inspector_resnet50", {})
    if "toggle_seconds" in insp:
        ratios["inspector toggle / raw (target <= 1.5)"] = insp["toggle_seconds"] / raw["seconds"]
        ratios["inspector switch back, ms (target <= 50)"] = insp["back_seconds"] * 1000
    tr, tr_raw = r.get("transformer", {}), r.get("raw_transformer", {})
    if "freeze_seconds" in tr and "seconds" in tr_raw:
        ratios["transformer freeze / raw (no target)"] = tr["freeze_seconds"] / tr_raw["seconds"]
    r["ratios"] = ratios
    with open(os.path.join(HERE, "results", "latest.json"), "w") as f:
        json.dump(r, f, indent=2, default=str)

    print("\nfreezeviz benchmarks (ResNet-50 unless named; medians of", n, "fresh processes)")
    print(f"  raw torch.jit.script + freeze: {raw.get('seconds', float('nan')):.2f} s, "
          f"peak +{raw.get('peak_mb', float('nan')):.0f} MB")
    for k, v in ratios.items():
        print(f"  {k:<48} {v:8.3f}")
    for name in ("transformer", "synthetic_5000", "cli_report_resnet50", "draw_resnet50"):
        print(f"  {name}: " + ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                                        for k, v in r[name].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
