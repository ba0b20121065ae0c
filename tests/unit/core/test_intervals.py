"""Half-open intervals: merging and subtracting sets of them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from termin360.core.intervals import Interval, any_overlap, merge, subtract
from tests.unit.strategies import PROPERTY

BASE = datetime(2027, 3, 28, tzinfo=UTC)


def iv(start_minute: int, end_minute: int) -> Interval:
    return Interval(BASE + timedelta(minutes=start_minute), BASE + timedelta(minutes=end_minute))


def minutes_covered(intervals: list[Interval]) -> set[int]:
    """The whole minutes an interval set covers (exact, as all endpoints are whole minutes)."""
    covered: set[int] = set()
    for i in intervals:
        first = int((i.start - BASE).total_seconds() // 60)
        last = int((i.end - BASE).total_seconds() // 60)
        covered.update(range(first, last))
    return covered


@st.composite
def intervals(draw: st.DrawFn) -> Interval:
    start = draw(st.integers(min_value=0, max_value=200))
    length = draw(st.integers(min_value=1, max_value=60))
    return iv(start, start + length)


interval_lists = st.lists(intervals(), max_size=12)


def assert_sorted_and_separate(result: list[Interval]) -> None:
    for a, b in pairwise(result):
        assert a.end < b.start, f"{a} and {b} touch or overlap"


# --- Interval ---------------------------------------------------------------


@pytest.mark.parametrize(("start", "end"), [(10, 10), (10, 9)])
def test_interval_must_not_be_empty_or_negative(start: int, end: int) -> None:
    with pytest.raises(ValueError, match="empty or negative"):
        iv(start, end)


def test_intervals_that_only_touch_do_not_overlap() -> None:
    assert not iv(0, 30).overlaps(iv(30, 60))
    assert not iv(30, 60).overlaps(iv(0, 30))


def test_intervals_sharing_a_minute_overlap_both_ways() -> None:
    assert iv(0, 31).overlaps(iv(30, 60))
    assert iv(30, 60).overlaps(iv(0, 31))


def test_interval_contains_itself_and_inner_intervals_but_not_outer() -> None:
    outer = iv(0, 60)
    assert outer.contains(outer)
    assert outer.contains(iv(10, 20))
    assert not iv(10, 20).contains(outer)
    assert not outer.contains(iv(50, 70))


# --- merge ------------------------------------------------------------------


def test_merge_joins_touching_and_overlapping_intervals() -> None:
    assert merge([iv(30, 60), iv(0, 30), iv(50, 90)]) == [iv(0, 90)]


def test_merge_keeps_separate_intervals_apart_and_sorted() -> None:
    assert merge([iv(60, 90), iv(0, 30)]) == [iv(0, 30), iv(60, 90)]


def test_merge_swallows_nested_intervals() -> None:
    assert merge([iv(0, 100), iv(10, 20), iv(30, 40)]) == [iv(0, 100)]


def test_merge_of_nothing_is_nothing() -> None:
    assert merge([]) == []


@PROPERTY
@given(interval_lists)
def test_merge_preserves_the_union(items: list[Interval]) -> None:
    assert minutes_covered(merge(items)) == minutes_covered(items)


@PROPERTY
@given(interval_lists)
def test_merge_result_is_sorted_disjoint_and_not_touching(items: list[Interval]) -> None:
    assert_sorted_and_separate(merge(items))


@PROPERTY
@given(interval_lists)
def test_merge_is_idempotent_and_ignores_order(items: list[Interval]) -> None:
    merged = merge(items)
    assert merge(merged) == merged
    assert merge(reversed(items)) == merged


# --- subtract ---------------------------------------------------------------


def test_subtracting_a_middle_part_splits_an_interval() -> None:
    assert subtract([iv(0, 60)], [iv(20, 30)]) == [iv(0, 20), iv(30, 60)]


def test_subtracting_a_covering_interval_leaves_nothing() -> None:
    assert subtract([iv(10, 20), iv(30, 40)], [iv(0, 60)]) == []


def test_subtracting_a_touching_interval_changes_nothing() -> None:
    assert subtract([iv(0, 30)], [iv(30, 60)]) == [iv(0, 30)]


def test_subtracting_nothing_returns_the_merged_base() -> None:
    assert subtract([iv(30, 60), iv(0, 30)], []) == [iv(0, 60)]


def test_subtracting_several_cuts_from_several_intervals() -> None:
    base = [iv(0, 60), iv(100, 160)]
    cuts = [iv(10, 20), iv(50, 110), iv(150, 200)]
    assert subtract(base, cuts) == [iv(0, 10), iv(20, 50), iv(110, 150)]


@PROPERTY
@given(interval_lists, interval_lists)
def test_subtract_result_does_not_overlap_the_cut(
    base: list[Interval], cut: list[Interval]
) -> None:
    assert not any_overlap(subtract(base, cut), cut)


@PROPERTY
@given(interval_lists, interval_lists)
def test_subtract_plus_the_cut_part_gives_back_the_base(
    base: list[Interval], cut: list[Interval]
) -> None:
    rest = minutes_covered(subtract(base, cut))
    cut_part = minutes_covered(base) & minutes_covered(cut)
    assert rest | cut_part == minutes_covered(base)
    assert rest == minutes_covered(base) - minutes_covered(cut)


@PROPERTY
@given(interval_lists, interval_lists)
def test_subtract_result_is_sorted_and_disjoint(base: list[Interval], cut: list[Interval]) -> None:
    assert_sorted_and_separate(subtract(base, cut))


# --- any_overlap ------------------------------------------------------------


def test_any_overlap_is_false_for_touching_sets() -> None:
    assert not any_overlap([iv(0, 30), iv(60, 90)], [iv(30, 60)])
    assert any_overlap([iv(0, 30), iv(60, 90)], [iv(85, 95)])


@PROPERTY
@given(interval_lists, interval_lists)
def test_any_overlap_means_the_sets_share_time(a: list[Interval], b: list[Interval]) -> None:
    assert any_overlap(a, b) == bool(minutes_covered(a) & minutes_covered(b))
    assert any_overlap(a, b) == any_overlap(b, a)
