"""C1 through the API: locations, calendars, columns, weekly templates, the slot grid,
staff tokens. Changes to the set-up need an administrator."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import Api, Practice, assert_error, booked, slot_id

MON_FRI_8_12 = [
    {"weekday": d, "start": "08:00", "end": "12:00", "slot_minutes": 15} for d in range(5)
]


def _new_calendar(admin_api: Api, practice: Practice, number: int = 7) -> None:
    r = admin_api.post(
        "/calendars",
        {"number": number, "name": "Orthopädie", "location_id": practice.location.pk},
    )
    assert r.status_code == 201, r.content
    r = admin_api.post(f"/calendars/{number}/columns", {"number": 1, "name": "Dr. Roth"})
    assert r.status_code == 201, r.content


# --------------------------------------------------------------------------- set-up rights


def test_admin_creates_location_calendar_and_columns(admin_api: Api, practice: Practice) -> None:
    r = admin_api.post("/locations", {"name": "Karlsruhe", "address": "Kaiserstraße 1"})
    assert r.status_code == 201, r.content
    location = r.json()
    assert location["name"] == "Karlsruhe"
    assert location["time_zone"] == "Europe/Berlin"

    r = admin_api.post("/calendars", {"number": 2, "name": "Innere", "location_id": location["id"]})
    assert r.status_code == 201, r.content
    assert r.json() == {"number": 2, "name": "Innere", "location_id": location["id"], "columns": []}
    for number, name in ((1, "Dr. Adler"), (2, "Labor")):
        r = admin_api.post("/calendars/2/columns", {"number": number, "name": name})
        assert r.status_code == 201, r.content
        assert r.json() == {"number": number, "name": name}

    cal = admin_api.get("/calendars/2").json()
    assert [c["number"] for c in cal["columns"]] == [1, 2]
    assert [c["number"] for c in admin_api.get("/calendars").json()] == [1, 2]
    names = {loc["name"] for loc in admin_api.get("/locations").json()}
    assert names == {"Bruchsal", "Karlsruhe"}


def test_receptionist_may_not_change_the_set_up(api: Api, practice: Practice) -> None:
    assert_error(api.post("/locations", {"name": "Karlsruhe"}), 403, "forbidden")
    assert_error(
        api.post("/calendars", {"number": 2, "name": "X", "location_id": practice.location.pk}),
        403,
        "forbidden",
    )
    assert_error(api.post("/calendars/1/columns", {"number": 3, "name": "X"}), 403, "forbidden")
    assert_error(api.put("/calendars/1/columns/1/template", MON_FRI_8_12), 403, "forbidden")
    first = practice.monday + timedelta(days=14)
    assert_error(
        api.post("/calendars/1/grid", {"first_day": str(first), "last_day": str(first)}),
        403,
        "forbidden",
    )
    assert_error(
        api.post(
            "/calendars/1/columns/1/slots",
            {"day": str(practice.monday), "start": "13:00", "minutes": 15},
        ),
        403,
        "forbidden",
    )
    # … but reads all of it
    assert api.get("/calendars").status_code == 200
    assert api.get("/calendars/1/columns/1/template").status_code == 200


def test_duplicate_location_calendar_and_column_numbers_are_refused_with_409(
    admin_api: Api, practice: Practice
) -> None:
    assert_error(admin_api.post("/locations", {"name": "Bruchsal"}), 409)
    assert_error(
        admin_api.post(
            "/calendars", {"number": 1, "name": "Zweiter", "location_id": practice.location.pk}
        ),
        409,
    )
    assert_error(admin_api.post("/calendars/1/columns", {"number": 2, "name": "Doppelt"}), 409)


def test_set_up_with_unknown_references_is_refused(admin_api: Api, practice: Practice) -> None:
    assert_error(
        admin_api.post("/calendars", {"number": 5, "name": "X", "location_id": 999999}),
        404,
        "not_found",
    )
    assert_error(admin_api.post("/calendars/99/columns", {"number": 1, "name": "X"}), 404)
    assert_error(admin_api.get("/calendars/1/columns/9/template"), 404, "not_found")
    assert_error(admin_api.post("/locations", {"name": "Y", "time_zone": "Mars/Olympus"}), 422)
    assert_error(admin_api.post("/locations", {"name": "Y", "time_zone": "Europe"}), 422)
    assert_error(admin_api.post("/locations", {"name": "   "}), 422)
    assert_error(admin_api.post("/calendars/1/columns", {"number": 0, "name": "X"}), 422)


# --------------------------------------------------------------------------- templates


def test_weekly_template_is_replaced_and_read_back(admin_api: Api, practice: Practice) -> None:
    rules = [
        {"weekday": 2, "start": "14:00", "end": "18:00", "slot_minutes": 20},
        {"weekday": 0, "start": "08:00", "end": "12:00", "slot_minutes": 10},
        {"weekday": 0, "start": "13:00", "end": "15:00", "slot_minutes": 30},
    ]
    r = admin_api.put("/calendars/1/columns/2/template", rules)
    assert r.status_code == 200, r.content
    got = admin_api.get("/calendars/1/columns/2/template").json()
    assert got == [
        {"weekday": 0, "start": "08:00:00", "end": "12:00:00", "slot_minutes": 10},
        {"weekday": 0, "start": "13:00:00", "end": "15:00:00", "slot_minutes": 30},
        {"weekday": 2, "start": "14:00:00", "end": "18:00:00", "slot_minutes": 20},
    ]
    assert r.json() == got
    # the other column is untouched
    assert len(admin_api.get("/calendars/1/columns/1/template").json()) == 5


@pytest.mark.parametrize(
    "rules",
    [
        [
            {"weekday": 0, "start": "08:00", "end": "12:00", "slot_minutes": 15},
            {"weekday": 0, "start": "11:30", "end": "13:00", "slot_minutes": 15},
        ],
        [{"weekday": 0, "start": "12:00", "end": "08:00", "slot_minutes": 15}],
        [{"weekday": 7, "start": "08:00", "end": "12:00", "slot_minutes": 15}],
        [{"weekday": 0, "start": "08:00", "end": "12:00", "slot_minutes": 1}],
        [{"weekday": 0, "start": "8 Uhr", "end": "12:00", "slot_minutes": 15}],
        {"weekday": 0, "start": "08:00", "end": "12:00", "slot_minutes": 15},
    ],
    ids=["overlap", "end-before-start", "weekday-7", "1-minute", "bad-time", "not-a-list"],
)
def test_invalid_template_is_refused_with_422_and_old_one_kept(
    admin_api: Api, practice: Practice, rules: Any
) -> None:
    assert_error(admin_api.put("/calendars/1/columns/1/template", rules), 422)
    assert len(admin_api.get("/calendars/1/columns/1/template").json()) == 5


# --------------------------------------------------------------------------- grid


def _grid(admin_api: Api, number: int, first: date, last: date, **extra: Any) -> Any:
    return admin_api.post(
        f"/calendars/{number}/grid",
        {"first_day": str(first), "last_day": str(last), **extra},
    )


def test_grid_generation_creates_the_template_slots_once(
    admin_api: Api, practice: Practice
) -> None:
    _new_calendar(admin_api, practice)
    assert admin_api.put("/calendars/7/columns/1/template", MON_FRI_8_12).status_code == 200
    first = practice.monday
    last = first + timedelta(days=13)  # two weeks, ten working days

    r = _grid(admin_api, 7, first, last)
    assert r.status_code == 200, r.content
    assert r.json() == [{"column": 1, "created": 160, "removed": 0, "moved_to_additional_list": 0}]

    again = _grid(admin_api, 7, first, last)
    assert again.status_code == 200
    assert again.json()[0]["created"] == 0

    day = admin_api.get(f"/calendars/7/days/{first + timedelta(days=2)}").json()
    slots = day["columns"][0]["slots"]
    assert len(slots) == 16
    assert slots[0]["start"].startswith(f"{first + timedelta(days=2)}T08:00:00")
    assert {s["state"] for s in slots} == {"free"}
    weekend = admin_api.get(f"/calendars/7/days/{first + timedelta(days=5)}").json()
    assert weekend["columns"][0]["slots"] == []


def test_grid_generation_for_some_columns_only(admin_api: Api, practice: Practice) -> None:
    first = practice.monday + timedelta(days=14)
    r = _grid(admin_api, 1, first, first, columns=[2])
    assert r.status_code == 200, r.content
    assert [(g["column"], g["created"]) for g in r.json()] == [(2, 16)]
    day = admin_api.get(f"/calendars/1/days/{first}").json()
    assert [len(c["slots"]) for c in day["columns"]] == [0, 16]


@pytest.mark.parametrize(
    ("first", "last"),
    [(10, 9), (0, 400)],
    ids=["last-before-first", "more-than-400-days"],
)
def test_grid_over_an_invalid_range_is_refused_with_422(
    admin_api: Api, practice: Practice, first: int, last: int
) -> None:
    m = practice.monday
    assert_error(_grid(admin_api, 1, m + timedelta(days=first), m + timedelta(days=last)), 422)


def test_grid_for_unknown_calendar_or_column_is_404(admin_api: Api, practice: Practice) -> None:
    m = practice.monday
    assert_error(_grid(admin_api, 9, m, m), 404, "not_found")
    assert_error(_grid(admin_api, 1, m, m, columns=[1, 5]), 404, "not_found")


def test_rebuild_after_template_change_keeps_displaced_appointment_in_additional_list(
    admin_api: Api, api: Api, practice: Practice
) -> None:
    monday = practice.monday
    late = booked(api, slot_id(practice, 1, monday, "11:30"), text="Spät", slot_count=2)
    kept = booked(api, slot_id(practice, 1, monday, "09:00"), text="Früh")
    # Mondays now end at 11:00 in column 1
    rules = [{**r, "end": "11:00"} if r["weekday"] == 0 else r for r in MON_FRI_8_12]
    assert admin_api.put("/calendars/1/columns/1/template", rules).status_code == 200

    r = _grid(admin_api, 1, monday, monday + timedelta(days=13), columns=[1], rebuild=True)
    assert r.status_code == 200, r.content
    # 4 slots on each of the two Mondays are gone; nothing to add
    assert r.json() == [{"column": 1, "created": 0, "removed": 8, "moved_to_additional_list": 1}]

    moved = api.get(f"/appointments/{late['id']}").json()
    assert moved["in_additional_list"] is True
    assert moved["column"] is None
    assert moved["flagged"] is True
    assert moved["flag_reason"] == "grid_changed"
    assert moved["text"] == "Spät"
    assert moved["start"] == late["start"]  # the wished-for time is kept
    additional = api.get(f"/calendars/1/additional/{monday}").json()
    assert [a["id"] for a in additional] == [late["id"]]

    day = api.get(f"/calendars/1/days/{monday}").json()
    assert len(day["columns"][0]["slots"]) == 12
    assert len(day["columns"][1]["slots"]) == 16
    assert api.get(f"/appointments/{kept['id']}").json()["column"] == 1
    # the displacement is in the appointment's history
    actions = [e["action"] for e in api.get(f"/appointments/{late['id']}/history").json()]
    assert actions[-1] == "grid_changed"


def test_rebuild_adds_slots_of_a_longer_template(admin_api: Api, practice: Practice) -> None:
    rules = [{**r, "end": "13:00"} for r in MON_FRI_8_12]
    assert admin_api.put("/calendars/1/columns/2/template", rules).status_code == 200
    m = practice.monday
    r = _grid(admin_api, 1, m, m + timedelta(days=4), columns=[2], rebuild=True)
    assert r.json() == [{"column": 2, "created": 20, "removed": 0, "moved_to_additional_list": 0}]
    day = admin_api.get(f"/calendars/1/days/{m}").json()
    assert len(day["columns"][1]["slots"]) == 20


def test_admin_adds_a_single_slot(admin_api: Api, api: Api, practice: Practice) -> None:
    m = practice.monday
    r = admin_api.post(
        "/calendars/1/columns/2/slots", {"day": str(m), "start": "18:00", "minutes": 30}
    )
    assert r.status_code == 201, r.content
    slot = r.json()
    assert slot["state"] == "free"
    assert slot["column"] == 2
    assert slot["start"].startswith(f"{m}T18:00:00")
    assert slot["end"].startswith(f"{m}T18:30:00")
    booked(api, slot["id"])
    assert_error(
        admin_api.post(
            "/calendars/1/columns/2/slots", {"day": str(m), "start": "11:50", "minutes": 15}
        ),
        409,
        "slot_overlap",
    )


# --------------------------------------------------------------------------- daylight saving


def _utc_starts(number: int, day: date) -> list[datetime]:
    from termin360.practice.models import Slot

    return [
        s.astimezone(UTC)
        for s in Slot.objects.filter(column__calendar__number=number, day=day)
        .order_by("start")
        .values_list("start", flat=True)
    ]


def test_grid_over_the_spring_dst_change_stores_correct_utc(
    admin_api: Api, practice: Practice
) -> None:
    _new_calendar(admin_api, practice)
    sunday_night = [{"weekday": 6, "start": "01:00", "end": "04:00", "slot_minutes": 30}]
    assert admin_api.put("/calendars/7/columns/1/template", sunday_night).status_code == 200
    r = _grid(admin_api, 7, date(2027, 3, 22), date(2027, 3, 28))
    # 02:00 and 02:30 do not exist on 28 March 2027 in Europe/Berlin
    assert r.json()[0]["created"] == 4
    assert _utc_starts(7, date(2027, 3, 28)) == [
        datetime(2027, 3, 28, 0, 0, tzinfo=UTC),  # 01:00 CET
        datetime(2027, 3, 28, 0, 30, tzinfo=UTC),  # 01:30 CET
        datetime(2027, 3, 28, 1, 0, tzinfo=UTC),  # 03:00 CEST
        datetime(2027, 3, 28, 1, 30, tzinfo=UTC),  # 03:30 CEST
    ]
    day = admin_api.get("/calendars/7/days/2027-03-28").json()
    assert [s["start"] for s in day["columns"][0]["slots"]] == [
        "2027-03-28T01:00:00+01:00",
        "2027-03-28T01:30:00+01:00",
        "2027-03-28T03:00:00+02:00",
        "2027-03-28T03:30:00+02:00",
    ]
    # the week before, an ordinary Sunday, has all six
    _grid(admin_api, 7, date(2027, 3, 21), date(2027, 3, 21))
    assert len(_utc_starts(7, date(2027, 3, 21))) == 6
    assert _utc_starts(7, date(2027, 3, 21))[0] == datetime(2027, 3, 21, 0, 0, tzinfo=UTC)


def test_grid_over_the_autumn_dst_change_places_the_repeated_hour_once(
    admin_api: Api, practice: Practice
) -> None:
    _new_calendar(admin_api, practice)
    sunday_night = [{"weekday": 6, "start": "01:00", "end": "04:00", "slot_minutes": 30}]
    assert admin_api.put("/calendars/7/columns/1/template", sunday_night).status_code == 200
    r = _grid(admin_api, 7, date(2027, 10, 31), date(2027, 10, 31))
    assert r.json()[0]["created"] == 6
    assert _utc_starts(7, date(2027, 10, 31)) == [
        datetime(2027, 10, 30, 23, 0, tzinfo=UTC),  # 01:00 CEST
        datetime(2027, 10, 30, 23, 30, tzinfo=UTC),
        datetime(2027, 10, 31, 0, 0, tzinfo=UTC),  # 02:00 CEST (first occurrence)
        datetime(2027, 10, 31, 0, 30, tzinfo=UTC),
        datetime(2027, 10, 31, 2, 0, tzinfo=UTC),  # 03:00 CET
        datetime(2027, 10, 31, 2, 30, tzinfo=UTC),
    ]


def test_booking_by_local_time_on_the_dst_day_finds_the_right_slot(
    admin_api: Api, api: Api, practice: Practice
) -> None:
    _new_calendar(admin_api, practice)
    sunday_night = [{"weekday": 6, "start": "01:00", "end": "04:00", "slot_minutes": 30}]
    admin_api.put("/calendars/7/columns/1/template", sunday_night)
    _grid(admin_api, 7, date(2027, 3, 28), date(2027, 3, 28))
    r = api.post(
        "/appointments",
        {"calendar": 7, "column": 1, "start": "2027-03-28T03:00:00", "text": "Nachtdienst"},
    )
    assert r.status_code == 201, r.content
    assert r.json()["start"] == "2027-03-28T03:00:00+02:00"
    # a time in the gap does not exist
    gap = api.post(
        "/appointments",
        {"calendar": 7, "column": 1, "start": "2027-03-28T02:30:00", "text": "Nachtdienst"},
    )
    assert_error(gap, 422)


# --------------------------------------------------------------------------- tokens


def test_token_with_a_wrong_password_is_refused_with_401(client: Any, practice: Practice) -> None:
    r = client.post(
        "/api/v1/auth/token",
        {"username": "empfang", "password": "falsch"},
        content_type="application/json",
    )
    assert_error(r, 401, "bad_credentials")
    r = client.post(
        "/api/v1/auth/token",
        {"username": "niemand", "password": "empfang-pass-123"},
        content_type="application/json",
    )
    assert_error(r, 401, "bad_credentials")


def test_token_of_an_inactive_user_is_refused(client: Any, practice: Practice) -> None:
    practice.staff.is_active = False
    practice.staff.save()
    r = client.post(
        "/api/v1/auth/token",
        {"username": "empfang", "password": "empfang-pass-123"},
        content_type="application/json",
    )
    assert_error(r, 401)


def test_api_without_or_with_a_wrong_token_is_401(client: Any, practice: Practice) -> None:
    assert_error(client.get("/api/v1/calendars"), 401, "unauthenticated")
    assert_error(
        client.get("/api/v1/calendars", HTTP_AUTHORIZATION="Bearer t360p_nonsense"),
        401,
        "unauthenticated",
    )
    r = client.post(
        "/api/v1/appointments",
        {"slot_id": 1, "text": "x"},
        content_type="application/json",
    )
    assert_error(r, 401, "unauthenticated")


def test_token_identifies_the_staff_member(api: Api, admin_api: Api) -> None:
    assert api.get("/auth/me").json() == {"username": "empfang", "is_admin": False}
    assert admin_api.get("/auth/me").json() == {"username": "admin", "is_admin": True}


def test_generating_never_creates_slots_that_overlap_a_slot_added_by_hand(
    admin_api: Api, api: Api, practice: Practice
) -> None:
    m = practice.monday
    extra = admin_api.post(
        "/calendars/1/columns/1/slots", {"day": str(m), "start": "12:00", "minutes": 30}
    ).json()
    longer = [{**r, "end": "13:00"} for r in MON_FRI_8_12]
    admin_api.put("/calendars/1/columns/1/template", longer)
    r = _grid(admin_api, 1, m, m, columns=[1])
    # 12:00 exists already, 12:15 would overlap it; 12:30 and 12:45 are new
    assert r.json()[0]["created"] == 2
    slots = admin_api.get(f"/calendars/1/days/{m}").json()["columns"][0]["slots"]
    starts = [s["start"][11:16] for s in slots]
    assert starts[-3:] == ["12:00", "12:30", "12:45"]
    assert all(a["end"] <= b["start"] for a, b in itertools.pairwise(slots))
    booked(api, extra["id"])


@pytest.mark.parametrize("path", ["/calendars", "/calendars/1/columns"])
def test_blank_names_are_refused_with_422(admin_api: Api, practice: Practice, path: str) -> None:
    body: dict[str, Any] = {"number": 5, "name": "   "}
    if path == "/calendars":
        body["location_id"] = practice.location.pk
    assert_error(admin_api.post(path, body), 422)


def test_a_token_of_a_deactivated_staff_member_stops_working(api: Api, practice: Practice) -> None:
    assert api.get("/calendars").status_code == 200
    practice.staff.is_active = False
    practice.staff.save()
    assert_error(api.get("/calendars"), 401, "unauthenticated")


def test_a_location_in_another_zone_gets_its_grid_in_local_time(
    admin_api: Api, api: Api, practice: Practice
) -> None:
    loc = admin_api.post("/locations", {"name": "Lissabon", "time_zone": "Europe/Lisbon"}).json()
    admin_api.post("/calendars", {"number": 8, "name": "Filiale", "location_id": loc["id"]})
    admin_api.post("/calendars/8/columns", {"number": 1, "name": "Dr. Costa"})
    admin_api.put(
        "/calendars/8/columns/1/template",
        [{"weekday": 0, "start": "08:00", "end": "09:00", "slot_minutes": 30}],
    )
    _grid(admin_api, 8, date(2030, 1, 7), date(2030, 1, 7))  # a Monday in winter: UTC+0
    _grid(admin_api, 8, date(2030, 7, 8), date(2030, 7, 8))  # a Monday in summer: UTC+1
    assert _utc_starts(8, date(2030, 1, 7))[0] == datetime(2030, 1, 7, 8, 0, tzinfo=UTC)
    assert _utc_starts(8, date(2030, 7, 8))[0] == datetime(2030, 7, 8, 7, 0, tzinfo=UTC)
    winter = api.get("/calendars/8/days/2030-01-07").json()["columns"][0]["slots"]
    assert winter[0]["start"] == "2030-01-07T08:00:00Z" or winter[0]["start"].endswith("+00:00")
    r = api.post(
        "/appointments", {"calendar": 8, "column": 1, "start": "2030-07-08T08:30", "text": "x"}
    )
    assert r.status_code == 201, r.content
    assert r.json()["start"] == "2030-07-08T08:30:00+01:00"
