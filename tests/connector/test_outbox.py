"""Practice → portal: the outbox listener and the relay (S8)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import pytest
from django.utils import timezone

from termin360.connector.models import BusyState, OutboxEntry
from termin360.connector.portal_client import PortalUnreachable
from termin360.connector.services import config, outbox
from termin360.practice.services import appointments, reservations, slots
from termin360.protocol.messages import BusyBatch, BusyBatchResult
from tests.connector.conftest import CAL_A, CAL_B, Connected
from tests.connector.helpers import slot_at


def sent(c: Connected, calendar: int, offset: int) -> list[tuple[str, str]]:
    """What the portal holds as busy for that day, in local "HH:MM" pairs."""
    tz = c.practice.location.time_zone
    from zoneinfo import ZoneInfo

    z = ZoneInfo(tz)
    return [
        (f"{a.astimezone(z):%H:%M}", f"{b.astimezone(z):%H:%M}")
        for a, b in c.portal.busy_of(calendar, c.day(offset))
    ]


def book(c: Connected, column: int, offset: int, clock: str, count: int = 1) -> int:
    appt = appointments.book_appointment(
        actor=None, slot_id=slot_at(c, column, offset, clock).pk, slot_count=count, text="Praxis"
    )
    return int(appt.pk)


# --------------------------------------------------------------------------- S8 listener


def test_s8_appointment_in_mapped_column_blocks_its_time_online(connected: Connected) -> None:
    c = connected
    book(c, 1, 0, "09:00", count=2)
    state = BusyState.objects.get(mapping__online_calendar_id=CAL_A, day=c.day(0))
    assert len(state.intervals) == 1
    assert OutboxEntry.objects.get(mapping__online_calendar_id=CAL_A, day=c.day(0)).version == 1
    assert outbox.relay_all(c.portal) == 1
    assert sent(c, CAL_A, 0) == [("09:00", "09:30")]
    assert outbox.pending_count() == 0


def test_s8_extending_blocks_the_extra_slot_and_deleting_frees_all_slots(
    connected: Connected,
) -> None:
    c = connected
    appt = book(c, 1, 1, "10:00", count=2)
    outbox.relay_all(c.portal)
    appointments.extend_appointment(actor=None, appointment_id=appt)
    outbox.relay_all(c.portal)
    assert sent(c, CAL_A, 1) == [("10:00", "10:45")]
    appointments.delete_appointment(actor=None, appointment_id=appt)
    outbox.relay_all(c.portal)
    assert sent(c, CAL_A, 1) == []
    assert c.portal.busy.get((CAL_A, c.day(1))) == []  # sent as an empty day, not skipped


def test_s8_drag_and_drop_out_of_mapped_column_frees_the_time_there(
    connected: Connected,
) -> None:
    c = connected
    appt = book(c, 1, 0, "09:00")
    outbox.relay_all(c.portal)
    appointments.move_appointment(
        actor=None, appointment_id=appt, slot_id=slot_at(c, 2, 3, "11:00").pk
    )
    outbox.relay_all(c.portal)
    assert sent(c, CAL_A, 0) == []
    assert sent(c, CAL_B, 3) == [("11:00", "11:15")]
    appointments.move_to_additional_list(actor=None, appointment_id=appt)
    outbox.relay_all(c.portal)
    assert sent(c, CAL_B, 3) == []


def test_s8_deleting_a_free_slot_blocks_it_until_the_annotation_is_removed(
    connected: Connected,
) -> None:
    c = connected
    slot = slot_at(c, 1, 2, "08:30").pk
    slots.delete_free_slot(slot_id=slot, text="Urlaub")
    outbox.relay_all(c.portal)
    assert sent(c, CAL_A, 2) == [("08:30", "08:45")]
    slots.remove_annotation(slot_id=slot)
    outbox.relay_all(c.portal)
    assert sent(c, CAL_A, 2) == []


def test_s8_reservation_across_two_columns_and_three_days_blocks_exactly_those_times(
    connected: Connected,
) -> None:
    c = connected
    r = reservations.create_reservation(
        actor=None,
        calendar=c.practice.calendar,
        column_numbers=[1, 2],
        first_day=c.day(1),
        last_day=c.day(3),
        start=time(10, 30),
        end=time(11, 15),
        reason="Teambesprechung",
    )
    assert outbox.relay_all(c.portal) == 6
    for calendar in (CAL_A, CAL_B):
        for offset in (1, 2, 3):
            assert sent(c, calendar, offset) == [("10:30", "11:15")]
        assert sent(c, calendar, 0) == [] and sent(c, calendar, 4) == []
    reservations.delete_reservation(reservation_id=r.pk)
    outbox.relay_all(c.portal)
    assert all(sent(c, cal, d) == [] for cal in (CAL_A, CAL_B) for d in (1, 2, 3))


def test_s8_changes_of_one_day_coalesce_into_one_outbox_row(connected: Connected) -> None:
    c = connected
    book(c, 1, 0, "08:00")
    book(c, 1, 0, "09:00")
    book(c, 1, 0, "10:00")
    entry = OutboxEntry.objects.get()
    assert entry.version == 3
    outbox.relay_all(c.portal)
    assert len(c.portal.busy_batches) == 1
    assert sent(c, CAL_A, 0) == [("08:00", "08:15"), ("09:00", "09:15"), ("10:00", "10:15")]


def test_s8_change_that_leaves_busy_time_as_it_was_queues_nothing(connected: Connected) -> None:
    c = connected
    slots.delete_free_slot(slot_id=slot_at(c, 1, 0, "09:00").pk)
    outbox.relay_all(c.portal)
    reservations.create_reservation(
        actor=None,
        calendar=c.practice.calendar,
        column_numbers=[1],
        first_day=c.day(0),
        last_day=c.day(0),
        start=time(9),
        end=time(9, 15),
        reason="Gerät",
    )
    assert outbox.pending_count() == 0


def test_s8_unmapped_column_is_ignored_at_the_cost_of_one_query(
    connected: Connected, django_assert_num_queries: Any
) -> None:
    c = connected
    config.set_mappings([(CAL_A, 1, 1)])
    book(c, 2, 0, "09:00")
    assert outbox.pending_count() == 0 and not BusyState.objects.exists()
    touched = frozenset({(c.column(2), c.day(0)), (c.column(2), c.day(1))})
    with django_assert_num_queries(1):
        outbox.on_occupancy_change(touched)


# --------------------------------------------------------------------------- relay


def test_relay_keeps_an_entry_that_changed_while_it_was_being_sent(connected: Connected) -> None:
    c = connected
    book(c, 1, 0, "09:00")
    real_put = c.portal.put_busy

    def put_while_staff_books(batch: BusyBatch, key: str) -> BusyBatchResult:
        result = real_put(batch, key)
        if len(c.portal.busy_batches) == 1:
            book(c, 1, 0, "11:00")  # committed between reading and deleting the entry
        return result

    c.portal.put_busy = put_while_staff_books  # type: ignore[method-assign]
    assert outbox.relay_once(c.portal) == 1
    assert sent(c, CAL_A, 0) == [("09:00", "09:15")]
    assert OutboxEntry.objects.get().version == 2  # still there: the portal lacks 11:00
    outbox.relay_once(c.portal)
    assert sent(c, CAL_A, 0) == [("09:00", "09:15"), ("11:00", "11:15")]
    assert outbox.pending_count() == 0


def test_relay_failure_keeps_entries_with_backoff_and_raises(connected: Connected) -> None:
    c = connected
    book(c, 1, 0, "09:00")
    book(c, 2, 1, "09:00")
    c.portal.fail_with = PortalUnreachable("Portal nicht erreichbar.", code="unreachable")
    before = timezone.now()
    with pytest.raises(PortalUnreachable):
        outbox.relay_once(c.portal)
    entries = list(OutboxEntry.objects.all())
    assert len(entries) == 2
    for entry in entries:
        assert entry.attempts == 1 and entry.last_error == "Portal nicht erreichbar."
        assert entry.next_attempt_at is not None
        assert before + timedelta(seconds=0.7) < entry.next_attempt_at
        assert entry.next_attempt_at < timezone.now() + timedelta(seconds=1.3)
    c.portal.fail_with = None
    assert outbox.relay_once(c.portal) == 0  # still waiting for the retry time
    later: datetime = timezone.now() + timedelta(seconds=2)
    assert outbox.relay_once(c.portal, now=later) == 2
    assert outbox.pending_count() == 0


def test_relay_all_sends_in_batches_until_nothing_is_left(
    connected: Connected, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = connected
    monkeypatch.setattr(outbox, "RELAY_BATCH", 3)
    for offset in (0, 1, 2, 3, 4, 7, 8):
        book(c, 1, offset, "09:00")
    assert outbox.relay_all(c.portal) == 7
    assert [len(b.days) for b in c.portal.busy_batches] == [3, 3, 1]
    assert outbox.pending_count() == 0


def test_backoff_grows_to_a_minute_with_jitter() -> None:
    assert 0.8 <= outbox.backoff_seconds(1) <= 1.2
    assert 3.2 <= outbox.backoff_seconds(3) <= 4.8
    assert 48 <= outbox.backoff_seconds(30) <= 72
