"""P6: a booking shows whether it reached the practice calendar, and one that has not
reached it in time alerts the practice — once, and only if the practice runs a connector
(has an active API key)."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

import pytest
from django.utils import timezone

from termin360.portal import worker
from termin360.portal.models import Booking, OutgoingEmail
from termin360.portal.services import bookings, practices
from tests.portal.conftest import World, build_world, rendered
from tests.portal.sync_support import book, connector


@pytest.fixture
def quick_alert(settings: Any) -> None:
    settings.UNDELIVERED_ALERT_MINUTES = 0.05  # 3 seconds


def _age(booking: Booking, seconds: float) -> None:
    Booking.objects.filter(pk=booking.pk).update(
        created_at=timezone.now() - timedelta(seconds=seconds)
    )


def alerts() -> list[OutgoingEmail]:
    return rendered("undelivered_alert")


def test_p6_an_undelivered_booking_alerts_the_practice_once(
    world: World, quick_alert: None
) -> None:
    practices.issue_api_key(practice=world.practice, name="Connector")
    booking = book(world, time(9))
    assert worker.queue_undelivered_alerts() == 0  # not yet: made just now
    _age(booking, 5)
    assert worker.queue_undelivered_alerts() == 1
    [m] = alerts()
    assert m.to == world.practice.email
    assert str(booking.pk) in m.subject
    booking.refresh_from_db()
    assert booking.undelivered_alert_at is not None
    assert worker.queue_undelivered_alerts() == 0  # once per booking
    assert worker.run_round().alerts == 0
    assert len(alerts()) == 1


def test_p6_the_worker_round_queues_the_alert(world: World, quick_alert: None) -> None:
    practices.issue_api_key(practice=world.practice, name="Connector")
    _age(book(world, time(9)), 5)
    assert worker.run_round().alerts == 1
    assert len(alerts()) == 1


def test_p6_the_default_is_fifteen_minutes(world: World) -> None:
    practices.issue_api_key(practice=world.practice, name="Connector")
    booking = book(world, time(9))
    _age(booking, 14 * 60)
    assert worker.queue_undelivered_alerts() == 0
    _age(booking, 16 * 60)
    assert worker.queue_undelivered_alerts() == 1


def test_p6_delivered_or_cancelled_bookings_do_not_alert(world: World, quick_alert: None) -> None:
    api = connector(world)
    delivered, cancelled = book(world, time(9)), book(world, time(10))
    api.post("/receipts", {"receipts": [{"booking_id": delivered.pk, "placement": "slot"}]})
    bookings.cancel_by_patient(patient=world.patient, booking_id=cancelled.pk)
    _age(delivered, 60)
    _age(cancelled, 60)
    assert worker.queue_undelivered_alerts() == 0
    assert not alerts()


def test_p6_no_alert_without_an_active_connector_key(world: World, quick_alert: None) -> None:
    other = build_world("Praxis Zwei", "admin@zwei.de")
    record, _key = practices.issue_api_key(practice=other.practice, name="alt")
    practices.revoke_api_key(practice=other.practice, key_id=record.pk)
    _age(book(world, time(9)), 60)  # no key at all
    _age(book(other, time(9), patient=other.patient), 60)  # only a revoked key
    assert worker.queue_undelivered_alerts() == 0
    practices.issue_api_key(practice=world.practice, name="Connector")
    assert worker.queue_undelivered_alerts() == 1
    [m] = alerts()
    assert m.to == world.practice.email


# --------------------------------------------------------------------------- display


def test_p6_patient_page_shows_pending_then_delivered(client: Any, world: World) -> None:
    booking = book(world, time(9))
    client.force_login(world.patient.user)
    page = client.get(_my_bookings_url()).content.decode()
    assert "wird an den Praxiskalender übermittelt" in page
    connector(world).post(
        "/receipts", {"receipts": [{"booking_id": booking.pk, "placement": "slot"}]}
    )
    page = client.get(_my_bookings_url()).content.decode()
    assert "im Praxiskalender eingetragen" in page
    assert "wird an den Praxiskalender übermittelt" not in page


def test_p6_practice_booking_list_shows_delivered_and_pending(client: Any, world: World) -> None:
    from django.contrib.auth.models import User
    from django.urls import reverse

    delivered, pending = book(world, time(9)), book(world, time(10))
    connector(world).post(
        "/receipts", {"receipts": [{"booking_id": delivered.pk, "placement": "slot"}]}
    )
    client.force_login(User.objects.get(username=world.admin_email))
    page = client.get(reverse("portal:practice-bookings")).content.decode()
    rows = page.split('<tr class="booking ')[1:]
    assert len(rows) == 2
    assert "übertragen" in rows[0] and "ausstehend" not in rows[0]
    assert "ausstehend" in rows[1]
    del pending
    dashboard = client.get(reverse("portal:practice-dashboard")).content.decode()
    assert "Im Praxiskalender" in dashboard
    assert dashboard.count("übertragen") == 1 and dashboard.count("ausstehend") == 1


def _my_bookings_url() -> str:
    from django.urls import reverse

    return reverse("portal:my-bookings")
