"""C3 through the API: reservations block a time range on several days in several columns."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from tests.conftest import Api, Practice, assert_error, book, booked, slot_id, slot_state


def _reserve(api: Api, first: date, last: date, **extra: Any) -> Any:
    body = {
        "columns": [1, 2],
        "first_day": str(first),
        "last_day": str(last),
        "start": "09:00",
        "end": "10:00",
        "reason": "Praxisbesprechung",
        **extra,
    }
    return api.post("/calendars/1/reservations", body)


def _reserved_times(api: Api, day: date, column: int) -> list[str]:
    view = api.get(f"/calendars/1/days/{day}").json()
    col = next(c for c in view["columns"] if c["number"] == column)
    return [s["start"][11:16] for s in col["slots"] if s["reserved"]]


def test_a_reservation_blocks_its_range_on_every_day_in_every_column(
    api: Api, practice: Practice
) -> None:
    monday, wednesday = practice.monday, practice.monday + timedelta(days=2)
    r = _reserve(api, monday, wednesday)
    assert r.status_code == 201, r.content
    reservation = r.json()
    assert reservation["columns"] == [1, 2]
    assert reservation["start"] == "09:00:00"
    assert reservation["reason"] == "Praxisbesprechung"

    for offset in range(3):
        day = monday + timedelta(days=offset)
        for column in (1, 2):
            assert _reserved_times(api, day, column) == ["09:00", "09:15", "09:30", "09:45"]
        view = api.get(f"/calendars/1/days/{day}").json()
        assert all(reservation["id"] in c["reservation_ids"] for c in view["columns"])
    thursday = monday + timedelta(days=3)
    assert _reserved_times(api, thursday, 1) == []

    listed = api.get(f"/calendars/1/reservations?first_day={monday}&last_day={thursday}").json()
    assert [x["id"] for x in listed] == [reservation["id"]]
    later = monday + timedelta(days=7)
    assert api.get(f"/calendars/1/reservations?first_day={later}&last_day={later}").json() == []


def test_booking_into_a_reservation_is_refused(api: Api, practice: Practice) -> None:
    tuesday = practice.monday + timedelta(days=1)
    _reserve(api, practice.monday, tuesday, columns=[2])
    assert_error(book(api, slot_id(practice, 2, tuesday, "09:30")), 409, "slot_taken")
    # a multi-slot appointment may not run into it
    assert_error(book(api, slot_id(practice, 2, tuesday, "08:45"), slot_count=2), 409)
    # the other column and the times around it stay bookable
    booked(api, slot_id(practice, 1, tuesday, "09:30"))
    booked(api, slot_id(practice, 2, tuesday, "10:00"))
    booked(api, slot_id(practice, 2, tuesday, "08:30"), slot_count=2)


def test_a_reservation_over_an_existing_appointment_is_refused_with_409(
    api: Api, practice: Practice
) -> None:
    tuesday = practice.monday + timedelta(days=1)
    booked(api, slot_id(practice, 2, tuesday, "09:45"))
    body = assert_error(_reserve(api, practice.monday, tuesday), 409, "appointment_in_range")
    assert "2" in body["detail"]  # names the column
    assert _reserved_times(api, practice.monday, 1) == []
    assert (
        api.get(f"/calendars/1/reservations?first_day={practice.monday}&last_day={tuesday}").json()
        == []
    )


def test_a_reservation_next_to_an_appointment_is_fine(api: Api, practice: Practice) -> None:
    booked(api, slot_id(practice, 1, practice.monday, "08:45"))
    booked(api, slot_id(practice, 1, practice.monday, "10:00"))
    assert _reserve(api, practice.monday, practice.monday).status_code == 201


def test_deleting_a_reservation_frees_its_slots(api: Api, practice: Practice) -> None:
    reservation = _reserve(api, practice.monday, practice.monday + timedelta(days=1)).json()
    slot = slot_id(practice, 1, practice.monday, "09:00")
    assert slot_state(api, slot)["reserved"] is True
    assert api.delete(f"/reservations/{reservation['id']}").status_code == 204
    assert slot_state(api, slot)["reserved"] is False
    assert _reserved_times(api, practice.monday, 2) == []
    booked(api, slot)
    assert_error(api.delete(f"/reservations/{reservation['id']}"), 404, "not_found")


def test_reservation_in_an_unknown_column_or_calendar_is_404(api: Api, practice: Practice) -> None:
    assert_error(_reserve(api, practice.monday, practice.monday, columns=[1, 7]), 404, "not_found")
    r = api.post(
        "/calendars/9/reservations",
        {
            "columns": [1],
            "first_day": str(practice.monday),
            "last_day": str(practice.monday),
            "start": "09:00",
            "end": "10:00",
            "reason": "x",
        },
    )
    assert_error(r, 404, "not_found")
    assert_error(api.get("/calendars/9/reservations?first_day=2030-01-01&last_day=2030-01-02"), 404)


def test_invalid_reservations_are_refused_with_422(api: Api, practice: Practice) -> None:
    m = practice.monday
    assert_error(_reserve(api, m, m - timedelta(days=1)), 422)
    assert_error(_reserve(api, m, m, start="10:00", end="09:00"), 422)
    assert_error(_reserve(api, m, m, reason=""), 422)
    assert_error(_reserve(api, m, m, reason="   "), 422)
    assert_error(_reserve(api, m, m, columns=[]), 422)
    assert_error(_reserve(api, m, m + timedelta(days=400)), 422)
    assert_error(_reserve(api, m, m, start="9 Uhr"), 422)


def test_a_reservation_until_midnight_covers_the_rest_of_the_day(
    api: Api, practice: Practice
) -> None:
    r = _reserve(api, practice.monday, practice.monday, start="11:00", end="00:00", columns=[1])
    assert r.status_code == 201, r.content
    assert _reserved_times(api, practice.monday, 1) == ["11:00", "11:15", "11:30", "11:45"]


def test_a_reservation_over_times_without_slots_is_saved_with_a_warning(
    api: Api, practice: Practice
) -> None:
    """It still blocks that time online (where the portal might offer it); the answer warns,
    because a wrong year or time is the likelier cause. One covering a slot does not."""
    r = _reserve(api, practice.monday, practice.monday, start="21:00", end="22:00")
    assert r.status_code == 201, r.content
    assert r.json()["warning_code"] == "no_slots_in_range"
    assert "no slots" in r.json()["warning"] or "keine Zeiten" in r.json()["warning"]
    assert _reserved_times(api, practice.monday, 1) == []
    fine = _reserve(api, practice.monday + timedelta(days=1), practice.monday + timedelta(days=1))
    assert fine.status_code == 201
    assert fine.json()["warning"] is None and fine.json()["warning_code"] is None
