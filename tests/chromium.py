"""Headless Chromium for the browser tests of both parts (Playwright, sync API).

Debian's ``chromium`` is used directly (``playwright install`` cannot download here);
where it is missing, the browser tests are skipped with that reason.

Every context opened through ``browser`` watches for Content-Security-Policy violations
(decision 016): a listener registered before any page script reports each
``securitypolicyviolation`` event to the test, and a test that used the browser fails at
teardown when any was reported. A test that provokes one on purpose takes it with
``browser.csp.take()``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = next(
    (p for p in ("/usr/bin/chromium", shutil.which("chromium")) if p and Path(p).exists()), None
)
CHROMIUM_MISSING = "no Chromium at /usr/bin/chromium or on PATH: the browser tests need one"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# Runs in every frame before the page's own scripts; the binding is the test's callback.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.__termin360_csp_violation({
    page: document.location.href,
    directive: e.effectiveDirective,
    blocked: e.blockedURI,
    source: e.sourceFile,
    line: e.lineNumber,
    sample: e.sample,
  });
}, true);
"""


class CspWatch:
    """The CSP violations the browser's pages reported, until a test takes them."""

    def __init__(self) -> None:
        self._violations: list[dict[str, Any]] = []

    def attach(self, context: Any) -> None:
        """Registers the listener in ``context`` (before any of its pages opens)."""
        context.expose_binding(
            "__termin360_csp_violation",
            lambda _source, violation: self._violations.append(violation),
        )
        context.add_init_script(CSP_LISTENER)
        real_close = context.close

        def close(**options: Any) -> None:
            # A report still on its way from a page arrives before this round trip ends.
            for tab in context.pages:
                # a crashed or closing page has nothing left to say
                with contextlib.suppress(Exception):
                    tab.evaluate("0")
            real_close(**options)

        context.close = close

    def take(self) -> list[dict[str, Any]]:
        taken, self._violations = self._violations, []
        return taken


class CspWatchedBrowser:
    """Playwright's ``Browser`` whose every new context is watched by ``csp``."""

    def __init__(self, browser: Any) -> None:
        self._browser = browser
        self.csp = CspWatch()

    def new_context(self, **options: Any) -> Any:
        context = self._browser.new_context(**options)
        self.csp.attach(context)
        return context

    def new_page(self, **options: Any) -> Any:
        return self.new_context(**options).new_page()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._browser, name)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.skip(CHROMIUM_MISSING)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop running in this thread; Django would
    # then refuse ORM calls from the test (SynchronousOnlyOperation). The test itself
    # is synchronous, so allow them while the browser lives, and only then.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                yield CspWatchedBrowser(chromium)
            finally:
                chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(autouse=True)
def no_csp_violations(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fails a test that used the browser when any page reported a CSP violation."""
    if "browser" not in request.fixturenames:
        yield
        return
    watched: CspWatchedBrowser = request.getfixturevalue("browser")
    watched.csp.take()  # a violation of an earlier test of the module was reported there
    yield
    violations = watched.csp.take()
    assert violations == [], "Content-Security-Policy violations in the browser:\n" + "\n".join(
        map(str, violations)
    )


__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "CHROMIUM_MISSING", "CspWatch", "browser"]
