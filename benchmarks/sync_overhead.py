"""Benchmark: what the sync adds to a practice action — book + delete in a mapped column
against the same in an unmapped one.

    python -m benchmarks.sync_overhead [--backend sqlite|postgres] [--runs 200]

Sets up portal and practice (``benchmarks._sync_env``) with online calendar A mapped to
column 1 and column 2 left unmapped, starts the real practice server
(``termin360 practice serve``) and the job (``termin360 sync job run``), then over the
practice server's JSON API books a slot and deletes the appointment again, ``--runs``
times in column 1 and as often in column 2 (interleaved, so drift hits both alike).

In the mapped column the booking runs the S9 check (``POST /claims`` to the portal,
synchronously) and both actions write busy state and an outbox row that the job then
relays. Target: difference of the medians ≤ 25 ms. Not a test: numbers depend on the
machine.
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta

from benchmarks._sync_env import Row, print_table, sync_env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()

    samples: dict[int, list[float]] = {1: [], 2: []}
    with sync_env(args.backend, name="overhead", weeks=1, mappings=(1,)) as env:
        env.start_job()
        env.start_practice_server()
        wednesday = env.monday + timedelta(days=2)
        slot = {c: env.slot_ids(c, [wednesday])[5] for c in (1, 2)}

        def book_and_delete(column: int) -> float:
            t0 = time.perf_counter()
            r = env.practice("POST", "/appointments", {"slot_id": slot[column], "text": "Bench"})
            r.raise_for_status()
            env.practice("DELETE", f"/appointments/{r.json()['id']}").raise_for_status()
            return (time.perf_counter() - t0) * 1000

        for column in (1, 2):  # warm-up
            book_and_delete(column)
        print(f"{args.runs} × book + delete in each column …", flush=True)
        for _ in range(args.runs):
            for column in (1, 2):
                samples[column].append(book_and_delete(column))
        from termin360.connector.models import OutboxEntry

        deadline = time.monotonic() + 10
        while OutboxEntry.objects.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        left = OutboxEntry.objects.count()

    mapped = Row("book + delete, mapped column", samples[1])
    unmapped = Row("book + delete, unmapped column", samples[2])
    diff = mapped.median - unmapped.median
    print_table(f"sync overhead of a practice action, {args.backend}", [mapped, unmapped])
    met = "yes" if diff <= 25 else "NO"
    print(f"difference of the medians: {diff:.1f} ms (target ≤ 25 ms: {met})")
    print(f"outbox rows left 10 s after the last action: {left}")


if __name__ == "__main__":
    main()
