"""Online bookings reaching the practice calendar through the real job (S5, S6, S7, S12,
S13): a patient books on the portal over HTTPS, the job process applies the feed."""

from __future__ import annotations

import subprocess
import threading
import time as _time
from datetime import date, timedelta
from typing import Any

import pytest

from tests.e2e.conftest import Sync, berlin, wait_until, weekday

MÜLLER = {"last_name": "Müller", "first_name": "Hans", "date_of_birth": date(1980, 5, 17)}


def practice_patient(s: Sync, location_id: int | None = None, **fields: Any) -> Any:
    from termin360.practice.services.patients import create_patient

    return create_patient(location_id=location_id or s.p.location.pk, **fields)


def appointment(s: Sync, appointment_id: int) -> dict[str, Any]:
    r = s.practice("GET", f"/appointments/{appointment_id}")
    assert r.status_code == 200, r.text
    return dict(r.json())


# --------------------------------------------------------------------------- S5


def test_s5_online_booking_on_noted_slot_lands_there_linked_to_patient(make_sync: Any) -> None:
    s: Sync = make_sync()
    patient = practice_patient(s, **MÜLLER)
    monday = weekday(s.p, 0)
    noted = s.slot(1, monday, "09:00")
    r = s.practice("PUT", f"/slots/{noted}/note", {"text": "Befund mitbringen"})
    assert r.status_code == 200, r.text

    booking = s.book_online(monday, "09:00")
    ob = s.wait_placed(booking["id"])
    assert (ob.placement, ob.match) == ("slot", "linked")
    appt = appointment(s, ob.appointment_id)
    assert (appt["column"], appt["in_additional_list"], appt["flagged"]) == (1, False, False)
    assert appt["origin"] == "online" and appt["patient"]["id"] == patient.pk
    assert appt["start"] == berlin(monday, "09:00").isoformat()
    slot = s.practice("GET", f"/slots/{noted}").json()
    assert (slot["state"], slot["appointment_id"]) == ("appointment", ob.appointment_id)
    assert slot["note"] == "Befund mitbringen"

    # A 30-minute visit takes two consecutive 15-minute slots: one multi-slot appointment.
    longer = s.book_online(monday, "10:00", minutes=30)
    appt = appointment(s, s.wait_placed(longer["id"]).appointment_id)
    assert (appt["slot_count"], appt["column"]) == (2, 1)
    assert appt["end"] == berlin(monday, "10:30").isoformat()


def test_s5_online_booking_on_taken_blocked_or_missing_slot_goes_to_additional_list_flagged(
    make_sync: Any,
) -> None:
    s: Sync = make_sync(configure=False, job=False)
    monday, tuesday = weekday(s.p, 0), weekday(s.p, 1)
    beyond_grid = s.p.monday + timedelta(days=14)  # the portal offers it, no slot in practice
    # The practice fills its calendar before the connector exists: the portal knows nothing.
    taken = s.book_in_practice(1, monday, "09:00", text="Praxistermin")
    assert taken.status_code == 201, taken.text
    annotated = s.practice("POST", f"/slots/{s.slot(1, monday, '10:00')}/annotation", {})
    assert annotated.status_code == 200, annotated.text
    reserved = s.practice(
        "POST",
        "/calendars/1/reservations",
        {
            "columns": [1],
            "first_day": tuesday.isoformat(),
            "last_day": tuesday.isoformat(),
            "start": "09:00",
            "end": "10:00",
            "reason": "Fortbildung",
        },
    )
    assert reserved.status_code == 201, reserved.text
    s.configure()
    bookings = {
        "slot_taken": s.book_online(monday, "09:00"),
        "blocked": s.book_online(monday, "10:00"),
        "reserved": s.book_online(tuesday, "09:15"),
        "no_slot": s.book_online(beyond_grid, "09:00"),
    }

    s.start_job()
    for reason, booking in bookings.items():
        ob = s.wait_placed(booking["id"])
        assert ob.placement == "additional_list", reason
        appt = appointment(s, ob.appointment_id)
        assert appt["in_additional_list"] and appt["flagged"], (reason, appt)
        assert appt["flag_reason"] == ("blocked" if reason == "reserved" else reason)
        assert appt["day"] == date.fromisoformat(booking["start"][:10]).isoformat()
        listed = s.practice("GET", f"/calendars/1/additional/{appt['day']}").json()
        assert [a["id"] for a in listed].count(ob.appointment_id) == 1
    # The practice's own appointment is untouched.
    assert appointment(s, taken.json()["id"])["start"] == berlin(monday, "09:00").isoformat()
    from termin360.practice.models import Appointment

    assert Appointment.objects.filter(origin="online").count() == 4  # none twice


# --------------------------------------------------------------------------- S6


def test_s6_patient_matching_exactly_one_is_linked_otherwise_free_text_ambiguous_flagged(
    make_sync: Any,
) -> None:
    from termin360.practice.services.setup import create_location

    s: Sync = make_sync()
    # Portal patient 1 typed "  WEBER " / "Jörg": case, spaces and accents are ignored.
    weber = practice_patient(
        s, last_name="Weber", first_name="Jorg", date_of_birth=date(1969, 11, 30)
    )
    # Two records fit portal patient 2 (Schmidt, Erika): ambiguous.
    for last in ("Schmidt", "Schmídt"):
        practice_patient(s, last_name=last, first_name="erika", date_of_birth=date(1975, 3, 2))
    # Müller exists only at another location: no match for this calendar.
    elsewhere = create_location(name="Karlsruhe")
    practice_patient(s, location_id=elsewhere.pk, **MÜLLER)
    monday = weekday(s.p, 0)
    linked = s.book_online(monday, "08:00", patient=1)
    ambiguous = s.book_online(monday, "08:15", patient=2)
    unknown = s.book_online(monday, "08:30", patient=0)

    ob = s.wait_placed(linked["id"])
    appt = appointment(s, ob.appointment_id)
    assert ob.match == "linked" and appt["patient"]["id"] == weber.pk and not appt["flagged"]

    ob = s.wait_placed(ambiguous["id"])
    appt = appointment(s, ob.appointment_id)
    assert ob.match == "ambiguous" and appt["patient"] is None
    assert appt["flagged"] and "Schmidt" in appt["text"] and "Erika" in appt["text"]

    ob = s.wait_placed(unknown["id"])
    appt = appointment(s, ob.appointment_id)
    assert ob.match == "free_text" and appt["patient"] is None and not appt["flagged"]
    assert "Müller" in appt["text"] and "17.05.1980" in appt["text"]


# --------------------------------------------------------------------------- S7


def test_s7_online_cancellation_deletes_appointment_in_slot_and_additional_list(
    make_sync: Any,
) -> None:
    from termin360.practice.models import Appointment

    s: Sync = make_sync()
    monday = weekday(s.p, 0)
    beyond_grid = s.p.monday + timedelta(days=14)
    in_slot = s.book_online(monday, "09:00")
    listed = s.book_online(beyond_grid, "09:00")
    slot_appt = s.wait_placed(in_slot["id"]).appointment_id
    list_appt = s.wait_placed(listed["id"]).appointment_id
    assert s.online_booking(listed["id"]).placement == "additional_list"
    # The portal now has the practice's busy time for 09:00 as well as the booking.
    wait_until(s.busy_synced, "the practice's busy state reached the portal")

    s.cancel_online(in_slot["id"])
    s.cancel_online(listed["id"])
    for booking_id in (in_slot["id"], listed["id"]):
        wait_until(
            lambda b=booking_id: (ob := s.online_booking(b)).status == "cancelled" and ob,
            f"cancellation of {booking_id} applied",
        )
        assert s.online_booking(booking_id).appointment_id is None
    assert not Appointment.objects.filter(pk__in=[slot_appt, list_appt]).exists()
    slot = s.practice("GET", f"/slots/{s.slot(1, monday, '09:00')}").json()
    assert (slot["state"], slot["appointment_id"]) == ("free", None)
    assert s.practice("GET", f"/calendars/1/additional/{beyond_grid}").json() == []
    # Free again online too: the practice told the portal that 09:00 is free now.
    s.wait_free(monday, {"09:00"}, free=True)


# --------------------------------------------------------------------------- S12


def test_s12_grid_edit_removing_the_slot_moves_online_appointment_to_additional_list_linked(
    make_sync: Any,
) -> None:
    from termin360.connector.selectors import pending_practice_changes

    s: Sync = make_sync()
    patient = practice_patient(s, **MÜLLER)
    monday = weekday(s.p, 0)
    booking = s.book_online(monday, "11:30")
    ob = s.wait_placed(booking["id"])
    before = ob.appointment_id
    # The practice API names the portal's booking number (issue 11).
    assert appointment(s, before)["online_booking_id"] == booking["id"]
    assert s.cli_json("info", str(booking["id"]))["placement"] == "slot"

    rules = [{"weekday": d, "start": "08:00", "end": "11:00", "slot_minutes": 15} for d in range(5)]
    r = s.practice("PUT", "/calendars/1/columns/1/template", rules, admin=True)
    assert r.status_code == 200, r.text
    r = s.practice(
        "POST",
        "/calendars/1/grid",
        {"first_day": str(monday), "last_day": str(monday), "columns": [1], "rebuild": True},
        admin=True,
    )
    assert r.status_code == 200, r.text
    assert r.json()[0]["moved_to_additional_list"] == 1

    ob = s.online_booking(booking["id"])
    assert ob.appointment_id == before  # the same appointment, still the booking's
    appt = appointment(s, before)
    assert appt["in_additional_list"] and appt["day"] == monday.isoformat()
    assert appt["patient"]["id"] == patient.pk  # still linked
    assert appt["online_booking_id"] == booking["id"]
    # `sync info` and `sync list` tell where it sits now, not where it was placed.
    assert s.cli_json("info", str(booking["id"]))["placement"] == "additional_list"
    listed = next(b for b in s.cli_json("list") if b["booking_id"] == booking["id"])
    assert listed["placement"] == "additional_list"
    # Not mistaken for the practice cancelling or moving the booking (S10).
    wait_until(s.busy_synced, "the grid edit's busy state reached the portal")
    assert not pending_practice_changes().exists()
    assert s.portal_booking(booking["id"])["status"] == "active"


# --------------------------------------------------------------------------- S13


def _restart_job(s: Sync, timeout: float = 40) -> None:
    """Start the job again after it was killed. Its killed predecessor's lease stays
    until its heartbeat is stale; a job that finds it fresh refuses and exits, so try
    again until one takes over."""
    deadline = _time.monotonic() + timeout
    while True:
        job = s.start_job(wait=False)
        try:
            job.wait(timeout=3)
        except subprocess.TimeoutExpired:
            s.wait_job()
            return
        s.job = None
        if _time.monotonic() > deadline:
            pytest.fail("no restarted job took over the killed job's lease")


def test_s13_job_killed_mid_sync_resumes_every_booking_exactly_once(make_sync: Any) -> None:
    from termin360.connector.models import OnlineBooking
    from termin360.practice.models import Appointment

    s: Sync = make_sync()
    monday, tuesday = weekday(s.p, 0), weekday(s.p, 1)
    times = [f"{h:02d}:{m:02d}" for h in range(8, 12) for m in (0, 15, 30, 45)]
    wanted = [(day, at) for day in (monday, tuesday) for at in times][:30]
    booked: list[dict[str, Any]] = []
    killed = threading.Event()

    def book_all() -> None:
        for n, (day, at) in enumerate(wanted):
            if n == 10:
                killed.wait(timeout=60)  # the rest arrives while no job runs
            booked.append(s.book_online(day, at))

    patients = threading.Thread(target=book_all)
    patients.start()
    try:
        wait_until(lambda: OnlineBooking.objects.count() >= 5, "the job applies bookings")
        s.kill_job()  # SIGKILL while the bookings stream in
    finally:
        killed.set()
        patients.join()
    assert len(booked) == 30
    assert OnlineBooking.objects.count() <= 10
    # A practice change while no job runs waits in the outbox (in the database); the
    # time is held online meanwhile by its S9 claim.
    r = s.book_in_practice(1, tuesday, "11:45", text="Praxistermin")
    assert r.status_code == 201, r.text
    assert "11:45" not in s.free_times(tuesday)
    assert s.state().cursor < 30 and not s.busy_synced()

    _restart_job(s)
    for booking in booked:
        s.wait_placed(booking["id"])
    online = Appointment.objects.filter(origin="online")
    assert online.count() == 30
    assert not online.filter(column__isnull=True).exists()  # none placed twice → none listed
    assert sorted(online.values_list("start", flat=True)) == sorted(
        berlin(day, at) for day, at in wanted
    )
    assert OnlineBooking.objects.filter(placement="slot").count() == 30
    assert s.state().cursor == s.feed_last_seq() == 30
    s.wait_free(tuesday, {"11:45"}, free=False)
    assert s.free_times(tuesday) == ["11:30"]
