"""P7: a patient downloads their data as JSON and deletes their account; future bookings
are cancelled first (feed event, practice told), past ones keep an anonymised snapshot."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.portal.conftest import PATIENT_PASSWORD, World, make_patient

BERLIN = ZoneInfo("Europe/Berlin")


def german(msgid: str) -> str:
    from django.utils import translation

    with translation.override("de"):
        text = translation.gettext(msgid)
    assert text != msgid, f"no German translation of {msgid!r}"
    return text


def free_slot(world: World, days_ahead: int) -> datetime:
    from termin360.portal.services import availability

    after = timezone.now() + timedelta(days=days_ahead)
    return availability.upcoming_free(world.calendar, 15, after=after)[0].start


def book(world: World, start: datetime, reason: str = "") -> Any:
    from termin360.portal.services import bookings

    return bookings.book(
        patient=world.patient,
        calendar_id=world.calendar.pk,
        visit_type_id=world.checkup.pk,
        start=start,
        reason=reason,
    )


def past_booking(world: World) -> Any:
    """A booking last month (bookings cannot be made in the past, so written directly)."""
    from termin360.portal.models import Booking

    start = datetime.combine(timezone.localdate() - timedelta(days=30), time(9, 30), tzinfo=BERLIN)
    p = world.patient
    return Booking.objects.create(
        calendar=world.calendar,
        patient=p,
        visit_type=world.checkup,
        start=start,
        end=start + timedelta(minutes=15),
        patient_last_name=p.last_name,
        patient_first_name=p.first_name,
        patient_date_of_birth=p.date_of_birth,
        patient_email=p.user.email,
        patient_phone=p.phone,
        patient_insurance=p.insurance,
    )


@pytest.fixture
def me(client: Client, world: World) -> Client:
    client.force_login(world.patient.user)
    return client


# --------------------------------------------------------------------------- pages


def test_my_data_needs_a_patient_login(client: Client, world: World) -> None:
    for name in ("portal:my-data", "portal:export", "portal:delete-account"):
        r = client.get(reverse(name))
        assert r.status_code == 302 and reverse("portal:login") in r["Location"]
    from django.contrib.auth.models import User

    client.force_login(User.objects.get(username=world.admin_email))
    assert client.get(reverse("portal:my-data")).status_code == 404


def test_my_data_page_shows_the_profile_and_both_actions(me: Client, world: World) -> None:
    r = me.get(reverse("portal:my-data"))
    assert r.status_code == 200
    page = r.content.decode()
    assert world.patient.user.email in page
    assert reverse("portal:export") in page
    assert reverse("portal:delete-account") in page
    assert german("Delete my account") in page


# --------------------------------------------------------------------------- export


def test_export_holds_profile_and_all_bookings_in_berlin_time(me: Client, world: World) -> None:
    ahead = book(world, free_slot(world, 3), reason="Rückenschmerzen")
    gone = book(world, free_slot(world, 5))
    from termin360.portal.services import bookings

    bookings.cancel_by_patient(patient=world.patient, booking_id=gone.pk)
    old = past_booking(world)

    r = me.get(reverse("portal:export"))
    assert r.status_code == 200
    assert r["Content-Type"].startswith("application/json")
    assert "attachment" in r["Content-Disposition"]
    data = json.loads(r.content)

    assert data["account"]["email"] == world.patient.user.email
    assert data["profile"] == {
        "last_name": "Müller",
        "first_name": "Hans",
        "date_of_birth": "1980-05-17",
        "phone": "0721 123456",
        "insurance": "gkv",
    }
    by_id = {b["id"]: b for b in data["bookings"]}
    assert set(by_id) == {ahead.pk, gone.pk, old.pk}
    assert [b["id"] for b in data["bookings"]] == [old.pk, ahead.pk, gone.pk] or [
        b["id"] for b in data["bookings"]
    ] == sorted(by_id, key=lambda i: by_id[i]["start"])
    b = by_id[ahead.pk]
    start = datetime.fromisoformat(b["start"])
    assert start == ahead.start
    assert start.utcoffset() == ahead.start.astimezone(BERLIN).utcoffset()
    assert b["time_zone"] == "Europe/Berlin"
    assert (b["status"], b["reason"], b["visit_type"]) == ("active", "Rückenschmerzen", "Kontrolle")
    assert b["doctor"] == "Dr. Anna Berger" and b["practice"] == "Praxis Berger"
    assert by_id[gone.pk]["status"] == "cancelled"
    assert by_id[gone.pk]["cancelled_by"] == "patient"
    assert by_id[old.pk]["start"].startswith(old.start.astimezone(BERLIN).date().isoformat())
    assert by_id[old.pk]["start"][11:16] == "09:30"


def test_export_shows_only_my_bookings(me: Client, world: World) -> None:
    from termin360.portal.services import bookings

    other = make_patient("nachbar@example.org")
    bookings.book(
        patient=other,
        calendar_id=world.calendar.pk,
        visit_type_id=world.checkup.pk,
        start=free_slot(world, 3),
    )
    assert json.loads(me.get(reverse("portal:export")).content)["bookings"] == []


# --------------------------------------------------------------------------- delete


def test_a_wrong_password_deletes_nothing(me: Client, world: World) -> None:
    from termin360.portal.models import PatientProfile

    r = me.post(reverse("portal:delete-account"), {"password": "falsch"})
    assert r.status_code == 400
    assert german("The password is not correct.") in r.content.decode()
    assert PatientProfile.objects.filter(pk=world.patient.pk).exists()


def test_deleting_cancels_future_bookings_even_past_the_deadline_and_removes_the_user(
    me: Client, world: World
) -> None:
    from django.contrib.auth.models import User

    from termin360.portal.models import Booking, ChangeEvent, OutgoingEmail, PatientProfile

    soon = book(world, free_slot(world, 0))  # inside the 24-hour cancellation deadline?
    later = book(world, free_slot(world, 7))
    old = past_booking(world)
    soon.refresh_from_db()
    user_pk = world.patient.user.pk
    mails_before = OutgoingEmail.objects.count()

    r = me.post(reverse("portal:delete-account"), {"password": PATIENT_PASSWORD})
    assert r.status_code == 200
    assert german("Your account is deleted") in r.content.decode()

    assert not User.objects.filter(pk=user_pk).exists()
    assert not PatientProfile.objects.filter(pk=world.patient.pk).exists()
    assert "_auth_user_id" not in me.session

    for b in (soon, later):
        b.refresh_from_db()
        assert b.status == Booking.Status.CANCELLED
        assert b.cancelled_by == "patient" and b.cancel_reason == "Konto gelöscht"
        assert b.patient_id is None
        # The practice can still find the appointment; nobody can contact the patient.
        assert (b.patient_last_name, b.patient_first_name) == ("Müller", "Hans")
        assert b.patient_date_of_birth is not None
        assert (b.patient_email, b.patient_phone) == ("", "")
        events = list(ChangeEvent.objects.filter(booking=b).order_by("seq"))
        assert [e.kind for e in events] == ["booked", "cancelled"]
        for e in events:
            assert e.payload["patient"]["email"] == "" and e.payload["patient"]["phone"] == ""
            assert e.payload["patient"]["last_name"] == "Müller"
        assert events[-1].payload["status"] == "cancelled"

    old.refresh_from_db()
    assert old.status == Booking.Status.ACTIVE  # the past stays as it was ...
    assert (old.patient_last_name, old.patient_first_name, old.patient_email) == ("", "", "")
    assert old.patient_date_of_birth is None and old.patient_phone == ""  # ... anonymised

    # The practice is told (queued with the cancellation), once per booking.
    assert OutgoingEmail.objects.count() > mails_before
    assert world.practice.events.filter(kind="cancelled").count() == 2
    notices = OutgoingEmail.objects.filter(kind="practice_notice_cancelled")
    assert [m.to for m in notices] == [world.practice.email] * 2


def test_a_booking_already_cancelled_by_the_practice_is_left_alone(
    me: Client, world: World
) -> None:
    from termin360.portal.services import bookings

    b = book(world, free_slot(world, 3))
    bookings.cancel_by_practice(practice_id=world.practice.pk, booking_id=b.pk, reason="Urlaub")
    r = me.post(reverse("portal:delete-account"), {"password": PATIENT_PASSWORD})
    assert r.status_code == 200
    b.refresh_from_db()
    assert b.cancelled_by == "practice" and b.cancel_reason == "Urlaub"
    assert world.practice.events.filter(kind="cancelled").count() == 1


def test_names_of_deleted_accounts_are_forgotten_once_the_time_has_passed(
    me: Client, world: World
) -> None:
    from termin360.portal.models import Booking
    from termin360.portal.services import patients

    b = book(world, free_slot(world, 3))
    me.post(reverse("portal:delete-account"), {"password": PATIENT_PASSWORD})
    assert patients.forget_past_snapshots() == 0
    Booking.objects.filter(pk=b.pk).update(
        start=timezone.now() - timedelta(hours=1), end=timezone.now() - timedelta(minutes=45)
    )
    assert patients.forget_past_snapshots() == 1
    b.refresh_from_db()
    assert (b.patient_last_name, b.patient_first_name, b.patient_date_of_birth) == ("", "", None)
    assert patients.forget_past_snapshots() == 0
