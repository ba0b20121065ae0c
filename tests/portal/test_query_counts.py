"""How many SQL queries the portal's hottest calls make (issue 13): a booking, a
cancellation, the connector's feed and busy calls. The numbers are pinned, so that a
query added per request — or per row, where a call handles many — fails here first.
(Search and slot listings: ``test_query_counts_search.py``.)"""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from termin360.portal.api.auth import issue_token
from tests.conftest import count_queries, queries_of
from tests.portal.conftest import World, make_patient
from tests.portal.sync_support import book_at, connector, iso
from tests.portal.test_api_bookings import bookable

# Inside a test, every atomic block is a savepoint: two more statements than in
# production (SAVEPOINT / RELEASE), counted here as they are issued. On PostgreSQL a
# change of the feed also wakes the long polls (NOTIFY): one more.
NOTIFY = 1 if connection.vendor == "postgresql" else 0
BOOKING_QUERIES = 15 + NOTIFY
CANCEL_QUERIES = 13 + NOTIFY
FEED_QUERIES = 4
BUSY_QUERIES = 9


def _patient_client(world: World, patient: Any = None) -> tuple[Client, dict[str, str]]:
    token = issue_token((patient or world.patient).user)
    return Client(), {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def test_a_booking_over_the_api_makes_a_fixed_number_of_queries(world: World) -> None:
    client, auth = _patient_client(world)

    def post(at: time) -> Any:
        body = {
            "calendar_id": world.calendar.pk,
            "visit_type_id": world.checkup.pk,
            "start": bookable(at).isoformat(),
        }
        return client.post("/api/v1/bookings", body, content_type="application/json", **auth)

    post(time(8))  # the first request of a process loads what it caches
    n, r = count_queries(lambda: post(time(9)))
    assert r.status_code == 201, r.content
    assert n == BOOKING_QUERIES, queries_of(lambda: post(time(10)))
    # More bookings of the calendar that day do not make the next one dearer.
    for minute in (15, 30, 45):
        post(time(10, minute))
    n_later, r = count_queries(lambda: post(time(11, 30)))
    assert r.status_code == 201, r.content
    assert n_later == BOOKING_QUERIES


def test_a_cancellation_over_the_api_makes_a_fixed_number_of_queries(world: World) -> None:
    client, auth = _patient_client(world)
    first = book_at(world, bookable(time(9)))
    second = book_at(world, bookable(time(10)))
    client.delete(f"/api/v1/bookings/{first.pk}", **auth)
    n, r = count_queries(lambda: client.delete(f"/api/v1/bookings/{second.pk}", **auth))
    assert r.status_code == 200, r.content
    assert n == CANCEL_QUERIES


@pytest.mark.parametrize("events", [1, 40])
def test_the_feed_page_costs_the_same_for_1_or_40_events(world: World, events: int) -> None:
    api = connector(world)
    patients = [make_patient(f"feed{k}@example.org") for k in range(events)]
    start = bookable(time(8))
    for k, patient in enumerate(patients):
        book_at(world, start + timedelta(minutes=15 * (k % 16), days=k // 16), patient)
    api.get("/events")
    n, r = count_queries(lambda: api.get("/events", after=0))
    assert r.status_code == 200 and len(r.json()["events"]) == events
    assert n == FEED_QUERIES, queries_of(lambda: api.get("/events", after=0))


@pytest.mark.parametrize("days", [1, 20])
def test_a_busy_put_costs_the_same_for_1_or_20_days(world: World, days: int) -> None:
    api = connector(world)
    first = bookable(time(9))

    def body(minutes: int) -> dict[str, Any]:
        return {
            "days": [
                {
                    "online_calendar_id": world.calendar.pk,
                    "day": (first + timedelta(days=d)).date().isoformat(),
                    "intervals": [
                        {
                            "start": iso(first + timedelta(days=d)),
                            "end": iso(first + timedelta(days=d, minutes=minutes)),
                        }
                    ],
                }
                for d in range(days)
            ]
        }

    api.put("/busy", body(30))
    n, r = count_queries(lambda: api.put("/busy", body(45)))
    assert r.status_code == 200, r.content
    assert n == BUSY_QUERIES, queries_of(lambda: api.put("/busy", body(60)))
