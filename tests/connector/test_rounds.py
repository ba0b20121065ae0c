"""S2: one full sync round both ways (``termin360 sync now``), receipts (P6), names (S1)."""

from __future__ import annotations

import pytest

from termin360.connector.models import Mapping, OnlineBooking, SyncConfig, SyncState
from termin360.connector.portal_client import PortalUnreachable
from termin360.connector.services import receipts, rounds
from termin360.practice.services import appointments
from tests.connector.conftest import CAL_A, CAL_B, Connected
from tests.connector.helpers import online, slot_at


def test_s2_round_counts_changes_each_way(connected: Connected) -> None:
    c = connected
    c.portal.book(CAL_A, c.at(0, "09:00"))
    c.portal.book(CAL_B, c.at(1, "10:00"))
    appointments.book_appointment(actor=None, slot_id=slot_at(c, 1, 2, "08:00").pk, text="X")
    result = rounds.sync_round(c.portal)
    assert result.to_practice == 2
    assert result.placed_in_slot == 2 and result.receipts == 2
    # three days: the practice's own appointment and the two bookings just placed
    assert result.to_portal == 3 and result.busy_days == 3
    assert result.cursor == 2 and SyncState.objects.get(pk=1).cursor == 2
    state = SyncState.objects.get(pk=1)
    assert state.last_success_at is not None and state.last_error == ""
    again = rounds.sync_round(c.portal)
    assert (again.to_practice, again.to_portal) == (0, 0)


def test_s1_names_appear_after_the_first_contact(connected: Connected) -> None:
    c = connected
    assert Mapping.objects.get(online_calendar_id=CAL_A).online_name == ""
    before = SyncConfig.objects.get(pk=1).updated_at
    rounds.sync_round(c.portal)
    assert Mapping.objects.get(online_calendar_id=CAL_A).online_name == "Dr. Berger online"
    assert Mapping.objects.get(online_calendar_id=CAL_B).online_name == "Dr. Keller online"
    cfg = SyncConfig.objects.get(pk=1)
    assert cfg.practice_name == "Praxis Dr. Berger" and cfg.updated_at == before


def test_p6_receipts_name_where_each_booking_landed_and_go_once(connected: Connected) -> None:
    c = connected
    a = c.portal.book(CAL_A, c.at(0, "09:00"))
    b = c.portal.book(CAL_A, c.at(0, "15:00"))
    rounds.sync_round(c.portal)
    assert c.portal.delivered == {a.booking_id: "slot", b.booking_id: "additional_list"}
    assert online(a.booking_id).receipt_sent_at is not None
    assert receipts.send_receipts(c.portal) == 0
    assert c.portal.calls.count("receipts") == 1


def test_s2_round_pulls_every_page_of_the_feed(connected: Connected) -> None:
    c = connected
    c.portal.page_size = 2
    for clock in ("08:00", "08:15", "08:30", "08:45", "09:00"):
        c.portal.book(CAL_A, c.at(0, clock))
    result = rounds.sync_round(c.portal)
    assert result.placed_in_slot == 5 and result.cursor == 5
    assert c.portal.calls.count("events") == 3


def test_s2_failed_round_records_the_error_and_raises(connected: Connected) -> None:
    c = connected
    c.portal.fail_with = PortalUnreachable("Portal nicht erreichbar.", code="unreachable")
    with pytest.raises(PortalUnreachable):
        rounds.sync_round(c.portal)
    state = SyncState.objects.get(pk=1)
    assert state.last_error == "Portal nicht erreichbar." and state.last_error_at is not None
    c.portal.fail_with = None
    rounds.sync_round(c.portal)
    assert SyncState.objects.get(pk=1).last_error == ""


def test_round_places_bookings_kept_for_a_calendar_mapped_later(connected: Connected) -> None:
    from termin360.connector.services import config

    c = connected
    config.set_mappings([(CAL_A, 1, 1)])
    b = c.portal.book(CAL_B, c.at(0, "09:00"))
    rounds.sync_round(c.portal)
    assert online(b.booking_id).placement == OnlineBooking.Placement.NONE
    assert b.booking_id not in c.portal.delivered
    config.set_mappings([(CAL_A, 1, 1), (CAL_B, 1, 2)])
    result = rounds.sync_round(c.portal)
    assert result.unplaced_placed == 1 and result.to_practice == 1
    assert online(b.booking_id).placement == OnlineBooking.Placement.SLOT
    assert c.portal.delivered[b.booking_id] == "slot"
