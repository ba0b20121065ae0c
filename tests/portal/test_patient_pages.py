"""The patients' pages through Django's test client: search (P2), doctor page, booking
and "my appointments" with cancellation (P4)."""

from __future__ import annotations

import html
import re
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.portal.conftest import World, build_world, make_patient

BERLIN = ZoneInfo("Europe/Berlin")


def _later_slot(world: World, duration: int = 15, days_ahead: int = 3) -> datetime:
    """The first free slot at least ``days_ahead`` days from today (cancellable)."""
    from termin360.portal.services import availability

    first = timezone.now().astimezone(BERLIN).date() + timedelta(days=days_ahead)
    by_day = availability.slots_by_day(world.calendar, first, first + timedelta(days=7), duration)
    return min(s.start for slots in by_day.values() for s in slots)


def _book_url(world: World, start: datetime, visit_type: Any) -> str:
    return reverse("portal:book", args=[world.calendar.pk]) + (
        f"?start={start.astimezone(BERLIN).isoformat().replace('+', '%2B')}"
        f"&visit_type={visit_type.pk}"
    )


def _login(client: Any, patient: Any) -> None:
    client.force_login(patient.user)


def _text(response: Any) -> str:
    return response.content.decode()


# --------------------------------------------------------------------------- search


@pytest.fixture
def second_doctor(world: World) -> Any:
    """A cardiologist in Karlsruhe (76133), private patients and self-payers only."""
    from termin360.portal.services import practices

    loc = practices.add_location(
        practice=world.practice,
        name="Karlsruhe",
        street="Kaiserstraße 5",
        postcode="76133",
        city="Karlsruhe",
    )
    doc = practices.add_doctor(
        practice=world.practice,
        location_id=loc.pk,
        title="Dr. med.",
        first_name="Jörg",
        last_name="Zeller",
        specialty="Kardiologie",
        languages="de,en,tr",
    )
    practices.set_weekly_hours(calendar=doc.calendar, hours=[(2, time(14), time(16))])
    practices.add_visit_type(
        calendar=doc.calendar, name="EKG", duration_minutes=30, insurances=("pkv", "self")
    )
    practices.publish(calendar=doc.calendar)
    return doc


def test_search_lists_published_doctors_with_next_free_slot(client: Any, world: World) -> None:
    from termin360.portal.services import availability

    r = client.get("/")
    assert r.status_code == 200
    page = _text(r)
    assert "Dr. Anna Berger" in page and "Allgemeinmedizin" in page
    assert "Hauptstraße 1, 76646 Bruchsal" in page
    first = availability.first_free(world.calendar, 15)
    assert first is not None
    local = first.start.astimezone(BERLIN)
    weekday = ["Mo", "Di", "Mi", "Do", "Fr", "Sa", "So"][local.weekday()]
    label = f"{weekday}., {local:%d.%m.}, {local:%H:%M}"
    # The next free time is a link that books it (with the type shown first).
    assert "Nächster freier Termin:" in page
    link = re.search(r'<a class="result__next-link" href="([^"]+)">([^<]+)</a>', page)
    assert link is not None and link.group(2) == label
    query = parse_qs(urlsplit(html.unescape(link.group(1))).query)
    assert datetime.fromisoformat(query["start"][0]) == first.start
    assert query["visit_type"] == [str(world.checkup.pk)]


def test_search_filters_by_specialty_place_name_and_insurance(
    client: Any, world: World, second_doctor: Any
) -> None:
    def names(**query: str) -> set[str]:
        r = client.get("/", query)
        assert r.status_code == 200
        return {d for d in ("Anna Berger", "Jörg Zeller") if d in _text(r)}

    assert names() == {"Anna Berger", "Jörg Zeller"}
    assert names(specialty="Kardiologie") == {"Jörg Zeller"}
    assert names(place="karlsruhe") == {"Jörg Zeller"}
    assert names(place="766") == {"Anna Berger"}
    assert names(name="berger") == {"Anna Berger"}
    assert names(insurance="gkv") == {"Anna Berger"}
    assert names(insurance="pkv") == {"Anna Berger", "Jörg Zeller"}
    assert names(specialty="Kardiologie", place="Bruchsal") == set()
    r = client.get("/", {"specialty": "Kardiologie"})
    assert "Englisch" in _text(r) and "Türkisch" in _text(r)  # languages, in German
    assert '<option value="Kardiologie" selected>' in _text(r)


def test_search_shows_doctors_without_free_slots(client: Any, world: World) -> None:
    from termin360.portal.services import practices

    today = timezone.now().astimezone(BERLIN).date()
    practices.add_absence(
        calendar=world.calendar,
        first_day=today - timedelta(days=1),
        last_day=today + timedelta(days=60),
        reason="Urlaub",
    )
    r = client.get("/")
    assert "keine freien Termine" in _text(r)


def test_search_pages_by_twenty(client: Any, world: World) -> None:
    from termin360.portal.services import practices

    for i in range(21):
        doc = practices.add_doctor(
            practice=world.practice,
            location_id=world.location.pk,
            first_name="Doc",
            last_name=f"Zz{i:02d}",
            specialty="Innere Medizin",
        )
        practices.set_weekly_hours(calendar=doc.calendar, hours=[(0, time(8), time(9))])
        practices.add_visit_type(calendar=doc.calendar, name="Kontrolle", duration_minutes=15)
        practices.publish(calendar=doc.calendar)
    first = _text(client.get("/", {"specialty": "Innere Medizin"}))
    assert "21 Ärzte gefunden" in first or "21 doctors found" in first
    assert "Zz19" in first and "Zz20" not in first
    assert "page=2" in first
    second = _text(client.get("/", {"specialty": "Innere Medizin", "page": "2"}))
    assert "Zz20" in second and "Zz00" not in second


def test_unpublished_calendar_is_neither_found_nor_shown(client: Any, world: World) -> None:
    from termin360.portal.services import practices

    practices.publish(calendar=world.calendar, published=False)
    assert "Anna Berger" not in _text(client.get("/"))
    assert client.get(reverse("portal:doctor", args=[world.calendar.pk])).status_code == 404


# --------------------------------------------------------------------------- doctor page


def test_doctor_page_shows_a_week_of_free_slots_per_visit_type(client: Any, world: World) -> None:
    from termin360.portal.services import availability

    url = reverse("portal:doctor", args=[world.calendar.pk])
    today = timezone.now().astimezone(BERLIN).date()
    monday = today + timedelta(days=7 - today.weekday())
    r = client.get(url, {"from": monday.isoformat(), "visit_type": world.first_visit.pk})
    assert r.status_code == 200
    page = _text(r)
    assert "Dr. Anna Berger" in page and "Praxis Berger" in page
    # 30-minute visits on a 15-minute grid 08:00–12:00: the last one starts at 11:30.
    expected = availability.slots_by_day(world.calendar, monday, monday, 30)[monday]
    assert len(expected) == 15
    assert page.count(f"visit_type={world.first_visit.pk}") >= 5 * 15
    assert ">11:30<" in page and ">11:45<" not in page
    assert "Montag" in page and "Sonntag" in page
    assert f"from={(monday + timedelta(days=7)).isoformat()}" in page  # next week
    assert f"from={(monday - timedelta(days=7)).isoformat()}" in page or monday - today < timedelta(
        days=7
    )
    checkup = _text(client.get(url, {"from": monday.isoformat(), "visit_type": world.checkup.pk}))
    assert ">11:45<" in checkup


def test_doctor_page_leaves_out_taken_slots(client: Any, world: World) -> None:
    from termin360.portal.services import bookings

    start = _later_slot(world)
    bookings.book(
        patient=world.patient,
        calendar_id=world.calendar.pk,
        visit_type_id=world.checkup.pk,
        start=start,
    )
    day = start.astimezone(BERLIN).date()
    r = client.get(
        reverse("portal:doctor", args=[world.calendar.pk]),
        {"from": day.isoformat(), "visit_type": world.checkup.pk},
    )
    assert _book_url(world, start, world.checkup).split("?")[1].replace("%2B", "%2B") not in (
        _text(r).replace("&amp;", "&")
    )
    assert f">{start.astimezone(BERLIN):%H:%M}<" not in _text(r).split("</h3>", 2)[1]


def test_doctor_page_first_shows_times_of_a_visit_type_the_patient_may_book(
    client: Any, world: World
) -> None:
    """The shortest visit type comes first in the list; when it is for existing patients
    only, a new patient (and a visitor) starts on one open to new patients instead of
    picking a time only to be refused at the last step."""
    from termin360.portal.services import practices

    vaccination = practices.add_visit_type(
        calendar=world.calendar, name="Impfung", duration_minutes=10, new_patients=False
    )
    private = practices.add_visit_type(
        calendar=world.calendar, name="Beratung", duration_minutes=5, insurances=("pkv",)
    )
    url = reverse("portal:doctor", args=[world.calendar.pk])
    visitor = client.get(url)
    assert [vt.name for vt in visitor.context["visit_types"]][:3] == [
        "Beratung",
        "Impfung",
        "Kontrolle",
    ]
    assert visitor.context["chosen"] == private  # open to new patients; insurance unknown
    assert "Impfung (10 Min., nur Bestandspatienten)" in _text(visitor)

    _login(client, world.patient)  # statutory insurance, never booked here
    assert client.get(url).context["chosen"] == world.checkup
    # Asked for explicitly, the restricted type is still shown (the rule is on the label).
    assert client.get(url, {"visit_type": vaccination.pk}).context["chosen"] == vaccination


def test_doctor_page_never_goes_before_today(client: Any, world: World) -> None:
    today = timezone.now().astimezone(BERLIN).date()
    r = client.get(reverse("portal:doctor", args=[world.calendar.pk]), {"from": "2001-01-01"})
    assert r.status_code == 200
    assert r.context["first"] == today
    assert r.context["prev_url"] == ""


# --------------------------------------------------------------------------- booking


def test_booking_page_needs_login(client: Any, world: World) -> None:
    url = _book_url(world, _later_slot(world), world.checkup)
    r = client.get(url)
    assert r.status_code == 302
    target = urlsplit(r["Location"])
    assert target.path == reverse("portal:login")
    assert parse_qs(target.query)["next"][0].startswith(reverse("portal:book", args=[1])[:-2])


def test_booking_happy_path(client: Any, world: World) -> None:
    from termin360.portal.models import Booking

    _login(client, world.patient)
    start = _later_slot(world)
    summary = client.get(_book_url(world, start, world.first_visit))
    assert summary.status_code == 200
    local = start.astimezone(BERLIN)
    assert f"{local:%d.%m.}, {local:%H:%M}" in _text(summary)
    assert "Erstgespräch" in _text(summary) and "Verbindlich buchen" in _text(summary)
    r = client.post(
        reverse("portal:book", args=[world.calendar.pk]),
        {"start": local.isoformat(), "visit_type": world.first_visit.pk, "reason": "Rücken"},
        follow=True,
    )
    assert r.redirect_chain[-1][0] == reverse("portal:my-bookings")
    booking = Booking.objects.get()
    assert booking.start == start and booking.end == start + timedelta(minutes=30)
    assert booking.reason == "Rücken" and booking.patient == world.patient
    page = _text(r)
    assert "gebucht" in page  # success message
    assert f"{local:%H:%M}–{local + timedelta(minutes=30):%H:%M}" in page
    assert "Stornieren" in page or "Termin absagen" in page


def test_taken_slot_shows_message_and_alternatives(client: Any, world: World) -> None:
    from termin360.portal.models import Booking
    from termin360.portal.services import bookings

    start = _later_slot(world)
    other = make_patient("other@example.org", last="Schmidt")
    _login(client, world.patient)
    summary = client.get(_book_url(world, start, world.checkup))
    assert "Verbindlich buchen" in _text(summary)
    bookings.book(
        patient=other, calendar_id=world.calendar.pk, visit_type_id=world.checkup.pk, start=start
    )
    r = client.post(
        reverse("portal:book", args=[world.calendar.pk]),
        {"start": start.isoformat(), "visit_type": world.checkup.pk},
    )
    assert r.status_code == 409
    page = _text(r)
    assert "Dieser Termin wurde gerade vergeben" in page
    alternatives = r.context["alternatives"]
    assert len(alternatives) == 3
    following = start + timedelta(minutes=15)
    assert f"{following.astimezone(BERLIN):%H:%M}" in alternatives[0]["label"]
    assert alternatives[0]["url"] in page.replace("&amp;", "&")
    assert Booking.objects.filter(patient=world.patient).count() == 0
    # The alternative leads to a bookable summary.
    again = client.get(alternatives[0]["url"])
    assert "Verbindlich buchen" in _text(again) and "gerade vergeben" not in _text(again)


def test_unconfirmed_patient_gets_a_clear_hint(client: Any, world: World) -> None:
    from termin360.portal.models import Booking

    patient = make_patient("new@example.org", confirmed=False)
    _login(client, patient)
    start = _later_slot(world)
    r = client.get(_book_url(world, start, world.checkup))
    assert "bestätigen Sie zuerst Ihre E-Mail-Adresse" in _text(r)
    assert "Verbindlich buchen" not in _text(r)
    r = client.post(
        reverse("portal:book", args=[world.calendar.pk]),
        {"start": start.isoformat(), "visit_type": world.checkup.pk},
    )
    assert r.status_code == 422
    assert "E-Mail-Adresse" in _text(r)
    assert not Booking.objects.exists()


def test_booking_a_bad_request_is_404(client: Any, world: World) -> None:
    _login(client, world.patient)
    url = reverse("portal:book", args=[world.calendar.pk])
    assert client.get(url, {"start": "gestern", "visit_type": world.checkup.pk}).status_code == 404
    assert client.get(url, {"start": "2030-01-07T09:00:00+01:00"}).status_code == 404
    assert client.get(url, {"start": "2030-01-07T09:00", "visit_type": 999999}).status_code == 404


# --------------------------------------------------------------------------- my appointments


def _booked(world: World, patient: Any = None, days_ahead: int = 3) -> Any:
    from termin360.portal.services import bookings

    return bookings.book(
        patient=patient or world.patient,
        calendar_id=world.calendar.pk,
        visit_type_id=world.checkup.pk,
        start=_later_slot(world, days_ahead=days_ahead),
    )


def test_my_bookings_needs_login(client: Any, world: World) -> None:
    r = client.get(reverse("portal:my-bookings"))
    assert r.status_code == 302 and r["Location"].startswith(reverse("portal:login"))


def test_my_bookings_lists_only_my_own(client: Any, world: World) -> None:
    mine = _booked(world)
    other = make_patient("other@example.org", last="Schmidt", first="Eva")
    theirs = _booked(world, other, days_ahead=4)
    _login(client, world.patient)
    page = _text(client.get(reverse("portal:my-bookings")))
    assert f"booking-{mine.pk}" in page and f"booking-{theirs.pk}" not in page
    assert "Dr. Anna Berger" in page and "Kontrolle" in page
    assert "Hauptstraße 1, 76646 Bruchsal" in page
    local = mine.start.astimezone(BERLIN)
    assert f"{local:%d.%m.}, {local:%H:%M}" in page


def test_cancel_my_booking(client: Any, world: World) -> None:
    from termin360.portal.models import Booking

    booking = _booked(world)
    _login(client, world.patient)
    r = client.post(reverse("portal:cancel-booking", args=[booking.pk]), follow=True)
    assert r.status_code == 200
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED and booking.cancelled_by == "patient"
    page = _text(r)
    assert "ist abgesagt" in page
    assert r.context["upcoming"] == [] and r.context["past"][0]["booking"] == booking


def test_cancel_after_the_deadline_is_refused_with_the_practice_address(
    client: Any, world: World
) -> None:
    from termin360.portal.models import Booking

    booking = _booked(world)
    world.calendar.cancel_deadline_hours = 24 * 14
    world.calendar.save()
    _login(client, world.patient)
    page = _text(client.get(reverse("portal:my-bookings")))
    assert "nicht mehr online abgesagt" in page
    assert "Praxis Berger" in page and "admin@praxis-berger.de" in page
    r = client.post(reverse("portal:cancel-booking", args=[booking.pk]), follow=True)
    assert "336 Stunden" in _text(r)
    booking.refresh_from_db()
    assert booking.status == Booking.Status.ACTIVE


def test_someone_elses_booking_cannot_be_cancelled(client: Any, world: World) -> None:
    from termin360.portal.models import Booking

    other = make_patient("other@example.org", last="Schmidt")
    theirs = _booked(world, other)
    _login(client, world.patient)
    assert client.post(reverse("portal:cancel-booking", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("portal:cancel-booking", args=[999999])).status_code == 404
    assert client.get(reverse("portal:cancel-booking", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == Booking.Status.ACTIVE


def test_pages_in_english(client: Any, world: World) -> None:
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    page = _text(client.get("/"))
    assert "Next free appointment:" in page and "Find a doctor" in page


def test_layout_has_skip_link_language_switch_and_practice_link(client: Any, world: World) -> None:
    page = _text(client.get("/"))
    assert 'class="skip-link" href="#main"' in page
    assert 'action="/i18n/setlang/"' in page and 'value="en"' in page
    assert 'href="/praxis/"' in page and "Für Praxen" in page
    assert "Meine Termine" in page


def test_two_practices_share_the_search(client: Any, world: World) -> None:
    build_world("Praxis Keller", "admin@praxis-keller.de")
    assert "2 Ärzte gefunden" in _text(client.get("/"))
