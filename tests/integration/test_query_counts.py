"""How many SQL queries the practice calendar's day and week views make (issue 13): one
read per kind of row — columns, appointments, slots, reservations — however many days,
columns, appointments and reservations they show. A query per (day, column) or per
appointment fails here."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.test import Client

from tests.conftest import Api, Practice, book, count_queries, queries_of, slot_id


def fill_week(api: Api, practice: Practice, monday: date) -> None:
    """Appointments in both columns on every weekday, entries of the additional list and
    a reservation over two days."""
    for d in range(5):
        day = monday + timedelta(days=d)
        for column in (1, 2):
            for at in ("08:00", "08:30", "09:15", "10:45"):
                r = book(api, slot_id(practice, column, day, at))
                assert r.status_code == 201, r.content
        r = api.post(
            "/additional-appointments", {"calendar": 1, "day": day.isoformat(), "text": "Rezept"}
        )
        assert r.status_code == 201, r.content
    r = api.post(
        "/calendars/1/reservations",
        {
            "columns": [1, 2],
            "first_day": monday.isoformat(),
            "last_day": (monday + timedelta(days=1)).isoformat(),
            "start": "11:00",
            "end": "12:00",
            "reason": "Teambesprechung",
        },
    )
    assert r.status_code == 201, r.content


# The API: the token, the calendar, then one read each of columns, appointments, slots
# and reservations.
DAY_API = WEEK_API = 6
# A page adds the session and its user, the live view's version, the page's list of
# reservations (its columns only when there are any) and the connector's status in the
# top bar; the week page reads the calendar's columns for its column menu.
DAY_PAGE, WEEK_PAGE = 18, 19


@pytest.mark.parametrize("busy", [False, True], ids=["quiet week", "busy week"])
def test_day_and_week_views_read_each_kind_of_row_once(
    api: Api, practice: Practice, busy: bool
) -> None:
    monday = practice.monday
    if busy:
        fill_week(api, practice, monday)
    day_path = f"/calendars/1/days/{monday.isoformat()}"
    week_path = f"/calendars/1/weeks/{monday.isoformat()}"
    api.get(day_path)  # warm: the first request of a process loads what it caches

    n_day, r = count_queries(lambda: api.get(day_path))
    assert r.status_code == 200, r.content
    n_week, r = count_queries(lambda: api.get(week_path))
    assert r.status_code == 200, r.content
    listed = 1 if busy else 0  # the additional list's online booking numbers, if any
    assert (n_day, n_week) == (DAY_API + listed, WEEK_API + listed), (
        queries_of(lambda: api.get(day_path)),
        queries_of(lambda: api.get(week_path)),
    )


@pytest.mark.parametrize("busy", [False, True], ids=["quiet week", "busy week"])
def test_day_and_week_pages_read_each_kind_of_row_once(
    api: Api, practice: Practice, busy: bool
) -> None:
    monday = practice.monday
    if busy:
        fill_week(api, practice, monday)
    page = Client()
    assert page.login(username="empfang", password="empfang-pass-123")
    day_path = f"/calendars/1/{monday.isoformat()}/"
    week_path = f"/calendars/1/week/{monday.isoformat()}/?column=1"
    page.get(day_path)

    n_day, r = count_queries(lambda: page.get(day_path))
    assert r.status_code == 200
    n_week, r = count_queries(lambda: page.get(week_path))
    assert r.status_code == 200
    listed = 1 if busy else 0  # the reservations' columns, read only when there are any
    assert (n_day, n_week) == (DAY_PAGE + listed, WEEK_PAGE + listed), (
        queries_of(lambda: page.get(day_path)),
        queries_of(lambda: page.get(week_path)),
    )
