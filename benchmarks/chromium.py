"""How long headless Chromium takes to open an HTML report until it is drawn.

The clock starts just before ``page.goto`` and stops when the report's script has marked the
page ready (``<html data-fv-ready="1">``, set by web/report.js once both panes hold their
drawing) and two animation frames have passed after that, so the drawings are laid out and
painted. Each opening uses a fresh browser context (no cache) in one running browser, as a
person opens a file in a browser already open.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from tests.conftest import CHROMIUM, CHROMIUM_ARGS

# Resolves with the time since navigation started once the page is ready and painted; the
# number of pane drawings proves the condition means "drawn".
_READY = """timeoutMs => new Promise((resolve, reject) => {
  const root = document.documentElement;
  const done = () => requestAnimationFrame(() => requestAnimationFrame(() => resolve({
    ms: performance.now(),
    drawings: document.querySelectorAll('.fv-pane .fv-canvas svg').length,
  })));
  if (root.hasAttribute('data-fv-ready')) return done();
  const seen = new MutationObserver(() => {
    if (root.hasAttribute('data-fv-ready')) { seen.disconnect(); done(); }
  });
  seen.observe(root, {attributes: true, attributeFilter: ['data-fv-ready']});
  setTimeout(() => reject(new Error('the report never marked itself ready')), timeoutMs);
})"""


def _open_once(browser, uri: str, timeout_s: float) -> float:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        t0 = time.perf_counter()
        page.goto(uri, wait_until="commit", timeout=timeout_s * 1000)
        ready = page.evaluate(_READY, timeout_s * 1000)
        seconds = time.perf_counter() - t0
    finally:
        context.close()
    if errors or ready["drawings"] < 2:
        raise RuntimeError(f"{uri}: {ready['drawings']} pane drawings, page errors: {errors}")
    return seconds


def open_times(reports: dict[str, str], repeats: int, timeout_s: float = 120) -> dict[str, float]:
    """Median seconds from ``page.goto`` to drawn, for each report (name -> path)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            warm = browser.new_page()  # the browser's own start is not the report's
            warm.goto("about:blank")
            warm.close()
            return {name: statistics.median(_open_once(browser, Path(path).as_uri(), timeout_s)
                                            for _ in range(repeats))
                    for name, path in reports.items()}
        finally:
            browser.close()
