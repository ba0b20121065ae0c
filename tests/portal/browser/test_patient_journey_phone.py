"""The patient's journey on a phone (390×844) in Chromium, issue 10: the chosen slot
survives the detour through registration and the mailed link; the next free time in the
results books that time; the deadline is on the booking page; axe-core finds no serious
or critical violation on any patient page, on a phone and on a desktop.

Every part is real: ``termin360 portal serve``, ``termin360 portal worker`` and an SMTP
server (aiosmtpd).
"""

from __future__ import annotations

import re
import subprocess
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import Server
from tests.portal.browser.axe import assert_accessible
from tests.portal.browser.conftest import DESKTOP, PHONE, new_tab, screenshot
from tests.portal.conftest import PATIENT_PASSWORD, World, build_world
from tests.portal.smtp import SmtpServer

BERLIN = ZoneInfo("Europe/Berlin")
EMAIL = "jonas.keller@example.org"
PASSWORD = "Herbst-Laub-77"


@pytest.fixture
def world_ui(portal_server: Server) -> World:
    world = build_world()
    world.practice.phone = "07251 912300"
    world.practice.save()
    return world


def _body(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def _start_of(url: str) -> datetime:
    return datetime.fromisoformat(parse_qs(urlsplit(url).query)["start"][0])


def test_phone_slot_kept_through_registration_and_confirmation(
    phone: Any,
    world_ui: World,
    smtp_server: SmtpServer,
    portal_worker: subprocess.Popen[bytes],
    portal_server: Server,
) -> None:
    from termin360.portal.models import Booking

    # The navigation fits in one row on a phone.
    phone.goto("/")
    nav = phone.get_by_role("navigation", name="Hauptnavigation")
    box = nav.bounding_box()
    assert box is not None and box["height"] <= 48, box

    # Logged out, the patient picks a slot next week on the doctor's page.
    phone.goto(f"/arzt/{world_ui.calendar.pk}/")
    with phone.expect_navigation():
        phone.get_by_role("link", name="Später").click()
    slot = phone.locator("a.slot").first
    slot_href = str(slot.get_attribute("href"))
    chosen = _start_of(slot_href)
    with phone.expect_navigation():
        slot.click()
    assert "/konto/anmelden/" in phone.url  # asked to log in, the slot in ``next``

    # No account yet: register from the login page; the slot travels along.
    with phone.expect_navigation():
        phone.get_by_role("main").get_by_role("link", name="Registrieren", exact=True).click()
    assert phone.get_by_text("Ihr gewählter Termin bleibt vorgemerkt").is_visible()
    for field, autocomplete in (
        ("#id_last_name", "family-name"),
        ("#id_first_name", "given-name"),
        ("#id_date_of_birth", "bday"),
        ("#id_email", "email"),
        ("#id_phone", "tel"),
        ("#id_password", "new-password"),
    ):
        assert phone.locator(field).get_attribute("autocomplete") == autocomplete, field
    phone.locator("#id_last_name").fill("Keller")
    phone.locator("#id_first_name").fill("Jonas")
    phone.locator("#id_date_of_birth").fill("1988-07-21")
    phone.locator("#id_email").fill(EMAIL)
    phone.locator("#id_phone").fill("0721 555 0199")
    phone.locator("input[name=insurance][value=gkv]").check()
    phone.locator("#id_password").fill(PASSWORD)
    phone.locator("#id_consent").check()
    with phone.expect_navigation():
        phone.get_by_role("button", name="Konto anlegen").click()
    assert phone.url.endswith("/konto/registriert/")
    assert EMAIL in phone.locator("main").inner_text()

    # The mailed link confirms, logs in (same browser) and lands on that slot's page.
    mail = smtp_server.wait_for(lambda m: EMAIL in str(m["To"]), timeout=20)
    links = re.findall(r"https?://\S+/konto/bestaetigen/\S+", _body(mail))
    assert links, _body(mail)
    with phone.expect_navigation():
        phone.goto(links[0])
    assert "/buchen/" in phone.url, phone.url
    assert _start_of(phone.url) == chosen
    deadline = phone.locator("#deadline")
    limit = (chosen - timedelta(hours=24)).astimezone(BERLIN)
    assert f"{limit:%d.%m.}, {limit:%H:%M}" in deadline.inner_text()
    assert "07251 912300" in phone.locator("main").inner_text()
    screenshot(phone, "portal-phone-book")
    with phone.expect_navigation():
        phone.get_by_role("button", name="Verbindlich buchen").click()
    assert phone.url.endswith("/meine-termine/")
    booking = Booking.objects.get(patient_email=EMAIL)
    assert booking.start == chosen
    screenshot(phone, "portal-phone-my-bookings")


def test_the_next_free_time_in_the_results_books_that_time(phone: Any, world_ui: World) -> None:
    from termin360.portal.services import availability

    phone.context.add_cookies([])  # a fresh context: logged out
    phone.goto("/")
    phone.get_by_label("Stadt oder Postleitzahl").fill("76646")
    with phone.expect_navigation():
        phone.get_by_role("button", name="Suchen").click()
    # On a phone the search form folds away above the results.
    assert not phone.locator("#id_place").is_visible()
    assert phone.get_by_text("Suche ändern").is_visible()
    link = phone.locator("a.result__next-link").first
    first = availability.first_free(world_ui.calendar, world_ui.checkup.duration_minutes)
    assert first is not None
    with phone.expect_navigation():
        link.click()
    # Logged out: the login keeps the time; afterwards its booking page.
    phone.locator("#id_email").fill(world_ui.patient.user.email)
    phone.locator("#id_password").fill(PATIENT_PASSWORD)
    with phone.expect_navigation():
        phone.get_by_role("main").get_by_role("button", name="Anmelden").click()
    assert "/buchen/" in phone.url, phone.url
    assert _start_of(phone.url) == first.start
    assert phone.locator("#deadline").is_visible()


def _log_in(tab: Any, world: World) -> None:
    tab.goto("/konto/anmelden/")
    tab.locator("#id_email").fill(world.patient.user.email)
    tab.locator("#id_password").fill(PATIENT_PASSWORD)
    with tab.expect_navigation():
        tab.get_by_role("main").get_by_role("button", name="Anmelden").click()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_axe_finds_nothing_serious_on_any_patient_page(
    browser: Any,
    portal_server: Server,
    world_ui: World,
    smtp_server: SmtpServer,
    portal_worker: subprocess.Popen[bytes],
    viewport: dict[str, int],
) -> None:
    from django.urls import reverse

    from termin360.portal.services import availability, bookings

    tab = new_tab(browser, portal_server, viewport)
    try:
        logged_out = [
            ("/", "search"),
            ("/?place=76646", "results"),
            (f"/arzt/{world_ui.calendar.pk}/", "doctor page"),
            ("/konto/anmelden/", "login"),
            ("/konto/registrieren/", "registration"),
            ("/konto/passwort-vergessen/", "password reset"),
        ]
        for path, where in logged_out:
            tab.goto(path)
            assert_accessible(tab, where)

        later = availability.upcoming_free(
            world_ui.calendar, 15, after=datetime.now(BERLIN) + timedelta(days=3)
        )
        booking = bookings.book(
            patient=world_ui.patient,
            calendar_id=world_ui.calendar.pk,
            visit_type_id=world_ui.checkup.pk,
            start=later[0].start,
        )
        _log_in(tab, world_ui)
        book = f"/buchen/{world_ui.calendar.pk}/?" + (
            f"start={later[1].start.isoformat().replace('+', '%2B')}"
            f"&visit_type={world_ui.checkup.pk}"
        )
        logged_in = [
            ("/meine-termine/", "my appointments"),
            (book, "booking page"),
            (f"/meine-termine/{booking.pk}/stornieren/", "cancel question"),
            ("/konto/meine-daten/", "my data"),
        ]
        # On the waiting list for an earlier time: the worker (its own process, the
        # server's secret) offers the earliest free time by mail; its link is a page too.
        from termin360.portal.services import waitlist

        waitlist.join(patient=world_ui.patient, booking_id=booking.pk)
        offer_mail = smtp_server.wait_for(
            lambda m: world_ui.patient.user.email in str(m["To"]) and "/warteliste/" in _body(m),
            timeout=30,
        )
        offer_links = re.findall(r"https?://\S+(/warteliste/angebot/\S+)", _body(offer_mail))
        assert offer_links, _body(offer_mail)
        logged_in += [
            (reverse("portal:reschedule", args=[booking.pk]), "move an appointment"),
            (
                reverse("portal:reschedule", args=[booking.pk])
                + "?start="
                + later[2].start.isoformat().replace("+", "%2B"),
                "move: confirm the new time",
            ),
            (reverse("portal:waitlist"), "my waiting list"),
            (reverse("portal:waitlist-join") + f"?booking={booking.pk}", "join: earlier time"),
            (
                reverse("portal:waitlist-join")
                + f"?calendar={world_ui.calendar.pk}&visit_type={world_ui.checkup.pk}",
                "join: any time before a date",
            ),
            (offer_links[0], "an offer"),
        ]
        for path, where in logged_in:
            response = tab.goto(path)
            assert response is not None and response.status < 400, (where, response.status)
            assert_accessible(tab, where)
    finally:
        tab.context.close()


def test_the_axe_check_can_fail(browser: Any, portal_server: Server) -> None:
    """The check above is not vacuous: axe reports a button without a name and an aria-label
    that hides the visible text."""
    from tests.portal.browser.axe import violations

    tab = new_tab(browser, portal_server, PHONE)
    try:
        tab.goto("/")
        tab.set_content(
            '<html lang="de"><body><main><button></button>'
            '<a href="/x" aria-label="Termine bei Dr. X">Termine anzeigen</a></main></body></html>'
        )
        found = violations(tab)
        assert any(v.startswith("button-name") for v in found), found
    finally:
        tab.context.close()
