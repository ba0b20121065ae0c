"""Where an online booking lands in its mapped column (SPEC S5, decision 008).

The slots of the column that overlap the booking's ``[start, end)`` must be
consecutive, cover it completely and each be bookable (free or noted: no
appointment, no annotation, no reservation). Then the booking becomes one
(multi-slot) appointment on them. Otherwise it goes to the additional list of
that calendar and day, flagged with the reason — it is never dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Literal

from termin360.practice.domain.runs import GridCell
from termin360.practice.domain.slots import SlotState

AdditionalReason = Literal["no_slot", "slot_taken", "blocked"]


@dataclass(frozen=True, slots=True)
class PlacementDecision:
    """Either ``slot_ids`` (in time order) or a ``reason`` for the additional list."""

    slot_ids: tuple[int, ...] = ()
    reason: AdditionalReason | None = None

    @property
    def in_slots(self) -> bool:
        return bool(self.slot_ids)


def _is_held_by(cell: GridCell, appointment_id: int | None) -> bool:
    return appointment_id is not None and cell.facts.appointment_id == appointment_id


def place_booking(
    cells: Sequence[GridCell],
    start: datetime,
    end: datetime,
    *,
    own_appointment: int | None = None,
) -> PlacementDecision:
    """Decide where a booking of ``[start, end)`` goes in a column day.

    ``cells`` are the column's slots of the day (any order). ``own_appointment`` is the
    booking's current appointment, if any: the slots it already holds count as free, so a
    moved booking may land on a run that overlaps its old place.

    A taken slot is reported before a blocked one and both before a gap: the staff
    want to know first that somebody else holds the time.
    """
    if end <= start:
        return PlacementDecision(reason="no_slot")
    overlapping = sorted(
        (c for c in cells if c.start < end and start < c.end), key=lambda c: c.start
    )
    if not overlapping:
        return PlacementDecision(reason="no_slot")
    if any(
        c.facts.state is SlotState.APPOINTMENT and not _is_held_by(c, own_appointment)
        for c in overlapping
    ):
        return PlacementDecision(reason="slot_taken")
    if any(c.facts.annotated or c.facts.reserved for c in overlapping):
        return PlacementDecision(reason="blocked")
    consecutive = all(nxt.start == prev.end for prev, nxt in pairwise(overlapping))
    covers = overlapping[0].start <= start and overlapping[-1].end >= end
    if not (consecutive and covers):
        return PlacementDecision(reason="no_slot")
    return PlacementDecision(slot_ids=tuple(c.slot_id for c in overlapping))
