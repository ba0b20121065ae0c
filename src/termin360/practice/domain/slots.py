"""Slot states and the transitions between them.

Colours as in DURIA: free (white), note (yellow, still bookable), annotation
(green, blocked), appointment. A reservation blocks a slot from outside; it is
shown as its own colour but is not a state the slot carries itself.

The state is derived from three facts of a slot: whether an appointment holds
it, whether it is annotated, and whether it carries a note text. Removing an
annotation therefore returns the slot to "note" if it had a note, otherwise to
"free" — exactly the source document's rule.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace


class SlotState(enum.StrEnum):
    FREE = "free"
    NOTE = "note"
    ANNOTATION = "annotation"
    APPOINTMENT = "appointment"


class SlotRuleError(ValueError):
    """A transition the slot's state does not allow; ``code`` says which."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class SlotFacts:
    appointment_id: int | None = None
    annotated: bool = False
    annotation: str = ""
    note: str = ""
    reserved: bool = False

    @property
    def state(self) -> SlotState:
        if self.appointment_id is not None:
            return SlotState.APPOINTMENT
        if self.annotated:
            return SlotState.ANNOTATION
        if self.note.strip():
            return SlotState.NOTE
        return SlotState.FREE

    @property
    def bookable(self) -> bool:
        """Free and noted slots take appointments, unless a reservation covers them."""
        return self.state in (SlotState.FREE, SlotState.NOTE) and not self.reserved

    @property
    def occupied(self) -> bool:
        """Whether the slot's time counts as taken (for the portal: blocked online)."""
        return self.reserved or self.state in (SlotState.ANNOTATION, SlotState.APPOINTMENT)


def set_note(slot: SlotFacts, text: str) -> SlotFacts:
    """Write or clear the yellow note; allowed in every state, it never blocks."""
    return replace(slot, note=text.strip())


def delete_free_slot(slot: SlotFacts, text: str = "") -> SlotFacts:
    """Deleting a free (or noted) slot blocks it: it becomes an annotation."""
    if slot.state is SlotState.APPOINTMENT:
        raise SlotRuleError("slot_has_appointment", "the slot holds an appointment")
    if slot.state is SlotState.ANNOTATION:
        raise SlotRuleError("already_annotation", "the slot is already blocked")
    return replace(slot, annotated=True, annotation=text.strip())


def remove_annotation(slot: SlotFacts) -> SlotFacts:
    """Removing the annotation makes the slot a note again, or free."""
    if slot.state is not SlotState.ANNOTATION:
        raise SlotRuleError("not_annotation", "the slot carries no annotation")
    return replace(slot, annotated=False, annotation="")
