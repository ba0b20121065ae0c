"""Micro-benchmark of the portal's availability (free slots of one online calendar).

    python -m benchmarks.availability [--runs 200]

One calendar in Europe/Berlin (mornings Monday–Friday, three afternoons, 10-minute
grid, 12-week horizon) with ~300 blocked intervals: bookings of 10–40 minutes
scattered over the horizon and two absences. Measures, in-process and without a
database, the free slots of the whole horizon, of one week grouped by day (a
doctor's page), and the next free slot — once on an open calendar, once behind a
three-week absence. Prints median, p95, min–max per operation. Not a test: numbers
depend on the machine.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time as clock
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from termin360.core.intervals import Interval
from termin360.core.timezones import local_to_utc
from termin360.portal.domain.availability import (
    CalendarRules,
    WeeklyHours,
    free_slots,
    free_slots_by_day,
    next_free_slot,
)

BERLIN = ZoneInfo("Europe/Berlin")
HORIZON_DAYS = 12 * 7
RULES = CalendarRules(
    zone=BERLIN,
    slot_minutes=10,
    hours=tuple(WeeklyHours(d, time(8), time(12)) for d in range(5))
    + tuple(WeeklyHours(d, time(14), time(18)) for d in (0, 1, 3)),
    horizon_days=HORIZON_DAYS,
    lead_minutes=120,
)
TODAY = date(2027, 6, 7)  # a Monday
NOW = datetime.combine(TODAY, time(7, 0), tzinfo=BERLIN)


def _at(day: date, minutes: int) -> datetime:
    instant = local_to_utc(day, time(minutes // 60, minutes % 60), BERLIN)
    assert instant is not None
    return instant


def _blocked(count: int = 298, seed: int = 360) -> list[Interval]:
    """``count`` bookings within the hours of the horizon, unsorted, plus two absences."""
    rng = random.Random(seed)
    blocked = []
    for _ in range(count):
        day = TODAY + timedelta(days=rng.randrange(HORIZON_DAYS))
        start = rng.choice([8 * 60, 14 * 60]) + 10 * rng.randrange(24)
        length = 10 * rng.randint(1, 4)
        blocked.append(Interval(_at(day, start), _at(day, start) + timedelta(minutes=length)))
    blocked.append(Interval(_at(TODAY + timedelta(days=30), 0), _at(TODAY + timedelta(days=35), 0)))
    blocked.append(Interval(_at(TODAY + timedelta(days=60), 0), _at(TODAY + timedelta(days=62), 0)))
    return blocked


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _measure(fn: Callable[[], object], runs: int) -> list[float]:
    fn()  # warm-up
    samples = []
    for _ in range(runs):
        t0 = clock.perf_counter()
        fn()
        samples.append((clock.perf_counter() - t0) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()

    blocked = _blocked()
    away = [*blocked, Interval(NOW, _at(TODAY + timedelta(days=21), 0))]
    last_day = TODAY + timedelta(days=HORIZON_DAYS)
    horizon_slots = free_slots(
        RULES, now=NOW, first_day=TODAY, last_day=last_day, duration_minutes=20, blocked=blocked
    )

    operations: list[tuple[str, Callable[[], object]]] = [
        (
            "free_slots, 12 weeks",
            lambda: free_slots(
                RULES,
                now=NOW,
                first_day=TODAY,
                last_day=last_day,
                duration_minutes=20,
                blocked=blocked,
            ),
        ),
        (
            "free_slots_by_day, 1 week",
            lambda: free_slots_by_day(
                RULES,
                now=NOW,
                first_day=TODAY + timedelta(days=14),
                last_day=TODAY + timedelta(days=20),
                duration_minutes=20,
                blocked=blocked,
            ),
        ),
        (
            "next_free_slot",
            lambda: next_free_slot(RULES, now=NOW, duration_minutes=20, blocked=blocked),
        ),
        (
            "next_free_slot, 3 weeks away",
            lambda: next_free_slot(RULES, now=NOW, duration_minutes=20, blocked=away),
        ),
    ]
    rows = []
    for name, fn in operations:
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

    print(
        f"\navailability: 1 calendar, {HORIZON_DAYS} days, {len(blocked)} blocked intervals, "
        f"{len(horizon_slots)} free 20-minute slots; {args.runs} runs each (ms, in-process)"
    )
    print(f"{'operation':<30}{'median':>9}{'p95':>9}{'min':>9}{'max':>9}")
    for name, med, p95, lo, hi in rows:
        print(f"{name:<30}{med:>9.2f}{p95:>9.2f}{lo:>9.2f}{hi:>9.2f}")


if __name__ == "__main__":
    main()
