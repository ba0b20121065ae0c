"""Search and a doctor's week of free slots over real HTTP, under concurrent load (issue 13).

    python -m benchmarks.portal_search_http [--backend postgres|sqlite] [--calendars 2000]
        [--concurrency 8] [--seconds 20] [--threads 16] [--processes 1]

Builds the 2,000-calendar world of ``benchmarks.portal_search`` in a fresh database
(PostgreSQL: a new database on 127.0.0.1 as user postgres, dropped at the end; SQLite: a
temp file), starts ``--processes`` real ``termin360 portal serve --threads T`` processes
and runs the load from a separate process (``--load``: asyncio + httpx, ``--concurrency``
clients with one keep-alive connection each, round-robin over the servers), each phase
for ``--seconds``:

- ``search``: ``GET /api/v1/search`` — random specialty / city / postcode / insurance
  combinations (as ``benchmarks.portal_search``), a page of 20;
- ``slots``: ``GET /api/v1/calendars/{id}/slots?from=MONDAY&days=7`` — a random doctor's
  week within the 12-week horizon.

Both phases run twice: **cold**, right after the servers started (every calendar's
availability is loaded on first use), and **warm**, after that. Prints per phase the
requests, req/s, median, p95, p99, min, max (ms), the servers' CPU time per request
(from ``/proc``) and the machine's load average, checks the targets (p95 ≤ 100 ms
search, ≤ 50 ms slots) and writes the table to ``var/bench/portal_search_http-<backend>.txt``.
Not a test: numbers depend on the machine (and on what else runs on it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from benchmarks._sync_env import ROOT, free_port, percentile, stop, vm_hwm_kib, wait_healthy

OUT = ROOT / "var" / "bench"
SECRET = "bench-secret-key-" + "x" * 40
TARGETS = {"search": 100.0, "slots": 50.0}
BERLIN = ZoneInfo("Europe/Berlin")


# --------------------------------------------------------------------------- the load process


def _mondays() -> list[str]:
    today = datetime.now(UTC).astimezone(BERLIN).date()
    first = today - timedelta(days=today.weekday())
    return [(first + timedelta(weeks=w)).isoformat() for w in range(12)]


async def _client(
    k: int, base: str, work: str, ids: list[int], until: float, out: dict[str, Any]
) -> None:
    from benchmarks.portal_search import _search_params

    rng = random.Random(k * 7919 + len(ids))
    mondays = _mondays()
    async with httpx_async_client(base) as client:
        while time.monotonic() < until:
            if work == "search":
                path, params = "/api/v1/search", {**_search_params(rng), "limit": "20"}
            else:
                path = f"/api/v1/calendars/{rng.choice(ids)}/slots"
                params = {"from": rng.choice(mondays), "days": "7"}
            t0 = time.perf_counter()
            try:
                r = await client.get(path, params=params)
                ok, detail = r.status_code == 200, str(r.status_code)
            except Exception as exc:  # a refused or reset connection is a result too
                ok, detail = False, type(exc).__name__
            ms = (time.perf_counter() - t0) * 1000
            if ok:
                out["latencies"].append(ms)
            else:
                out["errors"][detail] = out["errors"].get(detail, 0) + 1


def httpx_async_client(base: str) -> Any:
    import httpx

    return httpx.AsyncClient(
        base_url=base,
        timeout=30,
        headers={"Accept-Language": "de"},
        limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
    )


def run_load(bases: list[str], work: str, concurrency: int, seconds: float, ids: list[int]) -> None:
    """The load process: prints one JSON object (latencies in ms, errors, seconds)."""
    out: dict[str, Any] = {"latencies": [], "errors": {}}

    async def main() -> float:
        start = time.monotonic()
        until = start + seconds
        await asyncio.gather(
            *(_client(k, bases[k % len(bases)], work, ids, until, out) for k in range(concurrency))
        )
        return time.monotonic() - start

    out["seconds"] = asyncio.run(main())
    print(json.dumps(out))


# --------------------------------------------------------------------------- the run


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux ``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _build(args: argparse.Namespace, work: Path) -> tuple[str, list[int]]:
    """Fresh database with the world of ``benchmarks.portal_search``: (URL, calendar ids)."""
    from benchmarks.portal_search import _populate, _setup_django

    _setup_django(args.backend, work)
    from django.db import connection, connections

    from termin360.portal.models import Booking, BusyInterval, OnlineCalendar

    t0 = time.perf_counter()
    _populate(args.calendars, random.Random(args.seed))
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
    ids = list(OnlineCalendar.objects.values_list("pk", flat=True))
    print(
        f"created {len(ids)} published calendars, {Booking.objects.count()} bookings, "
        f"{BusyInterval.objects.count()} busy intervals in {time.perf_counter() - t0:.1f} s",
        flush=True,
    )
    connections.close_all()
    return os.environ["PORTAL_DATABASE_URL"], ids


def _serve(n: int, threads: int, env: dict[str, str], work: Path) -> list[tuple[Any, str]]:
    servers = []
    for i in range(n):
        port = free_port()
        log = work / f"serve-{i}.log"
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "termin360", "portal", "serve"),
                *("--port", str(port), "--threads", str(threads)),
            ],
            env=env,
            cwd=ROOT,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        servers.append((proc, url))
        wait_healthy(url, proc, log)
    return servers


def _phase(
    servers: list[tuple[Any, str]], work: str, args: argparse.Namespace, ids_file: Path
) -> dict[str, Any]:
    cpu0 = sum(_cpu_seconds(p.pid) for p, _ in servers)
    load0 = os.getloadavg()[0]
    done = subprocess.run(
        [
            *(sys.executable, "-m", "benchmarks.portal_search_http", "--load"),
            *(",".join(url for _, url in servers), work, str(args.concurrency)),
            *(str(args.seconds), str(ids_file)),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        timeout=args.seconds + 120,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["server_cpu"] = sum(_cpu_seconds(p.pid) for p, _ in servers) - cpu0
    result["load"] = (load0 + os.getloadavg()[0]) / 2
    return result


def _table(
    args: argparse.Namespace, rounds: list[tuple[str, str, dict[str, Any]]], peak_mib: float
) -> list[str]:
    lines = [
        f"portal search and slots over HTTP, {args.backend}, {args.calendars} calendars, "
        f"{args.processes} × portal serve --threads {args.threads}, concurrency "
        f"{args.concurrency}, {args.seconds:.0f} s per phase, {os.cpu_count()} CPUs",
        f"{'phase':<14}{'runs':>7}{'req/s':>8}{'median':>9}{'p95':>9}{'p99':>9}{'min':>8}"
        f"{'max':>9}{'cpu/req':>9}{'load':>6}{'errors':>8}  target p95",
    ]
    for state, work, r in rounds:
        s = sorted(r["latencies"]) or [0.0]
        n = len(r["latencies"])
        p95 = percentile(s, 0.95)
        errors = sum(r["errors"].values())
        verdict = "ok" if p95 <= TARGETS[work] and n else "MISSED"
        lines.append(
            f"{work + ' (' + state + ')':<14}{n:>7}{n / r['seconds']:>8.1f}"
            f"{statistics.median(s):>9.1f}{p95:>9.1f}{percentile(s, 0.99):>9.1f}{s[0]:>8.1f}"
            f"{s[-1]:>9.1f}{1000 * r['server_cpu'] / max(n, 1):>9.1f}{r['load']:>6.1f}"
            f"{errors:>8}  ≤ {TARGETS[work]:.0f} {verdict}"
        )
        if r["errors"]:
            lines.append(f"{'':<14}errors: {r['errors']}")
    lines.append(
        "(ms; cpu/req: CPU time of the server processes per answered request; "
        "load: the machine's 1-minute load average during the phase)"
    )
    lines.append(f"peak resident memory of the server processes: {peak_mib:.0f} MiB")
    return lines


def run(args: argparse.Namespace, work: Path) -> None:
    try:
        url, ids = _build(args, work)
        _measure(args, work, url, ids)
    finally:
        if args.backend == "postgres":  # the name ``_setup_django`` gives this process's database
            subprocess.run(
                [
                    *("dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", "--force"),
                    f"termin360_portal_bench_{os.getpid()}",
                ],
                check=False,
            )


def _measure(args: argparse.Namespace, work: Path, url: str, ids: list[int]) -> None:
    ids_file = work / "calendar-ids.json"
    ids_file.write_text(json.dumps(ids))
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
        "PORTAL_DATABASE_URL": url,
        "TERMIN360_DATA_DIR": str(work),
        "TERMIN360_SECRET_KEY": SECRET,
        "TERMIN360_LOG_LEVEL": "WARNING",
    }
    servers = _serve(args.processes, args.threads, env, work)
    rounds = []
    try:
        for state in ("cold", "warm"):
            for work_kind in ("search", "slots"):
                print(f"{work_kind} ({state}) for {args.seconds:.0f} s …", flush=True)
                rounds.append((state, work_kind, _phase(servers, work_kind, args, ids_file)))
        peak = sum(vm_hwm_kib(p.pid) for p, _ in servers) / 1024
    finally:
        for proc, _ in servers:
            stop(proc)
    lines = _table(args, rounds, peak)
    print("\n" + "\n".join(lines))
    OUT.mkdir(parents=True, exist_ok=True)
    target = OUT / f"portal_search_http-{args.backend}.txt"
    target.write_text("\n".join(lines) + "\n")
    print(f"\nwritten to {target.relative_to(ROOT)}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--load":
        bases, work, conc, seconds, ids_file = sys.argv[2:7]
        ids = json.loads(Path(ids_file).read_text())
        run_load(bases.split(","), work, int(conc), float(seconds), ids)
        return
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--calendars", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--seed", type=int, default=360)
    args = parser.parse_args()
    run(args, Path(tempfile.mkdtemp(prefix="t360-search-http-")))


if __name__ == "__main__":
    main()
