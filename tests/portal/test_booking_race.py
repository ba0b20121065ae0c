"""No slot is given out twice (issue point 4).

Against a real ``termin360 portal serve`` process: 50 confirmed patients, each with
their own token and connection, book the same slot at the same moment (threads
released by one barrier). Exactly one gets 201; the other 49 get 409 ``slot_taken``
with the German "just taken" message and the next free times; nobody gets a 500;
the database holds one booking and one feed event. Then the same with visits that
overlap without starting together (30 minutes at 10:00 against 15 at 10:15).

Runs on both backends: PostgreSQL refuses overlaps with an exclusion constraint
and the practice row lock; SQLite serializes every write transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, time
from typing import Any

import httpx
import pytest

from tests.conftest import Server, race
from tests.portal.conftest import PATIENT_PASSWORD, World, build_world
from tests.portal.test_api_bookings import SLOT_TAKEN, bookable, german

PATIENTS = 50


def _patients(n: int) -> list[Any]:
    """``n`` confirmed patients, sharing one password hash (Argon2 50 times is slow)."""
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import User
    from django.utils import timezone

    from termin360.portal.models import PatientProfile

    hashed = make_password(PATIENT_PASSWORD)
    users = User.objects.bulk_create(
        User(username=f"race{i}@example.org", email=f"race{i}@example.org", password=hashed)
        for i in range(n)
    )
    users = list(User.objects.filter(username__startswith="race").order_by("pk"))
    return PatientProfile.objects.bulk_create(
        PatientProfile(
            user=u,
            last_name=f"Rennfahrer{i}",
            first_name="Eva",
            date_of_birth=datetime(1990, 1, 1).date(),
            phone="0721 1",
            insurance="gkv",
            email_confirmed_at=timezone.now(),
        )
        for i, u in enumerate(users)
    )


def _client(server: Server, email: str) -> httpx.Client:
    r = httpx.post(
        f"{server.url}/api/v1/auth/token",
        json={"email": email, "password": PATIENT_PASSWORD},
        timeout=60,
    )
    assert r.status_code == 201, r.text
    client = httpx.Client(
        base_url=f"{server.url}/api/v1",
        headers={"Authorization": f"Bearer {r.json()['token']}", "Accept-Language": "de"},
        timeout=httpx.Timeout(120, connect=30),
    )
    assert client.get("/me/bookings").status_code == 200  # connected before the race
    return client


def _assert_one_winner(responses: list[httpx.Response]) -> httpx.Response:
    assert len(responses) == PATIENTS
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * (PATIENTS - 1), [
        (r.status_code, r.text[:200]) for r in responses if r.status_code != 409
    ]
    message = german(SLOT_TAKEN)
    for loser in (r for r in responses if r.status_code == 409):
        body = loser.json()
        assert body["code"] == "slot_taken", body
        assert body["detail"] == message, body
        assert body["alternatives"], body
    return next(r for r in responses if r.status_code == 201)


@pytest.fixture
def crowd(portal_server: Server) -> Iterator[tuple[World, list[httpx.Client]]]:
    """The world and 50 connected clients with their own patient tokens. Logging in costs
    an Argon2 check each, so both races share one crowd (and one server)."""
    world = build_world()
    patients = _patients(PATIENTS)
    with ThreadPoolExecutor(max_workers=8) as pool:
        clients = list(pool.map(lambda p: _client(portal_server, p.user.email), patients))
    try:
        yield world, clients
    finally:
        for c in clients:
            c.close()
        log = portal_server.log.read_text(errors="replace")
        assert "Traceback" not in log, log
        assert "Internal Server Error" not in log, log


def _booking_call(
    client: httpx.Client, world: World, vt: Any, start: datetime
) -> Callable[[], httpx.Response]:
    body = {
        "calendar_id": world.calendar.pk,
        "visit_type_id": vt.pk,
        "start": start.isoformat(),
        "reason": "Wettlauf",
    }
    return lambda: client.post("/bookings", json=body)


def test_fifty_patients_book_the_same_slot_at_once_then_overlapping_visits(
    crowd: tuple[World, list[httpx.Client]],
) -> None:
    from termin360.portal.models import Booking, ChangeEvent

    world, clients = crowd
    start = bookable(time(9))
    responses = race([_booking_call(c, world, world.checkup, start) for c in clients], wait=60)
    winner = _assert_one_winner(responses)
    assert datetime.fromisoformat(winner.json()["start"]) == start
    [booking] = Booking.objects.filter(calendar=world.calendar)
    assert booking.pk == winner.json()["id"] and booking.status == "active"
    [event] = ChangeEvent.objects.filter(practice=world.practice)
    assert (event.seq, event.kind, event.booking_id) == (1, "booked", booking.pk)
    for loser in (r for r in responses if r.status_code == 409):
        first_alternative = datetime.fromisoformat(loser.json()["alternatives"][0])
        assert first_alternative == bookable(time(9, 15))

    # Half want 30 minutes from 10:00, half 15 minutes from 10:15: one of them wins.
    calls = [
        _booking_call(c, world, world.first_visit, bookable(time(10)))
        if i % 2
        else _booking_call(c, world, world.checkup, bookable(time(10, 15)))
        for i, c in enumerate(clients)
    ]
    _assert_one_winner(race(calls, wait=60))
    assert Booking.objects.filter(calendar=world.calendar, status="active").count() == 2
    assert list(ChangeEvent.objects.filter(practice=world.practice).values_list("seq", "kind")) == [
        (1, "booked"),
        (2, "booked"),
    ]
    world.practice.refresh_from_db()
    assert world.practice.feed_seq == 2
