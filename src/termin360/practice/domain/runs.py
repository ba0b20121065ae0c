"""Runs of consecutive slots: where a (multi-slot) appointment can sit.

An appointment occupies one slot or several consecutive slots of one column
("Mehrfachtermin"). Consecutive means each slot starts where the previous one
ends — a lunch break or a deleted slot interrupts a run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

from termin360.practice.domain.slots import SlotFacts


@dataclass(frozen=True, slots=True)
class GridCell:
    """A slot of one column as the run rules see it."""

    slot_id: int
    start: datetime
    end: datetime
    facts: SlotFacts


class RunError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def run_from(
    cells: Sequence[GridCell], first_slot_id: int, count: int, *, own_appointment: int | None = None
) -> list[GridCell]:
    """The ``count`` consecutive cells starting at ``first_slot_id``, all bookable.

    ``cells`` are the slots of one column sorted by start. Cells already held by
    ``own_appointment`` count as bookable (so an appointment can move onto a run
    that overlaps its current place).
    """
    if count < 1:
        raise RunError("invalid_length", "an appointment needs at least one slot")
    index = next((i for i, c in enumerate(cells) if c.slot_id == first_slot_id), None)
    if index is None:
        raise RunError("unknown_slot", "the slot does not belong to this column")
    run = list(cells[index : index + count])
    if len(run) < count:
        raise RunError("outside_grid", "the appointment would run past the end of the grid")
    for prev, nxt in pairwise(run):
        if nxt.start != prev.end:
            raise RunError("not_consecutive", "the slots are not consecutive")
    for cell in run:
        held_by_self = own_appointment is not None and cell.facts.appointment_id == own_appointment
        if not (cell.facts.bookable or (held_by_self and not cell.facts.reserved)):
            raise RunError("slot_taken", "a slot of that time is not free")
    return run


def extension_cell(cells: Sequence[GridCell], held: Sequence[GridCell]) -> GridCell:
    """The slot an appointment grows into when extended by one: the next consecutive one."""
    if not held:
        raise RunError("not_placed", "the appointment sits in the additional list")
    last = max(held, key=lambda c: c.start)
    nxt = next((c for c in cells if c.start >= last.end), None)
    if nxt is None or nxt.start != last.end:
        raise RunError("outside_grid", "there is no following slot to extend into")
    if not nxt.facts.bookable:
        raise RunError("slot_taken", "the following slot is not free")
    return nxt


def shortening_cell(held: Sequence[GridCell]) -> GridCell:
    """The slot an appointment gives up when shortened by one: its last."""
    if len(held) < 2:
        raise RunError("single_slot", "a single-slot appointment cannot be shortened")
    return max(held, key=lambda c: c.start)
