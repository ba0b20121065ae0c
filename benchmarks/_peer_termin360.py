"""termin360's side of ``benchmarks.peer_sync``: the same appointments in the practice
calendar, kept in step with the portal by the connector.

The world is ``benchmarks._sync_env`` (portal process, practice database, online
calendar A mapped to column 1); the connector's portal URL points at the counting proxy
(``benchmarks._peer_proxy``) in front of ``portal serve``. The N appointments are
bulk-created in column 1 as existing data (slots and appointments, the appointment's
``text`` and ``reason`` carrying the same summary and description as the VEVENTs), no
busy state or outbox row.

- Initial transfer: ``termin360 sync push-existing 1 1``, its own process (computes every
  day's busy state and grid from today, relays all of them).
- A change: a real service call in this process (``appointments.book_appointment`` or
  ``delete_appointment``), with its S9 claim to the portal (counted apart: it belongs to
  the practice action, made before the sync); then ``termin360 sync now --json``, its own
  process, timed until it exits.
- The connector as it runs in a practice: ``termin360 sync job run``, its own process,
  running while the K changes are made; timed from the end of the last change until the
  outbox is empty (the portal has acknowledged every changed day). The same agreement
  check follows.
- Beside it, not in the ratios: the same round in-process (``sync_round``, what the
  command runs once Python and Django are up), to show where a command's time goes.

"Agree" means: the command exited 0, the outbox is empty and the busy intervals the
portal stores for the calendar (read from its database) are the practice's appointments
in column 1 from today, merged — checked after the timing.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from benchmarks._peer_common import (
    BERLIN,
    SLOT_MINUTES,
    SLOTS_PER_DAY,
    Appointment,
    changes,
    existing,
    run_measured,
    slot_start,
    workdays,
)
from benchmarks._peer_proxy import CountingProxy, Traffic, counting_proxy
from benchmarks._sync_env import ROOT, SyncEnv, sync_env

_Span = tuple[datetime, datetime]
# The running job's measure: how often the outbox is looked at, and how long at most.
JOB_POLL_SECONDS = 0.005
JOB_DEADLINE_SECONDS = 60.0


def fill(env: SyncEnv, appointments: list[Appointment]) -> None:
    """Every day of ``appointments`` gets column 1's whole grid (60 slots); each
    appointment its slot. Bulk-created in one transaction."""
    from django.db import transaction

    from termin360.practice.models import Appointment as Row
    from termin360.practice.models import Slot

    column = env.columns[1]
    calendar = column.calendar
    by_start = {a.start: a for a in appointments}
    days = sorted({a.start.astimezone(BERLIN).date() for a in appointments})
    with transaction.atomic():
        for first in range(0, len(days), 50):
            slots: list[tuple[date, datetime, Appointment | None]] = [
                (day, slot_start(day, i), by_start.get(slot_start(day, i)))
                for day in days[first : first + 50]
                for i in range(SLOTS_PER_DAY)
            ]
            booked = [(d, s, a) for d, s, a in slots if a is not None]
            rows = Row.objects.bulk_create(
                [
                    Row(
                        calendar=calendar,
                        column=column,
                        day=d,
                        start=a.start,
                        end=a.end,
                        text=a.summary,
                        reason=a.description[:200],
                    )
                    for d, _, a in booked
                    if a is not None
                ]
            )
            held = {s: row for (_, s, _), row in zip(booked, rows, strict=True)}
            Slot.objects.bulk_create(
                [
                    Slot(
                        column=column,
                        day=d,
                        start=s,
                        end=s + timedelta(minutes=SLOT_MINUTES),
                        appointment=held.get(s),
                    )
                    for d, s, _ in slots
                ]
            )


def _practice_busy() -> set[_Span]:
    """Column 1's appointments from today, as merged intervals."""
    from termin360.practice.models import Appointment as Row

    today = date.today()
    rows = Row.objects.filter(column__number=1, day__gte=today).values_list("start", "end")
    spans = sorted((s, e) for s, e in rows if s is not None and e is not None)
    merged: list[list[datetime]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return {(s.astimezone(UTC), e.astimezone(UTC)) for s, e in merged}


def _aware(value: str | datetime) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _portal_busy(env: SyncEnv) -> set[_Span]:
    """The busy intervals the portal holds for online calendar A from today, read from
    the portal's database (not over its API: this read is not part of the sync)."""
    url = env.portal_env["PORTAL_DATABASE_URL"]
    query = 'SELECT start, "end" FROM portal_busyinterval WHERE calendar_id = {p} AND day >= {p}'
    params = (env.calendar(0)["id"], date.today().isoformat())
    if url.startswith("sqlite:"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            rows = db.execute(query.format(p="?"), params).fetchall()
    else:
        import psycopg

        with psycopg.connect(url.replace("postgres://", "postgresql://", 1)) as conn:
            rows = conn.execute(query.format(p="%s"), params).fetchall()
    return {(_aware(s), _aware(e)) for s, e in rows}


def check_agree(env: SyncEnv) -> int:
    from termin360.connector.models import OutboxEntry

    pending = OutboxEntry.objects.count()
    practice, portal = _practice_busy(), _portal_busy(env)
    if pending or practice != portal:
        raise SystemExit(
            f"termin360: the sides differ ({pending} days still in the outbox, "
            f"{len(practice)} busy intervals in the practice, {len(portal)} on the portal)"
        )
    from termin360.practice.models import Appointment as Row

    return Row.objects.filter(column__number=1, day__gte=date.today()).count()


def _traffic(t: Traffic) -> dict[str, int]:
    return {"requests": t.requests, "bytes": t.bytes, "sent": t.sent, "received": t.received}


class _Practice:
    """The practice side while it is measured: its commands as own processes, its changes
    as service calls in this process."""

    def __init__(self, env: SyncEnv, proxy: CountingProxy, size: int) -> None:
        self.env, self.proxy, self.size = env, proxy, size
        self.held: list[int] = []  # the appointments the last change added
        self.serial = 0

    def cli(self, log: str, *args: str, prefix: tuple[str, ...] = ()) -> dict[str, Any]:
        """``python -m termin360 …`` as its own process, measured, checked for agreement."""
        before = self.proxy.traffic()
        done = run_measured(
            [sys.executable, *prefix, "-m", "termin360", *args],
            env={**self.env.practice_env, "COLUMNS": "200"},
            cwd=ROOT,
            log=self.env.work / f"cli-{log}.log",
            timeout=600,
        )
        traffic = self.proxy.traffic() - before
        if done.returncode != 0:
            raise SystemExit(f"termin360 {' '.join(args)} failed:\n{done.stdout[-3000:]}")
        return {
            "ms": done.ms,
            "peak_kib": done.peak_kib,
            **_traffic(traffic),
            "items": check_agree(self.env),
        }

    def change(self, k: int) -> dict[str, int]:
        """Add ``k`` appointments, or delete those the last call added; the traffic of
        their S9 claims."""
        from termin360.practice.models import Slot
        from termin360.practice.services import appointments

        before = self.proxy.traffic()
        if self.held:
            for pk in self.held:
                appointments.delete_appointment(actor=self.env.staff, appointment_id=pk)
            self.held = []
        else:
            for a in changes(self.size, k, self.serial):
                slot = Slot.objects.get(column=self.env.columns[1], start=a.start)
                booked = appointments.book_appointment(
                    actor=self.env.staff, slot_id=slot.pk, text=a.summary, reason=a.description
                )
                self.held.append(booked.pk)
            self.serial += 1
        return _traffic(self.proxy.traffic() - before)

    def round_in_process(self) -> dict[str, Any]:
        from termin360.connector.services import config
        from termin360.connector.services.rounds import sync_round

        before = self.proxy.traffic()
        t0 = time.perf_counter()
        with config.client_from_config() as client:
            sync_round(client, wait=0)
        ms = (time.perf_counter() - t0) * 1000
        return {"ms": ms, **_traffic(self.proxy.traffic() - before), "items": check_agree(self.env)}

    def after_job(self, k: int) -> dict[str, Any]:
        """``k`` changes while ``termin360 sync job run`` runs (its relay ticks every 0.25 s):
        the time from the end of the last change until the outbox is empty — every changed
        day acknowledged by the portal — and the time from the first change's start (the
        practice actions with their S9 claims included); agreement checked after it."""
        from termin360.connector.models import OutboxEntry

        first = time.perf_counter()
        self.change(k)
        before = self.proxy.traffic()
        t0 = time.perf_counter()
        while OutboxEntry.objects.exists():
            if time.perf_counter() - t0 > JOB_DEADLINE_SECONDS:
                raise SystemExit(f"the job left the outbox full for {JOB_DEADLINE_SECONDS} s")
            time.sleep(JOB_POLL_SECONDS)
        done = time.perf_counter()
        traffic = self.proxy.traffic() - before
        return {
            "ms": (done - t0) * 1000,
            "with_changes_ms": (done - first) * 1000,
            **_traffic(traffic),
            "items": check_agree(self.env),
        }

    def profile(self, to: Path) -> None:
        """One more ``sync now`` after 10 changes, under cProfile; its top lines to ``to``."""
        import pstats

        self.change(10)
        stats = self.env.work / "sync-now.prof"
        self.cli("profile", "sync", "now", prefix=("-m", "cProfile", "-o", str(stats)))
        with to.open("w") as fh:
            fh.write(
                f"termin360 sync now after 10 changes, {self.size:,} appointments "
                f"({self.env.backend}), cProfile of the whole process\n\n"
            )
            top = pstats.Stats(str(stats), stream=fh).sort_stats("cumulative")
            fh.write("The parts: Django's set-up, the round itself, its HTTP calls\n")
            top.print_stats(r"django_setup.py.*\(setup\)|rounds.py.*\(sync_round\)|_send")
            fh.write("\nThe top of the whole process\n")
            top.print_stats(45)
        self.change(10)
        self.cli("profile-cleanup", "sync", "now")


def measure(
    backend: str,
    size: int,
    counts: list[int],
    runs: int,
    initial_runs: int,
    profile_to: Path | None = None,
) -> dict[str, Any]:
    """Initial transfer ``initial_runs`` times, ``sync now`` with no change ``runs`` times,
    then for each K in ``counts`` ``runs`` commands after K changes (added, then deleted
    again), and ``runs`` in-process rounds likewise."""
    out: dict[str, Any] = {"initial": [], "changes": {}, "in_process": {}, "claims": {}}
    with sync_env(backend, name=f"peer{size}", weeks=1, columns=2, mappings=(1,)) as env:
        from termin360.connector.services import config

        if workdays(1)[0] < env.monday + timedelta(days=7):
            raise SystemExit("the appointments would overlap the benchmark world's grid week")
        t0 = time.perf_counter()
        fill(env, existing(size))
        print(f"  practice calendar: {size:,} appointments in {time.perf_counter() - t0:.1f} s")
        port = urlsplit(env.portal_url).port
        assert port is not None
        with counting_proxy(port) as proxy:
            config.save_config(portal_url=proxy.url)
            side = _Practice(env, proxy, size)
            for run in range(initial_runs):
                out["initial"].append(side.cli(f"initial-{run}", "sync", "push-existing", "1", "1"))
                ms = out["initial"][-1]["ms"]
                print(f"  termin360 push-existing of {size:,}: {ms:.0f} ms", flush=True)
            out["changes"]["0"] = [
                side.cli(f"k0-{r}", "sync", "now", "--json") for r in range(runs)
            ]
            for k in counts:
                samples, claims, inproc = [], [], []
                for run in range(runs):
                    claims.append(side.change(k))
                    samples.append(side.cli(f"k{k}-{run}", "sync", "now", "--json"))
                for _ in range(runs):
                    side.change(k)
                    inproc.append(side.round_in_process())
                if side.held:  # the calendar keeps its size for the next K
                    side.change(k)
                    side.round_in_process()
                out["changes"][str(k)] = samples
                out["claims"][str(k)] = claims
                out["in_process"][str(k)] = inproc
                median = sorted(s["ms"] for s in samples)[len(samples) // 2]
                print(f"  termin360 after {k} changes: median {median:.0f} ms", flush=True)
            out["job"] = _with_running_job(env, side, counts, runs)
            if profile_to is not None:
                side.profile(profile_to)
    return out


def _with_running_job(
    env: SyncEnv, side: _Practice, counts: list[int], runs: int
) -> dict[str, list[dict[str, Any]]]:
    """The connector as a practice runs it: ``termin360 sync job run`` as its own process
    (what ``sync job on`` and ``practice serve`` start), ``runs`` times K changes for each
    K; the job's peak memory (VmHWM) read while it runs. Stopped with SIGTERM after it."""
    from termin360.connector.selectors import job_is_running, sync_state

    log = (env.work / "job.log").open("wb")
    job = subprocess.Popen(
        [sys.executable, "-m", "termin360", "sync", "job", "run"],
        env={**env.practice_env, "COLUMNS": "200"},
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
    )
    out: dict[str, list[dict[str, Any]]] = {}
    try:
        started = time.monotonic()
        while not job_is_running(sync_state()):
            if job.poll() is not None or time.monotonic() - started > 30:
                raise SystemExit(f"termin360 sync job run did not start: {env.work / 'job.log'}")
            time.sleep(0.1)
        for k in counts:
            out[str(k)] = []
            for _ in range(runs):
                sample = side.after_job(k)
                sample["peak_kib"] = _peak_kib(job.pid)
                out[str(k)].append(sample)
            if side.held:
                side.after_job(k)
            median = sorted(s["ms"] for s in out[str(k)])[len(out[str(k)]) // 2]
            print(f"  termin360 running job, {k} changes: median {median:.0f} ms", flush=True)
    finally:
        job.terminate()
        try:
            job.wait(timeout=15)
        except subprocess.TimeoutExpired:
            job.kill()
            job.wait()
        log.close()
    return out


def _peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0
