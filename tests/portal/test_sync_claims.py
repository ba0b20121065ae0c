"""S9 on the portal: a claim either is refused because an unseen online booking holds the
time, or holds the time so that online bookings arriving later are refused; a hold ends
with the busy state that settles it, a release, or its lease (decision 009). And the
busy state itself: a day older than the one the portal has is ignored."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from termin360.core.errors import Conflict
from termin360.portal.models import Booking, BusyInterval, Claim, Hold
from termin360.portal.services import availability, bookings
from termin360.protocol.messages import CLAIM_LEASE_SECONDS
from tests.conftest import assert_error
from tests.portal.conftest import World, build_world, make_patient
from tests.portal.sync_support import book, book_at, connector, iso
from tests.portal.test_api_bookings import bookable


def claim_body(
    world: World,
    start: datetime,
    end: datetime,
    *,
    claim_id: str = "claim-0001",
    after_seq: int = 0,
    known: list[int] | None = None,
) -> dict[str, Any]:
    return {
        "claim_id": claim_id,
        "days": [
            {
                "online_calendar_id": world.calendar.pk,
                "day": start.date().isoformat(),
                "intervals": [{"start": iso(start), "end": iso(end)}],
            }
        ],
        "after_seq": after_seq,
        "known": known or [],
    }


def busy_body(
    world: World,
    *ranges: tuple[time, time],
    revision: int = 0,
    settles: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "days": [
            {
                "online_calendar_id": world.calendar.pk,
                "day": bookable().date().isoformat(),
                "intervals": [
                    {"start": iso(bookable(a)), "end": iso(bookable(b))} for a, b in ranges
                ],
                "revision": revision,
                "settles": settles or [],
            }
        ]
    }


def nine(world: World) -> tuple[datetime, datetime]:
    return bookable(time(9)), bookable(time(9, 15))


def free(world: World, at: time) -> bool:
    return availability.is_free(world.calendar, bookable(at), 15)


def try_book(world: World, at: time, patient: Any = None) -> Booking | Conflict:
    try:
        return book_at(world, bookable(at), patient)
    except Conflict as exc:
        return exc


# --------------------------------------------------------------------------- refusal


def test_s9_claim_on_an_unseen_online_booking_is_refused_with_the_booking_and_holds_nothing(
    world: World,
) -> None:
    api = connector(world)
    booking = book(world, time(10))  # seq 1
    r = api.post("/claims", claim_body(world, bookable(time(9, 45)), bookable(time(10, 15))))
    body = assert_error(r, 409, "online_booking_holds_time")
    assert f"{booking.pk}" in body["detail"]
    assert bookable(time(10)).strftime("%d.%m.%Y 10:00") in body["detail"]
    [state] = body["bookings"]
    assert state["booking_id"] == booking.pk
    assert state["patient"]["last_name"] == "Müller"
    assert state["status"] == "active"
    assert not Claim.objects.exists() and not Hold.objects.exists()
    assert free(world, time(9, 45))  # the refused claim holds nothing


def test_s9_a_seen_a_known_or_a_cancelled_booking_does_not_refuse(world: World) -> None:
    api = connector(world)
    seen = book(world, time(10))  # seq 1
    r = api.post(
        "/claims",
        claim_body(world, seen.start, seen.end, claim_id="claim-seen", after_seq=1),
    )
    assert r.status_code == 200, r.content
    assert r.json()["ok"] is True and r.json()["claim_id"] == "claim-seen"
    pulled_in = book(world, time(11))  # seq 2, unseen but pulled in by the connector
    r = api.post(
        "/claims",
        claim_body(
            world,
            pulled_in.start,
            pulled_in.end,
            claim_id="claim-known",
            known=[pulled_in.pk + 1000],
        ),
    )
    assert_error(r, 409, "online_booking_holds_time")  # another id
    r = api.post(
        "/claims",
        claim_body(
            world, pulled_in.start, pulled_in.end, claim_id="claim-known", known=[pulled_in.pk]
        ),
    )
    assert r.status_code == 200, r.content
    cancelled = book(world, time(11, 30))
    bookings.cancel_from_practice_calendar(
        practice_id=world.practice.pk, booking_id=cancelled.pk, reason=""
    )
    r = api.post(
        "/claims", claim_body(world, cancelled.start, cancelled.end, claim_id="claim-cancel")
    )
    assert r.status_code == 200, r.content


def test_s9_a_booking_moved_onto_the_time_after_the_cursor_refuses(world: World) -> None:
    api = connector(world)
    booking = book(world, time(10))  # seq 1, seen
    bookings.move_by_practice(
        practice_id=world.practice.pk,
        booking_id=booking.pk,
        start=bookable(time(11)),
        end=bookable(time(11, 15)),
    )  # seq 2: the connector has not seen the booking at 11:00
    r = api.post(
        "/claims", claim_body(world, bookable(time(11)), bookable(time(11, 15)), after_seq=1)
    )
    assert_error(r, 409, "online_booking_holds_time")


# --------------------------------------------------------------------------- holds


def test_s9_a_granted_claim_holds_the_time_against_online_bookings_with_alternatives(
    world: World,
) -> None:
    api = connector(world)
    start, end = nine(world)
    before = timezone.now()
    r = api.post("/claims", claim_body(world, start, end))
    assert r.status_code == 200, r.content
    expires = datetime.fromisoformat(r.json()["expires_at"])
    lease = timedelta(seconds=CLAIM_LEASE_SECONDS)
    assert before + lease <= expires <= timezone.now() + lease
    assert not free(world, time(9)) and free(world, time(9, 15))
    with pytest.raises(Conflict) as refused:
        book_at(world, start)
    assert refused.value.code == "slot_taken"
    alternatives = refused.value.details["alternatives"]
    assert alternatives and all(datetime.fromisoformat(a) > start for a in alternatives)
    assert not Booking.objects.exists()


def test_s9_a_held_time_is_not_offered_in_the_slots_api(world: World) -> None:
    connector(world).post("/claims", claim_body(world, *nine(world)))
    r = Client().get(
        f"/api/v1/calendars/{world.calendar.pk}/slots",
        {"from": bookable().date().isoformat(), "days": 1, "visit_type": world.checkup.pk},
    )
    assert r.status_code == 200, r.content
    starts = [s["start"] for d in r.json()["days"] for s in d["slots"]]
    assert iso(bookable(time(9))) not in starts and iso(bookable(time(9, 15))) in starts


def test_s9_the_busy_state_that_settles_the_claim_ends_the_hold_and_blocks_by_itself(
    world: World,
) -> None:
    api = connector(world)
    api.post("/claims", claim_body(world, *nine(world), claim_id="claim-0001"))
    # A busy state that does not name the claim (read before the action committed)
    # leaves the hold alone.
    api.put("/busy", busy_body(world, revision=1))
    assert Hold.objects.count() == 1 and not free(world, time(9))
    api.put("/busy", busy_body(world, (time(9), time(9, 15)), revision=2, settles=["claim-0001"]))
    assert not Hold.objects.exists()
    assert not free(world, time(9))  # the busy state holds it now
    # The practice freed the time again: the next busy state frees it online.
    api.put("/busy", busy_body(world, revision=3))
    assert free(world, time(9))


def test_s9_a_release_ends_the_hold_at_once_and_twice_is_harmless(world: World) -> None:
    api = connector(world)
    api.post("/claims", claim_body(world, *nine(world), claim_id="claim-0001"))
    r = api.post("/claims/claim-0001/release", {})
    assert r.status_code == 200, r.content
    assert r.json() == {"claim_id": "claim-0001", "released": True}
    assert free(world, time(9))
    assert api.post("/claims/claim-0001/release", {}).json()["released"] is False
    assert isinstance(try_book(world, time(9)), Booking)


def test_s9_a_hold_runs_out_after_its_lease(world: World) -> None:
    api = connector(world)
    api.post("/claims", claim_body(world, *nine(world)))
    assert not free(world, time(9))
    Claim.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert free(world, time(9))


def test_s9_a_repeated_or_late_claim_holds_nothing_new(world: World) -> None:
    api = connector(world)
    body = claim_body(world, *nine(world), claim_id="claim-0001")
    first = api.post("/claims", body).json()
    assert api.post("/claims", body).json() == first  # a duplicate: same answer
    assert Hold.objects.count() == 1
    # settled, then the same request arrives once more (delayed on the network)
    api.put("/busy", busy_body(world, (time(9), time(9, 15)), revision=1, settles=["claim-0001"]))
    api.post("/claims", body)
    assert not Hold.objects.exists()
    # settled or released before the claim itself arrived: the late claim holds nothing
    api.put("/busy", busy_body(world, revision=2, settles=["claim-0002"]))
    api.post("/claims/claim-0003/release", {})
    for key in ("claim-0002", "claim-0003"):
        assert api.post("/claims", dict(body, claim_id=key)).status_code == 200
    assert not Hold.objects.exists() and free(world, time(9))


def test_s9_claims_and_releases_are_per_practice(world: World) -> None:
    other = build_world("Praxis Zwei", "admin@zwei.de")
    mine, theirs = connector(world), connector(other)
    mine.post("/claims", claim_body(world, *nine(world), claim_id="claim-0001"))
    assert theirs.post("/claims/claim-0001/release", {}).json()["released"] is False
    assert not free(world, time(9))
    r = theirs.post("/claims", claim_body(world, *nine(world), claim_id="claim-0009"))
    assert_error(r, 404, "unknown_calendar")


@pytest.mark.parametrize(
    "change",
    [
        {"claim_id": "short"},
        {"claim_id": "no spaces allowed"},
        {"claim_id": "x" * 65},
        {"days": []},
        {"after_seq": -1},
    ],
)
def test_s9_malformed_claims_are_422_and_hold_nothing(world: World, change: dict[str, Any]) -> None:
    api = connector(world)
    assert_error(api.post("/claims", claim_body(world, *nine(world)) | change), 422)
    assert not Claim.objects.exists()


def test_s9_a_claim_far_from_its_day_is_422(world: World) -> None:
    api = connector(world)
    body = claim_body(world, *nine(world))
    body["days"][0]["day"] = (bookable().date() + timedelta(days=5)).isoformat()
    assert_error(api.post("/claims", body), 422, "interval_outside_day")
    assert not Claim.objects.exists()


def test_s9_old_claims_are_forgotten_by_the_worker_after_a_day(world: World) -> None:
    from termin360.portal import worker

    api = connector(world)
    api.post("/claims", claim_body(world, *nine(world), claim_id="claim-0001"))
    body = claim_body(world, bookable(time(10)), bookable(time(10, 15)), claim_id="claim-0002")
    api.post("/claims", body)
    Claim.objects.filter(key="claim-0001").update(expires_at=timezone.now() - timedelta(days=2))
    worker.run_round()
    assert list(Claim.objects.values_list("key", flat=True)) == ["claim-0002"]
    assert Hold.objects.count() == 1


# --------------------------------------------------------------------------- revisions


def test_s8_a_busy_day_older_than_the_one_the_portal_has_is_ignored(world: World) -> None:
    api = connector(world)
    r = api.put("/busy", busy_body(world, (time(10), time(11)), revision=5))
    assert r.json() == {"applied": 1, "stale": 0}
    # a delayed request with the state before it arrives late: ignored
    r = api.put("/busy", busy_body(world, (time(9), time(9, 15)), revision=4))
    assert r.json() == {"applied": 0, "stale": 1}
    assert free(world, time(9)) and not free(world, time(10))
    # the same revision again (a duplicate) changes nothing either
    assert api.put("/busy", busy_body(world, revision=5)).json()["stale"] == 1
    assert not free(world, time(10))
    # a newer one applies; revision 0 (a connector without revisions) always applies
    api.put("/busy", busy_body(world, (time(11), time(11, 15)), revision=6))
    assert free(world, time(10)) and not free(world, time(11))
    api.put("/busy", busy_body(world, revision=0))
    assert not BusyInterval.objects.exists()


def test_s8_a_stale_busy_day_still_settles_its_claims(world: World) -> None:
    api = connector(world)
    api.put("/busy", busy_body(world, (time(9), time(9, 15)), revision=7))
    api.post("/claims", claim_body(world, *nine(world), claim_id="claim-0001"))
    r = api.put("/busy", busy_body(world, revision=6, settles=["claim-0001"]))
    assert r.json()["stale"] == 1
    assert not Hold.objects.exists() and not free(world, time(9))


def test_s8_of_two_states_of_one_day_in_a_batch_the_higher_revision_counts(
    world: World,
) -> None:
    api = connector(world)
    newer = busy_body(world, (time(10), time(11)), revision=9)["days"][0]
    older = busy_body(world, (time(9), time(9, 15)), revision=8)["days"][0]
    r = api.put("/busy", {"days": [newer, older]})
    assert r.status_code == 200, r.content
    assert free(world, time(9)) and not free(world, time(10))


# --------------------------------------------------------------------------- the race, serialized


def test_s9_whichever_reaches_the_practice_lock_first_wins(world: World) -> None:
    """Claim then booking: the booking is refused. Booking then claim: the claim is."""
    api = connector(world)
    api.post("/claims", claim_body(world, *nine(world), claim_id="claim-0001"))
    assert isinstance(try_book(world, time(9)), Conflict)
    other = make_patient("zweite@example.org", last="Weber", first="Ute")
    booked = try_book(world, time(10), other)
    assert isinstance(booked, Booking)
    r = api.post("/claims", claim_body(world, booked.start, booked.end, claim_id="claim-0002"))
    assert_error(r, 409, "online_booking_holds_time")
