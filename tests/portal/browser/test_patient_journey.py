"""A patient's whole way through the portal in Chromium (issue point 3), with every part
real: ``termin360 portal serve``, ``termin360 portal worker`` and an SMTP server.

register → confirm by the link from the real SMTP server → search → book → see the
booking → cancel; the confirmation e-mail carries an .ics whose DTSTART is the booked
local time in Europe/Berlin.
"""

from __future__ import annotations

import re
import subprocess
from datetime import datetime
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest

from tests.conftest import Server
from tests.portal.browser.conftest import screenshot
from tests.portal.conftest import World, build_world
from tests.portal.smtp import SmtpServer, attachment

BERLIN = ZoneInfo("Europe/Berlin")
EMAIL = "lena.vogt@example.org"
PASSWORD = "Sommer-Wiese-42"


@pytest.fixture
def world_ui(portal_server: Server) -> World:
    """The portal test world (Dr. Anna Berger in Bruchsal), committed for the server."""
    return build_world()


def _to(address: str) -> Any:
    return lambda m: address in str(m["To"])


def _text_body(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None, "the e-mail has no text part"
    return str(part.get_content())


def register(page: Any) -> None:
    page.goto("/")
    page.get_by_role("navigation").get_by_role("link", name="Registrieren").click()
    page.locator("#id_last_name").fill("Vogt")
    page.locator("#id_first_name").fill("Lena")
    page.locator("#id_date_of_birth").fill("1991-03-08")
    page.locator("#id_email").fill(EMAIL)
    page.locator("#id_phone").fill("0721 555 0101")
    page.locator("input[name=insurance][value=gkv]").check()
    page.locator("#id_password").fill(PASSWORD)
    page.locator("#id_consent").check()
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    assert "/konto/" in page.url, page.url


def test_register_confirm_search_book_see_and_cancel(
    page: Any,
    world_ui: World,
    smtp_server: SmtpServer,
    portal_worker: subprocess.Popen[bytes],
    portal_server: Server,
) -> None:
    from termin360.portal.models import Booking, PatientProfile

    # Register; the address confirmation arrives over SMTP with a link into the portal.
    register(page)
    welcome = smtp_server.wait_for(_to(EMAIL), timeout=20)
    links = re.findall(r"https?://\S+/konto/bestaetigen/\S+", _text_body(welcome))
    assert links, _text_body(welcome)
    assert links[0].startswith(portal_server.url)
    page.goto(links[0])
    assert PatientProfile.objects.get(user__email=EMAIL).email_confirmed_at is not None
    # Opened in the browser that registered: logged in.
    assert page.get_by_role("button", name="Abmelden").is_visible()

    # Search by postcode and insurance; the result shows the next free slot.
    page.goto("/")
    page.get_by_label("Stadt oder Postleitzahl").fill("76646")
    page.get_by_label("Versicherung").select_option("gkv")
    with page.expect_navigation():
        page.get_by_role("button", name="Suchen").click()
    assert page.get_by_text("Nächster freier Termin:").is_visible()
    with page.expect_navigation():
        page.get_by_role("link", name="Dr. Anna Berger", exact=True).click()

    # The doctor's page: the 30-minute first visit, the first free time of next week
    # (well before the 24-hour cancellation deadline).
    page.get_by_label("Anlass des Besuchs").select_option(label="Erstgespräch (30 Min.)")
    with page.expect_navigation():
        page.get_by_role("button", name="Freie Zeiten zeigen").click()
    with page.expect_navigation():
        page.get_by_role("link", name="Später").click()
    screenshot(page, "portal-journey-doctor")
    slot = page.locator("a.slot").first
    slot_time = slot.inner_text().strip()
    with page.expect_navigation():
        slot.click()
    page.get_by_label("Grund (optional)").fill("Erstvorstellung")
    with page.expect_navigation():
        page.get_by_role("button", name="Verbindlich buchen").click()

    # "My appointments" shows it, with a success message.
    assert page.url.endswith("/meine-termine/")
    booking = Booking.objects.get(patient_email=EMAIL)
    local_start = booking.start.astimezone(BERLIN)
    assert f"{local_start:%H:%M}" == slot_time
    assert booking.visit_type.name == "Erstgespräch" and booking.reason == "Erstvorstellung"
    notice = page.locator(".notice--success")
    assert "ist gebucht" in notice.inner_text()
    card = page.locator(f"#booking-{booking.pk}")
    assert f"{local_start:%d.%m.}, {local_start:%H:%M}" in card.inner_text()
    assert "Dr. Anna Berger" in card.inner_text() and "Erstgespräch" in card.inner_text()
    screenshot(page, "portal-journey-my-bookings")

    # The confirmation e-mail carries an .ics with the booked local time.
    confirmation = smtp_server.wait_for(
        lambda m: _to(EMAIL)(m) and attachment(m) is not None, timeout=20
    )
    content_type, payload = attachment(confirmation) or ("", b"")
    assert content_type.startswith("text/calendar")
    cal = icalendar.Calendar.from_ical(payload)
    events = [c for c in cal.walk() if c.name == "VEVENT"]
    assert len(events) == 1
    dtstart = events[0].decoded("DTSTART")
    assert isinstance(dtstart, datetime) and dtstart.tzinfo is not None
    assert dtstart == booking.start
    assert dtstart.astimezone(BERLIN).replace(tzinfo=None) == local_start.replace(tzinfo=None)
    assert events[0].decoded("DTEND") == booking.end

    # Cancel, after a question; the booking moves to "past and cancelled".
    with page.expect_navigation():
        card.get_by_role("link", name="Termin absagen").click()
    assert booking.status == Booking.Status.ACTIVE
    with page.expect_navigation():
        page.get_by_role("button", name="Ja, Termin absagen").click()
    assert "ist abgesagt" in page.locator(".notice--success").inner_text()
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED
    assert "abgesagt" in page.locator(f"#booking-{booking.pk} .badge").first.inner_text()
