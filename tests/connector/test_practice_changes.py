"""S10: the practice deletes or moves an online booking — the portal follows."""

from __future__ import annotations

import pytest

from termin360.connector.models import OnlineBooking
from termin360.connector.portal_client import PortalUnreachable
from termin360.connector.selectors import pending_practice_changes
from termin360.connector.services.practice_changes import CANCEL_REASON, send_practice_changes
from termin360.practice.models import Appointment
from termin360.practice.services import appointments
from tests.connector.conftest import CAL_A, Connected
from tests.connector.helpers import online, pull, slot_at


def placed(c: Connected, offset: int, clock: str) -> tuple[int, Appointment]:
    b = c.portal.book(CAL_A, c.at(offset, clock))
    pull(c.portal)
    appt = online(b.booking_id).appointment
    assert appt is not None
    return b.booking_id, appt


def test_s10_practice_deleting_online_appointment_cancels_the_booking_online(
    connected: Connected,
) -> None:
    c = connected
    booking_id, appt = placed(c, 0, "09:00")
    appointments.delete_appointment(actor=None, appointment_id=appt.pk)
    assert send_practice_changes(c.portal) == 1
    assert c.portal.bookings[booking_id].status == "cancelled"
    assert c.portal.bookings[booking_id].cancelled_by == "practice"
    assert c.portal.cancel_reasons[booking_id] == CANCEL_REASON
    ob = online(booking_id)
    assert ob.status == OnlineBooking.Status.CANCELLED and ob.cancelled_at is not None
    # nothing left to send; the portal's cancellation event changes nothing here
    assert send_practice_changes(c.portal) == 0
    assert c.portal.calls.count("cancel_booking") == 1
    assert pull(c.portal).changed == 0


def test_s10_practice_moving_online_appointment_moves_the_booking_online(
    connected: Connected,
) -> None:
    c = connected
    booking_id, appt = placed(c, 0, "09:00")
    moved = appointments.move_appointment(
        actor=None, appointment_id=appt.pk, slot_id=slot_at(c, 1, 3, "11:00").pk
    )
    assert send_practice_changes(c.portal) == 1
    portal_booking = c.portal.bookings[booking_id]
    assert (portal_booking.start, portal_booking.end) == (c.at(3, "11:00"), c.at(3, "11:15"))
    assert online(booking_id).start == c.at(3, "11:00")
    # the portal's "moved" event finds the appointment where the staff put it
    assert pull(c.portal).changed == 0
    ob = online(booking_id)
    assert ob.appointment is not None and ob.appointment.pk == moved.pk
    assert slot_at(c, 1, 3, "11:00").appointment_id == moved.pk
    assert send_practice_changes(c.portal) == 0


def test_s10_move_refused_online_is_recorded_flagged_and_not_sent_again(
    connected: Connected,
) -> None:
    c = connected
    booking_id, appt = placed(c, 0, "09:00")
    staff = appointments.book_appointment(
        actor=None, slot_id=slot_at(c, 1, 0, "10:00").pk, text="Praxis"
    )
    other = c.portal.book(CAL_A, c.at(0, "10:00"))
    pull(c.portal)  # the other booking lands in the additional list (slot taken)
    appointments.delete_appointment(actor=None, appointment_id=staff.pk)
    appointments.move_appointment(
        actor=None, appointment_id=appt.pk, slot_id=slot_at(c, 1, 0, "10:00").pk
    )
    assert send_practice_changes(c.portal) == 0
    ob = online(booking_id)
    assert ob.refused_start == c.at(0, "10:00") and ob.practice_change_error
    assert c.portal.bookings[booking_id].start == c.at(0, "09:00")
    flagged = Appointment.objects.get(pk=appt.pk)
    assert flagged.flagged and flagged.flag_reason == "online_move_refused"
    assert list(pending_practice_changes()) == []
    send_practice_changes(c.portal)
    assert c.portal.calls.count("move_booking") == 1
    assert c.portal.bookings[other.booking_id].status == "active"


def test_s10_booking_unknown_to_the_portal_records_the_error_and_stops(
    connected: Connected,
) -> None:
    c = connected
    booking_id, appt = placed(c, 0, "09:00")
    del c.portal.bookings[booking_id]  # e.g. the portal was restored from a backup
    appointments.delete_appointment(actor=None, appointment_id=appt.pk)
    assert send_practice_changes(c.portal) == 0
    ob = online(booking_id)
    assert ob.practice_change_error == (
        "Das Portal kennt diese Buchung oder diesen Kalender nicht (mehr). "
        "Portal: „Buchung unbekannt.“"
    )
    assert list(pending_practice_changes()) == []


def test_s10_unreachable_portal_keeps_the_change_pending(connected: Connected) -> None:
    c = connected
    booking_id, appt = placed(c, 0, "09:00")
    appointments.delete_appointment(actor=None, appointment_id=appt.pk)
    c.portal.fail_with = PortalUnreachable("Portal nicht erreichbar.", code="unreachable")
    with pytest.raises(PortalUnreachable):
        send_practice_changes(c.portal)
    assert [ob.booking_id for ob in pending_practice_changes()] == [booking_id]
    c.portal.fail_with = None
    assert send_practice_changes(c.portal) == 1


def test_s10_practice_shortening_or_extending_online_appointment_changes_its_end_online(
    connected: Connected,
) -> None:
    """Found by the sync model: a shortened multi-slot online appointment kept its old end
    on the portal, which went on holding (and the patient expecting) the freed slot."""
    c = connected
    b = c.portal.book(CAL_A, c.at(0, "09:00"), minutes=30)
    pull(c.portal)
    appt = online(b.booking_id).appointment
    assert appt is not None and appt.end == c.at(0, "09:30")
    appointments.shorten_appointment(actor=None, appointment_id=appt.pk)
    assert [ob.booking_id for ob in pending_practice_changes()] == [b.booking_id]
    assert send_practice_changes(c.portal) == 1
    assert (c.portal.bookings[b.booking_id].start, c.portal.bookings[b.booking_id].end) == (
        c.at(0, "09:00"),
        c.at(0, "09:15"),
    )
    appointments.extend_appointment(actor=None, appointment_id=appt.pk)
    assert send_practice_changes(c.portal) == 1  # a new change: a key of its own
    assert c.portal.bookings[b.booking_id].end == c.at(0, "09:30")
    assert pull(c.portal).changed == 0 and send_practice_changes(c.portal) == 0


def test_s10_a_booking_placed_on_a_longer_slot_is_no_practice_change(
    connected: Connected,
) -> None:
    """A 15-minute booking at 09:15 on a 30-minute slot from 09:00 holds the whole slot;
    that is the placement, not a move by the practice (the portal keeps 09:15)."""
    from datetime import time

    from termin360.practice.domain.grid import TemplateRule
    from termin360.practice.services import setup

    c = connected
    column = c.practice.columns[1]
    setup.set_template(
        column=column,
        rules=[
            TemplateRule(weekday=d, start=time(8), end=time(12), slot_minutes=30) for d in range(5)
        ],
    )
    setup.rebuild_grid(column=column, first=c.day(0), last=c.day(4))
    b = c.portal.book(CAL_A, c.at(0, "09:15"))
    pull(c.portal)
    appt = online(b.booking_id).appointment
    assert appt is not None and (appt.start, appt.end) == (c.at(0, "09:00"), c.at(0, "09:30"))
    assert list(pending_practice_changes()) == []
    assert send_practice_changes(c.portal) == 0
    assert c.portal.bookings[b.booking_id].start == c.at(0, "09:15")
