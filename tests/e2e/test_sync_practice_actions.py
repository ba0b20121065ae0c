"""Practice actions reaching the portal (S8, S9, S10): the receptionist works through the
real practice server's JSON API; the job process tells the portal; the patient sees it
on the portal over HTTPS."""

from __future__ import annotations

import re
import time as _time
from datetime import datetime
from typing import Any

from tests.conftest import free_port
from tests.e2e.conftest import (
    BERLIN,
    MAIL_WAIT,
    Sync,
    berlin,
    mail_text,
    wait_until,
    weekday,
)

DAY_TIMES = [f"{h:02d}:{m:02d}" for h in range(8, 12) for m in (0, 15, 30, 45)]


def ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return dict(response.json()) if response.content else {}


# --------------------------------------------------------------------------- S8


def test_s8_reservation_across_two_columns_and_three_days_blocks_exactly_those_times_online(
    make_sync: Any,
) -> None:
    s: Sync = make_sync()  # online calendar A → column 1, B → column 2
    monday, days, friday = weekday(s.p, 0), [weekday(s.p, n) for n in (1, 2, 3)], weekday(s.p, 4)
    reservation = ok(
        s.practice(
            "POST",
            "/calendars/1/reservations",
            {
                "columns": [1, 2],
                "first_day": days[0].isoformat(),
                "last_day": days[-1].isoformat(),
                "start": "09:00",
                "end": "10:00",
                "reason": "Fortbildung",
            },
        ),
        201,
    )
    blocked = {"09:00", "09:15", "09:30", "09:45"}
    for calendar in (0, 1):
        for day in days:
            s.wait_free(day, blocked, free=False, calendar=calendar)
            assert set(s.free_times(day, calendar=calendar)) == set(DAY_TIMES) - blocked
            # A 30-minute visit may not start at 08:45 either: it would run into 09:00.
            longer = s.free_times(day, calendar=calendar, minutes=30)
            assert "08:45" not in longer and "10:00" in longer
        for day in (monday, friday):
            assert set(s.free_times(day, calendar=calendar)) == set(DAY_TIMES)

    ok(s.practice("DELETE", f"/reservations/{reservation['id']}"), 204)
    for calendar in (0, 1):
        for day in days:
            s.wait_free(day, blocked, free=True, calendar=calendar)


def test_s8_extending_multi_slot_appointment_blocks_next_slot_and_deleting_frees_all(
    make_sync: Any,
) -> None:
    s: Sync = make_sync()
    monday = weekday(s.p, 0)
    appt = ok(s.book_in_practice(1, monday, "09:00"), 201)
    s.wait_free(monday, {"09:00"}, free=False)
    assert "09:15" in s.free_times(monday)

    ok(s.practice("POST", f"/appointments/{appt['id']}/extend"))
    s.wait_free(monday, {"09:00", "09:15"}, free=False)
    ok(s.practice("POST", f"/appointments/{appt['id']}/extend"))
    s.wait_free(monday, {"09:00", "09:15", "09:30"}, free=False)
    assert "09:45" in s.free_times(monday)

    ok(s.practice("DELETE", f"/appointments/{appt['id']}"), 204)
    s.wait_free(monday, {"09:00", "09:15", "09:30"}, free=True)


def test_s8_moves_between_columns_and_annotations_block_and_free_time_online(
    make_sync: Any,
) -> None:
    s: Sync = make_sync(configure=False, job=False)
    # Only online calendar A is mapped (to column 1); column 2 is the practice's own.
    s.configure(mappings={s.calendar(0)["id"]: "1/1"})
    s.start_job()
    monday, tuesday = weekday(s.p, 0), weekday(s.p, 1)
    appt = ok(s.book_in_practice(2, monday, "10:00"), 201)
    moved_in = {"column": 1, "start": berlin(monday, "10:00").isoformat()}
    ok(s.practice("POST", f"/appointments/{appt['id']}/move", moved_in))  # drag & drop in
    s.wait_free(monday, {"10:00"}, free=False)
    moved_out = {"slot_id": s.slot(2, monday, "11:00")}
    ok(s.practice("POST", f"/appointments/{appt['id']}/move", moved_out))  # … and out again
    s.wait_free(monday, {"10:00"}, free=True)
    assert "11:00" in s.free_times(monday)  # column 2 is not mapped

    # Deleting a free slot turns it into an annotation: blocked until it is removed.
    slot = s.slot(1, tuesday, "08:30")
    assert ok(s.practice("POST", f"/slots/{slot}/annotation", {"text": "Urlaub"}))["state"] == (
        "annotation"
    )
    s.wait_free(tuesday, {"08:30"}, free=False)
    assert ok(s.practice("DELETE", f"/slots/{slot}/annotation"))["state"] == "free"
    s.wait_free(tuesday, {"08:30"}, free=True)


# --------------------------------------------------------------------------- S9


def test_s9_practice_booking_on_time_held_by_unseen_online_booking_is_refused_and_pulled_in(
    make_sync: Any,
) -> None:
    s: Sync = make_sync(job=False)  # no job: the connector has not seen the booking
    monday = weekday(s.p, 0)
    booking = s.book_online(monday, "09:00", minutes=30)
    assert s.online_booking(booking["id"]) is None

    # Another time is fine (the check names only what collides) …
    ok(s.book_in_practice(1, monday, "10:00"), 201)
    # … but 09:15 is held online.
    refused = s.book_in_practice(1, monday, "09:15")
    body = refused.json()
    assert (refused.status_code, body["code"]) == (409, "online_booking_holds_time"), body
    assert "Müller" in body["detail"] and "09:00" in body["detail"], body["detail"]
    assert f"{monday:%d.%m.%Y}" in body["detail"] or monday.isoformat() in body["detail"]

    # Pulled in at once, by the practice server itself (no job runs).
    ob = s.placed(booking["id"])
    assert ob is not None and ob.placement == "slot"
    assert ob.appointment.start == berlin(monday, "09:00")
    slot = ok(s.practice("GET", f"/slots/{s.slot(1, monday, '09:15')}"))
    assert slot["appointment_id"] == ob.appointment_id


def test_s9_with_portal_unreachable_action_is_saved_and_booking_lands_in_additional_list(
    make_sync: Any,
) -> None:
    s: Sync = make_sync(configure=False, job=False)
    dead = f"https://127.0.0.1:{free_port()}"  # nothing listens there
    s.configure(url=dead)
    monday = weekday(s.p, 0)
    booking = s.book_online(monday, "09:00")

    started = _time.monotonic()
    mine = ok(s.book_in_practice(1, monday, "09:00", text="Notfall"), 201)
    assert _time.monotonic() - started < 10  # the short check timeout, not a hang

    s.configure()  # the portal is back
    s.start_job()
    ob = s.wait_placed(booking["id"])
    assert ob.placement == "additional_list"
    assert (ob.appointment.flagged, ob.appointment.flag_reason) == (True, "slot_taken")
    slot = ok(s.practice("GET", f"/slots/{s.slot(1, monday, '09:00')}"))
    assert slot["appointment_id"] == mine["id"]  # the practice's action stands
    assert s.portal_booking(booking["id"])["status"] == "active"  # never dropped


# --------------------------------------------------------------------------- S10


def _ics(msg: Any) -> str:
    for part in msg.walk():
        if part.get_content_type() == "text/calendar" or str(part.get_filename()).endswith(".ics"):
            payload = part.get_payload(decode=True)
            return payload.decode() if isinstance(payload, bytes) else str(payload)
    return ""


def _ics_start(ics: str) -> datetime:
    m = re.search(r"^DTSTART;TZID=([^:]+):(\d{8}T\d{6})", ics, re.M)
    assert m, ics
    return datetime.strptime(m[2], "%Y%m%dT%H%M%S").replace(tzinfo=BERLIN)


def test_s10_practice_deletes_or_moves_online_appointment_and_portal_follows_and_mails(
    make_sync: Any,
) -> None:
    s: Sync = make_sync()
    monday = weekday(s.p, 0)
    gone = s.book_online(monday, "09:00")
    moving = s.book_online(monday, "10:00")
    gone_appt = s.wait_placed(gone["id"]).appointment_id
    moving_appt = s.wait_placed(moving["id"]).appointment_id

    ok(s.practice("DELETE", f"/appointments/{gone_appt}"), 204)
    target = {"column": 1, "start": berlin(monday, "11:00").isoformat()}
    ok(s.practice("POST", f"/appointments/{moving_appt}/move", target))

    wait_until(
        lambda: s.portal_booking(gone["id"])["status"] == "cancelled",
        "the portal cancelled the booking the practice deleted",
    )
    assert s.portal_booking(gone["id"])["cancelled_by"] == "practice"
    wait_until(
        lambda: s.portal_booking(moving["id"])["start"] == berlin(monday, "11:00").isoformat(),
        "the portal moved the booking the practice moved",
    )
    s.wait_free(monday, {"09:00", "10:00"}, free=True)
    assert "11:00" not in s.free_times(monday)
    # The portal's own event of the move changes nothing in the practice calendar.
    assert s.online_booking(moving["id"]).appointment_id == moving_appt

    patient = s.seed["patients"][0]["email"]

    def told() -> list[Any]:
        mails = s.portal.mails_to(patient)
        cancel = [m for m in mails if f"booking-{gone['id']}@" in _ics(m) and "CANCEL" in _ics(m)]
        move = [
            m
            for m in mails
            if f"booking-{moving['id']}@" in _ics(m)
            and _ics_start(_ics(m)) == berlin(monday, "11:00")
        ]
        return [cancel[0], move[0]] if cancel and move else []

    with s.portal.worker(s.tmp / "worker.log"):
        s._log(s.tmp / "worker.log")
        cancel_mail, move_mail = wait_until(told, "the patient got both mails", MAIL_WAIT)
    assert "Praxis" in mail_text(cancel_mail), mail_text(cancel_mail)
    assert "11:00" in mail_text(move_mail), mail_text(move_mail)
