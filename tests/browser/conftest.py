"""Fixtures of the browser tests: a headless Chromium (Playwright, sync API), a page logged
in through the login form, and an HTTP client of the practice API that checks results.

The page talks to a real ``termin360 practice serve`` process (``practice_server``);
data the test creates through the services is committed (``transactional_db``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.conftest import Practice, Server, build_practice

BERLIN = ZoneInfo("Europe/Berlin")
STAFF = ("empfang", "empfang-pass-123")


@pytest.fixture
def practice_ui(practice_server: Server) -> Practice:
    """The small practice of ``tests.conftest``, committed for the server process."""
    return build_practice()


@pytest.fixture
def page(browser: Any, practice_server: Server) -> Iterator[Any]:
    """A fresh browser tab that speaks German, as a practice's computers do."""
    context = browser.new_context(
        base_url=practice_server.url,
        locale="de-DE",
        timezone_id="Europe/Berlin",
        viewport={"width": 1400, "height": 900},
    )
    context.set_default_timeout(10_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield tab
    finally:
        context.close()
    assert errors == [], f"script errors on the page: {errors}"


def log_in(page: Any, next_path: str = "/") -> None:
    """Through the login form, as a receptionist; ends on ``next_path``."""
    page.goto(f"/login/?next={next_path}")
    page.locator("#id_username").fill(STAFF[0])
    page.locator("#id_password").fill(STAFF[1])
    with page.expect_navigation():
        page.locator(".login button[type=submit]").click()


@pytest.fixture
def logged_in(page: Any, practice_ui: Practice) -> Any:
    """The tab, logged in, on the day view of the practice's first Monday."""
    log_in(page, day_path(practice_ui.monday))
    return page


def day_path(day: date, calendar: int = 1) -> str:
    return f"/calendars/{calendar}/{day.isoformat()}/"


@pytest.fixture
def http_api(practice_server: Server, practice_ui: Practice) -> Iterator[httpx.Client]:
    """The practice API over HTTP with a staff token: where every test checks its result."""
    token = httpx.post(
        f"{practice_server.url}/api/v1/auth/token",
        json={"username": STAFF[0], "password": STAFF[1]},
    )
    assert token.status_code == 201, token.text
    with httpx.Client(
        base_url=f"{practice_server.url}/api/v1",
        headers={"Authorization": f"Bearer {token.json()['token']}"},
        timeout=10,
    ) as client:
        yield client


def slot(practice: Practice, column: int, day: date, hh_mm: str) -> Any:
    """The slot of a column starting at a local time (a row of the database)."""
    from termin360.practice.models import Slot

    start = datetime.combine(day, time.fromisoformat(hh_mm), tzinfo=BERLIN)
    return Slot.objects.get(column=practice.columns[column], start=start)


def api_slot(api: httpx.Client, day: date, column: int, hh_mm: str) -> dict[str, Any]:
    """A slot as the API's day view shows it."""
    body = api.get(f"/calendars/1/days/{day.isoformat()}").raise_for_status().json()
    col = next(c for c in body["columns"] if c["number"] == column)
    return next(s for s in col["slots"] if s["start"][11:16] == hh_mm)


def is_api_call(method: str, path_end: str) -> Any:
    """A predicate for ``page.expect_response``: the page's API call ``method …path_end``
    (the query string aside)."""

    def matches(response: Any) -> bool:
        path = urlsplit(response.url).path
        return response.request.method == method and path.endswith(path_end)

    return matches
