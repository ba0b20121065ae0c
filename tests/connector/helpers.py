"""Small helpers of the connector engine's Django tests."""

from __future__ import annotations

from termin360.connector.models import OnlineBooking
from termin360.connector.services import consumer
from termin360.connector.services.consumer import ApplyResult
from termin360.practice.models import Appointment, Slot
from tests.connector.conftest import Connected
from tests.connector.fake_portal import FakePortal


def pull(portal: FakePortal) -> ApplyResult:
    """Apply the portal's feed from the connector's cursor (one page)."""
    from termin360.connector.selectors import sync_state

    return consumer.apply_page(portal.events(after=sync_state().cursor))


def slot_at(c: Connected, column: int, offset: int, clock: str) -> Slot:
    return Slot.objects.get(column=c.practice.columns[column], start=c.at(offset, clock))


def online(booking_id: int) -> OnlineBooking:
    return OnlineBooking.objects.select_related("appointment").get(booking_id=booking_id)


def slots_of(appt: Appointment) -> list[str]:
    """Local start times of the slots an appointment holds."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("Europe/Berlin")
    return [f"{s.start.astimezone(tz):%H:%M}" for s in Slot.objects.filter(appointment=appt)]
