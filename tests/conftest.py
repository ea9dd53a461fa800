"""Shared fixtures and markers for the freezeviz test suite.

Markers (declared in pyproject.toml)
    browser    drives headless Chromium; skipped when Chromium or playwright is missing;
               always also ``slow``
    slow       takes seconds (real-size models, notebooks, subprocesses, Chromium);
               ``python -m pytest -m "not slow"`` (`make test-fast`) leaves them out
    needs_dot  needs Graphviz's ``dot`` program; skipped when it is not on PATH

Fixtures
    chromium_path   "/usr/bin/chromium" (or $FREEZEVIZ_CHROMIUM), or skips
    chromium_args   launch flags for Chromium on a machine with no outside network
    browser         the headless Chromium (a Playwright Browser) of a test module: every
                    browser test opens its pages in it
    free_port       an unused TCP port on 127.0.0.1
    screenshot_path where a test saves a picture: the test's tmp folder, or docs/img/ when
                    FREEZEVIZ_SCREENSHOTS=1 (`make screenshots`), so `make test` never rewrites
                    tracked files

With FREEZEVIZ_REQUIRE_TOOLS=1 (set by .ci/run) a missing tool fails the test instead of
skipping it, so that CI cannot pass by skipping the browser and Graphviz tests.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import warnings

import pytest

CHROMIUM = os.environ.get("FREEZEVIZ_CHROMIUM", "/usr/bin/chromium")

# Chromium's background services try to reach the internet at start; turn them off.
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--no-sandbox",
]

# torch >= 2.10 deprecates every torch.jit entry point (script, trace, freeze, save, load...):
# "`torch.jit.freeze` is deprecated. Please use `torch.compile` instead."
TORCHSCRIPT_WARNING_FILTERS = [
    r"ignore:.*torch\.jit.* is deprecated:DeprecationWarning",
    r"ignore:.*TorchScript.*:DeprecationWarning",
    r"ignore::DeprecationWarning:torch\.jit",
]

# Also outside pytest's per-test warning capture (e.g. imports at collection time).
warnings.filterwarnings("ignore", message=r".*torch\.jit.* is deprecated", category=DeprecationWarning)
warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.jit")


def pytest_configure(config: pytest.Config) -> None:
    for spec in TORCHSCRIPT_WARNING_FILTERS:
        config.addinivalue_line("filterwarnings", spec)


def _require_tools() -> bool:
    return os.environ.get("FREEZEVIZ_REQUIRE_TOOLS", "") not in ("", "0")


def _missing(reason: str) -> None:
    if _require_tools():
        pytest.fail(f"{reason} (FREEZEVIZ_REQUIRE_TOOLS is set, so this fails instead of skipping)",
                    pytrace=False)
    pytest.skip(reason)


def _dot_missing_reason() -> str | None:
    if shutil.which("dot") is None:
        return ("Graphviz's 'dot' program is not on PATH "
                "(run `make setup`, or: apt-get install graphviz / brew install graphviz)")
    return None


def _chromium_missing_reason() -> str | None:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return (f"no Chromium at {CHROMIUM} "
                "(run `make setup` as root, or: apt-get install chromium fonts-dejavu-core)")
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed (run `make setup`)"
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Starting Chromium alone takes seconds: every browser test counts as slow.
    for item in items:
        if item.get_closest_marker("browser") is not None:
            item.add_marker(pytest.mark.slow)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("needs_dot") is not None:
        reason = _dot_missing_reason()
        if reason:
            _missing(reason)
    if item.get_closest_marker("browser") is not None:
        reason = _chromium_missing_reason()
        if reason:
            _missing(reason)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Path of the Debian Chromium that Playwright drives, or skip with the reason."""
    reason = _chromium_missing_reason()
    if reason:
        _missing(reason)
    return CHROMIUM


@pytest.fixture(scope="session")
def chromium_args() -> list[str]:
    return list(CHROMIUM_ARGS)


# Module scope, not session: a test that starts its own Playwright (JupyterLab) must not run
# while another sync Playwright is still open in the same thread.
@pytest.fixture(scope="module")
def browser(chromium_path: str, chromium_args: list[str]):
    """Headless Chromium, launched once per test module; pages come from ``browser.new_page``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=chromium_path, args=chromium_args,
                                      headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def screenshot_path(tmp_path):
    """``screenshot_path("report.png")``: docs/img/report.png only when the README's pictures are
    regenerated on purpose (FREEZEVIZ_SCREENSHOTS=1); the test's tmp folder otherwise."""
    from pathlib import Path

    docs = Path(__file__).resolve().parents[1] / "docs" / "img"

    def where(name: str) -> Path:
        if os.environ.get("FREEZEVIZ_SCREENSHOTS", "") not in ("", "0"):
            docs.mkdir(parents=True, exist_ok=True)
            return docs / name
        return tmp_path / name

    return where


@pytest.fixture
def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
