"""The connector's commands end to end (S1–S4, S11): ``termin360 sync config``, ``now``,
``job on/off/stop/status``, ``list``, ``info`` and ``push-existing`` as separate processes
against the real portal over HTTPS."""

from __future__ import annotations

import os
import subprocess
from datetime import datetime, timedelta
from typing import Any

from tests.conftest import free_port
from tests.e2e.conftest import BERLIN, Sync, wait_until, weekday


def assert_refused(done: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """A clean refusal: exit code ≠ 0, one German error line naming the problem, no
    traceback."""
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "Traceback" not in output, output
    assert "Fehler" in done.stderr, output
    for fragment in fragments:
        assert fragment in output, (fragment, output)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (ended, not yet reaped by its parent) is not running either.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as fh:
        return int(fh.read().split(") ", 1)[1].split()[1])


# --------------------------------------------------------------------------- S1


def test_s1_config_refuses_bad_mappings_and_shows_online_names_after_first_contact(
    make_sync: Any,
) -> None:
    from termin360.connector.models import Mapping

    s: Sync = make_sync(configure=False, server=False, job=False)
    a, b = (c["id"] for c in s.seed["calendars"])
    s.cli("tls", "portal-e2e", "--ca-bundle", str(s.portal.tls.ca_bundle))
    base = (
        *("--portal-url", s.portal.url),
        *("--api-key", s.seed["api_key"]),
        *("--tls-profile", "portal-e2e"),
    )

    column_twice = s.cli("config", *base, "--map", f"{a}=1/1", "--map", f"{b}=1/1", check=False)
    assert_refused(column_twice, "Spalte", "1")
    online_twice = s.cli("config", *base, "--map", f"{a}=1/1", "--map", f"{a}=1/2", check=False)
    assert_refused(online_twice, "Online-Kalender", str(a))
    unknown_calendar = s.cli("config", *base, "--map", f"{a}=7/1", check=False)
    assert_refused(unknown_calendar, "Terminkalender", "7")
    unknown_column = s.cli("config", *base, "--map", f"{a}=1/9", check=False)
    assert_refused(unknown_column, "Spalte", "9")
    assert not Mapping.objects.exists()  # nothing half-valid was stored

    # Saved only once the portal has confirmed key and calendars: the names come with it.
    saved = s.cli("config", *base, "--map", f"{a}=1/1", "--map", f"{b}=1/2")
    assert "vom Portal bestätigt" in saved.stdout
    after = s.cli_json("config")
    names = {m["online_calendar_id"]: m["online_name"] for m in after["mappings"]}
    assert names == {c["id"]: c["name"] for c in s.seed["calendars"]}
    assert after["practice_name"] == s.seed["practice_name"]
    table = s.cli("config").stdout
    assert s.seed["calendars"][0]["name"] in table, table


def test_s1_config_asks_the_portal_and_saves_nothing_it_refuses_unless_offline(
    make_sync: Any,
) -> None:
    s: Sync = make_sync(configure=False, server=False, job=False)
    a, b = (c["id"] for c in s.seed["calendars"])
    theirs = s.portal.seed()["calendars"][0]["id"]  # another practice's online calendar
    s.cli("tls", "portal-e2e", "--ca-bundle", str(s.portal.tls.ca_bundle))
    tls = ("--tls-profile", "portal-e2e")
    base = ("--portal-url", s.portal.url, "--api-key", s.seed["api_key"], *tls)
    s.cli("config", *base, "--map", f"{a}=1/1")
    good = s.cli_json("config")

    wrong_key = s.cli("config", "--api-key", "t360k_" + "x" * 40, "--map", f"{a}=1/1", check=False)
    assert_refused(wrong_key, "nimmt diesen API-Schlüssel nicht an", "nichts gespeichert")
    foreign = s.cli("config", "--map", f"{a}=1/1", "--map", f"{theirs}=1/2", check=False)
    assert_refused(
        foreign, f"Online-Kalender {theirs} gehört nicht zur Praxis", s.seed["practice_name"]
    )
    # The same calendar with the right key after a wrong one: the key is what is checked.
    other_key = s.cli("config", "--api-key", "t360k_" + "y" * 40, check=False)
    assert_refused(other_key, "API-Schlüssel")
    assert s.cli_json("config") == good  # nothing of it was saved

    gone = f"https://127.0.0.1:{free_port()}"
    unreachable = s.cli("config", "--portal-url", gone, "--map", f"{b}=1/2", check=False)
    assert_refused(unreachable, "nicht beim Portal prüfen", "--offline")
    assert len(unreachable.stderr.strip().splitlines()) == 1, unreachable.stderr
    assert s.cli_json("config") == good
    offline = s.cli("config", "--portal-url", gone, "--map", f"{b}=1/2", "--offline")
    assert "ohne Prüfung" in offline.stdout
    stored = s.cli_json("config")
    assert stored["portal_url"] == gone
    assert [m["online_calendar_id"] for m in stored["mappings"]] == [b]


# --------------------------------------------------------------------------- S2


def test_s2_sync_now_counts_the_changes_each_way(make_sync: Any) -> None:
    s: Sync = make_sync(job=False)
    monday, tuesday = weekday(s.p, 0), weekday(s.p, 1)
    s.book_online(monday, "09:00")
    s.book_online(tuesday, "10:00")
    # One practice appointment on another day: its S9 claim holds the time online at
    # once, though no busy state has been sent yet (S9, decision 009).
    r = s.book_in_practice(1, weekday(s.p, 3), "11:00")
    assert r.status_code == 201, r.text
    assert "11:00" not in s.free_times(weekday(s.p, 3))

    first = s.cli_json("now")
    assert first["to_practice"] == 2, first
    # Busy days to the portal: Thursday (the practice's appointment), Monday and Tuesday
    # (the online bookings now sit in the mapped column).
    assert (first["to_portal"], first["busy_days"]) == (3, 3), first
    assert "11:00" not in s.free_times(weekday(s.p, 3))
    assert s.placed(s.my_bookings()[0]["id"]) is not None

    second = s.cli_json("now")
    assert (second["to_practice"], second["to_portal"]) == (0, 0), second

    s.book_online(monday, "11:00")
    plain = s.cli("now").stdout
    assert "1 Änderungen zum Praxiskalender, 1 zum Portal" in plain, plain


# --------------------------------------------------------------------------- S3


def test_s3_job_off_keeps_the_running_job_stop_ends_it_on_starts_it_with_the_server(
    make_sync: Any,
) -> None:
    s: Sync = make_sync(job=False)
    s._log(s.tmp / "sync-job.log")  # where a detached job writes
    monday = weekday(s.p, 0)
    job = s.start_job()

    s.cli("job", "off")
    status = s.cli_json("job", "status")
    assert (status["running"], status["autostart"]) == (True, False), status
    assert job.poll() is None
    booking = s.book_online(monday, "08:00")  # and it still works
    s.wait_placed(booking["id"])

    assert "Abgleich beendet" in s.cli("job", "stop").stdout
    assert job.wait(timeout=10) == 0
    s.job = None
    assert s.state().job_pid is None  # the lease is given back

    # job on: autostart, and a job in the background right away.
    s.cli("job", "on")
    status = s.cli_json("job", "status")
    assert (status["running"], status["autostart"]) == (True, True), status
    detached = status["job_pid"]
    assert alive(detached)
    s.cli("job", "stop")
    wait_until(lambda: not alive(detached), "the detached job ended after job stop")

    # A restarted practice server starts the job itself (autostart is still on).
    s.stop_server()
    server = s.start_server()
    s._log(server.log.parent / "sync-job.log")  # the server's job
    child = wait_until(lambda: s.state().job_pid, "the restarted practice server started the job")
    assert parent_of(child) == server.process.pid
    later = s.book_online(monday, "08:30")
    s.wait_placed(later["id"])
    s.stop_server()  # SIGTERM to the server ends its job too
    wait_until(lambda: not alive(child), "the server's job ended with the server")


# --------------------------------------------------------------------------- S4


def test_s4_list_sorted_by_appointment_with_cancellation_date_last_and_info_shows_place(
    make_sync: Any,
) -> None:
    s: Sync = make_sync()
    wednesday, monday, tuesday = weekday(s.p, 2), weekday(s.p, 0), weekday(s.p, 1)
    late = s.book_online(wednesday, "10:00")
    early = s.book_online(monday, "09:00")
    middle = s.book_online(tuesday, "11:00", calendar=1)
    s.cancel_online(middle["id"])
    s.wait_placed(late["id"])
    s.wait_placed(early["id"])
    wait_until(
        lambda: (ob := s.online_booking(middle["id"])) is not None and ob.status == "cancelled",
        "the cancellation reached the practice",
    )

    today = datetime.now(BERLIN).date()  # the cancellation's day where the practice is
    rows = s.cli_json("list")
    assert [r["booking_id"] for r in rows] == [early["id"], middle["id"], late["id"]]
    assert [r["cancelled_on"] for r in rows] == [None, today.isoformat(), None]

    table = s.cli("list").stdout.splitlines()

    def line_of(booking_id: int) -> str:  # the row whose first cell is the id
        return next(
            line for line in table if line.strip("│┃| ").split("│")[0].strip() == str(booking_id)
        )

    cancelled_line = line_of(middle["id"])
    cells = [c.strip() for c in cancelled_line.strip().strip("│┃|").split("│") if c.strip()]
    assert cells[-1] == f"{today:%d.%m.%Y}", cancelled_line
    booked_line = line_of(early["id"])
    assert f"{today:%d.%m.%Y}" not in booked_line.split("│")[-2], booked_line

    info = s.cli_json("info", str(early["id"]))
    sits = info["practice_calendar"]
    assert (sits["calendar"], sits["column"], sits["additional_list"]) == (1, 1, False)
    assert sits["slot_start"].startswith(f"{monday.isoformat()}T09:00")
    text = s.cli("info", str(early["id"])).stdout
    assert "Kalender 1 / Spalte 1" in text and "Dr. Berger" in text, text


# --------------------------------------------------------------------------- S11


def test_s11_push_existing_blocks_existing_appointments_online_and_twice_changes_nothing(
    make_sync: Any,
) -> None:
    from termin360.practice.services import appointments

    s: Sync = make_sync(configure=False, server=False, job=False)
    monday, tuesday = weekday(s.p, 0), weekday(s.p, 1)
    # Appointments made before the connector existed: the portal knows nothing of them.
    for day, at, count in ((monday, "09:00", 2), (tuesday, "10:15", 1)):
        appointments.book_appointment(
            actor=s.p.staff,
            slot_id=s.slot(1, day, at),
            slot_count=count,
            patient_id=None,
            text="Bestandstermin",
            reason="",
        )
    s.configure()
    assert {"09:00", "09:15"} <= set(s.free_times(monday))
    assert "10:15" in s.free_times(tuesday)

    first = s.cli("push-existing", "1", "1")
    # Progress, then what was sent (every day of the grid from today: empty days clear
    # whatever the portal may still hold for them).
    assert "Belegte Zeiten ermitteln" in first.stdout, first.stdout
    assert "mit 2 Terminen vorgemerkt" in first.stdout, first.stdout
    assert "Das Portal hat alle belegten Zeiten dieser Spalte" in first.stdout, first.stdout
    assert not {"09:00", "09:15"} & set(s.free_times(monday))
    assert "10:15" not in s.free_times(tuesday)
    offered = {d: s.free_times(d) for d in (monday, tuesday, monday + timedelta(days=7))}
    assert len(offered[monday]) == 14 and len(offered[tuesday]) == 15

    second = s.cli("push-existing", "1", "1")
    assert second.returncode == 0
    assert {d: s.free_times(d) for d in offered} == offered
