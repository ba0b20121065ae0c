"""The portal's sync API (decision 008): authentication by practice API key, practices
kept apart, busy time (S8), the S9 check, receipts (P6) and idempotent writes."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.test import Client

from termin360.portal.models import Booking, BusyInterval, IdempotentRequest
from termin360.portal.services import availability, practices
from tests.conftest import assert_error
from tests.portal.conftest import World, build_world, make_patient
from tests.portal.sync_support import SyncApi, book, connector, iso
from tests.portal.test_api_bookings import bookable

# --------------------------------------------------------------------------- auth


@pytest.mark.parametrize("key", [None, "t360k_wrong", ""])
def test_missing_or_wrong_key_answers_401_json(world: World, key: str | None) -> None:
    api = SyncApi(Client(), key)
    assert_error(api.get("/calendars"), 401, "unauthenticated")
    assert_error(api.get("/events"), 401, "unauthenticated")
    body = {"days": [{"online_calendar_id": world.calendar.pk, "day": "2030-01-07"}]}
    assert_error(api.put("/busy", body), 401, "unauthenticated")


def test_a_revoked_key_answers_401(world: World) -> None:
    record, key = practices.issue_api_key(practice=world.practice, name="alt")
    api = SyncApi(Client(), key)
    assert api.get("/calendars").status_code == 200
    practices.revoke_api_key(practice=world.practice, key_id=record.pk)
    assert_error(api.get("/calendars"), 401, "unauthenticated")


def test_s1_calendars_lists_the_practices_online_calendars(world: World) -> None:
    body = connector(world).get("/calendars").json()
    assert body["practice"] == "Praxis Berger"
    [cal] = body["calendars"]
    assert cal == {
        "id": world.calendar.pk,
        "name": world.calendar.name,
        "doctor": "Dr. Anna Berger",
        "time_zone": "Europe/Berlin",
        "slot_minutes": 15,
        "published": True,
    }


def test_a_key_of_practice_a_cannot_see_or_change_practice_b(world: World) -> None:
    other = build_world("Praxis Zwei", "admin@zwei.de")
    theirs = book(other, patient=other.patient)
    api = connector(world)  # practice A's key
    assert [c["id"] for c in api.get("/calendars").json()["calendars"]] == [world.calendar.pk]
    assert api.get("/events").json()["events"] == []
    day = bookable().date().isoformat()
    busy = {"days": [{"online_calendar_id": other.calendar.pk, "day": day, "intervals": []}]}
    assert_error(api.put("/busy", busy), 404, "unknown_calendar")
    claim = {
        "claim_id": "claim-of-a-0001",
        "days": [
            {
                "online_calendar_id": other.calendar.pk,
                "day": day,
                "intervals": [{"start": iso(theirs.start), "end": iso(theirs.end)}],
            }
        ],
        "after_seq": 0,
    }
    assert_error(api.post("/claims", claim), 404, "unknown_calendar")
    assert_error(api.post(f"/bookings/{theirs.pk}/cancel", {}), 404, "not_found")
    hour = timedelta(hours=1)
    move = {"start": iso(theirs.start + hour), "end": iso(theirs.end + hour)}
    assert_error(api.post(f"/bookings/{theirs.pk}/move", move), 404, "not_found")
    api.post("/receipts", {"receipts": [{"booking_id": theirs.pk, "placement": "slot"}]})
    theirs.refresh_from_db()
    assert (theirs.status, theirs.start, theirs.delivered_at) == ("active", bookable(), None)


# --------------------------------------------------------------------------- busy (S8)


def _busy_day(world: World, *ranges: tuple[time, time]) -> dict[str, object]:
    day = bookable().date()
    return {
        "online_calendar_id": world.calendar.pk,
        "day": day.isoformat(),
        "intervals": [{"start": iso(bookable(a)), "end": iso(bookable(b))} for a, b in ranges],
    }


def test_s8_busy_time_blocks_online_slots_and_a_second_put_replaces_the_day(
    world: World,
) -> None:
    api = connector(world)
    r = api.put("/busy", {"days": [_busy_day(world, (time(9), time(10)))]})
    assert r.status_code == 200, r.content
    assert r.json() == {"applied": 1, "stale": 0}
    assert not availability.is_free(world.calendar, bookable(time(9, 30)), 15)
    assert availability.is_free(world.calendar, bookable(time(10)), 15)
    # The same day again with other times: replaced, not added.
    api.put("/busy", {"days": [_busy_day(world, (time(10), time(10, 15)))]})
    assert availability.is_free(world.calendar, bookable(time(9, 30)), 15)
    assert not availability.is_free(world.calendar, bookable(time(10)), 15)
    assert BusyInterval.objects.filter(calendar=world.calendar).count() == 1
    # Sending it once more changes nothing (state, not deltas).
    api.put("/busy", {"days": [_busy_day(world, (time(10), time(10, 15)))]})
    assert BusyInterval.objects.filter(calendar=world.calendar).count() == 1
    # An empty day frees everything.
    api.put("/busy", {"days": [_busy_day(world)]})
    assert not BusyInterval.objects.exists()
    assert availability.is_free(world.calendar, bookable(time(10)), 15)


def test_s8_busy_interval_far_from_its_day_is_refused_and_nothing_is_stored(
    world: World,
) -> None:
    api = connector(world)
    good = _busy_day(world, (time(9), time(10)))
    far = dict(good, day=(bookable().date() + timedelta(days=5)).isoformat())
    assert_error(api.put("/busy", {"days": [good, far]}), 422, "interval_outside_day")
    assert not BusyInterval.objects.exists()


def test_busy_with_naive_or_reversed_times_is_422(world: World) -> None:
    api = connector(world)
    day = _busy_day(world)
    naive = dict(day, intervals=[{"start": "2030-01-07T09:00", "end": "2030-01-07T10:00"}])
    assert_error(api.put("/busy", {"days": [naive]}), 422, "invalid")
    start, end = iso(bookable(time(10))), iso(bookable(time(9)))
    backwards = dict(day, intervals=[{"start": start, "end": end}])
    assert_error(api.put("/busy", {"days": [backwards]}), 422, "invalid")
    assert_error(api.put("/busy", {"days": []}), 422, "invalid")


def test_malformed_json_is_400(world: World) -> None:
    api = connector(world)
    r = api.client.put(
        "/api/v1/sync/busy", b"{not json", content_type="application/json", **api.headers
    )
    assert_error(r, 400, "malformed_body")


# --------------------------------------------------------------------------- receipts (P6)


def test_p6_receipts_mark_bookings_delivered_once(world: World) -> None:
    api = connector(world)
    first, second = book(world, time(9)), book(world, time(10))
    body = {"receipts": [{"booking_id": first.pk, "placement": "slot"}]}
    r = api.post("/receipts", body, key="r-1")
    assert r.status_code == 200 and r.json() == {"delivered": 1}
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.delivered_at is not None and second.delivered_at is None
    delivered_at = first.delivered_at
    both = {
        "receipts": [
            {"booking_id": first.pk, "placement": "slot"},
            {"booking_id": second.pk, "placement": "additional_list"},
        ]
    }
    assert api.post("/receipts", both, key="r-2").json() == {"delivered": 2}
    first.refresh_from_db()
    assert first.delivered_at == delivered_at  # the first receipt's time stays


def test_p6_patient_api_shows_delivered(world: World) -> None:
    from tests.portal.test_api_bookings import patient_api

    booking = book(world)
    me = patient_api(world.patient)
    assert me.client.get("/api/v1/me/bookings", **me.headers).json()[0]["delivered"] is False
    connector(world).post(
        "/receipts", {"receipts": [{"booking_id": booking.pk, "placement": "slot"}]}
    )
    one = me.client.get(f"/api/v1/bookings/{booking.pk}", **me.headers).json()
    assert one["delivered"] is True


# --------------------------------------------------------------------------- idempotency


def test_same_idempotency_key_twice_gives_the_same_answer_and_one_effect(
    world: World,
) -> None:
    api = connector(world)
    booking = book(world, time(9))
    move = {"start": iso(bookable(time(11))), "end": iso(bookable(time(11, 15)))}
    first = api.post(f"/bookings/{booking.pk}/move", move, key="move-1")
    assert first.status_code == 200, first.content
    # Another patient takes the old time; a *new* move there would now be refused.
    book(world, time(9), patient=make_patient("zweite@example.org", last="Schmidt"))
    again = api.post(f"/bookings/{booking.pk}/move", move, key="move-1")
    assert (again.status_code, again.json()) == (200, first.json())
    from termin360.portal.models import ChangeEvent, OutgoingEmail

    assert ChangeEvent.objects.filter(booking=booking, kind="moved").count() == 1
    assert OutgoingEmail.objects.filter(kind="practice_moved").count() == 1
    assert IdempotentRequest.objects.filter(practice=world.practice, key="move-1").count() == 1


def test_a_stored_refusal_is_repeated_for_the_same_key(world: World) -> None:
    api = connector(world)
    booking = book(world, time(9))
    book(world, time(11), patient=make_patient("zweite@example.org", last="Schmidt"))
    move = {"start": iso(bookable(time(11))), "end": iso(bookable(time(11, 15)))}
    first = assert_error(api.post(f"/bookings/{booking.pk}/move", move, key="m"), 409, "slot_taken")
    Booking.objects.exclude(pk=booking.pk).update(status="cancelled")
    again = assert_error(api.post(f"/bookings/{booking.pk}/move", move, key="m"), 409)
    assert again == first
    booking.refresh_from_db()
    assert booking.start == bookable(time(9))


def test_an_idempotency_key_reused_for_another_request_is_refused(world: World) -> None:
    api = connector(world)
    booking = book(world, time(9))
    api.post(f"/bookings/{booking.pk}/cancel", {}, key="k")
    busy = {"days": [_busy_day(world)]}
    assert_error(api.put("/busy", busy, key="k"), 422, "idempotency_key_reused")
    assert_error(api.put("/busy", busy, key="x" * 101), 422, "bad_idempotency_key")


def test_keys_are_per_practice(world: World) -> None:
    other = build_world("Praxis Zwei", "admin@zwei.de")
    mine, theirs = book(world, time(9)), book(other, time(9), patient=other.patient)
    connector(world).post(f"/bookings/{mine.pk}/cancel", {}, key="cancel-1")
    r = connector(other).post(f"/bookings/{theirs.pk}/cancel", {}, key="cancel-1")
    assert r.status_code == 200 and r.json()["booking_id"] == theirs.pk
    theirs.refresh_from_db()
    assert theirs.status == "cancelled"


def test_old_idempotency_answers_are_forgotten(world: World) -> None:
    from django.utils import timezone

    from termin360.portal.services import sync_idempotency

    api = connector(world)
    api.put("/busy", {"days": [_busy_day(world)]}, key="old")
    api.put("/busy", {"days": [_busy_day(world)]}, key="new")
    IdempotentRequest.objects.filter(key="old").update(
        created_at=timezone.now() - timedelta(hours=25)
    )
    assert sync_idempotency.forget_old() == 1
    assert list(IdempotentRequest.objects.values_list("key", flat=True)) == ["new"]


# --------------------------------------------------------------------------- OpenAPI


def test_the_sync_api_has_its_own_openapi_document_with_the_protocol_schemas(
    world: World,
) -> None:
    doc = Client().get("/api/v1/sync/openapi.json").json()
    assert doc["info"]["title"] == "termin360 portal sync API"
    paths = set(doc["paths"])
    assert {
        "/api/v1/sync/calendars",
        "/api/v1/sync/events",
        "/api/v1/sync/busy",
        "/api/v1/sync/claims",
        "/api/v1/sync/bookings/{booking_id}/cancel",
        "/api/v1/sync/bookings/{booking_id}/move",
        "/api/v1/sync/receipts",
    } <= paths
    schemas = set(doc["components"]["schemas"])
    assert {"FeedPage", "BookingState", "BusyBatch", "ClaimRefused", "Receipts"} <= schemas
    params = {p["name"] for p in doc["paths"]["/api/v1/sync/busy"]["put"]["parameters"]}
    assert "Idempotency-Key" in params
    # The patient API is a separate document without the sync paths.
    patient_doc = Client().get("/api/v1/openapi.json").json()
    assert not any(p.startswith("/api/v1/sync") for p in patient_doc["paths"])
