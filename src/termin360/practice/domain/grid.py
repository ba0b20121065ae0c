"""Generating the slot grid of a column from its weekly template ("Jahrgang bearbeiten").

A template says, per weekday, from when to when slots of a given length are
offered, in the calendar's local time. Generation walks the wall clock and
converts every slot start to UTC through the IANA zone, so that across the
daylight-saving changes there is no slot at a non-existent local time and no
local hour appears twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from termin360.core.timezones import first_instant_at_or_after, local_to_utc

MIN_SLOT_MINUTES = 5
MAX_SLOT_MINUTES = 240


@dataclass(frozen=True, slots=True)
class TemplateRule:
    """One line of a weekly template: on ``weekday`` (0 = Monday) from ``start`` to ``end``."""

    weekday: int
    start: time
    end: time
    slot_minutes: int

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError("weekday must be 0 (Monday) … 6 (Sunday)")
        if not MIN_SLOT_MINUTES <= self.slot_minutes <= MAX_SLOT_MINUTES:
            raise ValueError(f"slot length must be {MIN_SLOT_MINUTES}–{MAX_SLOT_MINUTES} minutes")
        if self.end <= self.start:
            raise ValueError("a template's end must be after its start")


@dataclass(frozen=True, order=True, slots=True)
class GridSlot:
    """A slot of the grid: the local day it belongs to and its UTC start and end."""

    start: datetime
    end: datetime
    day: date


def rules_overlap(rules: Iterable[TemplateRule]) -> bool:
    """True if two rules of one column claim overlapping times on the same weekday."""
    by_day: dict[int, list[TemplateRule]] = {}
    for rule in rules:
        by_day.setdefault(rule.weekday, []).append(rule)
    for day_rules in by_day.values():
        day_rules.sort(key=lambda r: r.start)
        for a, b in pairwise(day_rules):
            if b.start < a.end:
                return True
    return False


def _local_starts(rule: TemplateRule) -> Iterator[time]:
    step = timedelta(minutes=rule.slot_minutes)
    cursor = datetime.combine(date.min, rule.start)
    last = datetime.combine(date.min, rule.end)
    while cursor + step <= last:
        yield cursor.time()
        cursor += step


def generate_grid(
    rules: Iterable[TemplateRule], first: date, last: date, tz: ZoneInfo
) -> list[GridSlot]:
    """All slots from ``first`` to ``last`` (inclusive), sorted by start.

    A slot whose local start does not exist that day is left out; a slot whose
    local start happens twice is placed once (at the first occurrence). A slot
    the spring-forward jump falls into is shorter than the slot length, so that
    it ends where the next slot starts.
    """
    if last < first:
        raise ValueError("the last day lies before the first")
    by_weekday: dict[int, list[TemplateRule]] = {}
    for rule in rules:
        by_weekday.setdefault(rule.weekday, []).append(rule)
    slots: list[GridSlot] = []
    day = first
    while day <= last:
        for rule in by_weekday.get(day.weekday(), ()):
            length = timedelta(minutes=rule.slot_minutes)
            for local_start in _local_starts(rule):
                start = local_to_utc(day, local_start, tz)
                if start is None:
                    continue
                # A slot lasts its length, except when the clock jumps forward inside it:
                # then it ends where the next wall-clock slot begins (its end in local
                # time), so that the slots of a column never overlap.
                wall_end = datetime.combine(day, local_start) + length
                end = min(start + length, first_instant_at_or_after(day, wall_end.time(), tz))
                slots.append(GridSlot(start=start, end=end, day=day))
        day += timedelta(days=1)
    slots.sort()
    # Two overlapping rules must not produce the same start twice.
    unique: list[GridSlot] = []
    for slot in slots:
        if unique and unique[-1].start == slot.start:
            continue
        unique.append(slot)
    return unique


def year_bounds(year: int) -> tuple[date, date]:
    return date(year, 1, 1), date(year, 12, 31)
