"""Local wall-clock time ↔ UTC, done with IANA zones and never with fixed offsets.

A local time can be missing (spring forward: 02:30 on the last Sunday of March
does not exist in Europe/Berlin) or ambiguous (fall back: 02:30 on the last
Sunday of October happens twice). Slot grids are defined in local time, so
these two cases are decided here, once.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DEFAULT_ZONE = "Europe/Berlin"


def zone(name: str = DEFAULT_ZONE) -> ZoneInfo:
    return ZoneInfo(name)


def local_to_utc(day: date, at: time, tz: ZoneInfo) -> datetime | None:
    """UTC instant of the wall-clock time ``at`` on ``day``; ``None`` if it does not exist.

    For an ambiguous time (the repeated hour in autumn) the first occurrence
    (``fold=0``, still summer time) is taken, so a grid never holds that hour twice.
    """
    naive = datetime.combine(day, at)
    aware = naive.replace(tzinfo=tz, fold=0)
    as_utc = aware.astimezone(UTC)
    # A non-existent local time does not survive the round trip.
    if as_utc.astimezone(tz).replace(tzinfo=None) != naive:
        return None
    return as_utc


def first_instant_at_or_after(day: date, at: time, tz: ZoneInfo) -> datetime:
    """Like :func:`local_to_utc`, but a time inside the spring-forward gap gives the gap's end.

    Used where a local time marks the *end* of something: "until 02:15" on a day
    whose clock jumps from 02:00 to 03:00 means "until the jump".
    """
    probe = datetime.combine(day, at)
    # Gaps are whole minutes and at most a day long (Pacific/Apia skipped 2011-12-30).
    for _ in range(24 * 60 + 1):
        instant = local_to_utc(probe.date(), probe.time(), tz)
        if instant is not None:
            return instant
        probe += timedelta(minutes=1)
    raise ValueError(f"no existing local time within a day after {day} {at} in {tz}")


def utc_to_local(instant: datetime, tz: ZoneInfo) -> datetime:
    if instant.tzinfo is None:
        raise ValueError("naive datetime: store and pass UTC-aware datetimes only")
    return instant.astimezone(tz)


def day_bounds_utc(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """UTC start and end of a local calendar day (23, 24 or 25 hours long)."""
    start = datetime.combine(day, time.min).replace(tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time.min).replace(tzinfo=tz).astimezone(UTC)
    return start, end
