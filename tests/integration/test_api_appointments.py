"""C2 through the API: slot states (free, note, annotation, appointment), appointments for a
patient or a free text, multi-slot appointments that grow and shrink."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import Api, Practice, assert_error, book, booked, slot_id, slot_state


@pytest.fixture
def patient(api: Api, practice: Practice) -> dict[str, Any]:
    r = api.post(
        "/patients",
        {
            "location_id": practice.location.pk,
            "last_name": "Müller",
            "first_name": "Hans",
            "date_of_birth": "1961-04-12",
        },
    )
    assert r.status_code == 201, r.content
    return dict(r.json())


# --------------------------------------------------------------------------- notes, annotations


def test_a_note_keeps_the_slot_bookable(api: Api, practice: Practice) -> None:
    slot = slot_id(practice, 1, practice.monday, "09:00")
    r = api.put(f"/slots/{slot}/note", {"text": "  Gerät defekt? "})
    assert r.status_code == 200, r.content
    assert r.json()["state"] == "note"
    assert r.json()["note"] == "Gerät defekt?"

    appt = booked(api, slot)
    after = slot_state(api, slot)
    assert after["state"] == "appointment"
    assert after["appointment_id"] == appt["id"]
    assert after["note"] == "Gerät defekt?"
    # deleting the appointment leaves the note
    assert api.delete(f"/appointments/{appt['id']}").status_code == 204
    assert slot_state(api, slot)["state"] == "note"


def test_an_empty_note_clears_it(api: Api, practice: Practice) -> None:
    slot = slot_id(practice, 1, practice.monday, "09:00")
    api.put(f"/slots/{slot}/note", {"text": "Rückruf"})
    r = api.put(f"/slots/{slot}/note", {"text": ""})
    assert r.json()["state"] == "free"
    assert r.json()["note"] == ""


def test_deleting_a_free_slot_turns_it_into_a_blocking_annotation(
    api: Api, practice: Practice
) -> None:
    slot = slot_id(practice, 1, practice.monday, "09:00")
    r = api.post(f"/slots/{slot}/annotation", {"text": "Fortbildung"})
    assert r.status_code == 200, r.content
    assert r.json()["state"] == "annotation"
    assert r.json()["annotation"] == "Fortbildung"

    assert_error(book(api, slot), 409, "slot_taken")
    # nor can a multi-slot appointment run across it
    before = slot_id(practice, 1, practice.monday, "08:45")
    assert_error(book(api, before, slot_count=2), 409, "slot_taken")
    # twice is refused
    assert_error(api.post(f"/slots/{slot}/annotation", {"text": "x"}), 409, "already_annotation")


def test_removing_an_annotation_makes_the_slot_free_again(api: Api, practice: Practice) -> None:
    slot = slot_id(practice, 1, practice.monday, "09:00")
    api.post(f"/slots/{slot}/annotation", {"text": "Fortbildung"})
    r = api.delete(f"/slots/{slot}/annotation")
    assert r.status_code == 200, r.content
    assert r.json()["state"] == "free"
    assert r.json()["annotation"] == ""
    booked(api, slot)


def test_removing_an_annotation_from_a_noted_slot_leaves_the_note(
    api: Api, practice: Practice
) -> None:
    slot = slot_id(practice, 1, practice.monday, "09:00")
    api.put(f"/slots/{slot}/note", {"text": "Rückruf Labor"})
    assert api.post(f"/slots/{slot}/annotation", {}).json()["state"] == "annotation"
    r = api.delete(f"/slots/{slot}/annotation")
    assert r.json()["state"] == "note"
    assert r.json()["note"] == "Rückruf Labor"


def test_annotation_transitions_that_the_state_does_not_allow_are_409(
    api: Api, practice: Practice
) -> None:
    slot = slot_id(practice, 1, practice.monday, "09:00")
    assert_error(api.delete(f"/slots/{slot}/annotation"), 409, "not_annotation")
    booked(api, slot)
    assert_error(api.post(f"/slots/{slot}/annotation", {}), 409, "slot_has_appointment")
    assert slot_state(api, slot)["state"] == "appointment"


def test_slot_endpoints_with_an_unknown_slot_are_404(api: Api, practice: Practice) -> None:
    assert_error(api.get("/slots/999999"), 404, "not_found")
    assert_error(api.put("/slots/999999/note", {"text": "x"}), 404, "not_found")
    assert_error(api.post("/slots/999999/annotation", {}), 404, "not_found")
    assert_error(api.delete("/slots/999999/annotation"), 404, "not_found")


# --------------------------------------------------------------------------- booking


def test_booking_a_free_slot_for_a_patient(
    api: Api, practice: Practice, patient: dict[str, Any]
) -> None:
    slot = slot_id(practice, 2, practice.monday, "10:30")
    r = book(api, slot, patient_id=patient["id"], reason=" Impfung ")
    assert r.status_code == 201, r.content
    appt = r.json()
    assert appt["calendar"] == 1
    assert appt["column"] == 2
    assert appt["day"] == str(practice.monday)
    assert appt["start"] == f"{practice.monday}T10:30:00+0{_offset(practice)}:00"
    assert appt["slot_count"] == 1
    assert appt["in_additional_list"] is False
    assert appt["patient"]["last_name"] == "Müller"
    assert appt["reason"] == "Impfung"
    assert appt["origin"] == "practice"
    assert api.get(f"/appointments/{appt['id']}").json() == appt


def _offset(practice: Practice) -> int:
    from datetime import datetime, time
    from zoneinfo import ZoneInfo

    when = datetime.combine(practice.monday, time(10, 30), ZoneInfo("Europe/Berlin"))
    offset = when.utcoffset()
    assert offset is not None
    return int(offset.total_seconds() // 3600)


def test_booking_with_a_free_text_and_by_column_and_local_time(
    api: Api, practice: Practice
) -> None:
    r = api.post(
        "/appointments",
        {"calendar": 1, "column": 1, "start": f"{practice.monday}T11:45", "text": "Frau Bauer"},
    )
    assert r.status_code == 201, r.content
    assert r.json()["patient"] is None
    assert r.json()["text"] == "Frau Bauer"
    assert r.json()["start"].startswith(f"{practice.monday}T11:45:00")
    assert slot_state(api, slot_id(practice, 1, practice.monday, "11:45"))["state"] == (
        "appointment"
    )


def test_an_appointment_needs_a_patient_or_a_text(api: Api, practice: Practice) -> None:
    slot = slot_id(practice, 1, practice.monday, "09:00")
    assert_error(api.post("/appointments", {"slot_id": slot}), 422, "patient_or_text")
    assert_error(api.post("/appointments", {"slot_id": slot, "text": "   "}), 422)
    assert slot_state(api, slot)["state"] == "free"


def test_booking_for_an_unknown_patient_is_404(api: Api, practice: Practice) -> None:
    slot = slot_id(practice, 1, practice.monday, "09:00")
    assert_error(book(api, slot, patient_id=999999), 404, "not_found")


def test_booking_for_a_patient_of_another_location_is_refused(
    admin_api: Api, api: Api, practice: Practice
) -> None:
    other = admin_api.post("/locations", {"name": "Karlsruhe"}).json()
    stranger = api.post(
        "/patients",
        {
            "location_id": other["id"],
            "last_name": "Weber",
            "first_name": "Eva",
            "date_of_birth": "1980-01-01",
        },
    ).json()
    slot = slot_id(practice, 1, practice.monday, "09:00")
    assert_error(book(api, slot, patient_id=stranger["id"]), 422, "patient_other_location")


def test_booking_a_taken_slot_is_refused_with_409(api: Api, practice: Practice) -> None:
    slot = slot_id(practice, 1, practice.monday, "09:00")
    first = booked(api, slot, text="Erster")
    body = assert_error(book(api, slot, text="Zweiter"), 409, "slot_taken")
    assert body["detail"]
    assert slot_state(api, slot)["appointment_id"] == first["id"]


def test_changing_who_an_appointment_is_for(
    api: Api, practice: Practice, patient: dict[str, Any]
) -> None:
    appt = booked(api, slot_id(practice, 1, practice.monday, "09:00"), text="Anrufer")
    r = api.patch(f"/appointments/{appt['id']}", {"patient_id": patient["id"]})
    assert r.status_code == 200, r.content
    assert r.json()["patient"]["id"] == patient["id"]
    assert r.json()["text"] == "Anrufer"
    assert r.json()["start"] == appt["start"]
    r = api.patch(f"/appointments/{appt['id']}", {"clear_patient": True, "reason": "Befund"})
    assert r.json()["patient"] is None
    assert r.json()["reason"] == "Befund"
    # neither patient nor text: refused, nothing changed
    assert_error(api.patch(f"/appointments/{appt['id']}", {"text": ""}), 422, "patient_or_text")
    assert api.get(f"/appointments/{appt['id']}").json()["text"] == "Anrufer"
    assert_error(api.patch("/appointments/999999", {"text": "x"}), 404, "not_found")


# --------------------------------------------------------------------------- multi-slot


def _states(api: Api, practice: Practice, column: int, *times: str) -> list[str]:
    return [slot_state(api, slot_id(practice, column, practice.monday, t))["state"] for t in times]


def test_a_multi_slot_appointment_holds_consecutive_slots(api: Api, practice: Practice) -> None:
    appt = booked(api, slot_id(practice, 1, practice.monday, "09:00"), slot_count=3)
    assert appt["slot_count"] == 3
    assert appt["start"].startswith(f"{practice.monday}T09:00")
    assert appt["end"].startswith(f"{practice.monday}T09:45")
    assert _states(api, practice, 1, "08:45", "09:00", "09:15", "09:30", "09:45") == [
        "free",
        "appointment",
        "appointment",
        "appointment",
        "free",
    ]
    day = api.get(f"/calendars/1/days/{practice.monday}").json()
    holders = [s["appointment_id"] for s in day["columns"][0]["slots"] if s["appointment_id"]]
    assert holders == [appt["id"]] * 3


def test_a_multi_slot_booking_over_a_taken_slot_takes_nothing(api: Api, practice: Practice) -> None:
    booked(api, slot_id(practice, 1, practice.monday, "09:30"))
    assert_error(book(api, slot_id(practice, 1, practice.monday, "09:00"), slot_count=3), 409)
    assert _states(api, practice, 1, "09:00", "09:15") == ["free", "free"]


def test_a_multi_slot_booking_past_the_end_of_the_grid_is_422(api: Api, practice: Practice) -> None:
    r = book(api, slot_id(practice, 1, practice.monday, "11:45"), slot_count=2)
    assert_error(r, 422, "outside_grid")
    assert_error(book(api, slot_id(practice, 1, practice.monday, "11:45"), slot_count=25), 422)
    assert_error(book(api, slot_id(practice, 1, practice.monday, "11:45"), slot_count=0), 422)


def test_extending_into_a_free_slot(api: Api, practice: Practice) -> None:
    appt = booked(api, slot_id(practice, 1, practice.monday, "09:00"), slot_count=2)
    r = api.post(f"/appointments/{appt['id']}/extend")
    assert r.status_code == 200, r.content
    assert r.json()["slot_count"] == 3
    assert r.json()["end"].startswith(f"{practice.monday}T09:45")
    assert _states(api, practice, 1, "09:30") == ["appointment"]


def test_extending_into_a_noted_slot_is_allowed(api: Api, practice: Practice) -> None:
    appt = booked(api, slot_id(practice, 1, practice.monday, "09:00"))
    api.put(f"/slots/{slot_id(practice, 1, practice.monday, '09:15')}/note", {"text": "Notiz"})
    assert api.post(f"/appointments/{appt['id']}/extend").json()["slot_count"] == 2


@pytest.mark.parametrize("blocker", ["appointment", "annotation", "reservation"])
def test_extending_into_a_taken_slot_is_refused_with_409(
    api: Api, practice: Practice, blocker: str
) -> None:
    appt = booked(api, slot_id(practice, 1, practice.monday, "09:00"))
    nxt = slot_id(practice, 1, practice.monday, "09:15")
    if blocker == "appointment":
        booked(api, nxt)
    elif blocker == "annotation":
        api.post(f"/slots/{nxt}/annotation", {"text": "zu"})
    else:
        r = api.post(
            "/calendars/1/reservations",
            {
                "columns": [1],
                "first_day": str(practice.monday),
                "last_day": str(practice.monday),
                "start": "09:15",
                "end": "10:00",
                "reason": "Besprechung",
            },
        )
        assert r.status_code == 201, r.content
    assert_error(api.post(f"/appointments/{appt['id']}/extend"), 409, "slot_taken")
    assert api.get(f"/appointments/{appt['id']}").json()["slot_count"] == 1


def test_extending_past_the_end_of_the_grid_is_refused(api: Api, practice: Practice) -> None:
    appt = booked(api, slot_id(practice, 1, practice.monday, "11:45"))
    assert_error(api.post(f"/appointments/{appt['id']}/extend"), 422, "outside_grid")


def test_shortening_gives_up_the_last_slot(api: Api, practice: Practice) -> None:
    appt = booked(api, slot_id(practice, 1, practice.monday, "09:00"), slot_count=3)
    r = api.post(f"/appointments/{appt['id']}/shorten")
    assert r.status_code == 200, r.content
    assert r.json()["slot_count"] == 2
    assert r.json()["end"].startswith(f"{practice.monday}T09:30")
    assert _states(api, practice, 1, "09:00", "09:15", "09:30") == [
        "appointment",
        "appointment",
        "free",
    ]


def test_shortening_a_single_slot_appointment_is_refused_with_409(
    api: Api, practice: Practice
) -> None:
    appt = booked(api, slot_id(practice, 1, practice.monday, "09:00"))
    assert_error(api.post(f"/appointments/{appt['id']}/shorten"), 409, "single_slot")
    assert api.get(f"/appointments/{appt['id']}").json()["slot_count"] == 1


def test_extend_and_shorten_an_appointment_of_the_additional_list_are_409(
    api: Api, practice: Practice
) -> None:
    r = api.post(
        "/additional-appointments", {"calendar": 1, "day": str(practice.monday), "text": "Z"}
    )
    appt = r.json()
    assert_error(api.post(f"/appointments/{appt['id']}/extend"), 409, "not_placed")
    assert_error(api.post(f"/appointments/{appt['id']}/shorten"), 409, "not_placed")


def test_deleting_a_multi_slot_appointment_frees_all_its_slots(
    api: Api, practice: Practice
) -> None:
    appt = booked(api, slot_id(practice, 1, practice.monday, "09:00"), slot_count=3)
    assert api.delete(f"/appointments/{appt['id']}").status_code == 204
    assert _states(api, practice, 1, "09:00", "09:15", "09:30") == ["free"] * 3
    assert_error(api.get(f"/appointments/{appt['id']}"), 404, "not_found")
    assert_error(api.delete(f"/appointments/{appt['id']}"), 404, "not_found")
    # and the time can be booked again
    booked(api, slot_id(practice, 1, practice.monday, "09:15"), slot_count=2)


def test_deleting_and_extending_unknown_appointments_is_404(api: Api, practice: Practice) -> None:
    for path in ("/appointments/999999/extend", "/appointments/999999/shorten"):
        assert_error(api.post(path), 404, "not_found")
    assert_error(api.delete("/appointments/999999"), 404, "not_found")
    assert_error(api.get("/appointments/999999"), 404, "not_found")


def test_appointments_of_other_days_and_columns_are_independent(
    api: Api, practice: Practice
) -> None:
    tuesday = practice.monday + timedelta(days=1)
    a = booked(api, slot_id(practice, 1, practice.monday, "09:00"))
    b = booked(api, slot_id(practice, 2, practice.monday, "09:00"))
    c = booked(api, slot_id(practice, 1, tuesday, "09:00"))
    assert len({a["id"], b["id"], c["id"]}) == 3
    assert c["day"] == str(tuesday)


def test_a_slot_id_that_contradicts_the_given_calendar_or_column_is_refused(
    api: Api, practice: Practice
) -> None:
    slot = slot_id(practice, 2, practice.monday, "09:00")
    assert_error(book(api, slot, calendar=5), 422, "slot_mismatch")
    assert_error(book(api, slot, column=1), 422, "slot_mismatch")
    assert slot_state(api, slot)["state"] == "free"
    assert book(api, slot, calendar=1, column=2).status_code == 201
