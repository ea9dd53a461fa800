"""freezeviz benchmarks: time, memory and size as ratios against raw torch.jit.freeze, in one run.

    python benchmarks/run.py            # everything: about 10 minutes on 2 cores where
                                        # freezeviz meets its targets, longer where it does not
    python benchmarks/run.py --quick    # one process per benchmark, one browser opening
    python benchmarks/run.py --only raw_mha,freezeviz_mha   # some pyperf benchmarks only

The models are the public benchmark set (``benchmarks/models.py``). The measurements are
pyperf benchmarks (``benchmarks/bench_freeze.py``), each value in a fresh worker process, so peak
memory and caches are never shared; every ratio divides by the raw ``torch.jit.script`` (or
``torch.jit.trace``) + ``torch.jit.freeze`` of the same model measured in this run. The reports
written by ``report_<model>`` are then opened in headless Chromium (``chromium.py``), and
``benchmarks/browser.py``, where it exists, times the inspector in JupyterLab.
pyperf's own results go to benchmarks/results/pyperf.json (``python -m pyperf compare_to``
compares two such files); the table is printed and written to benchmarks/results/latest.json
(and, as the README's Markdown table, to latest.md).
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import subprocess
import sys
import time

import pyperf

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results")
sys.path.insert(0, ROOT)

from benchmarks import table  # noqa: E402  (after the repository root is importable)
from benchmarks.bench_freeze import BENCHMARKS, report_path  # noqa: E402

# Each benchmark's number of fresh processes (a full run; --quick takes one of each). Heavy ones
# take seconds per value even at torch's speed. Peak memory hardly varies from one process to
# the next, and the 48-layer report is timed only to be written: its size and its opening in
# Chromium are what have targets.
HEAVY = {"raw_transformer24", "freezeviz_transformer24", "raw_transformer48",
         "freezeviz_transformer48", "raw_bert", "freezeviz_bert"}
ONCE = {"report_transformer48", "memory_raw_resnet50", "memory_freezeviz_resnet50",
        "memory_raw_transformer48", "memory_freezeviz_transformer48"}
PROCESSES = {"light": 3, "heavy": 2, "once": 1}


def group(name: str) -> str:
    return "once" if name in ONCE else "heavy" if name in HEAVY else "light"


OPENED = ("resnet50", "transformer48")  # reports timed in Chromium


def pyperf_run(out: str, processes: int, names: list[str]) -> pyperf.BenchmarkSuite:
    if os.path.exists(out):
        os.remove(out)  # pyperf never overwrites a result file
    subprocess.run([sys.executable, os.path.join(HERE, "bench_freeze.py"), "--quiet",
                    "--processes", str(processes), "-o", out, "--only", ",".join(names),
                    "--inherit-environ", "FREEZEVIZ_BENCH_REPORT_DIR"],
                   check=True)
    return pyperf.BenchmarkSuite.load(out)


def run_pyperf(names: list[str], quick: bool) -> tuple[dict[str, float], dict[str, int]]:
    """Medians of every named benchmark, light ones first; pyperf.json holds all of them."""
    suite, processes = None, {}
    for kind in PROCESSES:
        chosen = [n for n in names if group(n) == kind]
        if not chosen:
            continue
        processes[kind] = 1 if quick else PROCESSES[kind]
        part = pyperf_run(os.path.join(RESULTS, f"pyperf-{kind}.json"), processes[kind], chosen)
        if suite is None:
            suite = part
        else:
            for bench in part:
                suite.add_benchmark(bench)
        os.remove(os.path.join(RESULTS, f"pyperf-{kind}.json"))
    if suite is None:
        return {}, processes
    suite.dump(os.path.join(RESULTS, "pyperf.json"), replace=True)
    return {b.get_name(): b.median() for b in suite}, processes


def browser_results(quick: bool) -> tuple[dict[str, float] | None, dict | None]:
    """``benchmarks/browser.py``'s ``measure`` and its ``TARGETS`` where the file exists; its
    errors propagate."""
    if not os.path.exists(os.path.join(HERE, "browser.py")):
        return None, None
    module = importlib.import_module("benchmarks.browser")
    return module.measure(quick=quick), getattr(module, "TARGETS", None)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="one process per benchmark and one browser opening, not 2-3")
    ap.add_argument("--only", help="comma-separated pyperf benchmark names (and 'browser' for "
                                   "benchmarks/browser.py); the table shows what they give")
    args = ap.parse_args()
    names = args.only.split(",") if args.only else list(BENCHMARKS)
    unknown = set(names) - set(BENCHMARKS) - {"browser"}
    if unknown:
        ap.error(f"unknown benchmarks: {', '.join(sorted(unknown))}")
    os.makedirs(RESULTS, exist_ok=True)
    os.environ["FREEZEVIZ_BENCH_REPORT_DIR"] = RESULTS
    started = time.perf_counter()

    print("pyperf benchmarks (each value in a fresh process):", file=sys.stderr, flush=True)
    values, processes = run_pyperf([n for n in names if n != "browser"], args.quick)
    sizes = {m: os.path.getsize(report_path(m)) for m in OPENED if f"report_{m}" in values}
    opened = {}
    if sizes:
        from benchmarks.chromium import open_times

        print("opening the reports in Chromium ...", file=sys.stderr, flush=True)
        opened = open_times({m: report_path(m) for m in sizes}, 1 if args.quick else 3)
    browser, targets = (browser_results(args.quick) if not args.only or "browser" in names
                        else (None, None))

    rows = table.rows(values, sizes, opened, browser, targets)
    result = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "processes": processes, "rows": rows, **table.raw_values(values),
              "report_bytes": sizes, "chromium_open_s": opened, "browser": browser,
              "wall_s": time.perf_counter() - started}
    with open(os.path.join(RESULTS, "latest.json"), "w") as f:
        json.dump(result, f, indent=2)
    with open(os.path.join(RESULTS, "latest.md"), "w") as f:
        f.write(table.markdown_table(rows) + "\n")
    print(table.format_table(rows, values, processes, result["date"]))
    print(f"\n{result['wall_s'] / 60:.1f} min; results in "
          f"{os.path.relpath(os.path.join(RESULTS, 'latest.json'))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
