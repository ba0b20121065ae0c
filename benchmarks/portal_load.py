"""Load on the portal over HTTP from a separate process — bookings, searches, slot
listings — with 1 and N server worker processes, and beside it, in the same run, the
same bookings written directly through the database driver.

    python -m benchmarks.portal_load [--backend postgres|sqlite] [--workers 1,2]
        [--concurrency 1,8,32] [--seconds 10] [--threads 16] [--calendars 200]
        [--profile PATH-OF-PY-SPY]

A fresh database (PostgreSQL: ``createdb`` on 127.0.0.1 as user postgres, dropped at
the end; SQLite: a temp file) with ``--calendars`` published calendars (two per
practice, Mon–Fri 07–19 in 15-minute slots, 84 days) and 64 confirmed patients with API
tokens (``benchmarks._load_world``). For every ``--workers`` value a real ``termin360
portal serve`` (``--workers N --threads T``); the load process
(``benchmarks._load_client``, asyncio + httpx, one keep-alive connection per client)
runs each phase for ``--seconds``:

- ``book``: ``POST /api/v1/bookings``, every booking a distinct free slot, at each
  ``--concurrency``;
- ``mix``: 6 searches : 3 week-of-slots : 1 booking, at the highest concurrency;
- with ``--profile``: one more ``book`` phase at the highest concurrency with py-spy
  sampling the server processes (``--gil``: Python's CPU time), summarised by kind of
  work and by termin360 function — not in the figures, the sampler costs CPU itself.

Then the limit, from the same load process through the driver (psycopg / sqlite3), each
booking one transaction at the same concurrencies: its writes alone, and its writes plus
the reads the booking service makes. Prints per phase the operations, operations per
second, median, p95, p99, min and max (ms) and the ratio HTTP / driver; writes the
table to ``var/bench/portal_load-<backend>.txt`` and the raw figures to ``.json``.
Not a test: numbers depend on the machine; the ratios, measured side by side in one
run, are what to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import _load_world as world
from benchmarks._sync_env import ROOT, free_port, percentile, stop, wait_healthy

OUT = ROOT / "var" / "bench"


class Report:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.rows: list[dict[str, Any]] = []

    def say(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.append(text)

    def row(self, phase: str, workers: str, conc: int, result: dict[str, Any]) -> None:
        seconds = result["seconds"]
        for op, samples in sorted(result["latencies"].items()):
            s = sorted(samples)
            errors = sum(n for k, n in result["errors"].items() if k.startswith(op + ":"))
            row = {
                "phase": phase,
                "op": op,
                "workers": workers,
                "concurrency": conc,
                "count": len(s),
                "per_second": len(s) / seconds,
                "median": statistics.median(s),
                "p95": percentile(s, 0.95),
                "p99": percentile(s, 0.99),
                "min": s[0],
                "max": s[-1],
                "errors": errors,
            }
            self.rows.append(row)
            self.say(
                f"{phase:<7}{op:<31}{workers:>4}{conc:>5}{len(s):>8}{row['per_second']:>9.1f}"
                f"{row['median']:>9.1f}{row['p95']:>9.1f}{row['p99']:>9.1f}{s[0]:>8.1f}"
                f"{s[-1]:>9.1f}{errors:>7}"
            )
        odd = {k: n for k, n in result["errors"].items() if "used up" not in k}
        if odd:
            self.say(f"        errors: {odd}")

    def header(self) -> None:
        self.say(
            f"{'phase':<7}{'operation':<31}{'wrk':>4}{'conc':>5}{'ops':>8}{'ops/s':>9}"
            f"{'median':>9}{'p95':>9}{'p99':>9}{'min':>8}{'max':>9}{'errors':>7}"
        )


def _serve(workers: int, threads: int, env: dict[str, str], log: Path) -> tuple[Any, str]:
    port = free_port()
    args = ["portal", "serve", "--port", str(port), "--threads", str(threads)]
    if workers > 1:
        args += ["--workers", str(workers)]
    exe = [sys.executable, "-m", "termin360", *args]
    proc = subprocess.Popen(exe, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, proc, log)
    return proc, url


def _profiled(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    """py-spy (``--profile``: its path) sampling the server ``pid`` and its workers for
    ``seconds``, written as collapsed stacks."""
    cmd = [PY_SPY, "record", "--pid", str(pid), "--subprocesses", "--duration"]
    cmd += [str(int(seconds)), "--format", "raw", "--rate", "100", "--gil", "--nolineno"]
    cmd += ["--output", str(out)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _frame(frame: str) -> str:
    """``func (…/site-packages/django/db/x.py)`` → ``django/db/x.py:func``."""
    name, _sep, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0] if ":" in where else where.rstrip(")")
    for cut in ("site-packages/", "src/", "lib/python3.11/"):
        if cut in path:
            path = path.split(cut, 1)[1]
    return f"{path}:{name}" if path else name


BUCKETS = [  # where the leaf frame of a sample lies → what the time is spent on
    ("django/db/models/", "Django ORM: building queries and model rows"),
    ("django/db/backends/", "Django database layer"),
    ("psycopg", "psycopg (driver)"),
    ("sqlite3", "sqlite3 (driver)"),
    ("django/template/", "Django templates"),
    ("ninja/", "django-ninja"),
    ("pydantic", "pydantic (validation, JSON)"),
    ("django/", "Django (request, middleware, rest)"),
    ("cheroot/", "cheroot (HTTP server)"),
    ("gunicorn/", "gunicorn (HTTP server)"),
    ("termin360/", "termin360's own code"),
    ("zoneinfo", "time zones"),
    ("json/", "json"),
]


def profile_summary(collapsed: Path, top: int = 14) -> list[str]:
    """Of the samples that hold the interpreter lock (``--gil``: Python's CPU time): the
    share per kind of work (by the frame that was running), and termin360's functions
    by inclusive share."""
    inclusive: dict[str, int] = {}
    buckets: dict[str, int] = {}
    samples = 0
    for line in collapsed.read_text().splitlines():
        stack, _sep, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        samples += n
        frames = [_frame(f) for f in stack.split(";")[1:]]  # [0]: the process
        for frame in set(frames):
            if frame.startswith("termin360/") and "/deploy/" not in frame:
                inclusive[frame] = inclusive.get(frame, 0) + n
        leaf = frames[-1] if frames else ""
        label = next((lb for prefix, lb in BUCKETS if prefix in leaf), "other (Python, stdlib)")
        buckets[label] = buckets.get(label, 0) + n
    lines = [f"py-spy: {samples} samples holding the interpreter lock", "by kind of work:"]
    for label, n in sorted(buckets.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {100 * n / max(samples, 1):5.1f} %  {label}")
    lines.append("termin360's functions (inclusive):")
    for frame, n in sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"  {100 * n / max(samples, 1):5.1f} %  {frame}")
    return lines


PY_SPY = ""


def _load(plan_file: Path, tmp: Path, **kw: Any) -> dict[str, Any]:
    out = tmp / f"result-{time.monotonic_ns()}.json"
    cmd = [sys.executable, "-m", "benchmarks._load_client", str(plan_file), "--out", str(out)]
    for key, value in kw.items():
        cmd += [f"--{key}", str(value)]
    subprocess.run(cmd, check=True, cwd=ROOT, timeout=float(kw["seconds"]) + 300)
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def run(args: argparse.Namespace, work: Path, report: Report) -> None:
    database_url, _name = args.database
    world.setup_django(database_url, work)
    rng = random.Random(360)
    t0 = time.perf_counter()
    plan = world.build(args.calendars, args.patients, rng)
    plan_file = work / "plan.json"
    plan_file.write_text(json.dumps(plan.to_json()))
    slots = world.Slots(plan)
    per_server = len(args.concurrency) + 1 + (1 if args.profile else 0)
    booking_phases = len(args.workers) * per_server + 2 * len(args.concurrency)
    budget = len(slots) // booking_phases
    cursor = 0

    def next_range() -> str:
        nonlocal cursor
        lo, cursor = cursor, cursor + budget
        return f"{lo}:{cursor}"

    report.say(
        f"portal load, {plan.backend}, {len(plan.calendars)} calendars, "
        f"{len(plan.patients)} patients, {len(slots)} free slots (world built in "
        f"{time.perf_counter() - t0:.1f} s); {args.seconds:.0f} s per phase, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start"
    )
    report.header()
    env = {
        **os.environ,
        "TERMIN360_DATA_DIR": str(work),
        "TERMIN360_SECRET_KEY": world.SECRET,
        "PORTAL_DATABASE_URL": database_url,
        "TERMIN360_LOG_LEVEL": "WARNING",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    top = max(args.concurrency)
    profiles: dict[int, list[str]] = {}
    for workers in args.workers:
        proc, url = _serve(workers, args.threads, env, work / f"serve-{workers}.log")
        try:
            _load(plan_file, work, mode="http", base=url, concurrency=4, seconds=2, work="slots")
            for conc in args.concurrency:
                result = _load(
                    plan_file,
                    work,
                    mode="http",
                    base=url,
                    concurrency=conc,
                    seconds=args.seconds,
                    work="book",
                    slots=next_range(),
                )
                report.row("book", str(workers), conc, result)
            if args.profile:
                # a phase of its own: the sampler's CPU stays out of the figures above
                stacks = work / f"book-{workers}.txt"
                spy = _profiled(proc.pid, args.seconds, stacks)
                _load(
                    plan_file,
                    work,
                    mode="http",
                    base=url,
                    concurrency=top,
                    seconds=args.seconds,
                    work="book",
                    slots=next_range(),
                )
                spy.wait(timeout=60)
                profiles[workers] = profile_summary(stacks)
            result = _load(
                plan_file,
                work,
                mode="http",
                base=url,
                concurrency=top,
                seconds=args.seconds,
                work="mix",
                slots=next_range(),
            )
            report.row("mix", str(workers), top, result)
        finally:
            stop(proc)
    for mode in ("direct-writes", "direct-full"):
        for conc in args.concurrency:
            result = _load(
                plan_file,
                work,
                mode=mode,
                concurrency=conc,
                seconds=args.seconds,
                slots=next_range(),
            )
            report.row("driver", "–", conc, result)
    _ratios(report, args)
    for workers, lines in profiles.items():
        report.say()
        report.say(f"where a booking's time goes ({workers} worker(s), concurrency {top}):")
        for line in lines:
            report.say(line)


def _ratios(report: Report, args: argparse.Namespace) -> None:
    def rate(phase: str, op: str, workers: str, conc: int) -> float:
        for r in report.rows:
            if (r["phase"], r["op"], r["workers"], r["concurrency"]) == (phase, op, workers, conc):
                return float(r["per_second"])
        return 0.0

    report.say()
    report.say("bookings/s over HTTP as a share of the driver's (same run)")
    report.say(f"{'workers':>8}{'conc':>6}{'HTTP/s':>9}{'÷ writes':>10}{'÷ writes+reads':>16}")
    for workers in args.workers:
        for conc in args.concurrency:
            http = rate("book", "book", str(workers), conc)
            writes = rate("driver", "book (driver, writes)", "–", conc)
            full = rate("driver", "book (driver, writes + reads)", "–", conc)
            report.say(
                f"{workers:>8}{conc:>6}{http:>9.1f}{http / writes if writes else 0:>10.3f}"
                f"{http / full if full else 0:>16.3f}"
            )
    report.say("target: ≥ 0.5 of writes + reads at concurrency 32 with N workers (PostgreSQL)")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--calendars", type=int, default=200)
    parser.add_argument("--patients", type=int, default=64)
    parser.add_argument(
        "--profile",
        default="",
        metavar="PY_SPY",
        help="path of a py-spy binary: one more booking phase at the highest concurrency, "
        "sampled (not in the figures)",
    )
    args = parser.parse_args()
    global PY_SPY
    PY_SPY = args.profile
    args.workers = [int(x) for x in args.workers.split(",")]
    args.concurrency = [int(x) for x in args.concurrency.split(",")]
    report = Report()
    with tempfile.TemporaryDirectory(prefix="termin360-load-") as tmp:
        work = Path(tmp)
        args.database = world.database(args.backend, work)
        try:
            run(args, work, report)
        finally:
            from django.db import connections

            connections.close_all()
            world.drop_database(args.database[1])
    OUT.mkdir(parents=True, exist_ok=True)
    stem = OUT / f"portal_load-{args.backend}"
    stem.with_suffix(".txt").write_text("\n".join(report.lines) + "\n")
    stem.with_suffix(".json").write_text(json.dumps(report.rows, indent=1))
    print(f"\nwritten: {stem}.txt, {stem}.json")


if __name__ == "__main__":
    main()
