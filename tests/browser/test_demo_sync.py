"""The connected demo in a real browser (issue point 2): ``termin360 demo`` as a person
starts it, then Chromium on both sides.

A patient books a free time of Dr. Anna Berger on the portal → the receptionist sees
the online appointment in the practice calendar's day view of that day (S5, via the
sync job that ``practice serve`` started); the receptionist reserves another free time
of that mapped column in the day view → the time is gone from the portal's doctor page
(S8). Ctrl+C (SIGTERM) ends the demo and every process it started.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from termin360.portal.demo_logins import DEMO_LOGINS as PORTAL_LOGINS
from termin360.practice.demo_logins import DEMO_LOGINS as PRACTICE_LOGINS
from tests.chromium import CHROMIUM, CHROMIUM_MISSING
from tests.conftest import free_port

pytestmark = [
    pytest.mark.browser,
    pytest.mark.sqlite_only,  # the demo runs on its own SQLite files
    pytest.mark.skipif(CHROMIUM is None, reason=CHROMIUM_MISSING),
]

ROOT = Path(__file__).resolve().parents[2]
BERLIN = ZoneInfo("Europe/Berlin")
READY = "Demo bereit"
SYNC_WAIT_MS = 5_000  # the bound for a booking to show in the practice calendar


@dataclass
class Demo:
    process: subprocess.Popen[str]
    portal: str
    practice: str
    data_dir: Path
    output: list[str]


def _children(pid: int) -> set[int]:
    """Every living descendant of ``pid`` (from /proc: the demo's servers, worker, job)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    portal_port, practice_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.endswith("DATABASE_URL")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(COLUMNS="200", TERMIN360_LOG_LEVEL="WARNING")
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "termin360", "demo"),
            *("--portal-port", str(portal_port), "--practice-port", str(practice_port)),
            *("--data-dir", str(tmp_path / "demo")),
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            output.append(line.rstrip())
            if READY in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    demo = Demo(
        proc,
        f"http://127.0.0.1:{portal_port}",
        f"http://127.0.0.1:{practice_port}",
        tmp_path / "demo",
        output,
    )
    try:
        if not ready.wait(timeout=300):
            pytest.fail("the demo did not get ready:\n" + "\n".join(output[-40:]))
        yield demo
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                for child in _children(proc.pid):
                    os.kill(child, signal.SIGKILL)
                proc.kill()
                proc.wait()


def _connected_column(data_dir: Path) -> tuple[int, int, int]:
    """(online calendar id, practice calendar number, column number) of Dr. Berger's
    mapping, as ``termin360 sync config`` stored it in the demo's practice database."""
    with sqlite3.connect(f"file:{data_dir / 'practice.sqlite3'}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT m.online_calendar_id, cal.number, col.number, col.name "
            "FROM connector_mapping m JOIN practice_column col ON col.id = m.column_id "
            "JOIN practice_calendar cal ON cal.id = col.calendar_id ORDER BY col.number"
        ).fetchall()
    berger = [r for r in rows if "Berger" in r[3]]
    assert berger, f"no mapping of Dr. Berger's column: {rows}"
    return int(berger[0][0]), int(berger[0][1]), int(berger[0][2])


def _tab(browser: Any, base_url: str) -> Any:
    context = browser.new_context(
        base_url=base_url,
        locale="de-DE",
        timezone_id="Europe/Berlin",
        viewport={"width": 1400, "height": 900},
    )
    context.set_default_timeout(15_000)
    return context.new_page()


def _slot_start(link: Any) -> datetime:
    query = parse_qs(urlsplit(link.get_attribute("href")).query)
    return datetime.fromisoformat(query["start"][0]).astimezone(BERLIN)


def _offered(tab: Any, doctor_page: str, day: str) -> list[datetime]:
    tab.goto(f"{doctor_page}&from={day}")
    return [_slot_start(a) for a in tab.locator("a.slot").all()]


def test_demo_booking_reaches_the_practice_and_a_reservation_blocks_the_portal(
    browser: Any, demo: Demo
) -> None:
    online_id, calendar, column = _connected_column(demo.data_dir)
    doctor_path = f"/arzt/{online_id}/"

    # The patient logs in on the portal and books the first free time of Dr. Berger.
    email, password, _role = PORTAL_LOGINS[0]
    patient = _tab(browser, demo.portal)
    patient.goto(f"/konto/anmelden/?next={doctor_path}")
    patient.locator("#id_email").fill(email)
    patient.locator("#id_password").fill(password)
    with patient.expect_navigation():
        patient.locator("main form button[type=submit]").click()
    assert urlsplit(patient.url).path == doctor_path, patient.url
    # "Sprechstunde" (15 minutes) is open to new patients; the first type is not.
    patient.get_by_label("Anlass des Besuchs").select_option(label="Sprechstunde (15 Min.)")
    with patient.expect_navigation():
        patient.get_by_role("button", name="Freie Zeiten zeigen").click()
    doctor_page = patient.url  # with the chosen visit type
    # The first free time of a later day, not of today: late in the afternoon today's first
    # free time may be its last, and the check below needs another one on the same day.
    today = datetime.now(BERLIN).date()
    later = [a for a in patient.locator("a.slot").all() if _slot_start(a).date() > today]
    assert later, "the doctor page offers no time after today"
    slot = later[0]
    booked_at = _slot_start(slot)
    with patient.expect_navigation():
        slot.click()
    with patient.expect_navigation():
        patient.get_by_role("button", name="Verbindlich buchen").click()
    path = urlsplit(patient.url).path
    assert path == "/meine-termine/", patient.locator("main").inner_text()[:600]
    expect(patient.locator(".notice--success")).to_contain_text("ist gebucht")
    day = booked_at.date().isoformat()
    hhmm = f"{booked_at:%H:%M}"

    # The receptionist sees it in the day view of that day within 5 s (S5 via the job).
    username, staff_password, _role = PRACTICE_LOGINS[0]
    staff = _tab(browser, demo.practice)
    day_path = f"/calendars/{calendar}/{day}/"
    staff.goto(f"/login/?next={day_path}")
    staff.locator("#id_username").fill(username)
    staff.locator("#id_password").fill(staff_password)
    with staff.expect_navigation():
        staff.locator(".login button[type=submit]").click()
    online = staff.locator(f'.grid .appt--online[data-column="{column}"][data-time="{hhmm}"]')
    deadline = time.monotonic() + SYNC_WAIT_MS / 1000
    while online.count() == 0 and time.monotonic() < deadline:
        time.sleep(0.25)
        staff.reload()
    expect(online).to_have_count(1, timeout=1)

    # A time the portal still offers that day, free in the practice's mapped column too.
    offered = [t for t in _offered(patient, doctor_page, day) if t.date() == booked_at.date()]
    assert booked_at not in offered
    free = [
        t
        for t in offered
        if staff.locator(
            f'.grid button.slot--free[data-column="{column}"][data-time="{t:%H:%M}"]'
        ).count()
    ]
    assert free, f"no free time in column {column} on {day} that the portal offers"
    block = free[-1]

    # The receptionist reserves it for that column through the day view's dialog.
    staff.locator(".toolbar [data-action=open-reservations]").click()
    dialog = staff.locator("#reservation-dialog")
    expect(dialog).to_be_visible()
    for box in dialog.locator('input[name="columns"]').all():
        box.set_checked(box.get_attribute("value") == str(column))
    expect(dialog.locator("#res-first")).to_have_value(day)
    dialog.locator("#res-start").fill(f"{block:%H:%M}")
    dialog.locator("#res-end").fill(f"{block + timedelta(minutes=15):%H:%M}")
    dialog.locator("#res-reason").fill("Fortbildung")
    with staff.expect_response(
        lambda r: r.request.method == "POST" and re.search(r"/reservations$", r.url) is not None
    ) as created:
        dialog.locator("#reservation-form button[type=submit]").click()
    assert created.value.status == 201, created.value.text()
    expect(
        staff.locator(f'.grid .slot--reserved[data-column="{column}"][data-time="{block:%H:%M}"]')
    ).to_have_count(1)

    # The portal's doctor page stops offering it (S8: outbox → job → PUT /busy).
    deadline = time.monotonic() + SYNC_WAIT_MS / 1000
    while block in _offered(patient, doctor_page, day) and time.monotonic() < deadline:
        time.sleep(0.25)
    assert block not in _offered(patient, doctor_page, day), f"{block:%H:%M} still offered"

    # Ctrl+C: the demo and every process it started end.
    children = _children(demo.process.pid)
    assert len(children) >= 3, children  # portal, practice server (with the job), worker
    demo.process.send_signal(signal.SIGTERM)
    assert demo.process.wait(timeout=30) is not None
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in children if _alive(pid)], "processes of the demo still run"
