"""Free slots of an online calendar (Online-Terminkalender): where a patient can book (P2, P4).

A calendar offers, per weekday, blocks of bookable hours in the practice's local
time (e.g. Monday 08:00–12:00 and 14:00–18:00) on a grid of ``slot_minutes``
starting at each block's start. A visit may start on any grid time of a block
if it fits, in real elapsed time, into the bookable hours of that day, starts
no earlier than ``now`` plus the lead time, lies within the booking horizon and
overlaps nothing that is blocked (absences, busy times pushed by the practice,
active bookings).

Across daylight-saving changes a grid time that does not exist that day is left
out and one that happens twice is offered once, at its first occurrence (see
:mod:`termin360.core.timezones`). A visit lasts its duration in real minutes,
so on the night the clock jumps a 60-minute visit from 01:30 ends at 03:30.

A calendar may instead take its bookable times from the practice calendar (SPEC
S14): ``practice_days`` maps a local day to the bookable slots of the mapped column
that day (free or noted slots, as the connector sent them). Then a visit may start
only at a slot start, must fit into contiguous slots, and a day the practice did not
send offers nothing; weekly hours and ``slot_minutes`` do not count for such a calendar.

The blocked intervals are sorted and merged once; each day's candidate starts
are then swept against them in order, so a search costs O(slots + blocked),
not their product. A caller that searches one calendar many times between changes
merges once for all of them (:class:`BlockedTime`).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from termin360.core.intervals import Interval
from termin360.core.timezones import first_instant_at_or_after, local_to_utc

MIN_SLOT_MINUTES = 5
MAX_SLOT_MINUTES = 240

_Window = tuple[datetime, datetime]


@dataclass(frozen=True, slots=True)
class WeeklyHours:
    """Bookable hours on one weekday (0 = Monday), in local wall-clock time."""

    weekday: int
    start: time
    end: time

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError("weekday must be 0 (Monday) … 6 (Sunday)")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("bookable hours are local wall-clock times without a zone")
        if self.end <= self.start:
            raise ValueError("bookable hours must end after they start")


@dataclass(frozen=True, slots=True)
class CalendarRules:
    """What an online calendar offers; ``hours`` may hold several blocks per weekday.

    Blocks of one weekday that overlap or touch count as one stretch of bookable
    time: a visit may run from one into the other, but never across a gap.

    ``practice_days`` (not ``None``): the hours come from the practice calendar's grid
    instead — per local day its bookable slots; ``hours`` are then ignored.
    """

    zone: ZoneInfo
    slot_minutes: int
    hours: tuple[WeeklyHours, ...]
    horizon_days: int
    lead_minutes: int
    practice_days: Mapping[date, Sequence[Interval]] | None = None

    def __post_init__(self) -> None:
        if not MIN_SLOT_MINUTES <= self.slot_minutes <= MAX_SLOT_MINUTES:
            raise ValueError(f"slot length must be {MIN_SLOT_MINUTES}–{MAX_SLOT_MINUTES} minutes")
        if self.horizon_days < 0:
            raise ValueError("the booking horizon must not be negative")
        if self.lead_minutes < 0:
            raise ValueError("the lead time must not be negative")


@dataclass(frozen=True, slots=True)
class BlockedTime:
    """Blocked intervals merged once — sorted, disjoint, not touching, in UTC — so that
    the same blocked time can be searched again and again without merging it each time."""

    starts: tuple[datetime, ...]
    ends: tuple[datetime, ...]

    @classmethod
    def of(cls, blocked: Iterable[Interval]) -> BlockedTime:
        starts, ends = _merged_utc(blocked)
        return cls(tuple(starts), tuple(ends))


# What a search may be given as blocked time: intervals as they come, or merged already.
Blocked = Iterable[Interval] | BlockedTime


def free_slots(
    rules: CalendarRules,
    *,
    now: datetime,
    first_day: date,
    last_day: date,
    duration_minutes: int,
    blocked: Blocked,
) -> list[Interval]:
    """Free slots for a visit of ``duration_minutes`` on the local days ``first_day``–``last_day``.

    Only days from today (``now``'s local date) to today + ``horizon_days`` are
    searched. Returns UTC intervals, sorted by start.
    """
    search = _Search.prepare(rules, now, first_day, last_day, duration_minutes, blocked)
    return [slot for _, slot in search.run()]


def free_slots_by_day(
    rules: CalendarRules,
    *,
    now: datetime,
    first_day: date,
    last_day: date,
    duration_minutes: int,
    blocked: Blocked,
) -> dict[date, list[Interval]]:
    """:func:`free_slots` grouped by local day; every day of the range is a key, if empty."""
    search = _Search.prepare(rules, now, first_day, last_day, duration_minutes, blocked)
    grouped: dict[date, list[Interval]] = {
        first_day + timedelta(days=i): [] for i in range((last_day - first_day).days + 1)
    }
    for day, slot in search.run():
        grouped[day].append(slot)
    return grouped


def next_free_slot(
    rules: CalendarRules,
    *,
    now: datetime,
    duration_minutes: int,
    blocked: Blocked,
) -> Interval | None:
    """The first free slot within the booking horizon, or ``None``; stops at the first hit."""
    today = _today(rules, now)
    last = today + timedelta(days=rules.horizon_days)
    search = _Search.prepare(rules, now, today, last, duration_minutes, blocked)
    return next((slot for _, slot in search.run()), None)


def free_slot_at(
    rules: CalendarRules,
    *,
    now: datetime,
    start: datetime,
    duration_minutes: int,
    blocked: Blocked,
) -> Interval | None:
    """The free slot starting exactly at ``start``, or ``None`` if that time cannot be booked.

    For checking a booking request: ``None`` means off the grid, outside the
    hours, too soon, beyond the horizon or overlapping something blocked.
    """
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError("naive datetime: pass UTC-aware datetimes only")
    day = start.astimezone(rules.zone).date()
    search = _Search.prepare(rules, now, day, day, duration_minutes, blocked)
    for _, slot in search.run():
        if slot.start == start:
            return slot
        if slot.start > start:
            break
    return None


# --- the search ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Search:
    """One validated query: the days to search and the blocked time, merged and in UTC."""

    rules: CalendarRules
    first_day: date
    last_day: date
    earliest: datetime
    duration: timedelta
    busy_starts: Sequence[datetime]
    busy_ends: Sequence[datetime]

    @classmethod
    def prepare(
        cls,
        rules: CalendarRules,
        now: datetime,
        first_day: date,
        last_day: date,
        duration_minutes: int,
        blocked: Blocked,
    ) -> _Search:
        if duration_minutes <= 0:
            raise ValueError("a visit must last at least one minute")
        if first_day > last_day:
            raise ValueError("the last day lies before the first")
        today = _today(rules, now)
        if isinstance(blocked, BlockedTime):
            busy_starts: Sequence[datetime] = blocked.starts
            busy_ends: Sequence[datetime] = blocked.ends
        else:
            busy_starts, busy_ends = _merged_utc(blocked)
        return cls(
            rules=rules,
            first_day=max(first_day, today),
            last_day=min(last_day, today + timedelta(days=rules.horizon_days)),
            earliest=now.astimezone(UTC) + timedelta(minutes=rules.lead_minutes),
            duration=timedelta(minutes=duration_minutes),
            busy_starts=busy_starts,
            busy_ends=busy_ends,
        )

    def run(self) -> Iterator[tuple[date, Interval]]:
        """Free slots with their local day, in order; lazy, so a caller may stop early."""
        by_weekday: dict[int, list[WeeklyHours]] = {}
        for block in sorted(self.rules.hours, key=lambda h: (h.start, h.end)):
            by_weekday.setdefault(block.weekday, []).append(block)
        zone, step = self.rules.zone, timedelta(minutes=self.rules.slot_minutes)
        # Locals, not attributes, in the loop that runs once per grid time.
        earliest, duration = self.earliest, self.duration
        busy_starts, busy_ends = self.busy_starts, self.busy_ends
        n_busy = len(busy_ends)
        one_day = timedelta(days=1)
        practice_days = self.rules.practice_days
        day = self.first_day
        while day <= self.last_day:
            if practice_days is not None:
                slots = practice_days.get(day)
                windows, starts = grid_day(slots) if slots else ([], [])
            else:
                blocks = by_weekday.get(day.weekday())
                windows, starts = _bookable_day(day, blocks, zone, step) if blocks else ([], [])
            if starts:
                # Both cursors only move forward within the day, as the starts are sorted.
                w, n_windows = 0, len(windows)
                b = bisect_right(busy_ends, starts[0])
                previous = None
                for start in starts:
                    if start < earliest or start == previous:
                        continue
                    previous = start
                    end = start + duration
                    while w < n_windows and windows[w][1] <= start:
                        w += 1
                    if w == n_windows or windows[w][0] > start or end > windows[w][1]:
                        continue
                    while b < n_busy and busy_ends[b] <= start:
                        b += 1
                    if b < n_busy and busy_starts[b] < end:
                        continue
                    yield day, Interval(start, end)
            day += one_day


def _today(rules: CalendarRules, now: datetime) -> date:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("naive datetime: pass UTC-aware datetimes only")
    return now.astimezone(rules.zone).date()


def _merged_utc(blocked: Iterable[Interval]) -> tuple[list[datetime], list[datetime]]:
    """Starts and ends of the union of ``blocked``: sorted, disjoint, not touching, in UTC.

    Like :func:`termin360.core.intervals.merge`, but on plain (start, end) pairs in one
    tzinfo: sorting those compares in C, and comparing datetimes of one tzinfo needs no
    offset look-ups. That is most of the cost of a search that stops at the first hit.
    """
    spans: list[tuple[datetime, datetime]] = []
    for iv in blocked:
        start, end = iv.start, iv.end
        if start.tzinfo is not UTC or end.tzinfo is not UTC:
            if start.utcoffset() is None or end.utcoffset() is None:
                raise ValueError("naive datetime in a blocked interval: pass aware datetimes only")
            start, end = start.astimezone(UTC), end.astimezone(UTC)
        spans.append((start, end))
    spans.sort()
    starts: list[datetime] = []
    ends: list[datetime] = []
    for start, end in spans:
        if ends and start <= ends[-1]:
            if end > ends[-1]:
                ends[-1] = end
        else:
            starts.append(start)
            ends.append(end)
    return starts, ends


def _bookable_day(
    day: date, blocks: Sequence[WeeklyHours], tz: ZoneInfo, step: timedelta
) -> tuple[list[_Window], list[datetime]]:
    """The day's bookable time (merged, UTC) and its grid starts (UTC, sorted).

    With several blocks a start may appear twice (overlapping blocks); the caller skips repeats.
    """
    windows: list[_Window] = []
    starts: list[datetime] = []
    for block in blocks:
        wall_start = datetime.combine(day, block.start)
        wall_length = datetime.combine(day, block.end) - wall_start
        utc_start = local_to_utc(day, block.start, tz)
        utc_end = local_to_utc(day, block.end, tz)
        # An end inside the spring-forward gap means "until the jump"; a start there, "from it".
        window = (
            first_instant_at_or_after(day, block.start, tz) if utc_start is None else utc_start,
            first_instant_at_or_after(day, block.end, tz) if utc_end is None else utc_end,
        )
        if window[0] < window[1]:
            windows.append(window)
        count = -(-wall_length // step)  # grid times before the block's end
        if utc_start is not None and utc_end is not None and utc_end - utc_start == wall_length:
            # No clock change inside the block (one would make real and wall time differ):
            # the grid can be stepped in UTC. (Two changes that cancel out within one block
            # of hours would slip through; no zone does that.)
            starts.extend(utc_start + k * step for k in range(count))
        else:
            for k in range(count):
                wall = wall_start + k * step
                instant = local_to_utc(day, wall.time(), tz)
                if instant is not None:
                    starts.append(instant)
    if len(blocks) > 1:
        # Blocks come sorted by start, so this is a merge of sorted runs (linear in timsort).
        starts.sort()
        windows = _merge_windows(windows)
    return windows, starts


def weekly_hours_day(rules: CalendarRules, day: date) -> tuple[list[_Window], list[datetime]]:
    """What the weekly hours of ``rules`` offer on ``day``: the bookable time (merged,
    UTC) and the grid starts (UTC, sorted, no repeats) — comparable with :func:`grid_day`."""
    blocks = sorted(
        (h for h in rules.hours if h.weekday == day.weekday()), key=lambda h: (h.start, h.end)
    )
    if not blocks:
        return [], []
    windows, starts = _bookable_day(day, blocks, rules.zone, timedelta(minutes=rules.slot_minutes))
    return _merge_windows(windows), sorted(set(starts))


def grid_day(slots: Iterable[Interval]) -> tuple[list[_Window], list[datetime]]:
    """The bookable time (merged, UTC) and the starts (UTC, sorted, no repeats) of a day
    whose hours are the practice calendar's slots: slots that touch form one stretch."""
    spans = sorted((s.start.astimezone(UTC), s.end.astimezone(UTC)) for s in slots)
    starts = sorted({start for start, _end in spans})
    return _merge_windows(spans), starts


def _merge_windows(windows: list[_Window]) -> list[_Window]:
    merged: list[_Window] = []
    for start, end in sorted(windows):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged
