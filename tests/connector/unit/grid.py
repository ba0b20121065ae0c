"""Building column days of ``GridCell`` for the unit tests: 15-minute slots in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from termin360.practice.domain.runs import GridCell
from termin360.practice.domain.slots import SlotFacts

DAY = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday


def t(clock: str) -> datetime:
    """``"09:15"`` on DAY (UTC)."""
    hours, minutes = map(int, clock.split(":"))
    return DAY + timedelta(hours=hours, minutes=minutes)


def cells(first: str, last: str, minutes: int = 15, **facts: SlotFacts) -> list[GridCell]:
    """Slots from ``first`` to (excluding) ``last``; ``facts`` by start, e.g. ``{"h0900": …}``."""
    out = []
    start, stop = t(first), t(last)
    slot_id = 1
    while start < stop:
        key = f"h{start:%H%M}"
        out.append(
            GridCell(
                slot_id=slot_id,
                start=start,
                end=start + timedelta(minutes=minutes),
                facts=facts.get(key, SlotFacts()),
            )
        )
        start += timedelta(minutes=minutes)
        slot_id += 1
    return out


def ids_at(grid: list[GridCell], *clocks: str) -> tuple[int, ...]:
    return tuple(c.slot_id for c in grid if f"{c.start:%H:%M}" in clocks)
