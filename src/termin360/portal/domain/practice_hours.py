"""Hours from the practice calendar (SPEC S14): an online calendar whose bookable times
are the slots of its mapped practice column, as the connector sends them per local day.

Two questions, both pure:

- which visit starts a day's bookable slots offer (:func:`free_starts_in_grid`; the
  calendar-wide search in :mod:`.availability` uses the same rule for each day of a
  calendar with ``practice_days``);
- on which days the hours typed on the portal disagree with the practice's grid
  (:func:`days_differing`): the source asks that every time bookable online has a slot in
  the column ("für jeden … wählbaren Termin sollte es auch einen Termin in der
  entsprechenden Spalte … geben"); where not, online bookings end in the additional list.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta

from termin360.core.intervals import Interval
from termin360.portal.domain.availability import CalendarRules, grid_day, weekly_hours_day


def free_starts_in_grid(
    bookable: Sequence[Interval],
    *,
    duration_minutes: int,
    blocked: Iterable[Interval],
    lead_minutes: int,
    now: datetime,
) -> list[datetime]:
    """The starts (UTC, sorted) a visit of ``duration_minutes`` may take among one day's
    ``bookable`` slots: a slot start no earlier than ``now`` + the lead time, from which
    the visit runs through contiguous bookable time and overlaps nothing ``blocked``."""
    if duration_minutes <= 0:
        raise ValueError("a visit must last at least one minute")
    if now.utcoffset() is None:
        raise ValueError("naive datetime: pass UTC-aware datetimes only")
    windows, starts = grid_day(bookable)
    duration = timedelta(minutes=duration_minutes)
    earliest = now.astimezone(UTC) + timedelta(minutes=lead_minutes)
    busy = sorted((b.start.astimezone(UTC), b.end.astimezone(UTC)) for b in blocked)
    offered = []
    for start in starts:
        end = start + duration
        if start < earliest:
            continue
        if not any(w_start <= start and end <= w_end for w_start, w_end in windows):
            continue
        if any(b_start < end and start < b_end for b_start, b_end in busy):
            continue
        offered.append(start)
    return offered


def days_differing(rules: CalendarRules, grid: Mapping[date, Sequence[Interval]]) -> list[date]:
    """The days of ``grid`` (the practice's bookable slots per day, as sent) on which the
    typed weekly hours of ``rules`` offer other times: other bookable time, or other
    slot starts in it (a 10-minute grid under 15-minute hours). Sorted."""
    return sorted(
        day for day, slots in grid.items() if weekly_hours_day(rules, day) != grid_day(slots)
    )
