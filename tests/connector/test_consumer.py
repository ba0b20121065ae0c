"""Portal → practice: applying the change feed (S5, S6, S7, S12, S13)."""

from __future__ import annotations

from datetime import date, time

import pytest

from termin360.connector.models import OnlineBooking, SyncState
from termin360.connector.services import config, consumer
from termin360.core.errors import Conflict
from termin360.practice.domain.grid import TemplateRule
from termin360.practice.models import Appointment
from termin360.practice.services import appointments, patients, reservations, setup, slots
from termin360.protocol.messages import FeedPage
from tests.connector.conftest import CAL_A, CAL_B, Connected
from tests.connector.helpers import online, pull, slot_at, slots_of

BORN = date(1980, 5, 17)


def make_patient(c: Connected, last: str = "Müller", first: str = "Hans", born: date = BORN) -> int:
    patient = patients.create_patient(
        location_id=c.practice.location.pk, last_name=last, first_name=first, date_of_birth=born
    )
    return int(patient.pk)


# --------------------------------------------------------------------------- S5 placement


def test_s5_booking_on_free_slot_lands_there_as_online_appointment(connected: Connected) -> None:
    c = connected
    b = c.portal.book(CAL_A, c.at(1, "09:00"), visit_type="Sprechstunde", reason="Husten")
    result = pull(c.portal)
    assert (result.placed_in_slot, result.cursor) == (1, 1)
    ob = online(b.booking_id)
    appt = ob.appointment
    assert appt is not None and appt.column_id == c.column(1)
    assert appt.origin == Appointment.Origin.ONLINE and not appt.flagged
    assert slots_of(appt) == ["09:00"]
    assert ob.placement == OnlineBooking.Placement.SLOT
    assert appt.reason == "Sprechstunde: Husten"
    assert appt.text == "Online: Müller, Hans (17.05.1980)"
    assert ob.match == OnlineBooking.Match.FREE_TEXT


def test_s5_s6_booking_on_noted_slot_lands_there_linked_to_the_patient(
    connected: Connected,
) -> None:
    c = connected
    patient_id = make_patient(c, "Müller", "Hans")
    slots.set_note(slot_id=slot_at(c, 2, 2, "10:00").pk, text="Rückruf Labor")
    b = c.portal.book(CAL_B, c.at(2, "10:00"), last_name=" MÜLLER ", first_name="hans")
    pull(c.portal)
    ob = online(b.booking_id)
    assert ob.placement == "slot" and ob.match == OnlineBooking.Match.LINKED
    assert ob.appointment is not None and ob.appointment.patient_id == patient_id
    assert slot_at(c, 2, 2, "10:00").appointment_id == ob.appointment.pk
    assert slot_at(c, 2, 2, "10:00").note == "Rückruf Labor"


def test_s5_booking_of_45_minutes_becomes_one_multi_slot_appointment(connected: Connected) -> None:
    c = connected
    b = c.portal.book(CAL_A, c.at(0, "10:00"), minutes=45)
    pull(c.portal)
    appt = online(b.booking_id).appointment
    assert appt is not None and slots_of(appt) == ["10:00", "10:15", "10:30"]
    assert Appointment.objects.count() == 1


def test_s5_online_booking_on_taken_slot_goes_to_additional_list_flagged(
    connected: Connected,
) -> None:
    c = connected
    appointments.book_appointment(actor=None, slot_id=slot_at(c, 1, 0, "09:00").pk, text="Praxis")
    b = c.portal.book(CAL_A, c.at(0, "08:45"), minutes=30)
    result = pull(c.portal)
    assert result.to_additional_list == 1
    ob = online(b.booking_id)
    appt = ob.appointment
    assert appt is not None and appt.in_additional_list
    assert appt.flagged and appt.flag_reason == "slot_taken"
    assert appt.day == c.day(0) and appt.start == c.at(0, "08:45")
    assert ob.placement == OnlineBooking.Placement.ADDITIONAL
    # the practice's own appointment is untouched, and the 08:45 slot stays free
    assert slot_at(c, 1, 0, "08:45").appointment_id is None


def test_s5_annotated_or_reserved_slot_sends_booking_to_additional_list_as_blocked(
    connected: Connected,
) -> None:
    c = connected
    slots.delete_free_slot(slot_id=slot_at(c, 1, 1, "09:00").pk, text="Fortbildung")
    reservations.create_reservation(
        actor=None,
        calendar=c.practice.calendar,
        column_numbers=[1],
        first_day=c.day(1),
        last_day=c.day(1),
        start=time(11),
        end=time(12),
        reason="Team",
    )
    a = c.portal.book(CAL_A, c.at(1, "09:00"))
    b = c.portal.book(CAL_A, c.at(1, "11:15"))
    pull(c.portal)
    for booking in (a, b):
        appt = online(booking.booking_id).appointment
        assert appt is not None and appt.in_additional_list
        assert appt.flag_reason == "blocked"


def test_s5_booking_without_slot_at_that_time_goes_to_additional_list_as_no_slot(
    connected: Connected,
) -> None:
    c = connected
    b = c.portal.book(CAL_A, c.at(3, "15:00"))
    pull(c.portal)
    appt = online(b.booking_id).appointment
    assert appt is not None and appt.in_additional_list and appt.flag_reason == "no_slot"
    assert appt.calendar_id == c.practice.calendar.pk and appt.day == c.day(3)


def test_s5_page_applied_twice_places_the_booking_once(connected: Connected) -> None:
    c = connected
    c.portal.book(CAL_A, c.at(0, "09:00"))
    page = c.portal.events(after=0)
    first = consumer.apply_page(page)
    again = consumer.apply_page(page)
    assert first.changed == 1 and again.changed == 0
    assert Appointment.objects.count() == 1 and OnlineBooking.objects.count() == 1


def test_s5_same_booking_state_pulled_in_twice_is_placed_once(connected: Connected) -> None:
    c = connected
    b = c.portal.book(CAL_A, c.at(0, "09:00"))
    consumer.apply_booking_states([b])
    result = consumer.apply_booking_states([b])
    assert result.unchanged == 1 and result.changed == 0
    pull(c.portal)  # the feed brings it once more
    assert Appointment.objects.count() == 1
    assert SyncState.objects.get(pk=1).cursor == 1


def test_s6_ambiguous_patient_is_free_text_and_flagged(connected: Connected) -> None:
    c = connected
    make_patient(c, "Müller", "Hans")
    make_patient(c, "Mueller".replace("ue", "ü"), "HANS")
    b = c.portal.book(CAL_A, c.at(0, "09:00"))
    pull(c.portal)
    ob = online(b.booking_id)
    assert ob.match == OnlineBooking.Match.AMBIGUOUS
    appt = ob.appointment
    assert appt is not None and appt.patient_id is None
    assert appt.text.startswith("Online: Müller, Hans")
    assert appt.flagged and appt.flag_reason == "ambiguous_patient"
    assert not appt.in_additional_list


def test_s6_patient_of_another_location_is_not_linked(connected: Connected) -> None:
    c = connected
    other = setup.create_location(name="Karlsruhe")
    patients.create_patient(
        location_id=other.pk, last_name="Müller", first_name="Hans", date_of_birth=BORN
    )
    b = c.portal.book(CAL_A, c.at(0, "09:00"))
    pull(c.portal)
    assert online(b.booking_id).match == OnlineBooking.Match.FREE_TEXT


# --------------------------------------------------------------------------- S7 and moves


def test_s7_cancellation_deletes_appointment_in_slot_and_frees_the_slot(
    connected: Connected,
) -> None:
    c = connected
    b = c.portal.book(CAL_A, c.at(0, "09:00"), minutes=30)
    pull(c.portal)
    c.portal.cancel(b.booking_id)
    result = pull(c.portal)
    assert result.cancelled == 1
    assert Appointment.objects.count() == 0
    assert slot_at(c, 1, 0, "09:00").appointment_id is None
    assert slot_at(c, 1, 0, "09:15").appointment_id is None
    ob = online(b.booking_id)
    assert ob.status == OnlineBooking.Status.CANCELLED and ob.cancelled_at is not None
    assert ob.cancelled_by == "patient"


def test_s7_cancellation_deletes_appointment_in_additional_list(connected: Connected) -> None:
    c = connected
    b = c.portal.book(CAL_A, c.at(0, "14:00"))
    pull(c.portal)
    assert online(b.booking_id).placement == OnlineBooking.Placement.ADDITIONAL
    c.portal.cancel(b.booking_id)
    pull(c.portal)
    assert Appointment.objects.count() == 0
    assert online(b.booking_id).status == OnlineBooking.Status.CANCELLED


def test_s7_cancellation_after_the_practice_deleted_the_appointment_only_marks_it(
    connected: Connected,
) -> None:
    c = connected
    b = c.portal.book(CAL_A, c.at(0, "09:00"))
    pull(c.portal)
    appt = online(b.booking_id).appointment
    assert appt is not None
    appointments.delete_appointment(actor=None, appointment_id=appt.pk)
    c.portal.cancel(b.booking_id)
    assert pull(c.portal).cancelled == 1
    assert online(b.booking_id).status == OnlineBooking.Status.CANCELLED


def test_moved_online_booking_moves_its_appointment_and_keeps_the_patient_link(
    connected: Connected,
) -> None:
    c = connected
    patient_id = make_patient(c)
    b = c.portal.book(CAL_A, c.at(0, "09:00"))
    pull(c.portal)
    c.portal.move(b.booking_id, c.at(1, "10:00"), c.at(1, "10:30"))
    result = pull(c.portal)
    assert result.moved == 1
    ob = online(b.booking_id)
    appt = ob.appointment
    assert appt is not None and appt.day == c.day(1) and slots_of(appt) == ["10:00", "10:15"]
    assert appt.patient_id == patient_id
    assert slot_at(c, 1, 0, "09:00").appointment_id is None
    assert Appointment.objects.count() == 1 and ob.start == c.at(1, "10:00")


def test_moved_onto_taken_time_goes_to_additional_list_of_the_new_day(
    connected: Connected,
) -> None:
    c = connected
    b = c.portal.book(CAL_A, c.at(0, "09:00"))
    pull(c.portal)
    appointments.book_appointment(actor=None, slot_id=slot_at(c, 1, 2, "11:00").pk, text="X")
    c.portal.move(b.booking_id, c.at(2, "11:00"), c.at(2, "11:15"))
    pull(c.portal)
    appt = online(b.booking_id).appointment
    assert appt is not None and appt.in_additional_list and appt.day == c.day(2)
    assert appt.flag_reason == "slot_taken"


# --------------------------------------------------------------------------- mappings


def test_booking_of_unmapped_online_calendar_is_kept_and_placed_once_mapped(
    connected: Connected,
) -> None:
    c = connected
    c.portal.calendar_names[103] = "Dr. Neu online"
    b = c.portal.book(103, c.at(0, "09:00"))
    result = pull(c.portal)
    assert result.changed == 0 and result.cursor == 1
    ob = online(b.booking_id)
    assert ob.placement == OnlineBooking.Placement.NONE and ob.appointment is None
    assert consumer.place_unplaced() == 0
    config.set_mappings([(CAL_A, 1, 1), (103, 1, 2)])
    assert consumer.place_unplaced() == 1
    ob = online(b.booking_id)
    assert ob.placement == "slot" and ob.appointment is not None
    assert ob.appointment.column_id == c.column(2)
    assert consumer.place_unplaced() == 0


# --------------------------------------------------------------------------- S12, S13


def test_s12_grid_edit_moves_online_appointment_to_additional_list_keeping_its_link(
    connected: Connected,
) -> None:
    c = connected
    b = c.portal.book(CAL_A, c.at(0, "11:30"))
    pull(c.portal)
    column = c.practice.columns[1]
    setup.set_template(
        column=column,
        rules=[
            TemplateRule(weekday=d, start=time(8), end=time(11), slot_minutes=15) for d in range(5)
        ],
    )
    report = setup.rebuild_grid(column=column, first=c.day(0), last=c.day(0))
    assert report["moved_to_additional_list"] == 1
    ob = online(b.booking_id)
    appt = ob.appointment
    assert appt is not None and appt.in_additional_list and appt.flag_reason == "grid_changed"
    assert appt.origin == Appointment.Origin.ONLINE
    # the portal is not told about a move: the booking's time did not change
    from termin360.connector.selectors import pending_practice_changes

    assert list(pending_practice_changes()) == []


def test_s13_failure_mid_page_leaves_neither_effect_nor_cursor(
    connected: Connected, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = connected
    c.portal.book(CAL_A, c.at(0, "09:00"))
    c.portal.book(CAL_A, c.at(0, "10:00"))
    real = consumer._apply
    calls = []

    def failing(*args: object, **kwargs: object) -> consumer.Outcome:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("crash in the middle of the page")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(consumer, "_apply", failing)
    with pytest.raises(RuntimeError):
        pull(c.portal)
    assert Appointment.objects.count() == 0 and OnlineBooking.objects.count() == 0
    assert SyncState.objects.get(pk=1).cursor == 0
    monkeypatch.setattr(consumer, "_apply", real)
    assert pull(c.portal).placed_in_slot == 2
    assert SyncState.objects.get(pk=1).cursor == 2


def test_s13_feed_behind_the_cursor_is_refused_not_ignored(connected: Connected) -> None:
    SyncState.objects.update_or_create(pk=1, defaults={"cursor": 50})
    with pytest.raises(Conflict) as err:
        consumer.apply_page(FeedPage(events=[], last_seq=3))
    assert err.value.code == "feed_cursor_ahead"
    assert SyncState.objects.get(pk=1).cursor == 50


def test_s13_an_old_page_after_newer_events_were_applied_changes_nothing(
    connected: Connected,
) -> None:
    """Found by the long model run: ``sync now`` beside the job reads a page, the job applies
    a newer one meanwhile; the old page must change nothing — not be refused as if the
    portal had gone back ("connected to another portal?")."""
    c = connected
    old = c.portal.events(after=0)  # nothing yet: ends at 0
    c.portal.book(CAL_A, c.at(0, "09:00"))
    assert pull(c.portal).placed_in_slot == 1  # the cursor is 1 now
    result = consumer.apply_page(old, after=0)
    assert result.changed == 0 and result.cursor == 1
    assert SyncState.objects.get(pk=1).cursor == 1
    with pytest.raises(Conflict) as err:  # a portal behind what was asked is still refused
        consumer.apply_page(FeedPage(events=[], last_seq=0), after=1)
    assert err.value.code == "feed_cursor_ahead"
