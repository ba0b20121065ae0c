"""The practice's pages (P1) through Django's test client: sign-up, setting up a
calendar until it is published and found, API keys (shown once, stored hashed),
cancelling a booking with a reason, and who may see what."""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.portal.conftest import ADMIN_PASSWORD, World, build_world, make_patient

BERLIN = ZoneInfo("Europe/Berlin")
KEY = re.compile(r"t360k_[A-Za-z0-9_-]{20,}")


def _text(response: Any) -> str:
    return str(response.content.decode())


def _admin_login(client: Any, world: World) -> None:
    from django.contrib.auth.models import User

    client.force_login(User.objects.get(username=world.admin_email))


def _hours_post(rows: list[tuple[str, str, str]], extra_empty: int = 1) -> dict[str, str]:
    """The weekly-hours formset as the browser sends it."""
    rows = rows + [("", "", "")] * extra_empty
    data = {
        "hours-TOTAL_FORMS": str(len(rows)),
        "hours-INITIAL_FORMS": "0",
        "hours-MIN_NUM_FORMS": "0",
        "hours-MAX_NUM_FORMS": "1000",
    }
    for i, (weekday, start, end) in enumerate(rows):
        data.update(
            {f"hours-{i}-weekday": weekday, f"hours-{i}-start": start, f"hours-{i}-end": end}
        )
    return data


def _later_slot(world: World) -> datetime:
    from termin360.portal.services import availability

    first = timezone.now().astimezone(BERLIN).date() + timedelta(days=3)
    by_day = availability.slots_by_day(world.calendar, first, first + timedelta(days=7), 15)
    return min(s.start for slots in by_day.values() for s in slots)


def _book(world: World) -> Any:
    from termin360.portal.services import bookings

    return bookings.book(
        patient=world.patient,
        calendar_id=world.calendar.pk,
        visit_type_id=world.checkup.pk,
        start=_later_slot(world),
        reason="Rücken",
    )


# --- sign-up to a published calendar -----------------------------------------------------


@pytest.mark.django_db
def test_signup_setup_and_publish_makes_the_calendar_searchable(client: Any) -> None:
    from termin360.portal.models import OnlineCalendar, PracticeAdmin
    from termin360.portal.selectors import search_doctors
    from termin360.portal.services import verification

    response = client.post(
        reverse("portal:practice-signup"),
        {
            "name": "Praxis am Schloss",
            "email": "info@praxis-schloss.de",
            "admin_email": "Chefin@Praxis-Schloss.de",
            "password": ADMIN_PASSWORD,
            "password_again": ADMIN_PASSWORD,
        },
    )
    assert response.status_code == 302
    admin = PracticeAdmin.objects.select_related("practice", "user").get()
    assert admin.user.username == "chefin@praxis-schloss.de"
    # logged in: the dashboard opens without another login
    dashboard = client.get(reverse("portal:practice-dashboard"))
    assert dashboard.status_code == 200
    assert "Praxis am Schloss" in _text(dashboard)

    response = client.post(
        reverse("portal:practice-locations"),
        {
            "name": "Karlsruhe Mitte",
            "street": "Schlossplatz 2",
            "postcode": "76131",
            "city": "Karlsruhe",
        },
    )
    assert response.status_code == 302
    location = admin.practice.locations.get()

    response = client.post(
        reverse("portal:practice-doctor-add"),
        {
            "title": "Dr. med.",
            "first_name": "Lena",
            "last_name": "Schloss",
            "specialty": "Dermatologie",
            "languages": "de, EN",
            "location": str(location.pk),
        },
    )
    calendar = OnlineCalendar.objects.get(doctor__practice=admin.practice)
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:practice-calendar", args=[calendar.pk])
    assert calendar.doctor.languages == "de,en"
    assert not calendar.published

    publish_url = reverse("portal:practice-calendar-publish", args=[calendar.pk])
    refused = client.post(publish_url, {"published": "1"})
    assert refused.status_code == 200
    assert "legen Sie vor dem Veröffentlichen die buchbaren Zeiten fest" in _text(refused)
    calendar.refresh_from_db()
    assert not calendar.published

    response = client.post(
        reverse("portal:practice-calendar-hours", args=[calendar.pk]),
        _hours_post([("0", "08:00", "12:00"), ("0", "14:00", "18:00"), ("3", "09:00", "13:00")]),
    )
    assert response.status_code == 302
    assert [(h.weekday, h.start.hour, h.end.hour) for h in calendar.hours.all()] == [
        (0, 8, 12),
        (0, 14, 18),
        (3, 9, 13),
    ]

    refused = client.post(publish_url, {"published": "1"})
    assert "legen Sie vor dem Veröffentlichen eine Terminart an" in _text(refused)
    calendar.refresh_from_db()
    assert not calendar.published

    response = client.post(
        reverse("portal:practice-calendar-rules", args=[calendar.pk]),
        {
            "slot_minutes": "20",
            "horizon_days": "60",
            "lead_minutes": "120",
            "cancel_deadline_hours": "12",
        },
    )
    assert response.status_code == 302
    response = client.post(
        reverse("portal:practice-visit-type-add", args=[calendar.pk]),
        {
            "name": "Hautcheck",
            "duration_minutes": "20",
            "new_patients": "on",
            "existing_patients": "on",
            "insurances": ["gkv", "pkv"],
        },
    )
    assert response.status_code == 302
    vt = calendar.visit_types.get()
    assert (vt.duration_minutes, vt.insurances) == (20, "gkv,pkv")

    response = client.post(publish_url, {"published": "1"})
    assert response.status_code == 302
    calendar.refresh_from_db()
    assert calendar.published
    # P10: published, but a new practice is pending: not found until the operator approves.
    assert search_doctors(specialty="Dermatologie", place="Karlsruhe")[0] == 0
    verification.approve(practice=admin.practice)
    assert (calendar.slot_minutes, calendar.horizon_days, calendar.cancel_deadline_hours) == (
        20,
        60,
        12,
    )

    total, results = search_doctors(specialty="Dermatologie", place="Karlsruhe")
    assert total == 1
    assert results[0].calendar.pk == calendar.pk
    assert results[0].next_free is not None
    assert search_doctors(specialty="Dermatologie", insurance="self")[0] == 0

    page = _text(client.get(reverse("portal:practice-dashboard")))
    assert "Dr. med. Lena Schloss" in page


@pytest.mark.django_db
def test_publish_refused_without_hours_names_the_reason_in_english_too(
    client: Any, world: World
) -> None:
    from django.conf import settings

    _admin_login(client, world)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # what the language switch stores
    client.post(
        reverse("portal:practice-calendar-publish", args=[world.calendar.pk]), {"published": "0"}
    )
    world.calendar.hours.all().delete()
    response = client.post(
        reverse("portal:practice-calendar-publish", args=[world.calendar.pk]),
        {"published": "1"},
    )
    assert response.status_code == 200
    assert "Set the bookable hours before publishing." in _text(response)
    world.calendar.refresh_from_db()
    assert not world.calendar.published


@pytest.mark.django_db
def test_signup_errors_keep_the_input(client: Any, world: World) -> None:
    response = client.post(
        reverse("portal:practice-signup"),
        {
            "name": "Praxis Neu",
            "email": "info@neu.de",
            "admin_email": world.admin_email,
            "password": ADMIN_PASSWORD,
            "password_again": ADMIN_PASSWORD,
        },
    )
    assert response.status_code == 200
    page = _text(response)
    assert 'class="errorlist' in page
    assert 'value="Praxis Neu"' in page
    mismatch = client.post(
        reverse("portal:practice-signup"),
        {
            "name": "Praxis Neu",
            "email": "info@neu.de",
            "admin_email": "neu@neu.de",
            "password": ADMIN_PASSWORD,
            "password_again": ADMIN_PASSWORD + "x",
        },
    )
    assert mismatch.status_code == 200
    assert 'class="errorlist' in _text(mismatch)
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_overlapping_hours_are_refused_and_the_old_hours_kept(client: Any, world: World) -> None:
    _admin_login(client, world)
    response = client.post(
        reverse("portal:practice-calendar-hours", args=[world.calendar.pk]),
        _hours_post([("1", "08:00", "12:00"), ("1", "11:00", "13:00"), ("2", "10:00", "09:00")]),
    )
    assert response.status_code == 200
    page = _text(response)
    assert 'class="errorlist' in page
    assert 'value="11:00"' in page  # the input is still there
    assert world.calendar.hours.count() == 5
    overlap = client.post(
        reverse("portal:practice-calendar-hours", args=[world.calendar.pk]),
        _hours_post([("1", "08:00", "12:00"), ("1", "11:00", "13:00")]),
    )
    assert overlap.status_code == 200
    assert 'class="errorlist nonform"' in _text(overlap)
    assert world.calendar.hours.count() == 5


@pytest.mark.django_db
def test_absences_visit_types_and_settings(client: Any, world: World) -> None:
    _admin_login(client, world)
    cal = world.calendar
    response = client.post(
        reverse("portal:practice-absence-add", args=[cal.pk]),
        {"first_day": "2030-08-01", "last_day": "2030-07-20", "reason": "Urlaub"},
    )
    assert response.status_code == 200 and 'class="errorlist' in _text(response)
    response = client.post(
        reverse("portal:practice-absence-add", args=[cal.pk]),
        {"first_day": "2030-08-01", "last_day": "2030-08-14", "reason": "Urlaub"},
    )
    assert response.status_code == 302
    absence = cal.absences.get()
    assert (absence.first_day, absence.last_day) == (date(2030, 8, 1), date(2030, 8, 14))
    client.post(reverse("portal:practice-absence-remove", args=[cal.pk, absence.pk]))
    assert not cal.absences.exists()

    client.post(
        reverse("portal:practice-visit-type-active", args=[cal.pk, world.first_visit.pk]),
        {"active": "0"},
    )
    world.first_visit.refresh_from_db()
    assert not world.first_visit.active

    response = client.post(
        reverse("portal:practice-settings"),
        {"name": world.practice.name, "email": "praxis@example.org", "reminder_hours": "0"},
    )
    assert response.status_code == 200 and 'class="errorlist' in _text(response)
    response = client.post(
        reverse("portal:practice-settings"),
        {"name": world.practice.name, "email": "praxis@example.org", "reminder_hours": "48"},
    )
    assert response.status_code == 302
    world.practice.refresh_from_db()
    assert (world.practice.reminder_hours, world.practice.email) == (48, "praxis@example.org")


# --- API keys ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_api_key_is_shown_once_and_only_its_hash_is_stored(client: Any, world: World) -> None:
    from termin360.portal.models import ApiKey
    from termin360.portal.services.practices import practice_for_key

    _admin_login(client, world)
    response = client.post(reverse("portal:practice-api-key-issue"), {"name": "Empfang-PC"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    keys = set(KEY.findall(_text(response)))
    assert len(keys) == 1
    key = keys.pop()
    stored = ApiKey.objects.get(practice=world.practice)
    assert stored.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key not in {getattr(stored, f.name) for f in ApiKey._meta.fields}
    assert practice_for_key(key) == world.practice

    listing = _text(client.get(reverse("portal:practice-api-keys")))
    assert key not in listing
    assert stored.prefix in listing and "Empfang-PC" in listing

    response = client.post(reverse("portal:practice-api-key-revoke", args=[stored.pk]))
    assert response.status_code == 302
    stored.refresh_from_db()
    assert stored.revoked_at is not None
    assert practice_for_key(key) is None


@pytest.mark.django_db
def test_api_key_needs_a_name(client: Any, world: World) -> None:
    from termin360.portal.models import ApiKey

    _admin_login(client, world)
    response = client.post(reverse("portal:practice-api-key-issue"), {"name": " "})
    assert response.status_code == 200
    assert 'class="errorlist' in _text(response)
    assert not ApiKey.objects.exists()


# --- bookings ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_practice_cancels_a_booking_with_a_reason(client: Any, world: World) -> None:
    from termin360.portal.models import Booking, ChangeEvent, OutgoingEmail

    booking = _book(world)
    _admin_login(client, world)
    listing = _text(client.get(reverse("portal:practice-bookings")))
    assert "Müller, Hans" in listing and "Kontrolle" in listing

    url = reverse("portal:practice-booking-cancel", args=[booking.pk])
    assert client.get(url).status_code == 200
    no_reason = client.post(url, {"reason": "  "})
    assert no_reason.status_code == 200 and 'class="errorlist' in _text(no_reason)
    booking.refresh_from_db()
    assert booking.status == Booking.Status.ACTIVE

    response = client.post(url, {"reason": "Ärztin erkrankt"})
    assert response.status_code == 302
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED
    assert booking.cancelled_by == Booking.CancelledBy.PRACTICE
    assert booking.cancel_reason == "Ärztin erkrankt"
    events = list(ChangeEvent.objects.filter(practice=world.practice).order_by("seq"))
    assert [e.kind for e in events] == ["booked", "cancelled"]
    assert events[-1].payload["cancelled_by"] == "practice"
    assert OutgoingEmail.objects.filter(to=world.patient.user.email).count() >= 2

    again = client.post(url, {"reason": "nochmal"})
    assert again.status_code == 200
    assert ChangeEvent.objects.filter(practice=world.practice).count() == 2


# --- who may see what --------------------------------------------------------------------


def _urls_of_practice(world: World, booking: Any, key: Any, absence: Any) -> list[tuple[str, str]]:
    cal, vt = world.calendar.pk, world.checkup.pk
    return [
        ("get", reverse("portal:practice-doctor", args=[world.doctor.pk])),
        ("post", reverse("portal:practice-doctor", args=[world.doctor.pk])),
        ("get", reverse("portal:practice-calendar", args=[cal])),
        ("post", reverse("portal:practice-calendar-rules", args=[cal])),
        ("post", reverse("portal:practice-calendar-hours", args=[cal])),
        ("post", reverse("portal:practice-visit-type-add", args=[cal])),
        ("post", reverse("portal:practice-visit-type-active", args=[cal, vt])),
        ("post", reverse("portal:practice-absence-add", args=[cal])),
        ("post", reverse("portal:practice-absence-remove", args=[cal, absence.pk])),
        ("post", reverse("portal:practice-calendar-publish", args=[cal])),
        ("get", reverse("portal:practice-booking-cancel", args=[booking.pk])),
        ("post", reverse("portal:practice-booking-cancel", args=[booking.pk])),
        ("post", reverse("portal:practice-api-key-revoke", args=[key.pk])),
    ]


PAGES = [
    "portal:practice-dashboard",
    "portal:practice-locations",
    "portal:practice-doctor-add",
    "portal:practice-bookings",
    "portal:practice-api-keys",
    "portal:practice-settings",
]


@pytest.mark.django_db
def test_admin_of_another_practice_gets_404_for_every_object(client: Any, world: World) -> None:
    from termin360.portal.models import Booking
    from termin360.portal.services import practices

    other = build_world("Praxis Fremd", "admin@fremd.de")
    booking = _book(other)
    key, _ = practices.issue_api_key(practice=other.practice, name="Fremd")
    absence = practices.add_absence(
        calendar=other.calendar, first_day=date(2030, 1, 2), last_day=date(2030, 1, 3), reason="x"
    )
    _admin_login(client, world)
    for method, url in _urls_of_practice(other, booking, key, absence):
        data = {"reason": "weg", "published": "0", "active": "0"} if method == "post" else None
        response = getattr(client, method)(url, data)
        assert response.status_code == 404, (method, url, response.status_code)
    booking.refresh_from_db()
    key.refresh_from_db()
    other.calendar.refresh_from_db()
    other.checkup.refresh_from_db()
    assert booking.status == Booking.Status.ACTIVE
    assert key.revoked_at is None
    assert other.calendar.published and other.checkup.active
    assert other.calendar.absences.exists()
    # and the admin's own lists never show the other practice
    for name in (
        "portal:practice-bookings",
        "portal:practice-api-keys",
        "portal:practice-dashboard",
    ):
        page = _text(client.get(reverse(name)))
        assert "Praxis Fremd" not in page and key.prefix not in page


@pytest.mark.django_db
def test_anonymous_users_are_sent_to_the_login_page(client: Any, world: World) -> None:
    from termin360.portal.services import practices

    booking = _book(world)
    key, _ = practices.issue_api_key(practice=world.practice, name="K")
    absence = practices.add_absence(
        calendar=world.calendar, first_day=date(2030, 1, 2), last_day=date(2030, 1, 3), reason=""
    )
    login = reverse("portal:login")
    urls = [("get", reverse(n)) for n in PAGES] + _urls_of_practice(world, booking, key, absence)
    for method, url in urls:
        response = getattr(client, method)(url)
        assert response.status_code == 302, (method, url)
        assert response["Location"].startswith(login + "?next="), (url, response["Location"])
    assert client.get(reverse("portal:practice-signup")).status_code == 200


@pytest.mark.django_db
def test_a_patient_is_refused_on_practice_pages(client: Any, world: World) -> None:
    from termin360.portal.services import practices

    booking = _book(world)
    key, _ = practices.issue_api_key(practice=world.practice, name="K")
    absence = practices.add_absence(
        calendar=world.calendar, first_day=date(2030, 1, 2), last_day=date(2030, 1, 3), reason=""
    )
    client.force_login(make_patient("neugier@example.org").user)
    urls = [("get", reverse(n)) for n in PAGES] + _urls_of_practice(world, booking, key, absence)
    for method, url in urls:
        response = getattr(client, method)(url)
        assert response.status_code in (403, 404), (method, url, response.status_code)
    key.refresh_from_db()
    assert key.revoked_at is None


@pytest.mark.django_db
def test_pages_render_in_german_by_default(client: Any, world: World) -> None:
    _admin_login(client, world)
    _book(world)
    for name in PAGES:
        assert client.get(reverse(name)).status_code == 200
    page = _text(client.get(reverse("portal:practice-calendar", args=[world.calendar.pk])))
    assert "veröffentlicht" in page
    assert 'name="csrfmiddlewaretoken"' in page
