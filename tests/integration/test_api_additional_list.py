"""C4 through the API: the additional list (Zusatzliste) holds appointments without a slot;
any of them can be placed onto a free slot of any column, and go back."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.conftest import Api, Practice, assert_error, booked, slot_id, slot_state


def _add(api: Api, practice: Practice, **body: Any) -> Any:
    return api.post(
        "/additional-appointments",
        {"calendar": 1, "day": str(practice.monday), "text": "Notfall Meier", **body},
    )


def _additional_ids(api: Api, practice: Practice, offset: int = 0) -> list[int]:
    day = practice.monday + timedelta(days=offset)
    return [a["id"] for a in api.get(f"/calendars/1/additional/{day}").json()]


def test_adding_to_the_additional_list(api: Api, practice: Practice) -> None:
    r = _add(api, practice, reason="Schmerzen", start=f"{practice.monday}T10:00")
    assert r.status_code == 201, r.content
    appt = r.json()
    assert appt["in_additional_list"] is True
    assert appt["column"] is None
    assert appt["slot_count"] == 0
    assert appt["day"] == str(practice.monday)
    assert appt["start"].startswith(f"{practice.monday}T10:00")
    assert appt["reason"] == "Schmerzen"
    # listed for its day, and in the day view
    assert _additional_ids(api, practice) == [appt["id"]]
    assert _additional_ids(api, practice, 1) == []
    view = api.get(f"/calendars/1/days/{practice.monday}").json()
    assert [a["id"] for a in view["additional"]] == [appt["id"]]


def test_the_additional_list_is_sorted_by_wished_time(api: Api, practice: Practice) -> None:
    late = _add(api, practice, start=f"{practice.monday}T11:00").json()
    early = _add(api, practice, start=f"{practice.monday}T08:00").json()
    assert _additional_ids(api, practice) == [early["id"], late["id"]]


def test_an_additional_appointment_needs_a_patient_or_a_text(api: Api, practice: Practice) -> None:
    assert_error(_add(api, practice, text=""), 422, "patient_or_text")
    assert_error(
        _add(api, practice, start=f"{practice.monday}T11:00", end=f"{practice.monday}T10:00"),
        422,
    )
    assert_error(_add(api, practice, calendar=9), 404, "not_found")
    assert_error(api.get(f"/calendars/9/additional/{practice.monday}"), 404, "not_found")
    assert _additional_ids(api, practice) == []


def test_moving_from_the_additional_list_onto_a_free_slot_of_any_column(
    api: Api, practice: Practice
) -> None:
    first = _add(api, practice).json()
    second = _add(api, practice, text="Frau Schulz").json()
    wednesday = practice.monday + timedelta(days=2)

    r = api.post(
        f"/appointments/{first['id']}/move", {"slot_id": slot_id(practice, 2, wednesday, "10:15")}
    )
    assert r.status_code == 200, r.content
    assert r.json()["in_additional_list"] is False
    assert r.json()["column"] == 2
    assert r.json()["day"] == str(wednesday)
    assert r.json()["slot_count"] == 1
    assert r.json()["start"].startswith(f"{wednesday}T10:15")

    r = api.post(
        f"/appointments/{second['id']}/move",
        {"column": 1, "start": f"{practice.monday}T08:00"},
    )
    assert r.status_code == 200, r.content
    assert r.json()["column"] == 1
    assert _additional_ids(api, practice) == []
    assert (
        slot_state(api, slot_id(practice, 1, practice.monday, "08:00"))["appointment_id"]
        == (second["id"])
    )


def test_moving_from_the_additional_list_onto_a_taken_slot_keeps_it_in_the_list(
    api: Api, practice: Practice
) -> None:
    waiting = _add(api, practice).json()
    slot = slot_id(practice, 1, practice.monday, "09:00")
    holder = booked(api, slot)
    assert_error(api.post(f"/appointments/{waiting['id']}/move", {"slot_id": slot}), 409)
    assert _additional_ids(api, practice) == [waiting["id"]]
    assert slot_state(api, slot)["appointment_id"] == holder["id"]


def test_moving_back_to_the_additional_list_keeps_the_appointment(
    api: Api, practice: Practice
) -> None:
    appt = booked(
        api, slot_id(practice, 1, practice.monday, "09:00"), slot_count=2, text="Herr Vogel"
    )
    r = api.post(f"/appointments/{appt['id']}/move", {"to_additional_list": True})
    assert r.status_code == 200, r.content
    back = r.json()
    assert back["in_additional_list"] is True
    assert back["column"] is None
    assert back["text"] == "Herr Vogel"
    assert back["start"] == appt["start"]  # the time is kept as the wish
    assert _additional_ids(api, practice) == [appt["id"]]
    for t in ("09:00", "09:15"):
        assert slot_state(api, slot_id(practice, 1, practice.monday, t))["state"] == "free"
    # moving it to the list again changes nothing
    again = api.post(f"/appointments/{appt['id']}/move", {"to_additional_list": True})
    assert again.status_code == 200
    assert again.json() == back


def test_deleting_an_appointment_of_the_additional_list(api: Api, practice: Practice) -> None:
    appt = _add(api, practice).json()
    assert api.delete(f"/appointments/{appt['id']}").status_code == 204
    assert _additional_ids(api, practice) == []
