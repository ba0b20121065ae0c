"""Fixtures of the portal's browser tests: a headless Chromium (Playwright, sync API), a
real SMTP server, and ``termin360 portal worker`` sending mail to it.

Pages come from a real ``termin360 portal serve`` process (``portal_server``) on the
test database; data a test creates through the services is committed
(``transactional_db``). The worker runs as its own process on the same database
with the same environment as the server, pointed at the test's SMTP server.
"""

from __future__ import annotations

import subprocess
import sys
import time as _time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ARTIFACTS, Server, role_env, stop
from tests.portal.smtp import SmtpServer, smtp_server

__all__ = ["smtp_server"]

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def new_tab(browser: Any, server: Server, viewport: dict[str, int] = DESKTOP) -> Any:
    """A fresh browser context (German, Berlin time) and its tab; script errors are kept
    in ``tab.errors``."""
    context = browser.new_context(
        base_url=server.url, locale="de-DE", timezone_id="Europe/Berlin", viewport=viewport
    )
    context.set_default_timeout(10_000)
    tab = context.new_page()
    tab.errors = []
    tab.on("pageerror", lambda exc: tab.errors.append(str(exc)))
    return tab


@pytest.fixture
def page(browser: Any, portal_server: Server) -> Iterator[Any]:
    """A desktop tab on the portal that speaks German."""
    tab = new_tab(browser, portal_server)
    try:
        yield tab
    finally:
        tab.context.close()
    assert tab.errors == [], f"script errors on the page: {tab.errors}"


@pytest.fixture
def phone(browser: Any, portal_server: Server) -> Iterator[Any]:
    """A tab with a phone's viewport (390×844)."""
    tab = new_tab(browser, portal_server, PHONE)
    try:
        yield tab
    finally:
        tab.context.close()
    assert tab.errors == [], f"script errors on the page: {tab.errors}"


def screenshot(tab: Any, name: str) -> Path:
    """Saves a full-page screenshot to var/test-artifacts/<name>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    tab.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def portal_worker(
    portal_server: Server, smtp_server: SmtpServer, tmp_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """``termin360 portal worker`` on the portal's database, sending to ``smtp_server``."""
    env = role_env(
        "portal",
        tmp_path,
        TERMIN360_PORTAL_URL=portal_server.url,
        TERMIN360_SMTP_HOST=smtp_server.host,
        TERMIN360_SMTP_PORT=str(smtp_server.port),
    )
    log = tmp_path / "worker.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "termin360", "portal", "worker", "--poll", "0.2"],
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    _time.sleep(0.2)
    if proc.poll() is not None:
        pytest.fail(f"portal worker did not start:\n{log.read_text()}")
    try:
        yield proc
    finally:
        stop(proc)
        if proc.returncode not in (0, -15):
            print(log.read_text())
