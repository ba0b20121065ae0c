"""What both sides of the peer benchmark (``benchmarks.peer_sync``) share: the same N
appointments and the same K changes, and how a client process is run and measured.

The appointments are one doctor's: Monday to Friday from two weeks ahead on (past the
benchmark world's own grid week, ``benchmarks._sync_env``), 10-minute slots 08:00–18:00,
every third slot left free — 40 appointments a day, 20 free slots for the changes.
Each carries the same text on both sides: a patient's name as the summary and a line
of about 150 characters (reason, date of birth, insurance, phone) as the description —
in termin360 the appointment's ``text`` and ``reason``, in vdirsyncer's vdir a VEVENT's
``SUMMARY`` and ``DESCRIPTION``.

A change is a new appointment in a free slot, on another day for each change while the
days last (the harder case for termin360, which sends whole days); the next run deletes
those appointments again, so the calendar keeps its size.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

BERLIN = ZoneInfo("Europe/Berlin")
SLOTS_PER_DAY = 60  # 10 minutes, 08:00–18:00
SLOT_MINUTES = 10
BOOKED_PER_DAY = 40  # every slot but each third one

_LAST = ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker"]
_FIRST = ["Anna", "Jonas", "Lea", "Paul", "Marie", "Felix", "Sophie", "Lukas", "Emma"]
_REASONS = [
    "Kontrolle Blutdruck, Medikation besprechen",
    "Vorsorgeuntersuchung (Check-up 35), nüchtern kommen",
    "Impfung Tetanus/Diphtherie, Impfpass mitbringen",
    "Befundbesprechung Labor vom Vormonat",
    "Rückenschmerzen seit zwei Wochen, Überweisung Orthopädie?",
]
_INSURANCE = ["gesetzlich (AOK Baden-Württemberg)", "privat", "gesetzlich (TK)"]


@dataclass(frozen=True)
class Appointment:
    uid: str
    start: datetime  # UTC
    end: datetime
    summary: str
    description: str


def first_day() -> date:
    """The first day of the appointments: the Monday at least two weeks ahead."""
    ahead = date.today() + timedelta(days=14)
    return ahead + timedelta(days=(7 - ahead.weekday()) % 7)


def workdays(count: int) -> list[date]:
    days: list[date] = []
    day = first_day()
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def slot_start(day: date, index: int) -> datetime:
    local = datetime.combine(day, dtime(8), BERLIN) + timedelta(minutes=SLOT_MINUTES * index)
    return local.astimezone(UTC)


def _appointment(uid: str, day: date, index: int, n: int) -> Appointment:
    start = slot_start(day, index)
    born = date(1940, 1, 1) + timedelta(days=(n * 7919) % 25_000)
    description = (
        f"Anlass: {_REASONS[n % len(_REASONS)]}. Geb. {born:%d.%m.%Y}, "
        f"{_INSURANCE[n % len(_INSURANCE)]}, Tel. 07251 {100000 + n % 900000}."
    )
    return Appointment(
        uid=uid,
        start=start,
        end=start + timedelta(minutes=SLOT_MINUTES),
        summary=f"{_LAST[n % len(_LAST)]}, {_FIRST[n % len(_FIRST)]}",
        description=description,
    )


def days_for(size: int) -> int:
    return -(-size // BOOKED_PER_DAY)


def existing(size: int) -> list[Appointment]:
    """The ``size`` appointments both calendars hold before the benchmark's changes."""
    out: list[Appointment] = []
    for day in workdays(days_for(size)):
        for index in range(SLOTS_PER_DAY):
            if index % 3 != 2 and len(out) < size:
                out.append(_appointment(f"bestand-{len(out):06d}", day, index, len(out)))
    return out


def changes(size: int, count: int, run: int) -> list[Appointment]:
    """``count`` new appointments in free slots (every third one), one day after the other
    and round again when there are fewer days than changes. ``run`` makes the ids unique."""
    days = workdays(days_for(size))
    out = []
    for j in range(count):
        day, free = days[j % len(days)], j // len(days)
        if free >= SLOTS_PER_DAY // 3:
            raise SystemExit(f"{count} changes do not fit into {len(days)} days")
        out.append(_appointment(f"neu-{run:03d}-{j:04d}", day, 3 * free + 2, 1_000_000 + j))
    return out


# --------------------------------------------------------------------------- processes


@dataclass(frozen=True)
class Measured:
    """One client process: wall time, peak resident memory (VmHWM), exit code, output;
    ``cut``: it was still running at its time limit and was killed then."""

    ms: float
    peak_kib: int
    returncode: int
    stdout: str
    cut: bool = False


# Started by ``run_measured``, this small process starts the client and waits for it, and
# writes the client's time, peak memory and exit code to the file named first. Why not
# from the benchmark's own process: Linux keeps a process's peak memory across ``exec``,
# so a client started directly by the benchmark (which holds Django and the data, ~180 MB)
# would report at least the benchmark's size; started from this launcher (~10 MB, a
# Python process's own floor) it reports its own.
_LAUNCHER = """
import os, signal, sys, time
t0 = time.perf_counter()
pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)
signal.signal(signal.SIGTERM, lambda *_: os.kill(pid, signal.SIGKILL))
_, status, usage = os.wait4(pid, 0)
ms = (time.perf_counter() - t0) * 1000
with open(sys.argv[1], "w") as f:
    f.write(f"{ms} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}")
"""


def run_measured(
    cmd: Sequence[str], *, env: dict[str, str], cwd: Path, log: Path, timeout: float
) -> Measured:
    """Run ``cmd`` to its end and measure it (wall time from its start to its exit, taken
    by the launcher). Output goes to ``log`` (a file, so a chatty client cannot block on a
    full pipe). Past ``timeout`` seconds the client is killed and the figures up to then
    come back with ``cut``."""
    figures = log.with_suffix(".measured")
    figures.unlink(missing_ok=True)
    with log.open("w+b") as out:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-c", _LAUNCHER, str(figures), *cmd],
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,  # one process group: killed together
        )
        cut = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            cut = True
            proc.terminate()  # the launcher kills the client and writes its figures
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        except BaseException:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        out.seek(0)
        text = out.read().decode(errors="replace")
    if proc.returncode != 0 or not figures.exists():
        raise SystemExit(f"launcher failed ({proc.returncode}) for {cmd}:\n{text[-3000:]}")
    ms, peak, code = figures.read_text().split()
    return Measured(float(ms), int(peak), int(code), text, cut)
