"""Runs of consecutive slots: multi-slot appointments, extending, shortening, moving (C2, C5)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from termin360.practice.domain.runs import (
    GridCell,
    RunError,
    extension_cell,
    run_from,
    shortening_cell,
)
from termin360.practice.domain.slots import SlotFacts
from tests.unit.strategies import PROPERTY

MORNING = datetime(2027, 3, 22, 7, 0, tzinfo=UTC)
SLOT = timedelta(minutes=15)
OWN = 7
OTHER = 8


def column(
    count: int, *, gap_after: int | None = None, facts: dict[int, SlotFacts] | None = None
) -> list[GridCell]:
    """``count`` 15-minute cells with ids 1…count; a one-hour break after id ``gap_after``."""
    cells = []
    start = MORNING
    for slot_id in range(1, count + 1):
        cells.append(
            GridCell(slot_id, start, start + SLOT, (facts or {}).get(slot_id, SlotFacts()))
        )
        start += SLOT
        if slot_id == gap_after:
            start += timedelta(hours=1)
    return cells


def ids(cells: Sequence[GridCell]) -> list[int]:
    return [c.slot_id for c in cells]


def refusal(cells: Sequence[GridCell], first: int, count: int, **kwargs: int) -> str:
    with pytest.raises(RunError) as refused:
        run_from(cells, first, count, **kwargs)
    return refused.value.code


# --- run_from -----------------------------------------------------------------


def test_single_slot_run_is_that_slot() -> None:
    assert ids(run_from(column(6), 3, 1)) == [3]


@pytest.mark.parametrize("count", [2, 3, 4])
def test_multi_slot_run_takes_the_following_consecutive_slots(count: int) -> None:
    run = run_from(column(6), 2, count)
    assert ids(run) == list(range(2, 2 + count))
    assert all(a.end == b.start for a, b in pairwise(run))


@pytest.mark.parametrize("count", [0, -1])
def test_run_needs_at_least_one_slot(count: int) -> None:
    assert refusal(column(6), 1, count) == "invalid_length"


def test_run_from_a_slot_of_another_column_is_refused() -> None:
    assert refusal(column(6), 99, 1) == "unknown_slot"


def test_run_past_the_end_of_the_grid_is_refused() -> None:
    assert refusal(column(6), 5, 3) == "outside_grid"
    assert ids(run_from(column(6), 5, 2)) == [5, 6]


def test_run_across_a_break_in_the_grid_is_refused() -> None:
    cells = column(6, gap_after=3)
    assert refusal(cells, 2, 3) == "not_consecutive"
    assert ids(run_from(cells, 4, 3)) == [4, 5, 6]


@pytest.mark.parametrize(
    "blocking",
    [
        SlotFacts(appointment_id=OTHER),
        SlotFacts(annotated=True),
        SlotFacts(reserved=True),
        SlotFacts(note="n", reserved=True),
    ],
    ids=["taken", "annotated", "reserved", "noted-and-reserved"],
)
def test_run_over_a_taken_annotated_or_reserved_slot_is_refused(blocking: SlotFacts) -> None:
    cells = column(6, facts={4: blocking})
    assert refusal(cells, 3, 2) == "slot_taken"
    assert refusal(cells, 4, 1) == "slot_taken"
    assert ids(run_from(cells, 5, 2)) == [5, 6]


def test_run_over_noted_slots_is_allowed() -> None:
    cells = column(4, facts={2: SlotFacts(note="bring card"), 3: SlotFacts(note="x")})
    assert ids(run_from(cells, 1, 4)) == [1, 2, 3, 4]


def test_move_onto_a_run_overlapping_its_own_cells_is_allowed() -> None:
    held = {3: SlotFacts(appointment_id=OWN), 4: SlotFacts(appointment_id=OWN)}
    cells = column(8, facts=held)
    # One slot later: 4 is its own, 5 is free.
    assert ids(run_from(cells, 4, 2, own_appointment=OWN)) == [4, 5]
    # One slot earlier: 2 is free, 3 is its own.
    assert ids(run_from(cells, 2, 2, own_appointment=OWN)) == [2, 3]
    # Without saying whose move it is, its own cells count as taken.
    assert refusal(cells, 4, 2) == "slot_taken"


def test_move_onto_someone_elses_appointment_is_refused() -> None:
    cells = column(8, facts={3: SlotFacts(appointment_id=OWN), 5: SlotFacts(appointment_id=OTHER)})
    assert refusal(cells, 4, 2, own_appointment=OWN) == "slot_taken"
    assert refusal(cells, 3, 3, own_appointment=OWN) == "slot_taken"


def test_move_onto_its_own_cell_that_became_reserved_is_refused() -> None:
    cells = column(4, facts={2: SlotFacts(appointment_id=OWN, reserved=True)})
    assert refusal(cells, 2, 1, own_appointment=OWN) == "slot_taken"


def test_run_error_carries_a_code_and_is_a_value_error() -> None:
    error = RunError("outside_grid", "message")
    assert isinstance(error, ValueError)
    assert (error.code, str(error)) == ("outside_grid", "message")


# --- extending and shortening -------------------------------------------------


def test_extension_takes_the_next_consecutive_free_slot() -> None:
    cells = column(6)
    assert extension_cell(cells, cells[1:3]).slot_id == 4


def test_extension_into_a_noted_slot_is_allowed() -> None:
    cells = column(6, facts={4: SlotFacts(note="n")})
    assert extension_cell(cells, cells[1:3]).slot_id == 4


def test_extension_does_not_depend_on_the_order_of_the_held_cells() -> None:
    cells = column(6)
    assert extension_cell(cells, [cells[2], cells[1]]).slot_id == 4


@pytest.mark.parametrize(
    "blocking",
    [SlotFacts(appointment_id=OTHER), SlotFacts(annotated=True), SlotFacts(reserved=True)],
    ids=["taken", "annotated", "reserved"],
)
def test_extension_into_a_blocked_slot_is_refused(blocking: SlotFacts) -> None:
    cells = column(6, facts={4: blocking})
    with pytest.raises(RunError) as refused:
        extension_cell(cells, cells[1:3])
    assert refused.value.code == "slot_taken"


def test_extension_past_the_last_slot_is_refused() -> None:
    cells = column(4)
    with pytest.raises(RunError) as refused:
        extension_cell(cells, cells[2:4])
    assert refused.value.code == "outside_grid"


def test_extension_across_a_break_is_refused() -> None:
    cells = column(6, gap_after=3)
    with pytest.raises(RunError) as refused:
        extension_cell(cells, cells[1:3])
    assert refused.value.code == "outside_grid"


def test_extension_of_an_appointment_in_the_additional_list_is_refused() -> None:
    with pytest.raises(RunError) as refused:
        extension_cell(column(4), [])
    assert refused.value.code == "not_placed"


def test_shortening_gives_up_the_last_slot() -> None:
    cells = column(6)
    assert shortening_cell(cells[1:4]).slot_id == 4
    assert shortening_cell([cells[3], cells[1], cells[2]]).slot_id == 4


@pytest.mark.parametrize("held", [0, 1])
def test_single_slot_appointment_cannot_be_shortened(held: int) -> None:
    with pytest.raises(RunError) as refused:
        shortening_cell(column(4)[:held])
    assert refused.value.code == "single_slot"


# --- properties over random columns -------------------------------------------

cell_facts = st.one_of(
    st.just(SlotFacts()),
    st.just(SlotFacts()),
    st.just(SlotFacts(note="n")),
    st.just(SlotFacts(annotated=True)),
    st.just(SlotFacts(reserved=True)),
    st.sampled_from([OWN, OTHER]).map(lambda a: SlotFacts(appointment_id=a)),
)


@st.composite
def columns(draw: st.DrawFn) -> list[GridCell]:
    """A column of 1–16 cells with random lengths, random breaks and random states."""
    cells = []
    start = MORNING
    for slot_id in range(1, draw(st.integers(1, 16)) + 1):
        length = timedelta(minutes=draw(st.sampled_from([5, 10, 15, 30])))
        cells.append(GridCell(slot_id, start, start + length, draw(cell_facts)))
        start += length + timedelta(minutes=draw(st.sampled_from([0, 0, 0, 15])))
    return cells


def run_oracle(cells: list[GridCell], first: int, count: int, own: int | None) -> str | None:
    """Why a run must be refused, decided from the cells alone (None: it must succeed)."""
    index = first - 1
    wanted = cells[index : index + count]
    if len(wanted) < count:
        return "outside_grid"
    if any(a.end != b.start for a, b in pairwise(wanted)):
        return "not_consecutive"
    for cell in wanted:
        f = cell.facts
        mine = own is not None and f.appointment_id == own
        blocked = f.reserved or f.annotated or (f.appointment_id is not None and not mine)
        if blocked:
            return "slot_taken"
    return None


@PROPERTY
@given(columns(), st.data(), st.sampled_from([None, OWN]))
def test_run_is_granted_exactly_when_consecutive_in_the_grid_and_free(
    cells: list[GridCell], data: st.DataObject, own: int | None
) -> None:
    first = data.draw(st.integers(1, len(cells)), label="first")
    count = data.draw(st.integers(1, 5), label="count")
    expected = run_oracle(cells, first, count, own)
    if expected is None:
        run = run_from(cells, first, count, own_appointment=own)
        assert ids(run) == list(range(first, first + count))
        assert all(a.end == b.start for a, b in pairwise(run))
    else:
        assert (
            refusal(cells, first, count, **({} if own is None else {"own_appointment": own}))
            == expected
        )


@PROPERTY
@given(columns(), st.data())
def test_a_granted_run_is_always_consecutive_and_bookable(
    cells: list[GridCell], data: st.DataObject
) -> None:
    first = data.draw(st.integers(1, len(cells)), label="first")
    count = data.draw(st.integers(1, len(cells)), label="count")
    try:
        run = run_from(cells, first, count)
    except RunError:
        return
    assert len(run) == count
    assert run[0].slot_id == first
    assert all(a.end == b.start for a, b in pairwise(run))
    assert all(c.facts.bookable for c in run)


@PROPERTY
@given(columns(), st.data())
def test_extending_then_shortening_gives_back_the_same_slots(
    cells: list[GridCell], data: st.DataObject
) -> None:
    first = data.draw(st.integers(1, len(cells)), label="first")
    count = data.draw(st.integers(1, 4), label="count")
    # Book the run as the own appointment, then grow it by one and shrink it again.
    try:
        run_from(cells, first, count)
    except RunError:
        assume(False)
    held_ids = set(range(first, first + count))
    cells = [
        replace(c, facts=SlotFacts(appointment_id=OWN)) if c.slot_id in held_ids else c
        for c in cells
    ]
    held = [c for c in cells if c.slot_id in held_ids]
    try:
        grown = extension_cell(cells, held)
    except RunError as refused:
        following = [c for c in cells if c.start >= held[-1].end]
        if refused.code == "outside_grid":
            assert not following or following[0].start != held[-1].end
        else:
            assert refused.code == "slot_taken"
            assert not following[0].facts.bookable
        return
    assert grown.start == held[-1].end
    assert grown.facts.bookable
    longer = [*held, replace(grown, facts=SlotFacts(appointment_id=OWN))]
    given_up = shortening_cell(longer)
    assert given_up.slot_id == grown.slot_id
    assert [c for c in longer if c.slot_id != given_up.slot_id] == held


@PROPERTY
@given(columns(), st.data())
def test_moving_onto_its_own_cells_is_like_moving_onto_free_cells(
    cells: list[GridCell], data: st.DataObject
) -> None:
    first = data.draw(st.integers(1, len(cells)), label="first")
    count = data.draw(st.integers(1, 4), label="count")
    freed = [
        replace(c, facts=replace(c.facts, appointment_id=None))
        if c.facts.appointment_id == OWN
        else c
        for c in cells
    ]

    def outcome(column_cells: list[GridCell], own: int | None) -> list[int] | str:
        try:
            return ids(run_from(column_cells, first, count, own_appointment=own))
        except RunError as refused:
            return refused.code

    assert outcome(cells, OWN) == outcome(freed, None)
