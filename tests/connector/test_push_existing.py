"""S11: ``sync push-existing CAL COL`` (notFree) sends what a column already holds."""

from __future__ import annotations

import time as clock
from datetime import UTC, datetime, time, timedelta

import pytest
from django.utils import timezone

from termin360.connector.models import BusyState, OutboxEntry
from termin360.connector.services import config, outbox
from termin360.connector.services.push_existing import push_existing
from termin360.core.errors import InvalidInput, NotFound
from termin360.practice.models import Appointment, Slot
from termin360.practice.services import appointments, setup
from tests.connector.conftest import BERLIN, CAL_A, Connected
from tests.connector.helpers import slot_at


def test_s11_existing_appointments_are_blocked_online_from_today_on(connected: Connected) -> None:
    c = connected
    config.set_mappings([])  # appointments made while the column was not connected
    for offset, at in ((0, "09:00"), (0, "09:15"), (3, "11:00"), (9, "08:00")):
        appointments.book_appointment(
            actor=None, slot_id=slot_at(c, 1, offset, at).pk, text="Bestand"
        )
    column = c.practice.columns[1]
    yesterday = timezone.now().astimezone(BERLIN).date() - timedelta(days=1)
    past = setup.add_slot(column=column, day=yesterday, at=time(20), minutes=15)
    appointments.book_appointment(actor=None, slot_id=past.pk, text="Vergangen")
    config.set_mappings([(CAL_A, 1, 1)])
    assert outbox.pending_count() == 0

    progress: list[tuple[int, int]] = []
    result = push_existing(1, 1, progress=lambda done, total: progress.append((done, total)))
    assert (result.days, result.appointments) == (10, 4)  # the grid's 10 weekdays
    assert progress[-1] == (10, 10)
    assert outbox.relay_all(c.portal) == 10
    assert c.portal.busy_of(CAL_A, c.day(0)) == [(c.at(0, "09:00"), c.at(0, "09:30"))]
    assert c.portal.busy_of(CAL_A, c.day(3)) == [(c.at(3, "11:00"), c.at(3, "11:15"))]
    assert c.portal.busy_of(CAL_A, c.day(1)) == []
    assert (CAL_A, yesterday) not in c.portal.busy


def test_s11_running_it_twice_sends_the_same_state_again(connected: Connected) -> None:
    c = connected
    appointments.book_appointment(actor=None, slot_id=slot_at(c, 1, 2, "10:00").pk, text="B")
    first = push_existing(1, 1)
    outbox.relay_all(c.portal)
    busy_after_first = dict(c.portal.busy)
    states = list(BusyState.objects.order_by("day").values_list("day", "intervals"))
    second = push_existing(1, 1)
    assert second == first
    assert OutboxEntry.objects.count() == 10  # every day queued again, even unchanged
    assert list(BusyState.objects.order_by("day").values_list("day", "intervals")) == states
    outbox.relay_all(c.portal)
    assert c.portal.busy == busy_after_first


def test_s11_a_day_whose_slots_are_gone_is_freed_online(connected: Connected) -> None:
    c = connected
    appointments.book_appointment(actor=None, slot_id=slot_at(c, 1, 4, "10:00").pk, text="B")
    push_existing(1, 1)
    outbox.relay_all(c.portal)
    Slot.objects.filter(column=c.practice.columns[1], day=c.day(4)).delete()  # behind the gate
    push_existing(1, 1)
    outbox.relay_all(c.portal)
    assert c.portal.busy[(CAL_A, c.day(4))] == []


def test_s11_column_must_be_mapped_and_exist(connected: Connected) -> None:
    config.set_mappings([(CAL_A, 1, 1)])
    with pytest.raises(InvalidInput) as err:
        push_existing(1, 2)
    assert err.value.code == "column_not_mapped"
    with pytest.raises(NotFound):
        push_existing(1, 9)
    with pytest.raises(NotFound):
        push_existing(7, 1)


def test_s11_ten_thousand_appointments_are_pushed_and_relayed_in_well_under_five_seconds(
    connected: Connected,
) -> None:
    c = connected
    calendar = c.practice.calendar
    column = setup.create_column(calendar=calendar, number=3, name="Labor")
    config.set_mappings([(CAL_A, 1, 3)])
    today = timezone.now().astimezone(BERLIN).date()
    new_slots = []
    for d in range(250):
        day = today + timedelta(days=d)
        first = datetime.combine(day, time(7), BERLIN).astimezone(UTC)
        for i in range(44):
            start = first + timedelta(minutes=15 * i)
            new_slots.append(
                Slot(column=column, day=day, start=start, end=start + timedelta(minutes=15))
            )
    Slot.objects.bulk_create(new_slots, batch_size=2000)
    chosen = list(Slot.objects.filter(column=column).order_by("start")[:10_000])
    appts = Appointment.objects.bulk_create(
        [
            Appointment(
                calendar=calendar, column=column, day=s.day, start=s.start, end=s.end, text="B"
            )
            for s in chosen
        ],
        batch_size=2000,
    )
    for s, a in zip(chosen, appts, strict=True):
        s.appointment = a
    Slot.objects.bulk_update(chosen, ["appointment"], batch_size=2000)

    started = clock.perf_counter()
    result = push_existing(1, 3)
    days = outbox.relay_all(c.portal)
    elapsed = clock.perf_counter() - started
    assert result.appointments == 10_000 and result.days == 250 and days == 250
    assert elapsed < 5, f"push-existing took {elapsed:.2f} s"
    # 44 slots a day, all booked: one merged block on each of the first 228 days
    assert sum(len(v) for v in c.portal.busy.values()) == 228
    print(f"push-existing + relay of 10,000 appointments: {elapsed:.2f} s")
