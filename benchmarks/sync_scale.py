"""Benchmark: ``termin360 sync now`` with 10 changes each way, on a small and a big
practice calendar — the cost of a round should follow the changes, not the size.

    python -m benchmarks.sync_scale [--backend sqlite|postgres] [--sizes 1000,100000] [--runs 10]

For each size a fresh world (``benchmarks._sync_env``): online calendar A → column 1,
B → column 2, columns 3 and 4 unmapped, and ``size`` existing appointments
bulk-created in all four columns on the days before and after the benchmark's four
weeks (``fill_calendar``). No job runs. Then per run (plus one warm-up):

- 10 portal changes: real bookings through the portal's patient API in calendar A;
- 10 practice changes: real service calls (``appointments.book_appointment`` in one
  run, ``delete_appointment`` of those in the next) in column 2, on 10 different days
  — each with the S9 check against the portal and its outbox row;
- timed: ``sync_round`` **in-process**, exactly as ``termin360 sync now`` runs it
  (client from the configuration, one round, closed) — without the seconds a new
  Python process needs to start Django.

Target: ratio of the medians (big / small) ≤ 1.5. Not a test: numbers depend on the
machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import timedelta
from typing import Any

from benchmarks._sync_env import Row, booking_times, print_table, sync_env
from benchmarks._sync_fill import fill_calendar

CHANGES = 10


def measure(backend: str, size: int, runs: int) -> tuple[list[float], list[dict[str, Any]]]:
    with sync_env(backend, name=f"scale{size}", weeks=4, columns=4, mappings=(1, 2)) as env:
        from termin360.connector.services import config
        from termin360.connector.services.rounds import sync_round
        from termin360.practice.models import Appointment
        from termin360.practice.services import appointments

        window = (env.monday, env.monday + timedelta(days=28))
        t0 = time.perf_counter()
        made = fill_calendar(env, size, columns=(1, 2, 3, 4), first=window[1], skip=window)
        print(
            f"{made} appointments in {time.perf_counter() - t0:.1f} s "
            f"(calendar holds {Appointment.objects.count()})",
            flush=True,
        )
        workdays = [env.monday + timedelta(days=7 * w + d) for w in range(4) for d in range(5)]
        practice_slots = [env.slot_ids(2, [day])[4] for day in workdays[:CHANGES]]  # 09:00
        online_times = iter(booking_times(env.monday, 4, every=2))
        held: list[int] = []
        samples: list[float] = []
        results: list[dict[str, Any]] = []
        env.patient_token()
        for run in range(runs + 1):
            for _ in range(CHANGES):
                env.book_online(next(online_times))
            if held:
                for appointment_id in held:
                    appointments.delete_appointment(actor=env.staff, appointment_id=appointment_id)
                held = []
            else:
                held = [
                    appointments.book_appointment(actor=env.staff, slot_id=s, text="Praxis").pk
                    for s in practice_slots
                ]
            t0 = time.perf_counter()
            with config.client_from_config() as client:
                result = sync_round(client, wait=0)
            elapsed = (time.perf_counter() - t0) * 1000
            if run > 0:  # the first round is the warm-up
                samples.append(elapsed)
                results.append(result.as_dict())
        return samples, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--one-size", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_size:  # a child: one size, answer as JSON on the last line
        samples, results = measure(args.backend, args.one_size, args.runs)
        print(json.dumps({"samples": samples, "results": results}))
        return
    sizes = [int(s) for s in args.sizes.split(",")]

    rows = []
    for size in sizes:
        # Each size in its own process: Django's settings (the database) are per process.
        child = subprocess.run(
            [sys.executable, "-m", "benchmarks.sync_scale", "--backend", args.backend,
             "--runs", str(args.runs), "--one-size", str(size)],
            stdout=subprocess.PIPE,
            text=True,
            check=True,
        )  # fmt: skip
        lines = child.stdout.strip().splitlines()
        print("\n".join(lines[:-1]), flush=True)
        answer = json.loads(lines[-1])
        samples, results = answer["samples"], answer["results"]
        rows.append(Row(f"sync now, {size:,} appointments", samples))
        changes = {(r["to_practice"], r["to_portal"], r["events"]) for r in results}
        print(f"size {size:,}: (to practice, to portal, events) per round: {sorted(changes)}")
    ratio = rows[-1].median / rows[0].median
    rows[-1].target = "ratio ≤ 1.5"
    rows[-1].met = ratio <= 1.5
    print_table(
        f"sync now with {CHANGES} changes each way, {args.backend}, in-process sync_round", rows
    )
    print(f"ratio of the medians ({sizes[-1]:,} / {sizes[0]:,}): {ratio:.2f} (target ≤ 1.5)")


if __name__ == "__main__":
    main()
