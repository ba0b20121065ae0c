"""Benchmark: how long the console command takes as a whole process — ``termin360 sync
now`` with exactly one change waiting, against a real portal process.

    python -m benchmarks.cli_start [--backend sqlite|postgres] [--runs 20]

A fresh world (``benchmarks._sync_env``: a running ``portal serve``, a practice database
with the connector configured, no job). Per run, one real online booking through the
portal's patient API, then timed:

- ``termin360 sync now`` as its own process (the installed console script, exactly as a
  practice's IT person types it): interpreter, imports, Django, the schema check, the
  round, the output line — what the target is about (≤ 600 ms);
- beside it the same round **in-process** (``sync_round`` with a client from the
  configuration, as ``sync now`` runs it): the work itself;
- ``termin360 sync list`` (Django and one read, no portal) and ``termin360 --help``
  (no Django at all), and ``python -c pass``: the floor any process pays.

Each process row's result is checked (``sync now`` must report the one change). The
table goes to stdout and to ``var/bench/cli_start-<backend>.txt``. Not a test: numbers
depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

from benchmarks._sync_env import (
    ROOT,
    Row,
    SyncEnv,
    bench_report,
    booking_times,
    print_table,
    sync_env,
)

TARGET_MS = 600.0


def console_script() -> list[str]:
    """The ``termin360`` script of this interpreter's environment (as installed by pip),
    else ``python -m termin360``."""
    script = Path(sys.executable).with_name("termin360")
    return [str(script)] if script.exists() else [sys.executable, "-m", "termin360"]


def timed_process(env: SyncEnv, args: list[str]) -> tuple[float, str]:
    # As on a practice's machine: Python keeps its bytecode caches (a CI or container
    # setting that turns them off would add the compiling of every module to each call).
    child_env = {**env.practice_env, "COLUMNS": "200"}
    child_env.pop("PYTHONDONTWRITEBYTECODE", None)
    t0 = time.perf_counter()
    done = subprocess.run(
        args,
        env=child_env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    elapsed = (time.perf_counter() - t0) * 1000
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return elapsed, done.stdout


def measure(backend: str, runs: int) -> list[Row]:
    with sync_env(backend, name="clistart", weeks=4) as env:
        from termin360.connector.services import config
        from termin360.connector.services.rounds import sync_round

        command = console_script()
        times = iter(booking_times(env.monday, 4))
        env.patient_token()
        process, in_process, listing, helping, bare = [], [], [], [], []
        for run in range(runs + 1):  # the first of each is the warm-up
            env.book_online(next(times))
            elapsed, stdout = timed_process(env, [*command, "sync", "now", "--json"])
            answer = json.loads(stdout)
            if answer["to_practice"] != 1:
                raise SystemExit(f"sync now did not carry the one change: {answer}")

            env.book_online(next(times))
            t0 = time.perf_counter()
            with config.client_from_config() as client:
                result = sync_round(client, wait=0)
            inner = (time.perf_counter() - t0) * 1000
            if result.to_practice != 1:
                raise SystemExit(f"the in-process round did not carry the one change: {result}")

            listed, _ = timed_process(env, [*command, "sync", "list", "--json"])
            helped, stdout = timed_process(env, [*command, "--help"])
            if "sync" not in stdout:
                raise SystemExit(f"--help shows no sync group:\n{stdout}")
            floor, _ = timed_process(env, [sys.executable, "-c", "pass"])
            if run > 0:
                process.append(elapsed)
                in_process.append(inner)
                listing.append(listed)
                helping.append(helped)
                bare.append(floor)
            print(f"run {run}: sync now {elapsed:.0f} ms, in-process {inner:.0f} ms", flush=True)
        median_process = sorted(process)[len(process) // 2]
        return [
            Row(
                "termin360 sync now (process, 1 change)",
                process,
                target=f"≤ {TARGET_MS:.0f}",
                met=median_process <= TARGET_MS,
            ),
            Row("  the same round in-process", in_process),
            Row("termin360 sync list (process)", listing),
            Row("termin360 --help (process)", helping),
            Row("python -c pass (process)", bare),
        ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()

    rows = measure(args.backend, args.runs)
    with bench_report(f"cli_start-{args.backend}"):
        print_table(f"termin360 console command, whole process, {args.backend}", rows)
        print(
            f"\nmachine: {platform.machine()}, {platform.python_implementation()} "
            f"{platform.python_version()}, {platform.system()} {platform.release()}"
        )
        print(
            f"command: python -m benchmarks.cli_start --backend {args.backend} --runs {args.runs}"
        )


if __name__ == "__main__":
    main()
