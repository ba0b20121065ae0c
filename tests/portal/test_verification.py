"""P10: a new practice is pending; its published calendars are public only once the
operator has approved it; suspending takes them offline at once; bookings stay, and
patients are told only when the operator cancels them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from termin360.core.errors import Conflict, InvalidInput
from termin360.portal import worker
from termin360.portal.models import Booking, BusyInterval, ChangeEvent, OutgoingEmail, Practice
from termin360.portal.services import bookings, practices, reschedule, verification, waitlist
from tests.portal.conftest import World, build_world, make_patient
from tests.portal.smtp import SmtpServer, running_smtp_server

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def smtp_settings(settings: Any) -> Iterator[SmtpServer]:
    """The worker sends through a real SMTP server on 127.0.0.1."""
    with running_smtp_server() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = server.host, server.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_TIMEOUT = 5
        yield server


def free_start(world: World, days_ahead: int = 3) -> datetime:
    day = timezone.now().astimezone(BERLIN).date() + timedelta(days=days_ahead)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, time(9), tzinfo=BERLIN)


def api_token(client: Client, patient: Any) -> str:
    r = client.post(
        "/api/v1/auth/token",
        {"email": patient.user.email, "password": "patient-pass-123"},
        content_type="application/json",
    )
    assert r.status_code == 201, r.content
    return str(r.json()["token"])


def api_book(client: Client, world: World, token: str, start: datetime) -> Any:
    return client.post(
        "/api/v1/bookings",
        {
            "calendar_id": world.calendar.pk,
            "visit_type_id": world.checkup.pk,
            "start": start.isoformat(),
            "reason": "",
        },
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def book_page(world: World, start: datetime) -> str:
    return reverse("portal:book", args=[world.calendar.pk]) + (
        f"?start={start.isoformat().replace('+', '%2B')}&visit_type={world.checkup.pk}"
    )


def visibility(client: Client, world: World) -> dict[str, bool]:
    """Where a patient can find the calendar: search page, search API, specialties,
    calendar and slots API, doctor page, booking page (logged in), booking API."""
    name = world.doctor.last_name
    search = client.get("/", {"specialty": "Allgemeinmedizin", "place": "Bruchsal"})
    assert search.status_code == 200
    api_search = client.get("/api/v1/search", {"specialty": "Allgemeinmedizin"}).json()
    client.force_login(world.patient.user)
    start = free_start(world)
    seen = {
        "search page": name in search.content.decode(),
        "search API": api_search["total"] == 1,
        "specialties": "Allgemeinmedizin" in client.get("/api/v1/specialties").json(),
        "calendar API": client.get(f"/api/v1/calendars/{world.calendar.pk}").status_code == 200,
        "slots API": client.get(f"/api/v1/calendars/{world.calendar.pk}/slots").status_code == 200,
        "doctor page": client.get(reverse("portal:doctor", args=[world.calendar.pk])).status_code
        == 200,
        "booking page": client.get(book_page(world, start)).status_code == 200,
    }
    client.logout()
    return seen


def test_a_new_sign_up_is_pending_and_its_published_calendar_is_found_nowhere(
    client: Client, db: None
) -> None:
    world = build_world(approved=False)
    assert world.practice.status == Practice.Status.PENDING
    assert world.calendar.published and not world.calendar.is_public
    seen = visibility(client, world)
    assert len(seen) == 7 and not any(seen.values()), seen
    refused = api_book(client, world, api_token(client, world.patient), free_start(world))
    assert refused.status_code == 404
    assert not Booking.objects.exists()


def test_approving_makes_the_published_calendar_public(client: Client, db: None) -> None:
    world = build_world(approved=False)
    verification.approve(practice=world.practice, note="Praxisnummer geprüft")
    seen = visibility(client, world)
    assert all(seen.values()), seen
    booked = api_book(client, world, api_token(client, world.patient), free_start(world))
    assert booked.status_code == 201, booked.content
    world.practice.refresh_from_db()
    assert world.practice.approved_at is not None
    assert world.practice.status_note == "Praxisnummer geprüft"


def test_an_unpublished_calendar_of_an_approved_practice_stays_hidden(
    client: Client, world: World
) -> None:
    practices.publish(calendar=world.calendar, published=False)
    assert not any(visibility(client, world).values())


def test_suspending_takes_the_calendar_offline_at_once_and_keeps_the_bookings(
    client: Client, world: World
) -> None:
    token = api_token(client, world.patient)
    booked = api_book(client, world, token, free_start(world))
    assert booked.status_code == 201
    mails_before = OutgoingEmail.objects.count()

    with pytest.raises(InvalidInput):
        verification.suspend(practice=world.practice, note=" ")  # a reason is required
    verification.suspend(practice=world.practice, note="Approbation nicht nachgewiesen")

    assert not any(visibility(client, world).values())
    assert api_book(client, world, token, free_start(world, 4)).status_code == 404
    booking = Booking.objects.get(pk=booked.json()["id"])
    assert booking.status == Booking.Status.ACTIVE
    mine = client.get("/api/v1/me/bookings", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert [b["id"] for b in mine] == [booking.pk]
    assert OutgoingEmail.objects.count() == mails_before  # nobody is told
    # No time to move to, and the move itself is refused.
    first = timezone.now().astimezone(BERLIN).date()
    assert reschedule.free_for_move_by_day(booking, first, first + timedelta(days=7)) == {}
    with pytest.raises(InvalidInput) as refused:
        reschedule.move_by_patient(
            patient=world.patient,
            booking_id=booking.pk,
            start=booking.start + timedelta(minutes=15),
        )
    assert refused.value.code == "not_bookable"


def test_a_suspended_practice_makes_no_waiting_list_offers(world: World) -> None:
    day = free_start(world)
    BusyInterval.objects.create(
        calendar=world.calendar, day=timezone.now().date(), start=timezone.now(), end=day
    )
    other = make_patient(f"b-{world.practice.pk}@example.org", last="Becker")
    first = bookings.book(
        patient=world.patient,
        calendar_id=world.calendar.pk,
        visit_type_id=world.checkup.pk,
        start=day,
    )
    later = bookings.book(
        patient=other,
        calendar_id=world.calendar.pk,
        visit_type_id=world.checkup.pk,
        start=day + timedelta(minutes=30),
    )
    waitlist.join(patient=other, booking_id=later.pk)
    bookings.cancel_by_patient(patient=world.patient, booking_id=first.pk)

    verification.suspend(practice=world.practice, note="Prüfung")
    assert waitlist.offer_round() == 0
    verification.approve(practice=world.practice)
    assert waitlist.offer_round() == 1


def test_the_operator_cancelling_a_suspended_practices_bookings_mails_the_patients(
    world: World, smtp_settings: SmtpServer
) -> None:
    booking = bookings.book(
        patient=world.patient,
        calendar_id=world.calendar.pk,
        visit_type_id=world.checkup.pk,
        start=free_start(world),
    )
    with pytest.raises(Conflict):  # only for a suspended practice
        verification.cancel_future_bookings(practice=world.practice, reason="Praxis gesperrt")
    verification.suspend(practice=world.practice, note="Prüfung")
    worker.run_round()  # the booking confirmation, sent before
    smtp_settings.messages.clear()

    cancelled = verification.cancel_future_bookings(
        practice=world.practice, reason="Die Praxis bietet derzeit keine Online-Termine an."
    )
    assert [b.pk for b in cancelled] == [booking.pk]
    booking.refresh_from_db()
    assert (booking.status, booking.cancelled_by) == ("cancelled", "practice")
    assert ChangeEvent.objects.filter(booking=booking, kind="cancelled").exists()

    worker.run_round()
    mail = smtp_settings.wait_for(lambda m: m["To"] == world.patient.user.email, timeout=10)
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    assert "Die Praxis bietet derzeit keine Online-Termine an." in body.get_content()


def test_the_practice_dashboard_says_whether_the_practice_is_verified(
    client: Client, db: None
) -> None:
    from django.contrib.auth.models import User

    world = build_world(approved=False)
    client.force_login(User.objects.get(username=world.admin_email))
    url = reverse("portal:practice-dashboard")
    assert "Ihre Praxis wird geprüft" in client.get(url).content.decode()
    verification.approve(practice=world.practice)
    page = client.get(url).content.decode()
    assert "Ihre Praxis wird geprüft" not in page and "gesperrt" not in page
    verification.suspend(practice=world.practice, note="Prüfung")
    assert "Ihre Praxis ist im Portal gesperrt" in client.get(url).content.decode()


@pytest.mark.parametrize("status", ["pending", "suspended"])
def test_the_sync_api_serves_a_pending_or_suspended_practice(
    client: Client, db: None, status: str
) -> None:
    world = build_world(approved=status != "pending")
    if status == "suspended":
        verification.suspend(practice=world.practice, note="Prüfung")
    _record, key = practices.issue_api_key(practice=world.practice, name="Connector")
    r = client.get("/api/v1/sync/calendars", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert r.status_code == 200, r.content
    assert [c["id"] for c in r.json()["calendars"]] == [world.calendar.pk]
