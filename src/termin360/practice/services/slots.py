"""Slot states: notes (yellow), annotations (green, blocked), deleting a free slot."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from termin360.core.errors import Conflict
from termin360.practice.domain import slots as rules
from termin360.practice.models import Slot
from termin360.practice.services import view_versions
from termin360.practice.services.lookups import slot_by_id
from termin360.practice.services.occupancy import occupancy_change


def _message(code: str) -> str:
    return {
        "slot_has_appointment": _("The slot holds an appointment; delete or move it first."),
        "already_annotation": _("The slot is already blocked by an annotation."),
        "not_annotation": _("The slot carries no annotation."),
    }.get(code, code)


def _facts(slot: Slot) -> rules.SlotFacts:
    return rules.SlotFacts(
        appointment_id=slot.appointment_id,
        annotated=slot.annotated,
        annotation=slot.annotation,
        note=slot.note,
    )


def _store(slot: Slot, facts: rules.SlotFacts) -> None:
    slot.annotated, slot.annotation, slot.note = facts.annotated, facts.annotation, facts.note
    slot.save(update_fields=["annotated", "annotation", "note"])


def set_note(*, slot_id: int, text: str) -> Slot:
    """Write (or, with an empty text, clear) the yellow note. Does not change occupancy."""
    slot = slot_by_id(slot_id)
    slot.note = rules.set_note(_facts(slot), text).note
    # The note alone: writing back the annotation read above could undo a block
    # committed meanwhile, behind the occupancy gate's back.
    with transaction.atomic():
        slot.save(update_fields=["note"])
        view_versions.views_changed([(slot.column.calendar_id, slot.day)])
    return slot


def _transition(slot_id: int, step: str, text: str = "") -> Slot:
    slot = slot_by_id(slot_id)
    with occupancy_change() as change:
        change.lock(slot.column)
        slot.refresh_from_db()
        try:
            if step == "annotate":
                facts = rules.delete_free_slot(_facts(slot), text)
            else:
                facts = rules.remove_annotation(_facts(slot))
        except rules.SlotRuleError as exc:
            raise Conflict(_message(exc.code), code=exc.code) from None
        _store(slot, facts)
        change.touch(slot.column_id, slot.day)
    return slot


def delete_free_slot(*, slot_id: int, text: str = "") -> Slot:
    """Deleting a free or noted slot blocks it: it becomes a (green) annotation."""
    return _transition(slot_id, "annotate", text)


def remove_annotation(*, slot_id: int) -> Slot:
    """The slot becomes a note again (if it has a note text) or free."""
    return _transition(slot_id, "release")
