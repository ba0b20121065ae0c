"""The public part of the patient API (P2): search, specialties, a calendar, its free slots,
the OpenAPI document. No login needed; unpublished calendars do not exist."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from django.test import Client

from tests.portal.conftest import World, build_world
from tests.portal.test_api_bookings import (
    BERLIN,
    assert_error,
    bookable,
    patient_api,
    weekday_at,
)


def get(client: Client, path: str, **params: Any) -> Any:
    return client.get(f"/api/v1{path}", params)


def ok(r: Any) -> Any:
    assert r.status_code == 200, r.content
    return r.json()


def test_search_finds_the_published_calendar_with_its_next_free_slot(
    world: World, client: Client
) -> None:
    body = ok(get(client, "/search", specialty="allgemeinmedizin", place="bruchsal"))
    assert body["total"] == 1
    [hit] = body["results"]
    assert hit["calendar_id"] == world.calendar.pk
    assert hit["doctor"]["display_name"] == "Dr. Anna Berger"
    assert hit["specialty"] == "Allgemeinmedizin"
    assert hit["languages"] == ["de"]
    assert hit["location"] == {
        "name": "Bruchsal",
        "street": "Hauptstraße 1",
        "postcode": "76646",
        "city": "Bruchsal",
    }
    assert [(v["name"], v["duration_minutes"]) for v in hit["visit_types"]] == [
        ("Kontrolle", 15),
        ("Erstgespräch", 30),
    ]
    nxt = datetime.fromisoformat(hit["next_free_slot"])
    assert nxt.utcoffset() in (timedelta(hours=1), timedelta(hours=2))  # local Berlin time
    local = nxt.astimezone(BERLIN)
    assert local.weekday() < 5 and time(8) <= local.time() < time(12)
    assert nxt > datetime.now(tz=BERLIN) + timedelta(minutes=60)  # lead time


@pytest.mark.parametrize(
    "params",
    [
        {"place": "76646"},
        {"place": "766"},
        {"place": " BRUCHSAL "},
        {"name": "berger"},
        {"name": "Anna Berger"},
        {"insurance": "pkv"},
        {},
    ],
)
def test_search_by_place_name_and_insurance(
    world: World, client: Client, params: dict[str, str]
) -> None:
    assert ok(get(client, "/search", **params))["total"] == 1


@pytest.mark.parametrize(
    "params",
    [
        {"place": "Karlsruhe"},
        {"place": "70"},
        {"specialty": "Kardiologie"},
        {"name": "Keller"},
    ],
)
def test_search_without_match_is_empty(
    world: World, client: Client, params: dict[str, str]
) -> None:
    assert ok(get(client, "/search", **params)) == {
        "total": 0,
        "offset": 0,
        "limit": 20,
        "results": [],
    }


def test_insurance_filter_hides_calendars_without_such_visit_types(
    world: World, client: Client
) -> None:
    other = build_world("Praxis Privat", "admin@privat.de")
    other.checkup.insurances = "pkv,self"
    other.checkup.save()
    other.first_visit.insurances = "pkv"
    other.first_visit.save()
    gkv = ok(get(client, "/search", insurance="gkv"))
    assert [h["calendar_id"] for h in gkv["results"]] == [world.calendar.pk]
    pkv = ok(get(client, "/search", insurance="pkv"))
    assert pkv["total"] == 2
    self_pay = ok(get(client, "/search", insurance="self"))
    hit = next(h for h in self_pay["results"] if h["calendar_id"] == other.calendar.pk)
    assert [v["name"] for v in hit["visit_types"]] == ["Kontrolle"]


def test_search_pages(world: World, client: Client) -> None:
    for i in range(3):
        build_world(f"Praxis {i}", f"admin{i}@example.de")
    first = ok(get(client, "/search", limit=3))
    second = ok(get(client, "/search", limit=3, offset=3))
    assert first["total"] == second["total"] == 4
    assert len(first["results"]) == 3 and len(second["results"]) == 1
    ids = [h["calendar_id"] for h in first["results"] + second["results"]]
    assert len(set(ids)) == 4


def test_unpublished_calendars_are_invisible(world: World, client: Client) -> None:
    from termin360.portal.services import practices

    practices.publish(calendar=world.calendar, published=False)
    assert ok(get(client, "/search"))["total"] == 0
    assert ok(get(client, "/specialties")) == []
    assert_error(get(client, f"/calendars/{world.calendar.pk}"), 404, "not_found")
    assert_error(get(client, f"/calendars/{world.calendar.pk}/slots"), 404, "not_found")


def test_specialties_of_published_calendars(world: World, client: Client) -> None:
    other = build_world("Praxis Herz", "admin@herz.de")
    other.doctor.specialty = "Kardiologie"
    other.doctor.save()
    assert ok(get(client, "/specialties")) == ["Allgemeinmedizin", "Kardiologie"]


def test_calendar_info(world: World, client: Client) -> None:
    body = ok(get(client, f"/calendars/{world.calendar.pk}"))
    assert body["id"] == world.calendar.pk
    assert body["practice"] == "Praxis Berger"
    assert body["time_zone"] == "Europe/Berlin"
    assert (body["slot_minutes"], body["horizon_days"], body["lead_minutes"]) == (15, 28, 60)
    assert body["cancel_deadline_hours"] == 24
    assert [v["id"] for v in body["visit_types"]] == [world.checkup.pk, world.first_visit.pk]
    assert body["visit_types"][0]["insurances"] == ["gkv", "pkv", "self"]


def _week(client: Client, world: World, **params: Any) -> dict[str, Any]:
    monday = weekday_at(1, 0, time(0)).date()
    return dict(
        ok(get(client, f"/calendars/{world.calendar.pk}/slots", **{"from": monday, **params}))
    )


def test_a_week_of_free_slots_in_local_time(world: World, client: Client) -> None:
    body = _week(client, world, days=7)
    assert body["visit_type_id"] == world.checkup.pk and body["duration_minutes"] == 15
    days = body["days"]
    assert [date.fromisoformat(d["day"]).weekday() for d in days] == list(range(7))
    for d in days[:5]:
        starts = [datetime.fromisoformat(s["start"]) for s in d["slots"]]
        assert len(starts) == 16
        assert [s.strftime("%H:%M") for s in starts[:2]] == ["08:00", "08:15"]
        assert starts[-1].strftime("%H:%M") == "11:45"
        assert all(s.utcoffset() is not None for s in starts)
    assert days[5]["slots"] == [] and days[6]["slots"] == []


def test_slots_of_a_longer_visit_and_after_a_booking(world: World, client: Client) -> None:
    me = patient_api(world.patient)
    assert me.book(world, bookable(time(9))).status_code == 201
    body = _week(client, world, days=2, visit_type=world.first_visit.pk)
    tuesday = [
        datetime.fromisoformat(s["start"]).strftime("%H:%M") for s in body["days"][1]["slots"]
    ]
    assert "08:45" not in tuesday and "09:00" not in tuesday and "09:15" in tuesday
    assert tuesday[-1] == "11:30"  # a 30-minute visit must end by 12:00
    monday = body["days"][0]["slots"]
    assert len(monday) == 15


def test_days_beyond_the_horizon_are_empty(world: World, client: Client) -> None:
    far = weekday_at(8, 0, time(0)).date()
    body = ok(get(client, f"/calendars/{world.calendar.pk}/slots", **{"from": far, "days": 14}))
    assert len(body["days"]) == 14
    assert all(d["slots"] == [] for d in body["days"])


@pytest.mark.parametrize(
    "params",
    [
        {"days": 0},
        {"days": 15},
        {"days": "sieben"},
        {"from": "9999-12-31"},
        {"from": "0001-01-01"},
        {"from": "gestern"},
        {"visit_type": 10**30},
        {"visit_type": "x\x00"},
    ],
)
def test_bad_slot_queries_are_422(world: World, client: Client, params: dict[str, Any]) -> None:
    assert_error(get(client, f"/calendars/{world.calendar.pk}/slots", **params), 422, "invalid")


def test_a_visit_type_of_another_calendar_is_404(world: World, client: Client) -> None:
    other = build_world("Praxis Zwei", "admin@zwei.de")
    r = get(client, f"/calendars/{world.calendar.pk}/slots", visit_type=other.checkup.pk)
    assert_error(r, 404, "not_found")


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 51},
        {"offset": -1},
        {"insurance": "aok"},
        {"specialty": "x" * 81},
        {"name": "Ber\x00ger"},
    ],
)
def test_bad_search_queries_are_422(world: World, client: Client, params: dict[str, Any]) -> None:
    assert_error(get(client, "/search", **params), 422, "invalid")


@pytest.mark.parametrize("path", ["/calendars/0", f"/calendars/{10**30}", "/calendars/abc"])
def test_a_bad_calendar_id_is_422(world: World, client: Client, path: str) -> None:
    assert_error(get(client, path), 422, "invalid")


def test_unknown_api_path_is_a_json_404(client: Client) -> None:
    r = client.get("/api/v1/nothing-here")
    assert r.status_code == 404
    assert r.json()["code"] == "not_found"


def test_openapi_document_lists_the_api(client: Client) -> None:
    doc = ok(client.get("/api/v1/openapi.json"))
    assert {
        "/api/v1/search",
        "/api/v1/specialties",
        "/api/v1/calendars/{calendar_id}",
        "/api/v1/calendars/{calendar_id}/slots",
        "/api/v1/auth/token",
        "/api/v1/me/bookings",
        "/api/v1/bookings",
        "/api/v1/bookings/{booking_id}",
    } <= set(doc["paths"])
    assert "409" in doc["paths"]["/api/v1/bookings"]["post"]["responses"]


def test_next_free_slot_beyond_a_fully_booked_first_week(world: World, client: Client) -> None:
    """The next free slot is searched for over the whole horizon, not only the first week."""
    from termin360.portal.services import practices

    today = datetime.now(tz=BERLIN).date()
    practices.add_absence(
        calendar=world.calendar,
        first_day=today,
        last_day=today + timedelta(days=12),
        reason="Urlaub",
    )
    [hit] = ok(get(client, "/search"))["results"]
    nxt = datetime.fromisoformat(hit["next_free_slot"]).astimezone(BERLIN)
    first_workday = today + timedelta(days=13)
    while first_workday.weekday() >= 5:
        first_workday += timedelta(days=1)
    assert (nxt.date(), nxt.time()) == (first_workday, time(8))


def test_no_next_free_slot_when_the_horizon_is_full(world: World, client: Client) -> None:
    from termin360.portal.services import practices

    today = datetime.now(tz=BERLIN).date()
    practices.add_absence(
        calendar=world.calendar, first_day=today, last_day=today + timedelta(days=40), reason=""
    )
    [hit] = ok(get(client, "/search"))["results"]
    assert hit["next_free_slot"] is None
