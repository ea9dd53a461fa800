"""Shared fixtures and markers for the freezeviz test suite.

Markers
    browser    drives headless Chromium; skipped when Chromium or playwright is missing
    slow       real-size models or notebooks
    needs_dot  needs Graphviz's ``dot`` program; skipped when it is not on PATH

Fixtures
    needs_dot       skips the test when ``dot`` is missing (same as the marker)
    chromium_path   "/usr/bin/chromium" (or $FREEZEVIZ_CHROMIUM), or skips
    chromium_args   launch flags for Chromium on a machine with no outside network
    browser_page    a fresh Playwright page in a shared headless Chromium
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
]

# torch >= 2.10 deprecates every torch.jit entry point (script, trace, freeze, save, load...):
# "`torch.jit.freeze` is deprecated. Please use `torch.compile` instead."
TORCHSCRIPT_WARNING_FILTERS = [
    r"ignore:.*torch\.jit.* is deprecated:DeprecationWarning",
    r"ignore:.*TorchScript.*:DeprecationWarning",
    r"ignore::DeprecationWarning:torch\.jit",
]

_MARKERS = {
    "browser": "drives headless Chromium (needs /usr/bin/chromium and playwright)",
    "slow": "real-size models or notebooks",
    "needs_dot": "needs Graphviz's dot program on PATH",
}

# Also outside pytest's per-test warning capture (e.g. imports at collection time).
warnings.filterwarnings("ignore", message=r".*torch\.jit.* is deprecated", category=DeprecationWarning)
warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.jit")


def pytest_configure(config: pytest.Config) -> None:
    known = {line.split(":", 1)[0].strip() for line in config.getini("markers")}
    for name, doc in _MARKERS.items():
        if name not in known:
            config.addinivalue_line("markers", f"{name}: {doc}")
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


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("needs_dot") is not None:
        reason = _dot_missing_reason()
        if reason:
            _missing(reason)
    if item.get_closest_marker("browser") is not None:
        reason = _chromium_missing_reason()
        if reason:
            _missing(reason)


@pytest.fixture
def needs_dot() -> str:
    """Skip unless Graphviz's ``dot`` is on PATH; returns its path."""
    reason = _dot_missing_reason()
    if reason:
        _missing(reason)
    return shutil.which("dot")


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


@pytest.fixture(scope="session")
def _pw_browser(chromium_path: str, chromium_args: list[str]):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=chromium_args,
                                     headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser_page(_pw_browser):
    """A new page (in its own context) of a headless Chromium shared by the session."""
    context = _pw_browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


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
