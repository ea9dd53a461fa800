#!/usr/bin/env bash
# Install what the demo and the test suite need, and only what is missing, one line per step:
#   1. torch, pinned in constraints.txt (the CPU wheel)   2. Graphviz's `dot`
#   3. Chromium at /usr/bin/chromium (browser tests)      4. the package, editable, with [dev]
# pip's and apt's own output goes to $LOG, named when a step fails.
#
# Environment: PYTHON (interpreter), TORCH_INDEX_URL (take torch from this index),
# FREEZEVIZ_TORCH=any (keep an installed torch that pyproject accepts; environment.yml sets it),
# FREEZEVIZ_CHROMIUM (browser path, default /usr/bin/chromium).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PY="${PYTHON:-$(command -v python || command -v python3 || echo python3)}"
LOG="${TMPDIR:-/tmp}/freezeviz-setup.log"
CHROMIUM="${FREEZEVIZ_CHROMIUM:-/usr/bin/chromium}"
TORCH_REQ="$(grep -m1 '^torch==' constraints.txt)"
CONSTRAINTS=constraints.txt
if [[ "${FREEZEVIZ_TORCH:-}" == any ]]; then
    CONSTRAINTS="$(mktemp)"; trap 'rm -f "$CONSTRAINTS"' EXIT
    grep -v '^torch' constraints.txt >"$CONSTRAINTS"; TORCH_REQ=torch
fi
: >"$LOG"

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: ERROR: %s\n' "$*" >&2; exit 1; }
# run CMD... with its output in the log; on failure show the log's end, name it, return 1
quiet() {
    "$@" >>"$LOG" 2>&1 && return 0
    tail -n 15 "$LOG" >&2; say "'$*' failed; its whole output is in $LOG" >&2; return 1
}

# What is missing, by name: "torch" and/or "package" (nothing printed: all there). The
# requirements are pyproject's, with the dev extra, under constraints.txt.
missing() {
    "$PY" - "$CONSTRAINTS" <<'PY'
import os, sys
sys.path[:] = [p for p in sys.path if p not in ("", os.getcwd())]  # not ./freezeviz.egg-info
import importlib.metadata as md, json
from pip._vendor.packaging.requirements import Requirement
from pip._vendor import tomli
with open("pyproject.toml", "rb") as f:
    project = tomli.load(f)["project"]
pins = [ln.strip() for ln in open(sys.argv[1]) if ln.strip() and not ln.startswith("#")]
missing = set()
for spec in project["dependencies"] + project["optional-dependencies"]["dev"] + pins:
    req = Requirement(spec)
    try:
        ok = req.specifier.contains(md.version(req.name).split("+")[0], prereleases=True)
    except md.PackageNotFoundError:
        ok = False
    if not ok:
        missing.add("torch" if req.name == "torch" else "package")
try:  # the package itself, editable from here, its metadata as new as pyproject
    dist = md.distribution("freezeviz")
    url = json.loads(dist.read_text("direct_url.json") or "{}").get("url", "")
    if url.removeprefix("file://") != os.getcwd() or dist.version != project["version"]:
        missing.add("package")
except md.PackageNotFoundError:
    missing.add("package")
print(" ".join(sorted(missing)))
PY
}

pip_install() {
    # pip refuses to touch a distro-managed Python (PEP 668): allowed in CI, else ask for a venv
    if "$PY" -c 'import sys, sysconfig, os; sys.exit(sys.prefix != sys.base_prefix or not os.path.exists(
            os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")))' \
       && [[ -z "${PIP_BREAK_SYSTEM_PACKAGES:-}" ]]; then
        [[ "${CI:-}" == true ]] || die "$PY is managed by the OS and pip may not install into it. Use a
    virtual environment: python3 -m venv .venv && . .venv/bin/activate && make setup"
        export PIP_BREAK_SYSTEM_PACKAGES=1
    fi
    quiet "$PY" -m pip install --progress-bar off "$@"
}
# torch from TORCH_INDEX_URL if set, else the default index, else PyTorch's CPU index
install_torch() {
    if [[ -n "${TORCH_INDEX_URL:-}" ]]; then
        pip_install -c "$CONSTRAINTS" torch --index-url "$TORCH_INDEX_URL"
    else
        pip_install -c "$CONSTRAINTS" torch \
            || pip_install -c "$CONSTRAINTS" torch --index-url https://download.pytorch.org/whl/cpu
    fi
}

apt_install() {
    [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null || return 1
    DEBIAN_FRONTEND=noninteractive quiet apt-get update \
        && DEBIAN_FRONTEND=noninteractive quiet apt-get install -y --no-install-recommends "$@"
}

MISSING="$(missing)" || die "the check of installed packages failed with $PY"

# 1. torch first, from the CPU wheel, so that step 4 does not pull the large CUDA build
if [[ " $MISSING " == *" torch "* ]]; then
    say "[1/4] installing $TORCH_REQ (CPU) ..."
    install_torch || die "torch did not install; see $LOG"
else
    say "[1/4] torch $("$PY" -c 'import importlib.metadata as m; print(m.version("torch"))') present"
fi

# 2-3. Graphviz's dot and Chromium (browser tests; without it they skip): one apt-get line
APT=()
command -v dot >/dev/null || APT+=(graphviz)
[[ -x "$CHROMIUM" || "$CHROMIUM" != /usr/bin/chromium ]] || APT+=(chromium fonts-dejavu-core)
if ((${#APT[@]})); then
    say "[2/4] installing ${APT[*]} (apt-get) ..."
    apt_install "${APT[@]}" || say "      apt-get could not install them (needs root and apt-get)"
fi
command -v dot >/dev/null || die "Graphviz's 'dot' is not on PATH; install it (apt-get install
    graphviz, brew install graphviz, or conda env create -f environment.yml), then rerun"
say "[2/4] graphviz: $(command -v dot) present"
if [[ -x "$CHROMIUM" ]]; then
    say "[3/4] chromium: $CHROMIUM present"
else
    say "[3/4] WARNING: no browser at $CHROMIUM; browser tests will skip (apt-get install chromium)"
fi

# 4. the package with its dev extras, and a python3 Jupyter kernel running this interpreter
if [[ " $MISSING " == *" package "* ]]; then
    say "[4/4] installing freezeviz[dev] (pip install -c constraints.txt -e \".[dev]\") ..."
    pip_install -c "$CONSTRAINTS" -e ".[dev]" || die "the package did not install; see $LOG"
    [[ -z "$(missing)" ]] || die "still missing after pip install: $(missing); see $LOG"
    command -v pyenv >/dev/null && pyenv rehash >/dev/null 2>&1 || true
else
    say "[4/4] freezeviz (editable) with its dev extras present"
fi
if ! "$PY" -c 'import json, os, sys; from jupyter_core.paths import jupyter_path
specs = [os.path.join(d, "python3", "kernel.json") for d in jupyter_path("kernels")]
spec = next((s for s in specs if os.path.isfile(s)), None)
exe = json.load(open(spec))["argv"][0] if spec else sys.executable
sys.exit(os.path.isabs(exe) and os.path.realpath(exe) != os.path.realpath(sys.executable))'; then
    quiet "$PY" -m ipykernel install --user || die "no python3 Jupyter kernel; see $LOG"
    say "      python3 Jupyter kernel installed for $PY"
fi
