"""Every page of the practice deployment (calendar and connector) carries the
Content-Security-Policy and the other security headers (decision 016).

The pages are read from the URL conf, so a page added later is in this test; ``PAGES``
says who opens it and with which values. A page missing there fails the test: add how
it is reached.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from tests.conftest import Practice
from tests.connector import pages_seed as seed
from tests.security_headers import Route, page_routes, security_header_problems

pytestmark = pytest.mark.django_db

BOOKING_ID = 4711


@dataclass(frozen=True)
class Fetch:
    who: str  # anonymous, staff (reception) or admin (practice admin)
    path: str  # with {monday} (the practice's first Monday) and {booking}
    status: frozenset[int]


def fetch(who: str, path: str, *status: int) -> Fetch:
    return Fetch(who, path, frozenset(status))


# GET only: a form target that takes POST alone answers its 405 page.
PAGES: dict[str, Fetch] = {
    "health": fetch("anonymous", "/health", 200),
    "health/live": fetch("anonymous", "/health/live", 200),
    "health/ready": fetch("anonymous", "/health/ready", 200, 503),
    "metrics": fetch("anonymous", "/metrics", 200, 401, 403, 404),
    "api/v1/docs": fetch("anonymous", "/api/v1/docs", 200),
    "i18n/setlang/": fetch("staff", "/i18n/setlang/", 302),
    "sync/": fetch("staff", "/sync/", 200),
    "sync/now/": fetch("admin", "/sync/now/", 405),
    "sync/settings/": fetch("admin", "/sync/settings/", 200),
    "sync/bookings/": fetch("staff", "/sync/bookings/", 200),
    "sync/bookings/<int:booking_id>/": fetch("staff", "/sync/bookings/{booking}/", 200),
    "login/": fetch("anonymous", "/login/", 200),
    "logout/": fetch("staff", "/logout/", 405),
    "": fetch("staff", "/", 302),
    "calendars/": fetch("staff", "/calendars/?calendar=1&day={monday}", 302),
    "calendars/<int:number>/<isodate:day>/": fetch("staff", "/calendars/1/{monday}/", 200),
    "calendars/<int:number>/week/<isodate:day>/": fetch(
        "staff", "/calendars/1/week/{monday}/", 200
    ),
}

ROUTES = page_routes()


@pytest.fixture
def practice_with_booking(practice: Practice) -> Practice:
    """The small practice and one online booking the connector knows (TMEX Info)."""
    mapping = seed.mapping(practice.columns[1])
    seed.booking(BOOKING_ID, seed.at(practice.monday, "09:00"), mapping=mapping)
    return practice


def client_of(who: str, practice: Practice) -> Client:
    client = Client()
    if who != "anonymous":
        client.force_login({"staff": practice.staff, "admin": practice.admin}[who])
    return client


@pytest.mark.parametrize("route", ROUTES, ids=[r.route or "/" for r in ROUTES])
def test_every_page_carries_the_security_headers(
    route: Route, practice_with_booking: Practice
) -> None:
    how = PAGES.get(route.route)
    assert how is not None, (
        f"nobody opens the page {route.route!r} ({route.name}) here: add to PAGES who opens "
        "it and with which values"
    )
    path = how.path.format(monday=practice_with_booking.monday.isoformat(), booking=BOOKING_ID)
    response = client_of(how.who, practice_with_booking).get(path)
    assert response.status_code in how.status, (path, response.status_code)
    assert security_header_problems(response) == [], path


def test_every_entry_of_the_table_is_a_page_of_the_url_conf() -> None:
    assert sorted(set(PAGES) - {r.route for r in ROUTES}) == []


@pytest.mark.parametrize("path", ["/gibt-es-nicht/", "/calendars/99/2026-01-05/"])
def test_error_pages_carry_the_security_headers(path: str, practice: Practice) -> None:
    response = client_of("staff", practice).get(path)
    assert response.status_code == 404
    assert security_header_problems(response) == []


def test_the_policy_allows_what_the_day_view_uses(practice: Practice) -> None:
    """The day view's own script and stylesheet, no inline code (CSP forbids it): the page
    config is JSON data, not a script."""
    import re

    html: Any = client_of("staff", practice).get(f"/calendars/1/{practice.monday}/").content
    page = html.decode()
    scripts = re.findall(r"<script\b[^>]*>", page)
    assert scripts and all(
        'src="/static/' in tag or 'type="application/json"' in tag for tag in scripts
    ), scripts
    assert " style=" not in page
    assert not re.search(r"\son[a-z]+=", page)
    assert "javascript:" not in page
