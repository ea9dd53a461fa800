#!/usr/bin/env bash
# Install what freezeviz's demo and test suite need, and only what is missing:
#   1. torch (the pinned CPU wheel, torch==2.13.0)
#   2. Graphviz's `dot` program
#   3. Chromium at /usr/bin/chromium (browser tests; optional when not root)
#   4. the package itself, editable, with its dev extras, and a `python3` Jupyter kernel
# Each step prints one line. When everything is present it takes a few seconds.
#
# Environment:
#   PYTHON                 interpreter to use (default: python, else python3)
#   FREEZEVIZ_TORCH=any    accept an already-installed torch other than 2.13.0 if it
#                          satisfies pyproject's requirement (set by environment.yml)
#   TORCH_INDEX_URL        install torch from this index (e.g. https://download.pytorch.org/whl/cpu)
#   FREEZEVIZ_CHROMIUM     browser path to check (default /usr/bin/chromium)
set -euo pipefail

TORCH_PIN="2.13.0"
TORCH_CPU_INDEX="https://download.pytorch.org/whl/cpu"
CHROMIUM="${FREEZEVIZ_CHROMIUM:-/usr/bin/chromium}"

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"
START="$(date +%s.%N)"

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: ERROR: %s\n' "$*" >&2; exit 1; }

if [[ -n "${PYTHON:-}" ]]; then PY="$PYTHON"
elif command -v python >/dev/null 2>&1; then PY=python
elif command -v python3 >/dev/null 2>&1; then PY=python3
else die "no python found (install Python >= 3.10, or set PYTHON=/path/to/python)"
fi
command -v "$PY" >/dev/null 2>&1 || die "PYTHON=$PY is not an executable"

IS_ROOT=0; [[ "$(id -u)" -eq 0 ]] && IS_ROOT=1
HAVE_APT=0; command -v apt-get >/dev/null 2>&1 && HAVE_APT=1
INSTALLED=()

PIP_FLAGS=()
[[ -t 1 ]] || PIP_FLAGS+=(--progress-bar off)

# ---------------------------------------------------------------- the one python check
# Prints key=value lines: torch version, whether it satisfies pyproject, problems with
# the package / dev extras, the python3 kernelspec state, externally-managed state.
check() {
    FREEZEVIZ_ROOT="$ROOT" "$PY" - <<'PY'
import os, sys

# `python -` puts the current directory first on sys.path: drop it, so that the repo's own
# freezeviz/ folder (or a stray freezeviz.egg-info) is not mistaken for an installed package.
sys.path[:] = [p for p in sys.path if p not in ("", os.getcwd())]

import importlib, importlib.metadata as md, importlib.util, json, shutil, sysconfig
from urllib.parse import unquote, urlparse

root = os.path.realpath(os.environ["FREEZEVIZ_ROOT"])
out = []
problems = []

try:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
    from packaging.version import Version
except ImportError:
    from pip._vendor.packaging.requirements import Requirement
    from pip._vendor.packaging.utils import canonicalize_name
    from pip._vendor.packaging.version import Version

try:
    import tomllib
except ImportError:  # Python 3.10
    try:
        import tomli as tomllib
    except ImportError:
        tomllib = None

project = {}
if tomllib is not None:
    with open(os.path.join(root, "pyproject.toml"), "rb") as f:
        project = tomllib.load(f).get("project", {})
deps = list(project.get("dependencies", ["torch>=2.1", "graphviz>=0.20", "ipywidgets>=8.0",
                                          "anywidget>=0.9"]))
extras_table = project.get("optional-dependencies", {})
todo, seen = ["dev"], set()
while todo:
    extra = todo.pop()
    if extra in seen:
        continue
    seen.add(extra)
    deps += extras_table.get(extra, ["pytest", "nbclient", "nbformat", "ipykernel", "jupyterlab",
                                     "playwright", "ruff"] if extra == "dev" else [])

# 1. torch (quietly: without numpy it warns "Failed to initialize NumPy")
import warnings
warnings.simplefilter("ignore")
torch_req = None
for d in deps:
    r = Requirement(d)
    if canonicalize_name(r.name) == "torch":
        torch_req = r
try:
    import torch
    tv = torch.__version__
    out.append(f"torch={tv}")
    base = Version(tv).base_version
    ok = torch_req is None or torch_req.specifier.contains(base, prereleases=True)
    out.append(f"torch_satisfies={int(ok)}")
except Exception as e:  # not installed, or broken
    out.append("torch=")
    out.append(f"torch_error={type(e).__name__}: {e}".replace("\n", " ")[:200])

# 4. dev extras + the package itself
for d in deps:
    r = Requirement(d)
    name = canonicalize_name(r.name)
    if name in ("torch", "freezeviz"):
        if name == "freezeviz":
            todo.extend(r.extras)
        continue
    if r.marker is not None and not r.marker.evaluate({"extra": "dev"}):
        continue
    try:
        v = md.version(r.name)
    except md.PackageNotFoundError:
        problems.append(f"{r.name} not installed")
        continue
    if r.specifier and not r.specifier.contains(v, prereleases=True):
        problems.append(f"{r.name} {v} does not satisfy {r.specifier}")

# Import the cheap ones for real; only locate the heavy ones (nbformat and jupyterlab pull in
# jsonschema, ~3 s), whose versions were checked above.
for mod in ("graphviz", "pytest", "playwright.sync_api"):
    try:
        importlib.import_module(mod)
    except Exception as e:
        problems.append(f"import {mod} failed ({type(e).__name__}: {e})".replace("\n", " "))
for mod in ("nbclient", "nbformat", "ipykernel", "jupyterlab", "anywidget", "ipywidgets"):
    try:
        if importlib.util.find_spec(mod) is None:
            problems.append(f"module {mod} not found")
    except Exception as e:
        problems.append(f"module {mod} not found ({type(e).__name__})")

try:
    dist = md.distribution("freezeviz")
    info = json.loads(dist.read_text("direct_url.json") or "{}")
    url = info.get("url", "")
    where = os.path.realpath(unquote(urlparse(url).path)) if url.startswith("file:") else ""
    if not info.get("dir_info", {}).get("editable") or where != root:
        problems.append(f"freezeviz installed from {url or 'an index'}, not editable from {root}")
    elif project.get("version") and dist.version != project["version"]:
        problems.append(f"freezeviz metadata {dist.version} is stale (pyproject says {project['version']})")
    else:
        scripts_dir = sysconfig.get_path("scripts")
        for script in project.get("scripts", {}):
            if not (os.path.exists(os.path.join(scripts_dir, script)) or shutil.which(script)):
                problems.append(f"console script {script} missing")
except md.PackageNotFoundError:
    problems.append("freezeviz not installed")

for p in problems:
    out.append(f"problem={p}")

# python3 kernelspec (what `jupyter kernelspec list` shows), found the way jupyter_client
# does but without importing it (that pulls in IPython): the first kernels/python3/kernel.json
# on the Jupyter path, else ipykernel's built-in spec, which runs this interpreter.
try:
    from jupyter_core.paths import jupyter_path
    spec_file = next((f for f in (os.path.join(d, "python3", "kernel.json")
                                  for d in jupyter_path("kernels")) if os.path.isfile(f)), None)
    if spec_file is None:
        out.append("kernel=ok" if importlib.util.find_spec("ipykernel") else "kernel=missing")
    else:
        with open(spec_file) as f:
            exe = json.load(f)["argv"][0]
        same = (not os.path.isabs(exe)
                or os.path.realpath(exe) == os.path.realpath(sys.executable))
        out.append("kernel=ok" if same else f"kernel=other {exe}")
except Exception:
    out.append("kernel=unknown")

stdlib = sysconfig.get_path("stdlib")
managed = (os.path.exists(os.path.join(stdlib, "EXTERNALLY-MANAGED"))
           and sys.prefix == getattr(sys, "base_prefix", sys.prefix))
out.append(f"extmanaged={int(managed)}")
out.append(f"python={sys.executable} {sys.version.split()[0]}")
print("\n".join(out))
PY
}

parse() {
    TORCH_VER=""; TORCH_OK=0; TORCH_ERR=""; KERNEL="unknown"; EXTMANAGED=0; PYINFO=""; PROBLEMS=()
    local k v
    while IFS='=' read -r k v; do
        case "$k" in
            torch) TORCH_VER="$v" ;;
            torch_satisfies) TORCH_OK="$v" ;;
            torch_error) TORCH_ERR="$v" ;;
            problem) PROBLEMS+=("$v") ;;
            kernel) KERNEL="$v" ;;
            extmanaged) EXTMANAGED="$v" ;;
            python) PYINFO="$v" ;;
        esac
    done <<<"$1"
}

OUT="$(check)" || die "the environment check failed to run with $PY (see the error above)"
parse "$OUT"

pip_ok_or_die() {
    # pip refuses to touch a distro-managed Python (PEP 668): allowed in CI, else ask for a venv.
    if [[ "$EXTMANAGED" == 1 && -z "${PIP_BREAK_SYSTEM_PACKAGES:-}" ]]; then
        if [[ "${CI:-}" == "true" ]]; then
            export PIP_BREAK_SYSTEM_PACKAGES=1
        else
            die "$PY is managed by the OS and pip may not install into it. Use a virtual environment:
    python3 -m venv .venv && . .venv/bin/activate && make setup"
        fi
    fi
}

rehash() { if command -v pyenv >/dev/null 2>&1; then pyenv rehash >/dev/null 2>&1 || true; fi; }

APT_UPDATED=0
apt_install() {
    local try
    if [[ "$APT_UPDATED" == 0 ]]; then
        for try in 1 2 3; do
            DEBIAN_FRONTEND=noninteractive apt-get update -qq && break
            [[ "$try" == 3 ]] && die "apt-get update failed"
            sleep 5
        done
        APT_UPDATED=1
    fi
    for try in 1 2 3; do
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" && return 0
        sleep 5
    done
    die "apt-get install $* failed"
}

# ---------------------------------------------------------------- 1. torch
if [[ -n "$TORCH_VER" && "${TORCH_VER%%+*}" == "$TORCH_PIN" ]]; then
    say "[1/4] torch $TORCH_VER present"
elif [[ -n "$TORCH_VER" && "${FREEZEVIZ_TORCH:-}" == "any" && "$TORCH_OK" == 1 ]]; then
    say "[1/4] torch $TORCH_VER present (FREEZEVIZ_TORCH=any; the suite is pinned against $TORCH_PIN)"
else
    if [[ -n "$TORCH_VER" ]]; then why="torch $TORCH_VER found, want $TORCH_PIN"
    elif [[ -n "$TORCH_ERR" ]]; then why="torch not importable ($TORCH_ERR)"
    else why="torch missing"; fi
    say "[1/4] $why: installing torch==$TORCH_PIN (CPU) ..."
    pip_ok_or_die
    if [[ -n "${TORCH_INDEX_URL:-}" ]]; then
        "$PY" -m pip install ${PIP_FLAGS[@]+"${PIP_FLAGS[@]}"} "torch==$TORCH_PIN" --index-url "$TORCH_INDEX_URL"
    elif ! "$PY" -m pip install ${PIP_FLAGS[@]+"${PIP_FLAGS[@]}"} "torch==$TORCH_PIN"; then
        say "      plain install failed; retrying from $TORCH_CPU_INDEX"
        "$PY" -m pip install ${PIP_FLAGS[@]+"${PIP_FLAGS[@]}"} "torch==$TORCH_PIN" --index-url "$TORCH_CPU_INDEX"
    fi
    INSTALLED+=("torch==$TORCH_PIN")
fi

# ---------------------------------------------------------------- 2. graphviz `dot`
if command -v dot >/dev/null 2>&1; then
    say "[2/4] graphviz: $(command -v dot) present"
elif [[ "$IS_ROOT" == 1 && "$HAVE_APT" == 1 ]]; then
    say "[2/4] graphviz 'dot' missing: apt-get install graphviz ..."
    apt_install graphviz
    command -v dot >/dev/null 2>&1 || die "graphviz installed but 'dot' is still not on PATH"
    INSTALLED+=(graphviz)
else
    die "[2/4] Graphviz's 'dot' program is not on PATH, and this script can only install it as root with apt-get.
Install it, then rerun:
    Debian/Ubuntu:  sudo apt-get install graphviz
    conda:          conda install -c conda-forge graphviz   (or: conda env create -f environment.yml)
    macOS:          brew install graphviz"
fi

# ---------------------------------------------------------------- 3. chromium
if [[ -x "$CHROMIUM" ]]; then
    say "[3/4] chromium: $CHROMIUM present"
elif [[ "$CHROMIUM" == /usr/bin/chromium && "$IS_ROOT" == 1 && "$HAVE_APT" == 1 ]]; then
    say "[3/4] chromium missing: apt-get install chromium fonts-dejavu-core ..."
    apt_install chromium fonts-dejavu-core
    [[ -x "$CHROMIUM" ]] || die "chromium installed but $CHROMIUM does not exist"
    INSTALLED+=(chromium)
else
    say "[3/4] WARNING: no browser at $CHROMIUM; browser tests will be skipped" \
        "(Debian/Ubuntu: sudo apt-get install chromium fonts-dejavu-core)"
fi

# ---------------------------------------------------------------- 4. package + dev extras + kernel
STEP4=()
if ((${#PROBLEMS[@]})); then
    summary="$(IFS=';'; echo "${PROBLEMS[*]:0:3}")"; summary="${summary//;/; }"
    ((${#PROBLEMS[@]} > 3)) && summary+=" (and $((${#PROBLEMS[@]} - 3)) more)"
    say "[4/4] freezeviz[dev]: $summary: pip install -e \".[dev]\" ..."
    pip_ok_or_die
    "$PY" -m pip install -q ${PIP_FLAGS[@]+"${PIP_FLAGS[@]}"} -e ".[dev]"
    rehash
    INSTALLED+=("freezeviz[dev]")
    OUT="$(check)" || die "the environment check failed after installing"
    parse "$OUT"
    ((${#PROBLEMS[@]} == 0)) || die "still missing after pip install -e \".[dev]\": $(IFS=';'; echo "${PROBLEMS[*]}")"
    STEP4+=("installed")
fi
if [[ "$KERNEL" != ok ]]; then
    "$PY" -m ipykernel install --user >/dev/null
    INSTALLED+=("python3 kernelspec")
    STEP4+=("python3 kernelspec installed (was: $KERNEL)")
fi
if ((${#STEP4[@]})); then
    say "[4/4] freezeviz[dev]: ${STEP4[*]}"
else
    say "[4/4] freezeviz (editable) with dev extras and the python3 kernel present"
fi

ELAPSED="$(awk -v s="$START" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')"
if ((${#INSTALLED[@]})); then
    say "done in ${ELAPSED}s; installed: ${INSTALLED[*]} ($PYINFO)"
else
    say "everything present (${ELAPSED}s; $PYINFO)"
fi
