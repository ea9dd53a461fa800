"""freezeviz benchmarks: time and memory as ratios against raw torch.jit.freeze, in one run.

    python benchmarks/run.py            # everything (a few minutes on 2 cores)
    python benchmarks/run.py --quick    # one process per benchmark instead of three

The measurements are pyperf benchmarks (``benchmarks/bench_freeze.py``), each value in a fresh
worker process, so peak memory and caches are never shared. pyperf's own results go to
benchmarks/results/pyperf.json (``python -m pyperf compare_to`` compares two such files); the
ratios are printed and written to benchmarks/results/latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import pyperf

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
MB = 2**20


def pyperf_run(out: str, processes: int, *extra: str) -> pyperf.BenchmarkSuite:
    if os.path.exists(out):
        os.remove(out)  # pyperf never overwrites a result file
    subprocess.run([sys.executable, os.path.join(HERE, "bench_freeze.py"), "--quiet",
                    "--processes", str(processes), "-o", out, *extra], check=True)
    return pyperf.BenchmarkSuite.load(out)


def ratios(values: dict[str, float]) -> dict[str, float]:
    """The numbers the README's table quotes, each against raw torch.jit.freeze of this run."""
    raw = values["raw_resnet50"]
    return {
        "freeze / raw script+freeze (target <= 1.5)": values["freezeviz_resnet50"] / raw,
        "cached repeat / raw (target <= 0.05)": values["freezeviz_resnet50_cached"] / raw,
        "peak memory / raw (target <= 1.3)":
            values["memory_freezeviz_resnet50"] / values["memory_raw_resnet50"],
        "freeze + 2 SVGs / raw (target <= 2.5)": values["draw_resnet50"] / raw,
        "inspector toggle / raw (target <= 1.5)": values["inspector_toggle_resnet50"] / raw,
        "inspector switch back, ms (target <= 50)": values["inspector_back_resnet50"] * 1000,
        "transformer freeze / raw (no target)":
            values["freezeviz_transformer"] / values["raw_transformer"],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one process per benchmark, not three")
    args = ap.parse_args()
    processes = 1 if args.quick else 3
    os.makedirs(RESULTS, exist_ok=True)
    report = os.path.join(RESULTS, "resnet50_report.html")
    os.environ["FREEZEVIZ_BENCH_REPORT"] = report

    print("pyperf benchmarks (each value in a fresh process):", file=sys.stderr)
    suite = pyperf_run(os.path.join(RESULTS, "pyperf.json"), processes)
    values = {b.get_name(): b.median() for b in suite}
    result = {"ratios": ratios(values),
              "seconds": {k: v for k, v in values.items() if not k.startswith("memory_")},
              "peak_growth_mb": {k: v / MB for k, v in values.items() if k.startswith("memory_")},
              "cli_report_bytes": os.path.getsize(report), "processes": processes}
    with open(os.path.join(RESULTS, "latest.json"), "w") as f:
        json.dump(result, f, indent=2)

    print(f"\nfreezeviz benchmarks (ResNet-50 unless named; medians of {processes} fresh processes)")
    print(f"  raw torch.jit.script + freeze: {values['raw_resnet50']:.2f} s, peak "
          f"+{values['memory_raw_resnet50'] / MB:.0f} MB")
    for k, v in result["ratios"].items():
        print(f"  {k:<48} {v:8.3f}")
    print(f"  draw of a synthetic 5,001-node graph: {values['draw_synthetic_5000']:.2f} s")
    print(f"  freezeviz report (CLI, whole process): {values['cli_report_resnet50']:.1f} s, "
          f"{result['cli_report_bytes'] / MB:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
