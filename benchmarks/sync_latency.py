"""Benchmark: online booking → committed in the practice database, with the job running.

    python -m benchmarks.sync_latency [--backend sqlite|postgres] [--bookings 200] [--rate 5]
        [--other-process]

Sets up a portal (``portal serve`` over HTTP) and a practice database with the connector
configured (see ``benchmarks._sync_env``), starts the real job process
(``termin360 sync job run``), then books ``--bookings`` times through the portal's
patient API at ``--rate`` bookings per second (a sender thread on a fixed schedule).
The benchmark process polls the practice database every 5 ms (raw SQL) for new
``OnlineBooking`` rows that carry their appointment (placed in the mapped column):
latency = first seen committed − moment the booking request was sent.
With ``--other-process`` the bookings go to a second ``portal serve`` process on the same
database while the connector long-polls the first: the wake-up crosses processes
(PostgreSQL: LISTEN/NOTIFY), as behind a load balancer with several app processes.

Also reports the job process's peak resident memory (VmHWM) after the run.
Targets: median ≤ 150 ms, p99 ≤ 1 s. The table goes to stdout and to
``var/bench/sync_latency-<backend>[-other-process].txt``. Not a test: numbers depend on the
machine.
"""

from __future__ import annotations

import argparse
import threading
import time

import httpx

from benchmarks._sync_env import (
    Row,
    bench_report,
    booking_times,
    percentile,
    print_table,
    sync_env,
    vm_hwm_kib,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--bookings", type=int, default=200)
    parser.add_argument("--rate", type=float, default=5.0)
    parser.add_argument("--poll-ms", type=float, default=5.0, help="practice DB poll interval")
    parser.add_argument(
        "--other-process",
        action="store_true",
        help="book on a second portal process (the connector long-polls the first)",
    )
    args = parser.parse_args()

    with sync_env(args.backend, name="latency", weeks=4) as env:
        booking_url = env.start_second_portal() if args.other_process else env.portal_url
        env.start_job()
        assert env.job is not None
        job_pid = env.job.pid
        hwm_before = vm_hwm_kib(job_pid)
        times = booking_times(env.monday, 4)
        if len(times) < args.bookings:
            raise SystemExit(f"only {len(times)} bookable times; use --bookings ≤ {len(times)}")
        env.patient_token()
        sent: dict[int, float] = {}
        sent_wall: dict[int, float] = {}
        answered: list[float] = []
        errors: list[str] = []
        done = threading.Event()

        def sender() -> None:
            period = 1.0 / args.rate
            t0 = time.perf_counter()
            with httpx.Client(base_url=booking_url, timeout=30) as client:
                for i in range(args.bookings):
                    delay = t0 + i * period - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                    at, wall = time.perf_counter(), time.time()
                    try:
                        booking = env.book_online(times[i], client=client)
                    except SystemExit as exc:
                        errors.append(str(exc))
                        continue
                    answered.append((time.perf_counter() - at) * 1000)
                    sent[int(booking["id"])] = at
                    sent_wall[int(booking["id"])] = wall
            done.set()

        from django.db import connection

        from termin360.connector.models import OnlineBooking

        seen: dict[int, float] = {}
        thread = threading.Thread(target=sender, daemon=True)
        print(f"{args.bookings} bookings at {args.rate:g}/s …", flush=True)
        thread.start()
        deadline = time.monotonic() + args.bookings / args.rate + 60
        # Raw SQL on one cursor: the poll itself must cost next to nothing (2 cores).
        query = (
            f"SELECT id, booking_id, appointment_id FROM {OnlineBooking._meta.db_table} "
            "WHERE id > %s ORDER BY id"
        )
        after = 0
        with connection.cursor() as cursor:
            while time.monotonic() < deadline:
                cursor.execute(query, [after])
                for row_id, booking_id, appointment_id in cursor.fetchall():
                    if appointment_id is None:
                        break  # not placed yet: look again from here
                    seen.setdefault(booking_id, time.perf_counter())
                    after = row_id
                if done.is_set() and len(seen) >= len(sent):
                    break
                time.sleep(args.poll_ms / 1000)
        thread.join(timeout=5)
        hwm_after = vm_hwm_kib(job_pid)
        missing = set(sent) - set(seen)
        latencies = [(seen[b] - sent[b]) * 1000 for b in sent if b in seen]
        placed = OnlineBooking.objects.filter(placement="slot").count()
        received = [
            (ob.received_at.timestamp() - sent_wall[ob.booking_id]) * 1000
            for ob in OnlineBooking.objects.filter(booking_id__in=list(sent_wall))
        ]

    main_row = Row("booking → committed in practice DB", latencies)
    main_row.target = "med≤150, p99≤1000"
    main_row.met = main_row.median <= 150 and percentile(latencies, 0.99) <= 1000
    rows = [
        main_row,
        Row("  portal answers the booking request", answered),
        Row("  booking → connector starts applying", received),
    ]
    where = "another portal process" if args.other_process else "the connector's portal process"
    other = "-other-process" if args.other_process else ""
    with bench_report(f"sync_latency-{args.backend}{other}"):
        print_table(
            f"sync latency, {args.backend}, {args.bookings} bookings at {args.rate:g}/s to {where}",
            rows,
        )
        print(f"placed in a slot: {placed}; not seen: {len(missing)}; refused: {len(errors)}")
        print(
            f"job process peak memory (VmHWM): {hwm_after / 1024:.1f} MiB "
            f"(before the bookings: {hwm_before / 1024:.1f} MiB)"
        )
        print(
            f"command: python -m benchmarks.sync_latency --backend {args.backend} "
            f"--bookings {args.bookings} --rate {args.rate:g}"
            + (" --other-process" if args.other_process else "")
        )


if __name__ == "__main__":
    main()
