"""The patient's journey through Django's test client (issue 10): the right visit type for
a returning patient, honest deadlines, the practice's phone, cancel with confirmation."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.portal.conftest import World, build_world, make_patient, rendered

BERLIN = ZoneInfo("Europe/Berlin")


def _text(response: Any) -> str:
    return response.content.decode()


def _slot_links(page: str) -> list[dict[str, list[str]]]:
    hrefs = re.findall(r'<a class="slot[^"]*" href="([^"]+)"', page)
    return [parse_qs(urlsplit(html.unescape(h)).query) for h in hrefs]


def _book(world: World, patient: Any, visit_type: Any, start: Any) -> Any:
    from termin360.portal.services import bookings

    return bookings.book(
        patient=patient, calendar_id=world.calendar.pk, visit_type_id=visit_type.pk, start=start
    )


@pytest.fixture
def vaccination_first(db: None) -> World:
    """A practice whose first visit type (the shortest) is for existing patients only, as
    in the demo ("Impfung (nur Bestandspatienten)")."""
    from termin360.portal.services import practices

    world = build_world()
    vaccination = practices.add_visit_type(
        calendar=world.calendar,
        name="Impfung",
        duration_minutes=5,
        new_patients=False,
        existing_patients=True,
    )
    assert world.calendar.visit_types.first() == vaccination
    world.vaccination = vaccination  # type: ignore[attr-defined]
    return world


def test_a_returning_patient_gets_the_calendars_default_type_not_the_restricted_first(
    client: Any, vaccination_first: World
) -> None:
    """Regression: once a patient had booked, every slot link carried the first type open
    to her — a vaccination — and bookings became vaccinations unasked."""
    from termin360.portal.services import availability
    from termin360.portal.services import practice_setup_extra as extra

    world = vaccination_first
    extra.set_calendar_options(
        calendar=world.calendar, default_visit_type_id=world.first_visit.pk, waitlist_enabled=True
    )
    start = availability.upcoming_free(
        world.calendar, 15, after=timezone.now() + timedelta(days=3)
    )[0].start
    _book(world, world.patient, world.checkup, start)  # now an existing patient
    client.force_login(world.patient.user)
    page = _text(client.get(reverse("portal:doctor", args=[world.calendar.pk])))
    links = _slot_links(page)
    assert links, "no slots shown"
    assert {q["visit_type"][0] for q in links} == {str(world.first_visit.pk)}
    assert f'<option value="{world.first_visit.pk}" selected>' in page

    # Without a default: the first type open to everyone, never the restricted one.
    extra.set_calendar_options(
        calendar=world.calendar, default_visit_type_id=None, waitlist_enabled=True
    )
    links = _slot_links(_text(client.get(reverse("portal:doctor", args=[world.calendar.pk]))))
    assert {q["visit_type"][0] for q in links} == {str(world.checkup.pk)}
    # The search's next free time books that same type.
    search = _text(client.get("/"))
    link = re.search(r'class="result__next-link" href="([^"]+)"', search)
    assert link is not None
    assert parse_qs(urlsplit(html.unescape(link.group(1))).query)["visit_type"] == [
        str(world.checkup.pk)
    ]


def test_a_restricted_type_is_shown_first_only_when_it_is_the_only_one(
    client: Any, db: None
) -> None:
    from termin360.portal.services import practice_setup_extra as extra

    world = build_world()
    for vt in (world.checkup, world.first_visit):
        vt.existing_patients = False
        vt.save()
    client.force_login(world.patient.user)
    # Two types, each for new patients only: she must choose; no slot links yet.
    page = _text(client.get(reverse("portal:doctor", args=[world.calendar.pk])))
    assert _slot_links(page) == []
    assert 'name="visit_type" required' in page
    # One type left: it is shown.
    extra.set_visit_type_active(
        practice=world.practice, visit_type_id=world.first_visit.pk, active=False
    )
    links = _slot_links(_text(client.get(reverse("portal:doctor", args=[world.calendar.pk]))))
    assert links and {q["visit_type"][0] for q in links} == {str(world.checkup.pk)}


def test_the_default_type_must_be_open_to_everyone(vaccination_first: World) -> None:
    from termin360.core.errors import InvalidInput
    from termin360.portal.services import practice_setup_extra as extra

    with pytest.raises(InvalidInput) as exc:
        extra.set_calendar_options(
            calendar=vaccination_first.calendar,
            default_visit_type_id=vaccination_first.vaccination.pk,  # type: ignore[attr-defined]
            waitlist_enabled=True,
        )
    assert exc.value.code == "default_restricted"


def test_the_practice_sets_default_type_waitlist_and_phone_on_its_pages(
    client: Any, world: World
) -> None:
    from tests.portal.conftest import ADMIN_PASSWORD

    assert client.login(username=world.admin_email, password=ADMIN_PASSWORD)
    r = client.post(
        reverse("portal:practice-calendar-rules", args=[world.calendar.pk]),
        {
            "slot_minutes": 15,
            "horizon_days": 28,
            "lead_minutes": 60,
            "cancel_deadline_hours": 24,
            "default_visit_type": world.first_visit.pk,
        },
    )
    assert r.status_code == 302, _text(r)
    world.calendar.refresh_from_db()
    assert world.calendar.default_visit_type_id == world.first_visit.pk
    assert world.calendar.waitlist_enabled is False  # unticked
    r = client.post(
        reverse("portal:practice-settings"),
        {
            "name": "Praxis Berger",
            "email": world.admin_email,
            "phone": "07251 12345",
            "reminder_hours": 24,
        },
    )
    assert r.status_code == 302, _text(r)
    world.practice.refresh_from_db()
    assert world.practice.phone == "07251 12345"
    r = client.post(
        reverse("portal:practice-settings"),
        {
            "name": "Praxis Berger",
            "email": world.admin_email,
            "phone": "ruf an",
            "reminder_hours": 24,
        },
    )
    assert r.status_code == 200 and "errorlist" in _text(r)


def _first_slot_from(world: World, hours: float, duration: int = 15) -> Any:
    from termin360.portal.services import availability

    return availability.upcoming_free(
        world.calendar, duration, after=timezone.now() + timedelta(hours=hours)
    )[0].start


def test_booking_page_says_until_when_and_warns_inside_the_deadline(
    client: Any, world: World
) -> None:
    world.practice.phone = "07251 12345"
    world.practice.save()
    client.force_login(world.patient.user)
    later = _first_slot_from(world, 72)
    url = reverse("portal:book", args=[world.calendar.pk])
    page = _text(client.get(url, {"start": later.isoformat(), "visit_type": world.checkup.pk}))
    deadline = (later - timedelta(hours=24)).astimezone(BERLIN)
    assert 'id="deadline"' in page
    assert f"{deadline:%d.%m.}, {deadline:%H:%M}" in page
    assert "07251 12345" in page
    assert "notice--warning deadline" not in page

    soon = _first_slot_from(world, 1.5)
    if soon - timezone.now() < timedelta(hours=24):
        page = _text(client.get(url, {"start": soon.isoformat(), "visit_type": world.checkup.pk}))
        assert "notice--warning deadline" in page


def test_doctor_page_marks_slots_inside_the_deadline(client: Any, world: World) -> None:
    from termin360.portal.services import availability

    world.calendar.cancel_deadline_hours = 24 * 3
    world.calendar.save()
    page = _text(client.get(reverse("portal:doctor", args=[world.calendar.pk])))
    today = timezone.now().astimezone(BERLIN).date()
    by_day = availability.slots_by_day(world.calendar, today, today + timedelta(days=6), 15)
    starts = [s.start for slots in by_day.values() for s in slots]
    late = [s for s in starts if s - timedelta(hours=72) < timezone.now()]
    marked = re.findall(r'class="slot slot--late"', page)
    assert len(marked) == len(late)
    assert len(re.findall(r'class="slot"', page)) == len(starts) - len(late)


def test_cancel_asks_first_and_shows_the_phone(client: Any, world: World) -> None:
    from termin360.portal.models import Booking

    world.practice.phone = "07251 12345"
    world.practice.save()
    booking = _book(world, world.patient, world.checkup, _first_slot_from(world, 72))
    client.force_login(world.patient.user)
    mine = _text(client.get(reverse("portal:my-bookings")))
    assert "07251 12345" in mine
    cancel_url = reverse("portal:cancel-booking", args=[booking.pk])
    assert f'href="{cancel_url}"' in mine  # a link to the question, not a form that cancels
    question = client.get(cancel_url)
    assert question.status_code == 200
    assert f'action="{cancel_url}"' in _text(question)
    booking.refresh_from_db()
    assert booking.status == Booking.Status.ACTIVE  # looking changes nothing
    assert client.post(cancel_url).status_code == 302
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED
    # Cancelled: no question any more.
    assert client.get(cancel_url).status_code == 404


def test_every_booking_mail_names_the_practice_phone(world: World) -> None:

    world.practice.phone = "07251 12345"
    world.practice.save()
    other = make_patient("zweite@example.org", last="Schmidt")
    _book(world, other, world.checkup, _first_slot_from(world, 72))
    (mail,) = rendered("booking_confirmed", to="zweite@example.org")
    assert "07251 12345" in mail.body
