"""The audit trail: every change of an appointment names the staff member who made it,
and the trail outlives the appointment."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.conftest import Api, Practice, _token, assert_error, booked, slot_id


def _history(api: Api, appointment_id: int) -> list[dict[str, Any]]:
    r = api.get(f"/appointments/{appointment_id}/history")
    assert r.status_code == 200, r.content
    return list(r.json())


def test_every_change_of_an_appointment_is_recorded_with_the_staff_member(
    api: Api, admin_api: Api, practice: Practice
) -> None:
    appt = booked(api, slot_id(practice, 1, practice.monday, "09:00"))
    tuesday = practice.monday + timedelta(days=1)
    r = admin_api.post(
        f"/appointments/{appt['id']}/move", {"slot_id": slot_id(practice, 2, tuesday, "10:00")}
    )
    assert r.status_code == 200
    assert api.post(f"/appointments/{appt['id']}/extend").status_code == 200
    assert api.post(f"/appointments/{appt['id']}/shorten").status_code == 200
    assert api.patch(f"/appointments/{appt['id']}", {"reason": "Befund"}).status_code == 200
    assert api.post(f"/appointments/{appt['id']}/move", {"to_additional_list": True}).status_code
    assert admin_api.delete(f"/appointments/{appt['id']}").status_code == 204

    entries = _history(api, appt["id"])
    assert [(e["action"], e["actor"]) for e in entries] == [
        ("book", "empfang"),
        ("move", "admin"),
        ("extend", "empfang"),
        ("shorten", "empfang"),
        ("update", "empfang"),
        ("move", "empfang"),
        ("delete", "admin"),
    ]
    assert all(e["at"] and e["summary"] for e in entries)
    assert "Spalte 2" in entries[1]["summary"]
    assert "Zusatzliste" in entries[5]["summary"]


def test_the_audit_trail_stays_after_the_appointment_is_deleted(
    api: Api, practice: Practice
) -> None:
    from termin360.practice.models import AuditEntry

    appt = booked(api, slot_id(practice, 1, practice.monday, "09:00"), slot_count=2)
    api.delete(f"/appointments/{appt['id']}")
    assert_error(api.get(f"/appointments/{appt['id']}"), 404)

    rows = list(AuditEntry.objects.filter(appointment_id=appt["id"]).order_by("at", "id"))
    assert [(e.action, e.actor_name, e.calendar_number) for e in rows] == [
        ("book", "empfang", 1),
        ("delete", "empfang", 1),
    ]
    assert rows[0].actor == practice.staff
    # and the API still shows it
    assert [e["action"] for e in _history(api, appt["id"])] == ["book", "delete"]


def test_the_trail_survives_the_staff_account_being_deleted(api: Api, practice: Practice) -> None:
    from termin360.practice.models import AuditEntry

    appt = booked(api, slot_id(practice, 1, practice.monday, "09:00"))
    practice.staff.delete()
    entry = AuditEntry.objects.get(appointment_id=appt["id"])
    assert entry.actor is None
    assert entry.actor_name == "empfang"


def test_two_staff_members_are_told_apart(client: Any, api: Api, practice: Practice) -> None:
    other = Api(client, _token(client, "empfang2", "empfang-pass-123"))
    appt = booked(api, slot_id(practice, 1, practice.monday, "09:00"))
    assert other.post(f"/appointments/{appt['id']}/extend").status_code == 200
    assert [e["actor"] for e in _history(api, appt["id"])] == ["empfang", "empfang2"]


def test_a_refused_change_leaves_no_entry(api: Api, practice: Practice) -> None:
    appt = booked(api, slot_id(practice, 1, practice.monday, "09:00"))
    booked(api, slot_id(practice, 1, practice.monday, "09:15"))
    assert_error(api.post(f"/appointments/{appt['id']}/extend"), 409)
    assert_error(api.post(f"/appointments/{appt['id']}/shorten"), 409)
    assert_error(
        api.post(
            f"/appointments/{appt['id']}/move",
            {"slot_id": slot_id(practice, 1, practice.monday, "09:15")},
        ),
        409,
    )
    assert [e["action"] for e in _history(api, appt["id"])] == ["book"]


def test_the_audit_summary_holds_no_patient_data(api: Api, practice: Practice) -> None:
    patient = api.post(
        "/patients",
        {
            "location_id": practice.location.pk,
            "last_name": "Geheimnis",
            "first_name": "Gisela",
            "date_of_birth": "1950-05-05",
        },
    ).json()
    appt = booked(
        api,
        slot_id(practice, 1, practice.monday, "09:00"),
        patient_id=patient["id"],
        text="Vertraulich",
        reason="Diagnose X",
    )
    api.delete(f"/appointments/{appt['id']}")
    text = " ".join(e["summary"] for e in _history(api, appt["id"]))
    for secret in ("Geheimnis", "Gisela", "1950", "Vertraulich", "Diagnose"):
        assert secret not in text
