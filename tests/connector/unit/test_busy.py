"""S8: busy time of a column day — occupied slots plus reservations, merged — and the
newly claimed time the S9 check asks about."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from termin360.connector.domain.busy import busy_intervals, from_json, newly_claimed, to_json
from termin360.core.intervals import Interval
from termin360.practice.domain.slots import SlotFacts
from tests.unit.strategies import PROPERTY

from .grid import DAY, cells, t


def iv(a: str, b: str) -> Interval:
    return Interval(t(a), t(b))


def test_s8_appointments_and_annotations_are_busy_notes_and_free_slots_are_not() -> None:
    grid = cells(
        "08:00",
        "10:00",
        h0800=SlotFacts(appointment_id=1),
        h0815=SlotFacts(appointment_id=1),
        h0900=SlotFacts(note="Rückruf"),
        h0930=SlotFacts(annotated=True),
    )
    assert busy_intervals(grid, []) == [iv("08:00", "08:30"), iv("09:30", "09:45")]


def test_s8_reservation_blocks_its_whole_range_even_without_slots_and_merges() -> None:
    grid = cells("08:00", "10:00", h0945=SlotFacts(appointment_id=2))
    assert busy_intervals(grid, [iv("09:00", "09:45"), iv("13:00", "14:00")]) == [
        iv("09:00", "10:00"),
        iv("13:00", "14:00"),
    ]


def test_newly_claimed_is_only_time_that_was_free_before() -> None:
    old = [iv("08:00", "08:30")]
    assert newly_claimed(old, [iv("08:00", "08:45")]) == [iv("08:30", "08:45")]
    assert newly_claimed(old, [iv("08:15", "08:30")]) == []
    assert newly_claimed([], [iv("08:00", "08:15")]) == [iv("08:00", "08:15")]


def test_busy_state_survives_json_round_trip_in_utc() -> None:
    intervals = [iv("08:00", "08:30"), iv("09:30", "09:45")]
    data = to_json(intervals)
    assert data[0] == ["2026-03-02T08:00:00+00:00", "2026-03-02T08:30:00+00:00"]
    assert from_json(data) == intervals


@pytest.mark.parametrize("bad", [{"a": 1}, [["2026-03-02T08:00:00"]], [["2026-03-02T08:00", "x"]]])
def test_malformed_busy_state_is_an_error_not_an_empty_day(bad: object) -> None:
    with pytest.raises(ValueError):
        from_json(bad)


facts = st.sampled_from(
    [SlotFacts(), SlotFacts(note="n"), SlotFacts(annotated=True), SlotFacts(appointment_id=9)]
)


@PROPERTY
@given(
    st.lists(facts, min_size=0, max_size=24),
    st.lists(st.tuples(st.integers(0, 95), st.integers(1, 12)), max_size=4),
)
def test_property_busy_time_is_exactly_the_union_of_occupied_slots_and_reservations(
    slot_facts: list[SlotFacts], reservations: list[tuple[int, int]]
) -> None:
    grid = cells("08:00", "14:00")[: len(slot_facts)]
    grid = [type(c)(c.slot_id, c.start, c.end, f) for c, f in zip(grid, slot_facts, strict=True)]
    reserved = [
        Interval(DAY + timedelta(minutes=15 * a), DAY + timedelta(minutes=15 * (a + n)))
        for a, n in reservations
    ]
    result = busy_intervals(grid, reserved)
    # sorted, disjoint and not touching
    assert all(a.end < b.start for a, b in pairwise(result))
    # every 5-minute point is busy exactly when a busy slot or a reservation covers it
    covering = [
        Interval(c.start, c.end) for c in grid if c.facts.state in ("appointment", "annotation")
    ]
    covering += reserved
    for step in range(0, 24 * 12):
        point = DAY + timedelta(minutes=5 * step)
        expected = any(c.start <= point < c.end for c in covering)
        assert any(r.start <= point < r.end for r in result) == expected
