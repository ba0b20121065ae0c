"""P8 end to end: a patient moves a booking on the portal over HTTPS; the real job moves
the appointment in the practice calendar (or puts it in the additional list, flagged,
when the new time is taken there); a crowd racing onto one free time leaves exactly one
winner and everybody else where they were."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import httpx

from tests.conftest import race
from tests.e2e.conftest import MAIL_WAIT, ROOT, Sync, berlin, wait_until, weekday
from tests.e2e.faultproxy import fault_proxy
from tests.e2e.portal_seed import PATIENT_PASSWORD
from tests.e2e.test_sync_online_bookings import appointment

CROWD = 50


def move_online(s: Sync, booking_id: int, day: date, at: str, *, patient: int = 0) -> Any:
    return s.web.post(
        f"/api/v1/bookings/{booking_id}/move",
        json={"start": berlin(day, at).isoformat()},
        headers=s._as(patient),
    )


def wait_appointment_at(s: Sync, booking_id: int, start: datetime) -> Any:
    """The connector's record of the booking once its appointment sits at ``start``."""

    def moved() -> Any:
        ob = s.placed(booking_id)
        return ob if ob is not None and ob.appointment.start == start else None

    return wait_until(moved, f"the appointment of booking {booking_id} at {start}")


def slot_state(s: Sync, day: date, at: str) -> tuple[str, int | None]:
    slot = s.practice("GET", f"/slots/{s.slot(1, day, at)}").json()
    return slot["state"], slot["appointment_id"]


def calendar_files(mails: list[EmailMessage]) -> list[dict[str, str]]:
    """The VEVENT fields of every .ics attached to ``mails``."""
    files = []
    for msg in mails:
        for part in msg.walk():
            if part.get_content_type() == "text/calendar":
                text = part.get_payload(decode=True).decode()  # type: ignore[union-attr]
                fields: dict[str, str] = {}
                vevent = text[text.index("BEGIN:VEVENT") : text.index("END:VEVENT")]
                for line in vevent.splitlines():
                    name, _sep, value = line.partition(":")
                    fields.setdefault(name.split(";")[0], value)
                files.append(fields)
    return files


def test_a_patient_moves_a_booking_and_the_practice_calendar_follows(make_sync: Any) -> None:
    from termin360.practice.models import Appointment

    s: Sync = make_sync()
    monday, tuesday = weekday(s.p, 0), weekday(s.p, 1)
    booking = s.book_online(monday, "09:00")
    ob = s.wait_placed(booking["id"])
    assert ob.placement == "slot"

    r = move_online(s, booking["id"], tuesday, "10:30")
    assert r.status_code == 200, r.text
    assert datetime.fromisoformat(r.json()["start"]) == berlin(tuesday, "10:30")

    ob = wait_appointment_at(s, booking["id"], berlin(tuesday, "10:30"))
    appt = appointment(s, ob.appointment_id)
    assert (appt["column"], appt["in_additional_list"], appt["flagged"]) == (1, False, False)
    assert appt["end"] == berlin(tuesday, "10:45").isoformat()
    assert slot_state(s, tuesday, "10:30") == ("appointment", ob.appointment_id)
    assert slot_state(s, monday, "09:00") == ("free", None)
    assert Appointment.objects.filter(origin="online").count() == 1
    active = [b for b in s.my_bookings() if b["status"] == "active"]
    assert [(b["id"], datetime.fromisoformat(b["start"])) for b in active] == [
        (booking["id"], berlin(tuesday, "10:30"))
    ]
    # The practice told the portal: the old time is offered again, the new one is not.
    s.wait_free(monday, {"09:00"}, free=True)
    s.wait_free(tuesday, {"10:30"}, free=False)

    email = s.seed["patients"][0]["email"]
    with s.portal.worker(s.tmp / "worker.log"):

        def both_mailed() -> list[dict[str, str]]:
            found = calendar_files(s.portal.mails_to(email))
            return found if len(found) >= 2 else []

        files = wait_until(
            both_mailed, "the booking's and the move's calendar files are mailed", MAIL_WAIT
        )
    [first] = [f for f in files if f["DTSTART"].startswith(f"{monday:%Y%m%d}T090000")]
    [moved] = [f for f in files if f["DTSTART"].startswith(f"{tuesday:%Y%m%d}T103000")]
    assert first["UID"] == moved["UID"] == f"booking-{booking['id']}@termin360"
    assert int(moved["SEQUENCE"]) > int(first["SEQUENCE"])


def test_a_move_onto_a_time_taken_in_the_practice_column_goes_to_the_additional_list(
    make_sync: Any, portal: Any
) -> None:
    port = urlsplit(portal.url).port
    assert port is not None
    with fault_proxy(port) as proxy:
        s: Sync = make_sync(configure=False, job=False)
        s.configure(url=proxy.url)
        s.start_job()
        monday = weekday(s.p, 0)
        booking = s.book_online(monday, "09:00")
        s.wait_placed(booking["id"])
        wait_until(s.busy_synced, "the practice's busy state reached the portal")
        s.stop_job()
        # The receptionist books 10:00 while the portal cannot be reached: the action is
        # saved unchecked (the S9 offline fallback) and the portal still offers 10:00.
        proxy.set_mode("cut")
        staff = s.book_in_practice(1, monday, "10:00", text="Praxistermin")
        assert staff.status_code == 201, staff.text
        proxy.set_mode("pass")
        assert "10:00" in s.free_times(monday)

        r = move_online(s, booking["id"], monday, "10:00")
        assert r.status_code == 200, r.text
        s.start_job()

        def listed() -> Any:
            ob = s.placed(booking["id"])
            if ob is None or ob.placement != "additional_list":
                return None
            return ob if ob.appointment.start == berlin(monday, "10:00") else None

        ob = wait_until(listed, "the moved booking in the additional list")
        appt = appointment(s, ob.appointment_id)
        assert appt["in_additional_list"] and appt["flagged"], appt
        assert appt["flag_reason"] == "slot_taken"
        assert appt["day"] == monday.isoformat()
        listing = s.practice("GET", f"/calendars/1/additional/{monday}").json()
        assert [a["id"] for a in listing] == [ob.appointment_id]
        # The practice's own appointment keeps its slot; the old time is free.
        assert slot_state(s, monday, "10:00") == ("appointment", staff.json()["id"])
        assert slot_state(s, monday, "09:00") == ("free", None)
        assert s.portal_booking(booking["id"])["status"] == "active"


def _crowd(s: Sync, count: int) -> list[httpx.Client]:
    """``count`` new patients on the portal, each with a token and a connection of their
    own (connected before the race)."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.e2e.crowd_seed", str(count)],
        env=s.portal.env,
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    emails = json.loads(done.stdout.decode().strip().splitlines()[-1])

    def connect(email: str) -> httpx.Client:
        client = httpx.Client(
            base_url=f"{s.portal.url}/api/v1",
            verify=s.portal.tls.context(),
            timeout=httpx.Timeout(120, connect=30),
        )
        r = client.post("/auth/token", json={"email": email, "password": PATIENT_PASSWORD})
        assert r.status_code == 201, r.text
        client.headers["Authorization"] = f"Bearer {r.json()['token']}"
        assert client.get("/me/bookings").status_code == 200
        return client

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(connect, emails))


def test_fifty_patients_race_to_move_onto_one_free_time_and_nobody_loses_a_booking(
    make_sync: Any,
) -> None:
    s: Sync = make_sync()
    cal = s.calendar()
    clients = _crowd(s, CROWD)
    try:
        olds: dict[int, datetime] = {}
        for i, client in enumerate(clients):
            day, n = divmod(i, 16)  # Monday to Thursday, 08:00–11:45
            start = berlin(weekday(s.p, day), "08:00") + timedelta(minutes=15 * n)
            r = client.post(
                "/bookings",
                json={
                    "calendar_id": cal["id"],
                    "visit_type_id": cal["visit_types"]["15"],
                    "start": start.isoformat(),
                },
            )
            assert r.status_code == 201, r.text
            olds[r.json()["id"]] = start
        ids = list(olds)
        for booking_id in ids:
            s.wait_placed(booking_id, timeout=60)
        friday = weekday(s.p, 4)
        target = berlin(friday, "09:00")
        assert "09:00" in s.free_times(friday)

        body = {"start": target.isoformat()}

        def call(client: httpx.Client, booking_id: int) -> Any:
            return lambda: client.post(f"/bookings/{booking_id}/move", json=body)

        responses = race([call(c, b) for c, b in zip(clients, ids, strict=True)], wait=60)
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200] + [409] * (CROWD - 1), [
            (r.status_code, r.text[:200]) for r in responses if r.status_code != 409
        ]
        assert all(r.json()["code"] == "slot_taken" for r in responses if r.status_code == 409)
        [winner] = [r.json()["id"] for r in responses if r.status_code == 200]

        # On the portal: every loser keeps their booking at the old time.
        for client, booking_id in zip(clients, ids, strict=True):
            [mine] = [b for b in client.get("/me/bookings").json() if b["status"] == "active"]
            expected = target if booking_id == winner else olds[booking_id]
            assert (mine["id"], datetime.fromisoformat(mine["start"])) == (booking_id, expected)
    finally:
        for c in clients:
            c.close()

    # In the practice calendar, once the job has applied the whole feed.
    wait_until(
        lambda: s.state().cursor == s.feed_last_seq() == CROWD + 1,
        "the job applied every booking and the one move",
        timeout=60,
    )
    wait_appointment_at(s, winner, target)
    for booking_id, old in olds.items():
        if booking_id != winner:
            ob = s.placed(booking_id)
            assert ob is not None and ob.placement == "slot", booking_id
            assert ob.appointment.start == old, booking_id
    from termin360.practice.models import Appointment

    online = Appointment.objects.filter(origin="online")
    assert online.count() == CROWD and not online.filter(column__isnull=True).exists()
    assert slot_state(s, target.date(), "09:00")[0] == "appointment"
