"""Filling a practice calendar with existing appointments for the sync benchmarks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any

from benchmarks._sync_env import BERLIN, SyncEnv


def fill_calendar(
    env: SyncEnv,
    count: int,
    *,
    columns: tuple[int, ...],
    first: date,
    skip: tuple[date, date],
    backwards: bool = True,
) -> int:
    """``count`` existing appointments, fast: bulk-created slots (10 minutes, 08:00–18:00,
    60 a day) each holding an appointment, in ``columns`` day by day from ``first`` —
    alternately forwards and backwards from it if ``backwards`` — leaving out the days
    in ``[skip[0], skip[1])`` (the benchmark's own grid).
    No busy state or outbox row is written: existing data, not changes."""
    from django.db import transaction

    from termin360.practice.models import Appointment, Slot

    per_day = 60
    calendar = env.columns[columns[0]].calendar
    days: list[date] = []
    forward, backward = first, first - timedelta(days=1)
    while len(days) * per_day * len(columns) < count:
        for day in (forward, backward) if backwards else (forward,):
            if not skip[0] <= day < skip[1]:
                days.append(day)
        forward += timedelta(days=1)
        backward -= timedelta(days=1)
    made = 0
    batch_size = 5000
    with transaction.atomic():
        pending: list[tuple[Any, date, datetime, datetime]] = []

        def flush() -> None:
            appts = Appointment.objects.bulk_create(
                [
                    Appointment(
                        calendar=calendar, column=col, day=d, start=s, end=e, text="Bestand"
                    )
                    for col, d, s, e in pending
                ],
                batch_size=batch_size,
            )
            Slot.objects.bulk_create(
                [
                    Slot(column=col, day=d, start=s, end=e, appointment=a)
                    for (col, d, s, e), a in zip(pending, appts, strict=True)
                ],
                batch_size=batch_size,
            )
            pending.clear()

        for day in days:
            for number in columns:
                col = env.columns[number]
                for i in range(per_day):
                    if made == count:
                        break
                    start = datetime.combine(day, dtime(8), BERLIN) + timedelta(minutes=10 * i)
                    start = start.astimezone(UTC)
                    pending.append((col, day, start, start + timedelta(minutes=10)))
                    made += 1
            if len(pending) >= batch_size:
                flush()
        if pending:
            flush()
    return made
