"""Reservations: blocking ranges across days, columns and times (DURIA "Reservierung").

A reservation names a date range, a local time range and a set of columns; it
covers, on every day of the range, the part of that time range in each column.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from termin360.core.intervals import Interval
from termin360.core.timezones import day_bounds_utc, local_to_utc

MAX_RESERVATION_DAYS = 366


@dataclass(frozen=True, slots=True)
class ReservationRange:
    first_day: date
    last_day: date
    start: time
    end: time

    def __post_init__(self) -> None:
        if self.last_day < self.first_day:
            raise ValueError("the last day lies before the first")
        if (self.last_day - self.first_day).days >= MAX_RESERVATION_DAYS:
            raise ValueError(f"a reservation spans at most {MAX_RESERVATION_DAYS} days")
        if self.end <= self.start and self.end != time(0, 0):
            raise ValueError("the end time must be after the start time")

    def days(self) -> list[date]:
        count = (self.last_day - self.first_day).days + 1
        return [self.first_day + timedelta(days=i) for i in range(count)]

    def interval_on(self, day: date, tz: ZoneInfo) -> Interval | None:
        """The UTC interval covered on ``day``; ``None`` outside the range.

        An end of 00:00 means "until midnight". A boundary that falls into the
        spring-forward gap is moved to the end of the gap.
        """
        if not self.first_day <= day <= self.last_day:
            return None
        day_start, day_end = day_bounds_utc(day, tz)
        start = _boundary(day, self.start, tz, day_start) if self.start != time(0, 0) else day_start
        end = day_end if self.end == time(0, 0) else _boundary(day, self.end, tz, day_end)
        if end <= start:
            return None
        return Interval(start, end)

    def intervals(self, tz: ZoneInfo) -> list[Interval]:
        out = []
        for day in self.days():
            iv = self.interval_on(day, tz)
            if iv is not None:
                out.append(iv)
        return out


def _boundary(day: date, at: time, tz: ZoneInfo, fallback: datetime) -> datetime:
    instant = local_to_utc(day, at, tz)
    if instant is not None:
        return instant
    # Inside the gap: walk forward minute by minute to the first existing time.
    probe = datetime.combine(day, at)
    for _ in range(180):
        probe += timedelta(minutes=1)
        instant = local_to_utc(probe.date(), probe.time(), tz)
        if instant is not None:
            return instant
    return fallback


def covers(reservation: ReservationRange, slot: Interval, day: date, tz: ZoneInfo) -> bool:
    """Whether the reservation blocks a slot of ``day`` (any overlap blocks)."""
    iv = reservation.interval_on(day, tz)
    return iv is not None and iv.overlaps(slot)
