"""C5 through the API: moving appointments (drag & drop) within and between columns and
days; a move either happens completely or not at all."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import Api, Practice, assert_error, booked, slot_id, slot_state


def _move(api: Api, appointment: dict[str, Any], **target: Any) -> Any:
    return api.post(f"/appointments/{appointment['id']}/move", target)


def _holder(api: Api, practice: Practice, column: int, offset: int, at: str) -> int | None:
    day = practice.monday + timedelta(days=offset)
    result = slot_state(api, slot_id(practice, column, day, at))["appointment_id"]
    return int(result) if result is not None else None


def test_moving_within_a_column(api: Api, practice: Practice) -> None:
    appt = booked(api, slot_id(practice, 1, practice.monday, "09:00"))
    r = _move(api, appt, slot_id=slot_id(practice, 1, practice.monday, "11:00"))
    assert r.status_code == 200, r.content
    assert r.json()["start"].startswith(f"{practice.monday}T11:00")
    assert _holder(api, practice, 1, 0, "09:00") is None
    assert _holder(api, practice, 1, 0, "11:00") == appt["id"]


def test_moving_to_another_column(api: Api, practice: Practice) -> None:
    appt = booked(api, slot_id(practice, 1, practice.monday, "09:00"))
    r = _move(api, appt, column=2, start=f"{practice.monday}T09:00")
    assert r.status_code == 200, r.content
    assert r.json()["column"] == 2
    assert _holder(api, practice, 1, 0, "09:00") is None
    assert _holder(api, practice, 2, 0, "09:00") == appt["id"]


def test_moving_to_another_day(api: Api, practice: Practice) -> None:
    appt = booked(api, slot_id(practice, 2, practice.monday, "09:00"))
    friday = practice.monday + timedelta(days=11)
    r = _move(api, appt, slot_id=slot_id(practice, 1, friday, "08:15"))
    assert r.status_code == 200, r.content
    assert r.json()["day"] == str(friday)
    assert r.json()["column"] == 1
    assert _holder(api, practice, 2, 0, "09:00") is None
    assert _holder(api, practice, 1, 11, "08:15") == appt["id"]


def test_a_moved_multi_slot_appointment_keeps_its_length(api: Api, practice: Practice) -> None:
    appt = booked(api, slot_id(practice, 1, practice.monday, "09:00"), slot_count=3)
    tuesday = practice.monday + timedelta(days=1)
    r = _move(api, appt, slot_id=slot_id(practice, 2, tuesday, "10:00"))
    assert r.status_code == 200, r.content
    assert r.json()["slot_count"] == 3
    assert r.json()["start"].startswith(f"{tuesday}T10:00")
    assert r.json()["end"].startswith(f"{tuesday}T10:45")
    assert [_holder(api, practice, 2, 1, t) for t in ("10:00", "10:15", "10:30", "10:45")] == [
        appt["id"],
        appt["id"],
        appt["id"],
        None,
    ]
    assert [_holder(api, practice, 1, 0, t) for t in ("09:00", "09:15", "09:30")] == [None] * 3


def test_a_multi_slot_appointment_moves_onto_a_run_overlapping_itself(
    api: Api, practice: Practice
) -> None:
    appt = booked(api, slot_id(practice, 1, practice.monday, "09:00"), slot_count=3)
    r = _move(api, appt, slot_id=slot_id(practice, 1, practice.monday, "09:15"))
    assert r.status_code == 200, r.content
    assert r.json()["slot_count"] == 3
    assert [_holder(api, practice, 1, 0, t) for t in ("09:00", "09:15", "09:45")] == [
        None,
        appt["id"],
        appt["id"],
    ]


@pytest.mark.parametrize("target_at", ["10:00", "09:30"], ids=["onto-it", "running-into-it"])
def test_moving_onto_a_taken_slot_is_refused_and_nothing_changes(
    api: Api, practice: Practice, target_at: str
) -> None:
    mover = booked(api, slot_id(practice, 1, practice.monday, "08:00"), slot_count=3)
    other = booked(api, slot_id(practice, 2, practice.monday, "10:00"))
    r = _move(api, mover, slot_id=slot_id(practice, 2, practice.monday, target_at))
    assert_error(r, 409, "slot_taken")
    after = api.get(f"/appointments/{mover['id']}").json()
    assert after == mover
    assert [_holder(api, practice, 1, 0, t) for t in ("08:00", "08:15", "08:30")] == [
        mover["id"]
    ] * 3
    assert _holder(api, practice, 2, 0, "10:00") == other["id"]
    assert _holder(api, practice, 2, 0, "09:30") is None


def test_moving_onto_a_blocked_or_reserved_slot_is_refused(api: Api, practice: Practice) -> None:
    mover = booked(api, slot_id(practice, 1, practice.monday, "08:00"))
    blocked = slot_id(practice, 1, practice.monday, "09:00")
    api.post(f"/slots/{blocked}/annotation", {"text": "zu"})
    assert_error(_move(api, mover, slot_id=blocked), 409, "slot_taken")
    api.post(
        "/calendars/1/reservations",
        {
            "columns": [2],
            "first_day": str(practice.monday),
            "last_day": str(practice.monday),
            "start": "10:00",
            "end": "11:00",
            "reason": "OP",
        },
    )
    assert_error(
        _move(api, mover, slot_id=slot_id(practice, 2, practice.monday, "10:30")),
        409,
        "slot_taken",
    )
    assert _holder(api, practice, 1, 0, "08:00") == mover["id"]


def test_moving_past_the_end_of_the_grid_is_refused(api: Api, practice: Practice) -> None:
    mover = booked(api, slot_id(practice, 1, practice.monday, "08:00"), slot_count=2)
    r = _move(api, mover, slot_id=slot_id(practice, 2, practice.monday, "11:45"))
    assert_error(r, 422, "outside_grid")
    assert api.get(f"/appointments/{mover['id']}").json() == mover


def test_moving_to_another_calendar_is_refused_with_422(
    admin_api: Api, api: Api, practice: Practice
) -> None:
    admin_api.post(
        "/calendars", {"number": 2, "name": "Zweitpraxis", "location_id": practice.location.pk}
    )
    admin_api.post("/calendars/2/columns", {"number": 1, "name": "Dr. Fuchs"})
    admin_api.put(
        "/calendars/2/columns/1/template",
        [{"weekday": 0, "start": "08:00", "end": "09:00", "slot_minutes": 15}],
    )
    admin_api.post(
        "/calendars/2/grid", {"first_day": str(practice.monday), "last_day": str(practice.monday)}
    )
    foreign_slot = admin_api.get(f"/calendars/2/days/{practice.monday}").json()["columns"][0][
        "slots"
    ][0]["id"]
    mover = booked(api, slot_id(practice, 1, practice.monday, "08:00"))
    assert_error(_move(api, mover, slot_id=foreign_slot), 422, "other_calendar")
    assert api.get(f"/appointments/{mover['id']}").json() == mover
    assert slot_state(api, foreign_slot)["state"] == "free"


def test_move_targets_that_do_not_exist(api: Api, practice: Practice) -> None:
    mover = booked(api, slot_id(practice, 1, practice.monday, "08:00"))
    assert_error(_move(api, mover, slot_id=999999), 404, "not_found")
    assert_error(_move(api, mover, column=9, start=f"{practice.monday}T09:00"), 404, "not_found")
    assert_error(_move(api, mover, column=1, start=f"{practice.monday}T09:07"), 422)
    assert_error(_move(api, mover), 422)
    assert_error(api.post("/appointments/999999/move", {"to_additional_list": True}), 404)
    assert api.get(f"/appointments/{mover['id']}").json() == mover
