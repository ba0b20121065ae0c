"""S5: where an online booking lands in its mapped column (pure rule)."""

from __future__ import annotations

from termin360.connector.domain.placement import place_booking
from termin360.practice.domain.slots import SlotFacts

from .grid import cells, ids_at, t


def test_s5_booking_on_a_free_slot_takes_that_slot() -> None:
    grid = cells("08:00", "12:00")
    decision = place_booking(grid, t("09:00"), t("09:15"))
    assert decision.in_slots and decision.reason is None
    assert decision.slot_ids == ids_at(grid, "09:00")


def test_s5_booking_longer_than_a_slot_takes_consecutive_slots_as_one_multi_slot_run() -> None:
    grid = cells("08:00", "12:00")
    decision = place_booking(grid, t("09:00"), t("09:45"))
    assert decision.slot_ids == ids_at(grid, "09:00", "09:15", "09:30")


def test_s5_noted_slot_stays_bookable() -> None:
    grid = cells("08:00", "12:00", h0900=SlotFacts(note="Rückruf Labor"))
    assert place_booking(grid, t("09:00"), t("09:15")).slot_ids == ids_at(grid, "09:00")


def test_s5_slot_with_appointment_sends_booking_to_additional_list_as_slot_taken() -> None:
    grid = cells("08:00", "12:00", h0915=SlotFacts(appointment_id=7))
    decision = place_booking(grid, t("09:00"), t("09:30"))
    assert not decision.in_slots
    assert decision.reason == "slot_taken"


def test_s5_annotation_or_reservation_blocks_the_slot() -> None:
    annotated = cells("08:00", "12:00", h0900=SlotFacts(annotated=True, annotation="Urlaub"))
    reserved = cells("08:00", "12:00", h0900=SlotFacts(reserved=True))
    assert place_booking(annotated, t("09:00"), t("09:15")).reason == "blocked"
    assert place_booking(reserved, t("09:00"), t("09:15")).reason == "blocked"


def test_s5_taken_is_reported_before_blocked() -> None:
    grid = cells(
        "08:00",
        "12:00",
        h0900=SlotFacts(annotated=True),
        h0915=SlotFacts(appointment_id=3),
    )
    assert place_booking(grid, t("09:00"), t("09:30")).reason == "slot_taken"


def test_s5_no_slot_at_that_time_or_booking_outside_the_grid() -> None:
    grid = cells("08:00", "12:00")
    assert place_booking(grid, t("14:00"), t("14:15")).reason == "no_slot"
    assert place_booking([], t("09:00"), t("09:15")).reason == "no_slot"


def test_s5_partial_grid_coverage_is_no_slot() -> None:
    grid = cells("08:00", "12:00")
    # runs past the end of the grid
    assert place_booking(grid, t("11:45"), t("12:15")).reason == "no_slot"
    # starts before the grid
    assert place_booking(grid, t("07:45"), t("08:15")).reason == "no_slot"


def test_s5_gap_in_the_grid_is_no_slot() -> None:
    grid = [c for c in cells("08:00", "12:00") if f"{c.start:%H:%M}" != "09:15"]
    assert place_booking(grid, t("09:00"), t("09:30")).reason == "no_slot"


def test_s5_booking_off_the_grid_raster_takes_the_slots_it_overlaps() -> None:
    grid = cells("08:00", "12:00", minutes=20)
    decision = place_booking(grid, t("08:30"), t("08:50"))
    assert decision.slot_ids == ids_at(grid, "08:20", "08:40")


def test_moved_booking_may_land_on_slots_its_own_appointment_holds() -> None:
    grid = cells("08:00", "12:00", h0900=SlotFacts(appointment_id=5))
    assert place_booking(grid, t("09:00"), t("09:30")).reason == "slot_taken"
    own = place_booking(grid, t("09:00"), t("09:30"), own_appointment=5)
    assert own.slot_ids == ids_at(grid, "09:00", "09:15")


def test_empty_or_negative_booking_is_never_placed_in_a_slot() -> None:
    grid = cells("08:00", "12:00")
    assert place_booking(grid, t("09:15"), t("09:00")).reason == "no_slot"
