"""Search and slots read a calendar's snapshot, kept per version (decision 021): a kept
answer is what loading afresh gives at that moment — after bookings, cancellations, the
practice's busy time and holds, as the lead time moves on, when a hold's lease runs out,
at midnight — and nothing is kept when the versions are not kept."""

from __future__ import annotations

import contextlib
import json
import random
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from termin360.core.intervals import Interval
from termin360.portal import selectors
from termin360.portal.api import schemas
from termin360.portal.models import Booking, Claim, OnlineCalendar
from termin360.portal.services import (
    availability,
    availability_cache,
    bookings,
    practices,
    sync,
    sync_claims,
)
from termin360.protocol.messages import CLAIM_LEASE_SECONDS, BusyDay, ClaimDay, TimeRange
from termin360.protocol.messages import Claim as ClaimMessage
from tests.portal.conftest import World, build_world, make_patient
from tests.portal.sync_support import book_at
from tests.portal.test_api_bookings import BERLIN, bookable, weekday_at


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    availability_cache.clear()
    yield
    availability_cache.clear()


def next_free_in_search(client: Client) -> datetime | None:
    [hit] = client.get("/api/v1/search").json()["results"]
    return None if hit["next_free_slot"] is None else datetime.fromisoformat(hit["next_free_slot"])


def week_starts(client: Client, world: World, monday: date | None = None) -> list[datetime]:
    monday = monday or weekday_at(1, 0, time(0)).date()
    r = client.get(f"/api/v1/calendars/{world.calendar.pk}/slots", {"from": monday, "days": 7})
    assert r.status_code == 200, r.content
    return [datetime.fromisoformat(s["start"]) for d in r.json()["days"] for s in d["slots"]]


def fresh_next_free(world: World, now: datetime | None = None) -> Interval | None:
    calendar = OnlineCalendar.objects.select_related("doctor__practice").get(pk=world.calendar.pk)
    return availability.first_free(calendar, 15, now=now)


def test_a_repeated_search_is_answered_from_the_snapshot(world: World, client: Client) -> None:
    first = next_free_in_search(client)
    assert availability_cache.stats()["kept"] == 1
    assert next_free_in_search(client) == first
    assert availability_cache.stats()["hits"] == 1


def test_a_booked_time_is_never_shown_again(world: World, client: Client) -> None:
    shown = next_free_in_search(client)
    assert shown is not None and shown in week_starts(client, world, shown.date())
    book_at(world, shown)
    after = next_free_in_search(client)
    assert after is not None and after > shown
    assert shown not in week_starts(client, world, shown.date())
    assert after == fresh_next_free(world).start  # type: ignore[union-attr]


def test_a_cancelled_time_is_shown_again(world: World, client: Client) -> None:
    shown = next_free_in_search(client)
    assert shown is not None
    booking = book_at(world, shown)
    assert next_free_in_search(client) != shown
    bookings.cancel_by_practice(practice_id=world.practice.pk, booking_id=booking.pk, reason="x")
    assert next_free_in_search(client) == shown


def test_the_practices_busy_time_and_holds_block_the_shown_time(
    world: World, client: Client
) -> None:
    monday = weekday_at(1, 0, time(0)).date()
    assert bookable(time(9)) in week_starts(client, world, monday)
    sync.replace_busy(
        practice=world.practice,
        days=[
            BusyDay(
                online_calendar_id=world.calendar.pk,
                day=bookable().date(),
                intervals=[TimeRange(start=bookable(time(9)), end=bookable(time(9, 30)))],
            )
        ],
    )
    shown = week_starts(client, world, monday)
    assert bookable(time(9)) not in shown and bookable(time(9, 15)) not in shown
    _claim(world, bookable(time(10)), bookable(time(10, 15)))
    assert bookable(time(10)) not in week_starts(client, world, monday)


def _claim(world: World, start: datetime, end: datetime) -> None:
    sync_claims.claim_time(
        practice=world.practice,
        claim=ClaimMessage(
            claim_id="claim-0001",
            days=[
                ClaimDay(
                    online_calendar_id=world.calendar.pk,
                    day=start.astimezone(BERLIN).date(),
                    intervals=[TimeRange(start=start, end=end)],
                )
            ],
            after_seq=0,
        ),
    )


def test_a_held_time_comes_back_when_the_hold_runs_out_without_any_write(
    world: World, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The clock stands one minute past a quarter hour: the lease's two minutes then pass
    # without the lead time (60 minutes, slots of 15) moving the first free time on.
    real = timezone.now()
    start = real.replace(minute=real.minute - real.minute % 15, second=0, microsecond=0)
    monkeypatch.setattr(timezone, "now", lambda: start + timedelta(minutes=1))
    shown = next_free_in_search(client)
    assert shown is not None
    _claim(world, shown, shown + timedelta(minutes=15))
    held = next_free_in_search(client)
    assert held is not None and held > shown
    assert availability_cache.stats()["kept"] == 1
    later = timezone.now() + timedelta(seconds=CLAIM_LEASE_SECONDS + 5)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert next_free_in_search(client) == shown


def test_the_lead_time_moves_on_within_one_snapshot(world: World) -> None:
    # Tuesday next week, 07:30: the lead time (60 minutes) leaves 08:30 as the first time.
    early = bookable(time(7, 30))
    [first] = selectors.search_doctors(now=early)[1]
    assert first.next_free == fresh_next_free(world, early)
    assert first.next_free is not None and first.next_free.start == bookable(time(8, 30))
    later = early + timedelta(minutes=15)
    [second] = selectors.search_doctors(now=later)[1]
    assert second.next_free == fresh_next_free(world, later)
    assert second.next_free is not None and second.next_free.start == bookable(time(8, 45))
    assert availability_cache.stats()["hits"] == 1  # the same snapshot answered


def test_a_new_day_and_a_clock_going_back_load_afresh(world: World) -> None:
    monday_night = datetime.combine(bookable().date() - timedelta(days=1), time(23, 50), BERLIN)
    selectors.search_doctors(now=monday_night)
    tuesday = monday_night + timedelta(minutes=20)
    [hit] = selectors.search_doctors(now=tuesday)[1]
    assert hit.next_free == fresh_next_free(world, tuesday)
    [hit] = selectors.search_doctors(now=monday_night)[1]
    assert hit.next_free == fresh_next_free(world, monday_night)
    assert availability_cache.stats()["hits"] == 0


def test_without_the_triggers_nothing_is_kept_and_answers_stay_right(
    world: World, client: Client
) -> None:
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER portal_av_booking_ins" + _on("portal_booking"))
    availability_cache.clear()
    shown = next_free_in_search(client)
    assert shown is not None
    book_at(world, shown)
    assert next_free_in_search(client) != shown
    assert availability_cache.stats()["kept"] == 0


def _on(table: str) -> str:
    return f" ON {table}" if connection.vendor == "postgresql" else ""


def test_answers_are_what_their_schemas_render(world: World, client: Client) -> None:
    for path, params, schema in (
        ("/api/v1/search", {"insurance": "gkv"}, schemas.SearchOut),
        (f"/api/v1/calendars/{world.calendar.pk}/slots", {"days": 14}, schemas.SlotsOut),
    ):
        r = client.get(path, params)
        assert r.status_code == 200 and r["Content-Type"] == "application/json; charset=utf-8"
        body = r.json()
        assert json.loads(schema.model_validate(body).model_dump_json()) == body


def test_cached_answers_agree_with_fresh_ones_through_a_day_of_changes(
    world: World, client: Client
) -> None:
    """A seeded random walk over the writes that change availability; after each, the
    search's next free time and a week of slots (both read through snapshots) must be
    what the database gives when asked directly."""
    other = build_world("Praxis Zwei", "admin@zwei.de")
    worlds = [world, other]
    patients = [world.patient, make_patient("zweite@example.org")]
    rng = random.Random(13)
    mondays = [weekday_at(w, 0, time(0)).date() for w in (1, 2)]

    def step(w: World) -> None:
        kind = rng.choice(["book", "book", "cancel", "busy", "claim", "release", "absence"])
        day = rng.choice(mondays) + timedelta(days=rng.randrange(5))
        at = datetime.combine(day, time(8 + rng.randrange(4), 15 * rng.randrange(4)), BERLIN)
        if kind == "book" and _free(w, at):
            book_at(w, at, rng.choice(patients))
        elif kind == "cancel":
            active = list(Booking.objects.filter(calendar=w.calendar, status="active"))
            if active:
                b = rng.choice(active)
                bookings.cancel_by_practice(practice_id=w.practice.pk, booking_id=b.pk, reason="x")
        elif kind == "busy":
            spans = [TimeRange(start=at, end=at + timedelta(minutes=15 * rng.randrange(1, 5)))]
            state = BusyDay(
                online_calendar_id=w.calendar.pk, day=day, intervals=spans[: rng.randrange(2)]
            )
            sync.replace_busy(practice=w.practice, days=[state])
        elif kind == "claim":
            key = f"claim-{rng.randrange(10**6):06d}"
            with contextlib.suppress(sync_claims.OnlineBookingHoldsTime):
                sync_claims.claim_time(
                    practice=w.practice,
                    claim=ClaimMessage(
                        claim_id=key,
                        days=[
                            ClaimDay(
                                online_calendar_id=w.calendar.pk,
                                day=day,
                                intervals=[TimeRange(start=at, end=at + timedelta(minutes=15))],
                            )
                        ],
                        after_seq=10**6,
                    ),
                )
        elif kind == "release":
            open_claims = list(Claim.objects.filter(practice=w.practice, ended_at__isnull=True))
            if open_claims:
                sync_claims.release_claim(practice=w.practice, key=rng.choice(open_claims).key)
        elif kind == "absence":
            practices.add_absence(calendar=w.calendar, first_day=day, last_day=day, reason="")

    for _ in range(40):
        w = rng.choice(worlds)
        step(w)
        for v in worlds:
            _assert_agrees(client, v, mondays)
    assert availability_cache.stats()["hits"] > 0


def _free(w: World, at: datetime) -> bool:
    calendar = OnlineCalendar.objects.select_related("doctor__practice").get(pk=w.calendar.pk)
    return availability.is_free(calendar, at, 15)


def _assert_agrees(client: Client, w: World, mondays: list[date]) -> None:
    calendar = OnlineCalendar.objects.select_related("doctor__practice").get(pk=w.calendar.pk)
    hits = client.get("/api/v1/search", {"name": w.doctor.last_name}).json()["results"]
    [hit] = [h for h in hits if h["calendar_id"] == calendar.pk]
    fresh = availability.first_free(calendar, 15)
    shown = hit["next_free_slot"]
    assert (datetime.fromisoformat(shown) if shown else None) == (fresh.start if fresh else None)
    for monday in mondays:
        r = client.get(f"/api/v1/calendars/{calendar.pk}/slots", {"from": monday, "days": 7})
        cached = [(d["day"], s["start"]) for d in r.json()["days"] for s in d["slots"]]
        by_day = availability.slots_by_day(calendar, monday, monday + timedelta(days=6), 15)
        expected = [
            (day.isoformat(), s.start.astimezone(BERLIN).isoformat())
            for day in sorted(by_day)
            for s in by_day[day]
        ]
        assert cached == expected
