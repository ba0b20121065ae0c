"""Busy time of a mapped column on one day: what the online calendar must not offer (S8).

Busy is every slot holding an appointment or an annotation, plus every reservation
covering the column, merged into disjoint intervals. Notes and free slots are not
busy. The result is stored (``BusyState``) and sent to the portal as the whole day's
state, so the portal converges whatever it missed.

With it goes the day's grid (S14, :func:`bookable_slots`): every slot that is not an
annotation — free, noted, or occupied (that time is busy anyway). An online calendar
taking its hours from the practice offers exactly those slots' starts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from termin360.core.intervals import Interval, merge, subtract
from termin360.practice.domain.runs import GridCell
from termin360.practice.domain.slots import SlotState

SerializedIntervals = list[list[str]]

_BUSY_STATES = (SlotState.APPOINTMENT, SlotState.ANNOTATION)


def busy_intervals(cells: Iterable[GridCell], reserved: Iterable[Interval]) -> list[Interval]:
    """The merged busy time of a column day.

    ``reserved`` are the reservation intervals covering the column that day. A
    reservation blocks its whole range, not only the slots inside it: the online
    calendar may offer hours for which the practice has no slots yet.
    """
    occupied = [Interval(c.start, c.end) for c in cells if c.facts.state in _BUSY_STATES]
    return merge([*occupied, *reserved])


def bookable_slots(cells: Iterable[GridCell]) -> list[Interval]:
    """The column day's bookable slots, one interval per slot, sorted: the grid without
    its annotations (green, blocked). Reservations do not take slots out of the grid:
    they are busy time, and the grid comes back when they end."""
    return sorted(Interval(c.start, c.end) for c in cells if not c.facts.annotated)


def newly_claimed(old: Sequence[Interval], new: Sequence[Interval]) -> list[Interval]:
    """Time busy now that was not busy before: what the S9 check asks the portal about.
    Time that became free needs no check."""
    return subtract(new, old)


def to_json(intervals: Iterable[Interval]) -> SerializedIntervals:
    """``[[start, end], …]`` in UTC ISO 8601, for ``BusyState.intervals``."""
    return [
        [iv.start.astimezone(UTC).isoformat(), iv.end.astimezone(UTC).isoformat()]
        for iv in intervals
    ]


def from_json(data: object) -> list[Interval]:
    """The inverse of :func:`to_json`; anything malformed is an error, not silently empty,
    because an empty state would free the time online."""
    if not isinstance(data, list):
        raise ValueError("busy state must be a list of [start, end] pairs")
    out = []
    for item in data:
        if not (isinstance(item, list | tuple) and len(item) == 2):
            raise ValueError(f"not a [start, end] pair: {item!r}")
        start, end = (datetime.fromisoformat(str(x)) for x in item)
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("busy times need an offset")
        out.append(Interval(start, end))
    return out


def next_revision(previous: int, now_us: int) -> int:
    """The revision of a day's busy state after a change: higher than the one before, and
    at least the clock (µs since the epoch), so that a state made anew — a mapping
    removed and made again, a database restored — still counts above what the portal
    has. Only a clock set back by more than the time since the last change breaks it."""
    return max(previous + 1, now_us)
