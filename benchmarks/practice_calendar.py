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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


STAFF = ("empfang", "empfang-demo")


def next_monday() -> date:
    return date.today() + timedelta(days=7 - date.today().weekday())


@contextmanager
def practice_server(backend: str, prefix: str = "t360-bench-") -> Iterator[str]:
    """The demo practice in a fresh database (SQLite file or PostgreSQL database) behind
    ``termin360 practice serve`` with its default threads; yields the site's URL and
    removes the database afterwards."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    env = dict(os.environ, TERMIN360_DATA_DIR=str(work), TERMIN360_LOG_LEVEL="WARNING")
    dbname = f"{prefix.strip('-').replace('-', '_')}_{os.getpid()}"
    if backend == "postgres":
        subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", dbname], check=True)
        env["PRACTICE_DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{dbname}"
    else:
        env["PRACTICE_DATABASE_URL"] = f"sqlite:///{work / 'practice.sqlite3'}"
    cli = [sys.executable, "-m", "termin360", "practice"]
    print(f"loading demo data ({backend}) …", flush=True)
    subprocess.run([*cli, "demo-data"], env=env, check=True, stdout=subprocess.DEVNULL)
    port = free_port()
    server = subprocess.Popen(
        [*cli, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    site = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(f"{site}/health", timeout=10)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield site
    finally:
        server.terminate()
        server.wait(timeout=10)
        if backend == "postgres":
            subprocess.run(
                ["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", dbname], check=False
            )


def staff_token(base: str) -> str:
    """A staff token for the API at ``base`` (…/api/v1)."""
    answer = httpx.post(
        f"{base}/auth/token", json={"username": STAFF[0], "password": STAFF[1]}, timeout=10
    )
    return str(answer.json()["token"])


def measure_api(base: str, token: str, day: date, runs: int) -> dict[str, list[float]]:
    """Milliseconds of each operation, ``runs`` times over HTTP: the day view of a
    calendar, the week view of one column, a patient search, booking + deleting an
    appointment, and a move between columns, all on ``day``."""
    with httpx.Client(timeout=10, headers={"Authorization": f"Bearer {token}"}) as client:
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

        appt = client.post(f"{base}/appointments", json={"slot_id": free[0], "text": "Bench"})
        appt_id = appt.json()["id"]
        targets = [free[1], free[0]]

        def move(i: int) -> None:
            client.post(
                f"{base}/appointments/{appt_id}/move", json={"slot_id": targets[i % 2]}
            ).raise_for_status()

        operations: list[tuple[str, Callable[[int], None]]] = [
            ("day view (3 columns)", day_view),
            ("week view (1 column)", week_view),
            ("patient search", search),
            ("book + delete", book_and_delete),
            ("move appointment", move),
        ]
        out = {name: _measure(fn, runs) for name, fn in operations}
        client.delete(f"{base}/appointments/{appt_id}").raise_for_status()
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()

    with practice_server(args.backend) as site:
        base = f"{site}/api/v1"
        measured = measure_api(base, staff_token(base), next_monday(), args.runs)

    print(f"\npractice calendar, {args.backend}, {args.runs} runs each (ms, over HTTP)")
    print(f"{'operation':<24}{'median':>9}{'p95':>9}{'min':>9}{'max':>9}")
    for name, samples in measured.items():
        med, p95 = statistics.median(samples), _percentile(samples, 0.95)
        print(f"{name:<24}{med:>9.1f}{p95:>9.1f}{min(samples):>9.1f}{max(samples):>9.1f}")


if __name__ == "__main__":
    main()
