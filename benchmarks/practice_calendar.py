"""Benchmark of the practice calendar against a real server process.

    python -m benchmarks.practice_calendar [--backend sqlite|postgres] [--runs 200]

Loads the demo practice (3 calendars, a year's grid, 200 patients, ~1,800
appointments) into a fresh database, starts ``termin360 practice serve`` and
measures, over HTTP with a staff token: the day view of a calendar, the week view
of one column, a patient search, booking + deleting an appointment, and a move
between columns. Prints median, p95, min–max per operation. Not a test: numbers
depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import httpx
from tests.conftest import free_port


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _measure(fn: Callable[[int], None], runs: int) -> list[float]:
    fn(-1)  # warm-up
    samples = []
    for i in range(runs):
        t0 = time.perf_counter()
        fn(i)
        samples.append((time.perf_counter() - t0) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="t360-bench-"))
    env = dict(os.environ, TERMIN360_DATA_DIR=str(work), TERMIN360_LOG_LEVEL="WARNING")
    dbname = f"termin360_bench_{os.getpid()}"
    if args.backend == "postgres":
        subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", dbname], check=True)
        env["PRACTICE_DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{dbname}"
    else:
        env["PRACTICE_DATABASE_URL"] = f"sqlite:///{work / 'practice.sqlite3'}"
    cli = [sys.executable, "-m", "termin360", "practice"]
    print(f"loading demo data ({args.backend}) …", flush=True)
    subprocess.run([*cli, "demo-data"], env=env, check=True, stdout=subprocess.DEVNULL)
    port = free_port()
    server = subprocess.Popen(
        [*cli, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        with httpx.Client(timeout=10) as client:
            for _ in range(100):
                try:
                    client.get(f"http://127.0.0.1:{port}/health")
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            token = client.post(
                f"{base}/auth/token", json={"username": "empfang", "password": "empfang-demo"}
            ).json()
            client.headers["Authorization"] = f"Bearer {token['token']}"
            day = date.today() + timedelta(days=7 - date.today().weekday())  # next Monday
            free = [
                s["id"]
                for c in client.get(f"{base}/calendars/1/days/{day}").json()["columns"]
                for s in c["slots"]
                if s["state"] in ("free", "note") and not s["reserved"]
            ]
            if len(free) < 3:
                raise SystemExit("no free slots on the benchmark day")

            def day_view(_: int) -> None:
                client.get(f"{base}/calendars/1/days/{day}").raise_for_status()

            def week_view(_: int) -> None:
                client.get(f"{base}/calendars/1/weeks/{day}?columns=1").raise_for_status()

            def search(i: int) -> None:
                client.get(f"{base}/patients", params={"q": ["mül", "sch", "ann"][i % 3]})

            def book_and_delete(_: int) -> None:
                r = client.post(f"{base}/appointments", json={"slot_id": free[2], "text": "Bench"})
                r.raise_for_status()
                client.delete(f"{base}/appointments/{r.json()['id']}").raise_for_status()

            appt = client.post(
                f"{base}/appointments", json={"slot_id": free[0], "text": "Bench"}
            ).json()["id"]
            targets = [free[1], free[0]]

            def move(i: int) -> None:
                client.post(
                    f"{base}/appointments/{appt}/move", json={"slot_id": targets[i % 2]}
                ).raise_for_status()

            rows = []
            for name, fn in [
                ("day view (3 columns)", day_view),
                ("week view (1 column)", week_view),
                ("patient search", search),
                ("book + delete", book_and_delete),
                ("move appointment", move),
            ]:
                samples = _measure(fn, args.runs)
                rows.append(
                    (
                        name,
                        statistics.median(samples),
                        _percentile(samples, 0.95),
                        min(samples),
                        max(samples),
                    )
                )
    finally:
        server.terminate()
        server.wait(timeout=10)
        if args.backend == "postgres":
            subprocess.run(
                ["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", dbname], check=False
            )

    print(f"\npractice calendar, {args.backend}, {args.runs} runs each (ms, over HTTP)")
    print(f"{'operation':<24}{'median':>9}{'p95':>9}{'min':>9}{'max':>9}")
    for name, med, p95, lo, hi in rows:
        print(f"{name:<24}{med:>9.1f}{p95:>9.1f}{lo:>9.1f}{hi:>9.1f}")


if __name__ == "__main__":
    main()
