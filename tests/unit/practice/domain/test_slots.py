"""Slot states and their transitions (SPEC C2, S8): free, note, annotation, appointment."""

from __future__ import annotations

import contextlib
from itertools import product

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from termin360.practice.domain.slots import (
    SlotFacts,
    SlotRuleError,
    SlotState,
    delete_free_slot,
    remove_annotation,
    set_note,
)
from tests.unit.strategies import PROPERTY

FREE = SlotFacts()


# --- deriving the state -------------------------------------------------------


@pytest.mark.parametrize(
    ("facts", "state"),
    [
        (SlotFacts(), SlotState.FREE),
        (SlotFacts(note="call back"), SlotState.NOTE),
        (SlotFacts(note="   "), SlotState.FREE),
        (SlotFacts(annotated=True), SlotState.ANNOTATION),
        (SlotFacts(annotated=True, note="call back"), SlotState.ANNOTATION),
        (SlotFacts(appointment_id=1), SlotState.APPOINTMENT),
        (SlotFacts(appointment_id=1, annotated=True, note="x"), SlotState.APPOINTMENT),
        (SlotFacts(reserved=True), SlotState.FREE),
    ],
)
def test_state_is_derived_from_appointment_annotation_and_note(
    facts: SlotFacts, state: SlotState
) -> None:
    assert facts.state is state


def test_state_values_are_the_colour_names_the_ui_uses() -> None:
    assert [s.value for s in SlotState] == ["free", "note", "annotation", "appointment"]


# --- transitions --------------------------------------------------------------


def test_free_slot_gets_a_note_then_an_annotation_and_returns_to_the_note() -> None:
    noted = set_note(FREE, "  bring X-ray  ")
    assert noted.state is SlotState.NOTE
    assert noted.note == "bring X-ray"

    blocked = delete_free_slot(noted, "meeting")
    assert blocked.state is SlotState.ANNOTATION
    assert blocked.annotation == "meeting"
    assert blocked.note == "bring X-ray"

    unblocked = remove_annotation(blocked)
    assert unblocked.state is SlotState.NOTE
    assert unblocked == noted


def test_deleting_a_free_slot_blocks_it_until_the_annotation_is_removed() -> None:
    blocked = delete_free_slot(FREE)
    assert blocked.state is SlotState.ANNOTATION
    assert not blocked.bookable
    assert blocked.occupied
    assert remove_annotation(blocked) == FREE


def test_annotation_text_is_stored_trimmed_and_dropped_on_removal() -> None:
    blocked = delete_free_slot(FREE, "  holiday ")
    assert blocked.annotation == "holiday"
    assert remove_annotation(blocked).annotation == ""


def test_clearing_the_note_makes_a_noted_slot_free() -> None:
    assert set_note(set_note(FREE, "x"), "").state is SlotState.FREE
    assert set_note(set_note(FREE, "x"), "   ").state is SlotState.FREE


def test_note_can_be_written_on_an_appointment_and_on_an_annotation() -> None:
    appointment = SlotFacts(appointment_id=7)
    assert set_note(appointment, "late").state is SlotState.APPOINTMENT
    assert set_note(appointment, "late").appointment_id == 7
    blocked = delete_free_slot(FREE)
    assert set_note(blocked, "why").state is SlotState.ANNOTATION


def test_deleting_an_appointment_slot_is_refused() -> None:
    slot = SlotFacts(appointment_id=7, note="n")
    with pytest.raises(SlotRuleError) as refused:
        delete_free_slot(slot)
    assert refused.value.code == "slot_has_appointment"
    assert slot == SlotFacts(appointment_id=7, note="n")


def test_deleting_an_annotated_slot_again_is_refused() -> None:
    with pytest.raises(SlotRuleError) as refused:
        delete_free_slot(delete_free_slot(FREE, "first"), "second")
    assert refused.value.code == "already_annotation"


@pytest.mark.parametrize(
    "slot", [FREE, SlotFacts(note="n"), SlotFacts(appointment_id=1)], ids=["free", "note", "appt"]
)
def test_removing_an_annotation_that_is_not_there_is_refused(slot: SlotFacts) -> None:
    with pytest.raises(SlotRuleError) as refused:
        remove_annotation(slot)
    assert refused.value.code == "not_annotation"


def test_slot_rule_error_is_a_value_error_with_a_message() -> None:
    error = SlotRuleError("code_x", "the message")
    assert isinstance(error, ValueError)
    assert str(error) == "the message"


def test_deleting_a_reserved_free_slot_keeps_the_reservation() -> None:
    blocked = delete_free_slot(SlotFacts(reserved=True))
    assert blocked.reserved
    assert remove_annotation(blocked) == SlotFacts(reserved=True)


# --- bookable / occupied ------------------------------------------------------


def expected_bookable(appointment: bool, annotated: bool, reserved: bool) -> bool:
    return not appointment and not annotated and not reserved


@pytest.mark.parametrize(
    ("appointment", "annotated", "note", "reserved"),
    list(product([False, True], repeat=4)),
)
def test_bookable_and_occupied_truth_table(
    appointment: bool, annotated: bool, note: bool, reserved: bool
) -> None:
    facts = SlotFacts(
        appointment_id=5 if appointment else None,
        annotated=annotated,
        note="n" if note else "",
        reserved=reserved,
    )
    # A note never matters: a noted slot stays bookable (yellow), a blocked one stays blocked.
    assert facts.bookable is expected_bookable(appointment, annotated, reserved)
    assert facts.occupied is (not facts.bookable)


# --- properties ---------------------------------------------------------------

slot_facts = st.builds(
    SlotFacts,
    appointment_id=st.one_of(st.none(), st.integers(1, 5)),
    annotated=st.booleans(),
    annotation=st.text(max_size=5),
    note=st.text(max_size=5),
    reserved=st.booleans(),
)


@PROPERTY
@given(slot_facts, st.text(max_size=5))
def test_no_transition_touches_the_appointment_or_the_reservation(
    slot: SlotFacts, text: str
) -> None:
    results = [set_note(slot, text)]
    with contextlib.suppress(SlotRuleError):
        results.append(delete_free_slot(slot, text))
    with contextlib.suppress(SlotRuleError):
        results.append(remove_annotation(slot))
    for after in results:
        assert (after.appointment_id, after.reserved) == (slot.appointment_id, slot.reserved)


@PROPERTY
@given(slot_facts)
def test_bookable_and_occupied_are_complements(slot: SlotFacts) -> None:
    assert slot.bookable is not slot.occupied


class SlotLifecycle(RuleBasedStateMachine):
    """Random notes, deletions and annotation removals on one slot, against a model.

    The model keeps the three facts the state is derived from; the slot under test
    only ever changes through the domain's transition functions.
    """

    @initialize(
        appointment=st.one_of(st.none(), st.integers(1, 3)),
        reserved=st.booleans(),
        note=st.text(" ab", max_size=3),
    )
    def start(self, appointment: int | None, reserved: bool, note: str) -> None:
        self.slot = SlotFacts(appointment_id=appointment, reserved=reserved, note=note.strip())
        self.model_annotated = False
        self.model_note = note.strip()
        self.appointment = appointment

    def expected_state(self) -> SlotState:
        if self.appointment is not None:
            return SlotState.APPOINTMENT
        if self.model_annotated:
            return SlotState.ANNOTATION
        return SlotState.NOTE if self.model_note else SlotState.FREE

    @rule(text=st.text(" ab\t", max_size=4))
    def write_note(self, text: str) -> None:
        self.slot = set_note(self.slot, text)
        self.model_note = text.strip()

    @rule(text=st.text(" xy", max_size=3))
    def delete_slot(self, text: str) -> None:
        before = self.slot
        if self.expected_state() in (SlotState.FREE, SlotState.NOTE):
            self.slot = delete_free_slot(self.slot, text)
            self.model_annotated = True
            assert self.slot.annotation == text.strip()
        else:
            with pytest.raises(SlotRuleError):
                delete_free_slot(self.slot, text)
            assert self.slot == before

    @rule()
    def remove(self) -> None:
        before = self.slot
        if self.expected_state() is SlotState.ANNOTATION:
            self.slot = remove_annotation(self.slot)
            self.model_annotated = False
        else:
            with pytest.raises(SlotRuleError):
                remove_annotation(self.slot)
            assert self.slot == before

    @precondition(lambda self: self.expected_state() is SlotState.ANNOTATION)
    @rule()
    def note_survives_the_annotation(self) -> None:
        # The green annotation hides the yellow note; removing it brings the note back.
        assert self.slot.note == self.model_note
        assert remove_annotation(self.slot).state is (
            SlotState.NOTE if self.model_note else SlotState.FREE
        )

    @invariant()
    def state_matches_the_model(self) -> None:
        assert self.slot.state is self.expected_state()
        assert self.slot.note == self.model_note
        assert self.slot.annotated is self.model_annotated
        assert self.slot.appointment_id == self.appointment

    @invariant()
    def bookable_exactly_when_free_or_noted_and_not_reserved(self) -> None:
        assert self.slot.bookable is (
            self.expected_state() in (SlotState.FREE, SlotState.NOTE) and not self.slot.reserved
        )
        assert self.slot.occupied is not self.slot.bookable


SlotLifecycle.TestCase.settings = settings(
    max_examples=100, stateful_step_count=20, deadline=None, derandomize=True
)
test_slot_lifecycle = SlotLifecycle.TestCase
