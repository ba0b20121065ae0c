"""``termin360 sync …`` as the practice's IT person uses it (S1–S4).

Configuration, list and info run in this process (typer's runner, practice settings);
the job commands start real processes on the test database, because what they promise
is about processes: ``job off`` leaves one running, ``job stop`` ends it, a second one
refuses, a killed one is shown as not running once its heartbeat is stale.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console
from typer.testing import CliRunner

from termin360.cli import app, sync, sync_bookings, sync_job
from tests.conftest import (
    Practice,
    build_practice,
    require_shared_database,
    role_env,
    running_server,
    slot_id,
)
from tests.connector.fake_portal import FakePortal

BERLIN = ZoneInfo("Europe/Berlin")
KEY = "t360_demo_key_0123456789abcdef"


@pytest.fixture
def checking_portal(monkeypatch: pytest.MonkeyPatch) -> FakePortal:
    """The portal ``sync config`` asks before it saves (S1): calendars 101 and 102."""
    from termin360.connector.services import config_check

    portal = FakePortal()
    monkeypatch.setattr(config_check, "check_client_factory", lambda *_a, **_k: portal)
    return portal


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, checking_portal: FakePortal) -> Callable[..., Any]:
    """Run ``termin360 sync …`` in this process, on the test database, wide tables; the
    portal it asks is ``checking_portal``."""
    for module in (sync, sync_bookings, sync_job):
        monkeypatch.setattr(module, "out", Console(width=200))
        monkeypatch.setattr(module, "err", Console(width=200, stderr=True))
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(app, ["sync", *args])

    return run


def one_line_error(result: Any) -> str:
    text = str(result.output).strip()
    assert result.exit_code != 0, text
    assert "Traceback" not in text
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return text


# --------------------------------------------------------------------------- config (S1)


def test_s1_malformed_mapping_is_one_german_line_and_exit_code_2(
    cli: Callable[..., Any], db: None
) -> None:
    r = cli("config", "--portal-url", "http://portal.test", "--map", "17:1/2")
    assert r.exit_code == 2
    assert "ONLINE_ID=KALENDER/SPALTE" in one_line_error(r)


def test_s1_unknown_column_or_bad_url_is_refused_and_nothing_is_stored(
    cli: Callable[..., Any], practice: Practice
) -> None:
    r = cli("config", "--portal-url", "http://portal.test", "--api-key", KEY, "--map", "5=1/9")
    assert r.exit_code == 1
    assert "Terminkalender 1 hat keine Spalte 9." in one_line_error(r)
    from termin360.connector.models import Mapping

    assert not Mapping.objects.exists()
    r = cli("config", "--portal-url", "ftp://portal.test", "--api-key", KEY)
    assert r.exit_code == 1
    assert "Fehler:" in one_line_error(r)
    r = cli("config", "--api-key", KEY)  # no portal address yet
    assert r.exit_code == 1
    assert "--portal-url" in one_line_error(r)


def test_s1_config_shows_the_key_only_as_hint_and_the_names_the_portal_confirmed(
    cli: Callable[..., Any], practice: Practice, checking_portal: FakePortal
) -> None:
    r = cli(
        "config", "--portal-url", "http://portal.test/", "--api-key", KEY,
        "--map", "101=1/1", "--map", "102 = 1/2",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "Einstellungen gespeichert (vom Portal bestätigt)." in r.output
    assert checking_portal.calls == ["calendars"]
    shown = cli("config")
    assert KEY not in shown.output and KEY[:6] in shown.output
    assert "Dr. Berger online" in shown.output and "Praxis Dr. Berger" in shown.output
    data = json.loads(cli("config", "--json").output)
    assert data["portal_url"] == "http://portal.test"
    assert data["practice_name"] == "Praxis Dr. Berger"
    assert [(m["online_calendar_id"], m["calendar"], m["column"]) for m in data["mappings"]] == [
        (101, 1, 1),
        (102, 1, 2),
    ]
    assert data["mappings"][0]["online_name"] == "Dr. Berger online"
    # Changing only the timeout keeps address, key and mappings (and asks nobody).
    assert cli("config", "--check-timeout", "2.5").exit_code == 0
    assert checking_portal.calls == ["calendars"]
    data = json.loads(cli("config", "--json").output)
    assert data["check_timeout_seconds"] == 2.5 and len(data["mappings"]) == 2
    assert data["api_key_hint"] == KEY[:6] + "…"
    r = cli("config", "--clear-mappings", "--json")
    assert json.loads(r.output)["mappings"] == []


def test_s1_config_saves_nothing_the_portal_refuses_and_offline_saves_unchecked(
    cli: Callable[..., Any], practice: Practice, checking_portal: FakePortal
) -> None:
    from termin360.connector.models import Mapping, SyncConfig
    from termin360.connector.portal_client import AuthFailure, PortalTimeout

    base = ("config", "--portal-url", "http://portal.test", "--api-key", KEY)
    foreign = cli(*base, "--map", "101=1/1", "--map", "303=1/2")
    text = one_line_error(foreign)
    assert "Online-Kalender 303 gehört nicht zur Praxis" in text and "101, 102" in text
    checking_portal.fail_with = AuthFailure("abgelehnt", code="auth")
    assert "nimmt diesen API-Schlüssel nicht an" in one_line_error(cli(*base, "--map", "101=1/1"))
    assert not SyncConfig.objects.exists() and not Mapping.objects.exists()

    checking_portal.fail_with = PortalTimeout("Portal antwortet nicht rechtzeitig.", code="timeout")
    silent = one_line_error(cli(*base, "--map", "101=1/1"))
    assert "antwortet nicht rechtzeitig" in silent and "--offline" in silent
    assert not SyncConfig.objects.exists()
    r = cli(*base, "--map", "101=1/1", "--offline")
    assert r.exit_code == 0, r.output
    assert "ohne Prüfung beim Portal" in r.output
    assert SyncConfig.objects.get().portal_url == "http://portal.test"
    assert Mapping.objects.get().online_calendar_id == 101


def test_s1_a_calendar_whose_columns_span_locations_cannot_be_mapped(
    cli: Callable[..., Any], practice: Practice
) -> None:
    from termin360.practice.services.setup import create_location

    create_location(name="Karlsruhe")
    runner = CliRunner()
    r = runner.invoke(
        app, ["practice", "add-column", "1", "3", "Dr. Vogel", "--location", "Nowhere"]
    )
    assert r.exit_code == 1 and "Es gibt keinen Praxisstand Nowhere." in r.output
    r = runner.invoke(
        app, ["practice", "add-column", "1", "3", "Dr. Vogel", "--location", "Karlsruhe"]
    )
    assert r.exit_code == 0, r.output
    assert "(Praxisstand Karlsruhe)" in r.output
    r = cli("config", "--portal-url", "http://portal.test", "--api-key", KEY, "--map", "5=1/1")
    assert r.exit_code == 1
    assert "Fehler:" in one_line_error(r)
    from termin360.connector.models import Mapping

    assert not Mapping.objects.exists()


def test_s1_tls_profile_with_a_missing_file_is_refused(
    cli: Callable[..., Any], db: None, tmp_path: Path
) -> None:
    r = cli("tls", "portal", "--ca-bundle", str(tmp_path / "missing.pem"))
    assert r.exit_code == 1
    assert "missing.pem" in one_line_error(r)


def test_s2_sync_now_without_a_reachable_portal_is_one_red_line(
    cli: Callable[..., Any], practice: Practice
) -> None:
    assert cli("config", "--portal-url", "http://127.0.0.1:1", "--api-key", KEY).exit_code == 0
    r = cli("now")
    assert r.exit_code == 1
    text = one_line_error(r)
    assert text.startswith("Abgleich fehlgeschlagen:") and "nicht erreichbar" in text
    from termin360.connector.selectors import sync_state

    assert "nicht erreichbar" in sync_state().last_error


def test_s2_sync_now_before_configuration_says_how_to_configure(
    cli: Callable[..., Any], db: None
) -> None:
    r = cli("now", "--json")
    assert r.exit_code == 1
    assert "sync config" in one_line_error(r)


# --------------------------------------------------------------------------- list and info (S4)


def _seed_bookings(p: Practice) -> dict[str, Any]:
    """Four online bookings: in a slot (linked patient), in the additional list (flagged),
    cancelled, and one for an online calendar that is not mapped; one lies in the past."""
    from termin360.connector.models import Mapping, OnlineBooking
    from termin360.practice.models import Appointment
    from termin360.practice.services import appointments
    from termin360.practice.services.patients import create_patient

    mapping = Mapping.objects.create(online_calendar_id=101, column=p.columns[1])
    Mapping.objects.filter(pk=mapping.pk).update(online_name="Dr. Berger online")
    patient = create_patient(
        location_id=p.location.pk, last_name="Schneider", first_name="Lena",
        date_of_birth=datetime(1988, 3, 14).date(),
    )  # fmt: skip
    in_slot = appointments.book_appointment(
        actor=p.staff,
        slot_id=slot_id(p, 1, p.monday, "09:00"),
        patient_id=patient.pk,
        origin=Appointment.Origin.ONLINE,
    )
    day2 = p.monday + timedelta(days=1)
    extra = appointments.add_to_additional_list(
        actor=p.staff, calendar=p.calendar, day=day2, text="Wolf, Eva", origin="online"
    )
    Appointment.objects.filter(pk=extra.pk).update(flagged=True, flag_reason="slot_taken")

    def at(day: Any, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, datetime.min.time(), BERLIN).replace(hour=hour, minute=minute)

    def booking(bid: int, start: datetime, **kw: Any) -> OnlineBooking:
        defaults: dict[str, Any] = {
            "online_calendar_id": 101, "mapping": mapping, "end": start + timedelta(minutes=15),
            "last_name": "Meyer", "first_name": "Tim", "visit_type": "Sprechstunde",
            "placement": "slot",
        }  # fmt: skip
        defaults.update(kw)
        return OnlineBooking.objects.create(booking_id=bid, start=start, **defaults)

    past = datetime.now(UTC) - timedelta(days=3)
    return {
        "slot": booking(
            30, at(p.monday, 9), appointment=in_slot, last_name="Schneider",
            first_name="Lena", match="linked", email="lena@example.org",
        ),
        "extra": booking(
            31, at(day2, 10, 30), appointment=extra, placement="additional_list",
            last_name="Wolf", first_name="Eva", match="free_text",
        ),
        "cancelled": booking(
            32, at(p.monday, 8), status="cancelled",
            cancelled_at=datetime(2030, 1, 2, 9, tzinfo=UTC), cancelled_by="patient",
        ),
        "unmapped": booking(33, past, online_calendar_id=555, mapping=None, placement=""),
    }  # fmt: skip


def test_s4_list_is_sorted_by_appointment_with_the_cancellation_date_last(
    cli: Callable[..., Any], practice: Practice
) -> None:
    _seed_bookings(practice)
    rows = json.loads(cli("list", "--json").output)
    assert [r["booking_id"] for r in rows] == [33, 32, 30, 31]
    by_id = {r["booking_id"]: r for r in rows}
    assert by_id[30]["where"] == "Kalender 1 / Spalte 1"
    assert by_id[30]["time"] == "09:00" and by_id[30]["online_calendar"] == "Dr. Berger online"
    assert by_id[31]["where"] == "Zusatzliste (Kalender 1) ⚑"
    assert by_id[32]["status"] == "cancelled" and by_id[32]["cancelled_on"] == "2030-01-02"
    assert by_id[33]["where"] == "nicht zugeordnet" and by_id[33]["online_calendar"] is None
    assert by_id[30]["cancelled_on"] is None

    upcoming = json.loads(cli("list", "--upcoming", "--json").output)
    assert [r["booking_id"] for r in upcoming] == [32, 30, 31]

    table = cli("list").output
    assert table.index("Meyer, Tim") < table.index("Schneider, Lena")
    assert "02.01.2030" in table and "nicht zugeordnet" in table and "#555" in table
    header = next(line for line in table.splitlines() if "Storniert am" in line)
    assert header.rstrip(" │|┃").endswith("Storniert am")


def test_s4_list_in_80_columns_breaks_between_words_not_inside_them(
    cli: Callable[..., Any], practice: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 11: "Sprechstun / de" at 80 columns. Every word of the table stays whole,
    and the table fits the terminal."""
    _seed_bookings(practice)
    monkeypatch.setattr(sync_bookings, "out", Console(width=80))
    table = cli("list").output
    assert all(len(line) <= 80 for line in table.splitlines()), table
    for word in ("Sprechstunde", "Schneider,", "Zusatzliste", "Terminart"):
        assert word in table, (word, table)
    assert "Besuchsart" not in table


def test_s4_info_shows_where_the_booking_sits_in_the_practice_calendar(
    cli: Callable[..., Any], practice: Practice
) -> None:
    seeded = _seed_bookings(practice)
    data = json.loads(cli("info", "30", "--json").output)
    sits = data["practice_calendar"]
    assert (sits["calendar"], sits["column"], sits["additional_list"]) == (1, 1, False)
    assert sits["slot_start"].startswith(f"{practice.monday.isoformat()}T09:00")
    assert sits["linked_patient"]["name"] == "Schneider, Lena"
    assert data["patient_data"]["email"] == "lena@example.org" and data["match"] == "linked"
    extra = json.loads(cli("info", "31", "--json").output)["practice_calendar"]
    assert extra["additional_list"] is True and extra["flag_reason"] == "slot_taken"
    assert (
        extra["free_text"] == "Wolf, Eva"
        and extra["appointment_id"] == seeded["extra"].appointment_id
    )

    shown = cli("info", "31").output
    for expected in ("Zusatzliste", "Termin war belegt", "Freitext", "Wolf, Eva", "1 Allgemein"):
        assert expected in shown, expected


def test_s4_info_of_an_unknown_booking_is_a_german_error(cli: Callable[..., Any], db: None) -> None:
    r = cli("info", "4711")
    assert r.exit_code == 1
    assert "Keine Online-Buchung mit der Nummer 4711." in one_line_error(r)


# ------------------------------------------------------------------- job (S3), real processes


@pytest.fixture
def shell(transactional_db: None, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """``termin360 sync …`` as separate processes on the test database. Every job process
    still running at the end is killed (detached ones included)."""
    require_shared_database()
    from termin360.connector.services import config

    build_practice()
    config.save_config(portal_url="http://127.0.0.1:1", api_key=KEY)  # no portal: that is fine
    env = role_env("practice", tmp_path)

    def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "termin360", "sync", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    run.env = env  # type: ignore[attr-defined]
    run.procs = []  # type: ignore[attr-defined]
    try:
        yield run
    finally:
        from termin360.connector.selectors import sync_state

        pids = {sync_state().job_pid, *(p.pid for p in run.procs)}  # type: ignore[attr-defined]
        for pid in pids - {None}:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for p in run.procs:  # type: ignore[attr-defined]
            p.wait(10)


def status(shell: Callable[..., Any]) -> dict[str, Any]:
    r = shell("job", "status", "--json")
    assert r.returncode == 0, r.stderr
    return dict(json.loads(r.stdout))


def wait_status(shell: Callable[..., Any], key: str, value: object, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while status(shell)[key] != value:
        assert time.monotonic() < deadline, f"{key} did not become {value!r}"
        time.sleep(0.3)


def test_s3_job_off_leaves_the_job_running_job_stop_ends_it_and_a_second_job_refuses(
    shell: Callable[..., Any],
) -> None:
    r = shell("job", "on")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Autostart ist an" in r.stdout
    s = status(shell)
    assert s["running"] is True and s["autostart"] is True and s["job_pid"]

    second = shell("job", "run", timeout=30)
    assert second.returncode == 1
    assert str(s["job_pid"]) in second.stdout + second.stderr
    assert "Traceback" not in second.stdout + second.stderr

    r = shell("job", "off")
    assert r.returncode == 0 and "läuft weiter" in r.stdout
    time.sleep(1.5)
    s = status(shell)
    assert s["running"] is True and s["autostart"] is False

    r = shell("job", "stop")
    assert r.returncode == 0 and "Abgleich beendet." in r.stdout, r.stdout + r.stderr
    s = status(shell)
    assert s["running"] is False and s["job_pid"] is None
    assert "nicht erreichbar" in s["last_error"]  # it tried, and said why it failed
    assert "Es läuft kein Abgleich." in shell("job", "stop").stdout


def test_s3_a_killed_job_on_this_machine_is_not_running_and_is_replaced_at_once(
    shell: Callable[..., Any],
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "termin360", "sync", "job", "run"],
        env=shell.env,  # type: ignore[attr-defined]
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    shell.procs.append(proc)  # type: ignore[attr-defined]
    wait_status(shell, "running", True)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    # Its heartbeat is still fresh, but its process is gone: nobody waits for it.
    assert status(shell)["running"] is False
    assert "läuft nicht" in shell("job", "status").stdout
    r = shell("job", "on")
    assert r.returncode == 0, r.stdout + r.stderr
    assert status(shell)["job_pid"] not in (None, proc.pid)


def test_s3_a_job_on_another_machine_counts_as_running_until_its_heartbeat_is_stale(
    shell: Callable[..., Any],
) -> None:
    from termin360.connector.models import SyncState
    from termin360.connector.selectors import HEARTBEAT_STALE_SECONDS, sync_state

    sync_state()
    now = datetime.now(UTC)
    SyncState.objects.filter(pk=1).update(
        job_pid=4242, job_host="anderer-praxis-pc", job_heartbeat_at=now, job_started_at=now
    )
    assert status(shell)["running"] is True
    refused = shell("job", "run")
    assert refused.returncode != 0 and "4242" in refused.stdout + refused.stderr
    old = now - timedelta(seconds=HEARTBEAT_STALE_SECONDS + 1)
    SyncState.objects.filter(pk=1).update(job_heartbeat_at=old)
    assert status(shell)["running"] is False
    r = shell("job", "on")
    assert r.returncode == 0, r.stdout + r.stderr
    assert status(shell)["job_pid"] not in (None, 4242)


def test_s3_job_run_ends_on_sigterm_and_releases_the_lease(shell: Callable[..., Any]) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "termin360", "sync", "job", "run"],
        env=shell.env,  # type: ignore[attr-defined]
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    shell.procs.append(proc)  # type: ignore[attr-defined]
    wait_status(shell, "running", True)
    proc.send_signal(signal.SIGTERM)
    began = time.monotonic()
    output, _ = proc.communicate(timeout=10)
    assert time.monotonic() - began < 3
    assert proc.returncode == 0, output
    assert "Abgleich beendet." in output and "Traceback" not in output
    assert status(shell)["job_pid"] is None


def test_s3_practice_serve_starts_the_job_when_autostart_is_on_and_stops_it_with_itself(
    shell: Callable[..., Any], tmp_path: Path
) -> None:
    from termin360.connector.job import set_autostart

    set_autostart(True)
    with running_server("practice", tmp_path / "serve") as server:
        wait_status(shell, "running", True)
        pid = status(shell)["job_pid"]
        assert "Abgleich mit dem Portal läuft im Hintergrund" in server.log.read_text()
    wait_status(shell, "job_pid", None, timeout=5)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_s3_practice_serve_restarts_a_job_that_died_while_autostart_is_on(
    shell: Callable[..., Any], tmp_path: Path
) -> None:
    from termin360.connector.job import set_autostart

    set_autostart(True)
    with running_server("practice", tmp_path / "serve"):
        wait_status(shell, "running", True)
        first = status(shell)["job_pid"]
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            s = status(shell)
            if s["running"] and s["job_pid"] not in (None, first):
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"no new job after the first one was killed: {status(shell)}")
        # `job stop` is respected: the supervisor does not start another one.
        assert shell("job", "stop").returncode == 0
        time.sleep(4.5)  # longer than two of the supervisor's checks (every 2 s)
        assert status(shell)["running"] is False
