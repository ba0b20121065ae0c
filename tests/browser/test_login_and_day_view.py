"""C7 in a real browser: logging in, the German day view, the screenshot of it."""

from __future__ import annotations

import re
from datetime import date, time
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import day_path, log_in, slot
from tests.chromium import CHROMIUM, CHROMIUM_MISSING
from tests.conftest import ARTIFACTS, Practice

pytestmark = [pytest.mark.browser, pytest.mark.skipif(CHROMIUM is None, reason=CHROMIUM_MISSING)]


def test_login_form_is_german_and_leads_to_the_day_view(page: Any, practice_ui: Practice) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/$"))
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.get_by_label("Benutzername")).to_be_visible()
    expect(page.get_by_label("Passwort")).to_be_visible()

    page.get_by_label("Benutzername").fill("empfang")
    page.get_by_label("Passwort").fill("empfang-pass-123")
    with page.expect_navigation(url=re.compile(r"/calendars/1/\d{4}-\d{2}-\d{2}/$")):
        page.get_by_role("button", name="Anmelden").click()

    expect(page.get_by_role("heading", name="Zusatzliste")).to_be_visible()
    # The session the form opened is a session of the API as well.
    me = page.request.get("/api/v1/auth/me")
    assert me.status == 200
    assert me.json() == {"username": "empfang", "is_admin": False}


def test_wrong_password_is_refused_with_a_message(page: Any, practice_ui: Practice) -> None:
    page.goto("/login/")
    page.get_by_label("Benutzername").fill("empfang")
    page.get_by_label("Passwort").fill("falsch-falsch")
    with page.expect_navigation():
        page.get_by_role("button", name="Anmelden").click()
    expect(page.get_by_role("alert")).to_be_visible()
    assert page.request.get("/api/v1/auth/me").status == 401


def _furnish(p: Practice) -> None:
    """A day with every state of SPEC C2–C4, for the screenshot."""
    from termin360.practice.services import appointments, reservations, slots
    from termin360.practice.services.patients import create_patient

    day = p.monday
    anna = create_patient(
        location_id=p.location.pk,
        last_name="Schneider",
        first_name="Anna",
        date_of_birth=date(1975, 3, 14),
    )
    book = appointments.book_appointment
    book(actor=None, slot_id=slot(p, 1, day, "08:15").pk, patient_id=anna.pk, reason="Kontrolle")
    book(
        actor=None,
        slot_id=slot(p, 1, day, "09:00").pk,
        slot_count=3,
        text="Weber (Tel. 0721 …)",
        reason="Ultraschall Abdomen",
    )
    book(actor=None, slot_id=slot(p, 2, day, "08:30").pk, text="Familie Yılmaz", reason="Impfung")
    slots.set_note(slot_id=slot(p, 1, day, "10:30").pk, text="nur Akutfälle")
    slots.set_note(slot_id=slot(p, 2, day, "09:15").pk, text="Rückruf Labor")
    slots.delete_free_slot(slot_id=slot(p, 2, day, "10:00").pk, text="Hausbesuch")
    reservations.create_reservation(
        actor=None,
        calendar=p.calendar,
        column_numbers=[2],
        first_day=day,
        last_day=day,
        start=time(11),
        end=time(12),
        reason="Teambesprechung",
    )
    appointments.add_to_additional_list(
        actor=None, calendar=p.calendar, day=day, text="Krause, Ida", reason="Notfall"
    )
    appointments.add_to_additional_list(
        actor=None,
        calendar=p.calendar,
        day=day,
        text="Online: Berg, Tom",
        reason="Erstgespräch",
        flagged=True,
        flag_reason="Zeit war belegt",
    )


def test_day_view_shows_what_the_api_says_and_is_saved_as_screenshot(
    page: Any, practice_ui: Practice, http_api: httpx.Client
) -> None:
    _furnish(practice_ui)
    log_in(page, day_path(practice_ui.monday))
    expect(page.locator(".grid thead")).to_contain_text("Dr. Berger")

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "day-view.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000

    day = http_api.get(f"/calendars/1/days/{practice_ui.monday}").raise_for_status().json()
    for column in day["columns"]:
        for s in column["slots"]:
            if s["appointment_id"] is not None:
                appt = page.locator(f'.grid .appt[data-appointment-id="{s["appointment_id"]}"]')
                expect(appt).to_have_attribute("data-column", str(column["number"]))
            else:
                cell = page.locator(f'.grid .slot[data-slot-id="{s["id"]}"]')
                expect(cell).to_have_attribute("data-state", s["state"])
                assert (cell.get_attribute("data-reserved") == "1") is s["reserved"]
    # The three-slot appointment is one block spanning its three rows.
    expect(page.locator(".grid td[rowspan='3'] .appt")).to_contain_text("Weber")
    listed = page.locator("#additional-list .appt")
    expect(listed).to_have_count(len(day["additional"]))
    expect(page.locator("#additional-list .appt.is-flagged")).to_contain_text("Berg, Tom")


def test_language_switch_turns_page_and_api_messages_english(
    logged_in: Any, practice_ui: Practice
) -> None:
    page = logged_in
    url = page.url
    english = "There is no appointment with id 999999."
    german = page.request.get("/api/v1/appointments/999999").json()["detail"]
    assert "999999" in german and german != english
    with page.expect_navigation(url=url):
        page.get_by_role("button", name="EN", exact=True).click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="Additional list")).to_be_visible()
    expect(page.get_by_role("button", name="EN", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    assert page.request.get("/api/v1/appointments/999999").json()["detail"] == english
