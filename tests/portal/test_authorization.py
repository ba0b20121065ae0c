"""Who may see and change what (issue point 5).

- A patient sees and cancels only their own bookings: another patient's booking id
  answers 404 like an id that does not exist (no hint that it exists).
- A practice admin sees and cancels only the bookings of their own calendars and
  only their own API keys — in the services and on the practice pages.
- Anonymous users get public data only: search, calendars, slots; nothing personal;
  unpublished calendars do not exist for them.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from termin360.core.errors import NotFound
from termin360.portal.models import ApiKey, Booking
from termin360.portal.services import bookings, practices
from tests.portal.conftest import ADMIN_PASSWORD, PATIENT_PASSWORD, World, build_world
from tests.portal.test_api_bookings import (
    PatientApi,
    assert_error,
    bookable,
    patient_api,
)


@pytest.fixture
def two(db: None) -> tuple[World, World]:
    """Two practices, each with a published calendar and its own patient."""
    return build_world("Praxis A", "admin@a.de"), build_world("Praxis B", "admin@b.de")


def _book(world: World, at: Any = None) -> Booking:
    return bookings.book(
        patient=world.patient,
        calendar_id=world.calendar.pk,
        visit_type_id=world.checkup.pk,
        start=at or bookable(),
    )


# --------------------------------------------------------------------------- patients


def test_a_patient_sees_only_their_own_bookings(two: tuple[World, World]) -> None:
    a, b = two
    mine, theirs = _book(a), _book(b)
    api = patient_api(a.patient)
    assert [x["id"] for x in api.get("/me/bookings").json()] == [mine.pk]
    assert api.get(f"/bookings/{mine.pk}").status_code == 200
    foreign = assert_error(api.get(f"/bookings/{theirs.pk}"), 404, "not_found")
    missing = assert_error(api.get("/bookings/987654321"), 404, "not_found")
    assert foreign == missing  # the same answer: nothing leaks


def test_a_patient_cancels_only_their_own_bookings(two: tuple[World, World]) -> None:
    a, b = two
    theirs = _book(b)
    api = patient_api(a.patient)
    foreign = assert_error(api.delete(f"/bookings/{theirs.pk}"), 404, "not_found")
    assert foreign == assert_error(api.delete("/bookings/987654321"), 404, "not_found")
    theirs.refresh_from_db()
    assert theirs.status == Booking.Status.ACTIVE
    with pytest.raises(NotFound):
        bookings.cancel_by_patient(patient=a.patient, booking_id=theirs.pk)


def test_a_patient_cannot_cancel_anothers_booking_on_the_page(two: tuple[World, World]) -> None:
    a, b = two
    theirs = _book(b)
    client = Client()
    assert client.login(username=a.patient.user.email, password=PATIENT_PASSWORD)
    r = client.post(f"/meine-termine/{theirs.pk}/stornieren/")
    assert r.status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == Booking.Status.ACTIVE
    page = client.get("/meine-termine/").content.decode()
    assert b.patient.user.email not in page


def test_a_practice_admin_session_has_no_patient_bookings(two: tuple[World, World]) -> None:
    a, _b = two
    _book(a)
    client = Client()
    assert client.login(username=a.admin_email, password=ADMIN_PASSWORD)
    assert_error(PatientApi(client, None).get("/me/bookings"), 403, "not_a_patient")


# --------------------------------------------------------------------------- practice admins


def test_a_practice_cancels_only_bookings_of_its_own_calendars(two: tuple[World, World]) -> None:
    a, b = two
    theirs = _book(b)
    with pytest.raises(NotFound):
        bookings.cancel_by_practice(practice_id=a.practice.pk, booking_id=theirs.pk, reason="x")
    theirs.refresh_from_db()
    assert theirs.status == Booking.Status.ACTIVE
    mine = _book(a)
    bookings.cancel_by_practice(practice_id=a.practice.pk, booking_id=mine.pk, reason="krank")


def test_a_practice_revokes_only_its_own_api_keys(two: tuple[World, World]) -> None:
    a, b = two
    key_b, secret_b = practices.issue_api_key(practice=b.practice, name="Connector B")
    with pytest.raises(NotFound):
        practices.revoke_api_key(practice=a.practice, key_id=key_b.pk)
    key_b.refresh_from_db()
    assert key_b.revoked_at is None
    assert practices.practice_for_key(secret_b) == b.practice
    key_a, secret_a = practices.issue_api_key(practice=a.practice, name="Connector A")
    assert key_a.key_hash != secret_a and secret_a not in key_a.key_hash  # stored hashed
    practices.revoke_api_key(practice=a.practice, key_id=key_a.pk)
    assert practices.practice_for_key(secret_a) is None
    assert practices.practice_for_key(secret_b) == b.practice


def _admin(world: World) -> Client:
    client = Client()
    assert client.login(username=world.admin_email, password=ADMIN_PASSWORD)
    return client


def test_practice_pages_show_only_the_own_bookings_and_keys(two: tuple[World, World]) -> None:
    a, b = two
    _book(a)
    _book(b)
    b.patient.last_name = "Geheimnisvoll"
    b.patient.save()
    bookings.book(
        patient=b.patient,
        calendar_id=b.calendar.pk,
        visit_type_id=b.checkup.pk,
        start=bookable().replace(hour=10),
    )
    practices.issue_api_key(practice=b.practice, name="Schlüssel der Praxis B")
    client = _admin(a)
    page = client.get("/praxis/termine/")
    assert page.status_code == 200
    assert "Geheimnisvoll" not in page.content.decode()
    keys = client.get("/praxis/api-schluessel/")
    assert keys.status_code == 200
    assert "Schlüssel der Praxis B" not in keys.content.decode()
    assert ApiKey.objects.get(practice=b.practice).prefix not in keys.content.decode()


def test_practice_pages_of_another_practice_are_404(two: tuple[World, World]) -> None:
    a, b = two
    theirs = _book(b)
    key_b, _secret = practices.issue_api_key(practice=b.practice, name="Connector B")
    client = _admin(a)
    for url in (
        f"/praxis/termine/{theirs.pk}/absagen/",
        f"/praxis/kalender/{b.calendar.pk}/",
        f"/praxis/aerzte/{b.doctor.pk}/",
    ):
        assert client.get(url).status_code == 404, url
    r = client.post(f"/praxis/termine/{theirs.pk}/absagen/", {"reason": "weg damit"})
    assert r.status_code == 404
    r = client.post(f"/praxis/api-schluessel/{key_b.pk}/widerrufen/")
    assert r.status_code == 404
    for url in (
        f"/praxis/kalender/{b.calendar.pk}/veroeffentlichen/",
        f"/praxis/kalender/{b.calendar.pk}/regeln/",
        f"/praxis/kalender/{b.calendar.pk}/leistungen/",
    ):
        assert client.post(url, {}).status_code == 404, url
    theirs.refresh_from_db()
    key_b.refresh_from_db()
    b.calendar.refresh_from_db()
    assert theirs.status == Booking.Status.ACTIVE
    assert key_b.revoked_at is None
    assert b.calendar.published


def test_a_patient_is_not_a_practice_admin(two: tuple[World, World]) -> None:
    a, _b = two
    client = Client()
    assert client.login(username=a.patient.user.email, password=PATIENT_PASSWORD)
    assert client.get("/praxis/termine/").status_code == 403
    assert client.get("/praxis/api-schluessel/").status_code == 403


# --------------------------------------------------------------------------- anonymous


def test_anonymous_users_get_public_data_only(two: tuple[World, World], client: Client) -> None:
    a, _b = two
    booking = _book(a)
    api = PatientApi(client, None)
    assert api.get("/search").status_code == 200
    assert api.get("/specialties").status_code == 200
    assert api.get(f"/calendars/{a.calendar.pk}").status_code == 200
    assert api.get(f"/calendars/{a.calendar.pk}/slots").status_code == 200
    assert_error(api.get("/me/bookings"), 401, "unauthenticated")
    assert_error(api.get(f"/bookings/{booking.pk}"), 401, "unauthenticated")
    assert_error(api.delete(f"/bookings/{booking.pk}"), 401, "unauthenticated")
    assert_error(api.book(a, bookable()), 401, "unauthenticated")
    text = (api.get("/search").content + api.get(f"/calendars/{a.calendar.pk}").content).decode()
    assert a.patient.last_name not in text and a.patient.user.email not in text
    # pages: the practice area and the patient's list need a login
    assert client.get("/praxis/termine/").status_code == 302
    assert client.get("/meine-termine/").status_code == 302


def test_unpublished_calendars_are_invisible_to_everyone(
    two: tuple[World, World], client: Client
) -> None:
    a, b = two
    practices.publish(calendar=b.calendar, published=False)
    api = PatientApi(client, None)
    assert [h["calendar_id"] for h in api.get("/search").json()["results"]] == [a.calendar.pk]
    assert_error(api.get(f"/calendars/{b.calendar.pk}"), 404, "not_found")
    assert_error(api.get(f"/calendars/{b.calendar.pk}/slots"), 404, "not_found")
    assert client.get(f"/arzt/{b.calendar.pk}/").status_code == 404
    patient = patient_api(a.patient)
    assert_error(patient.book(b, bookable()), 404, "not_found")
