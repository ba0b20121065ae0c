"""C2/C6/C7 in a real browser: booking a slot for a patient found in the dialog — with the
mouse, and with the keyboard only."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import api_slot, is_api_call
from tests.chromium import CHROMIUM, CHROMIUM_MISSING
from tests.conftest import Practice

pytestmark = [pytest.mark.browser, pytest.mark.skipif(CHROMIUM is None, reason=CHROMIUM_MISSING)]


def _patients(p: Practice) -> Any:
    from termin360.practice.services.patients import create_patient

    erika = create_patient(
        location_id=p.location.pk,
        last_name="Mustermann",
        first_name="Erika",
        date_of_birth=date(1964, 8, 12),
    )
    # a namesake of another first name, so that the search has to be read
    create_patient(
        location_id=p.location.pk,
        last_name="Mustermann",
        first_name="Max",
        date_of_birth=date(1961, 1, 2),
    )
    return erika


def test_book_a_free_slot_for_a_patient_found_in_the_dialog(
    logged_in: Any, practice_ui: Practice, http_api: httpx.Client
) -> None:
    page = logged_in
    erika = _patients(practice_ui)

    page.locator('.grid button.slot[data-column="1"][data-time="09:00"]').click()
    dialog = page.locator("#slot-dialog")
    expect(dialog).to_be_visible()
    with page.expect_response(is_api_call("GET", "/api/v1/patients")) as search:
        dialog.locator("#patient-search").press_sequentially("muster eri")
    assert search.value.ok
    result = dialog.locator("#patient-results button", has_text="Mustermann, Erika")
    expect(dialog.locator("#patient-results button")).to_have_count(1)
    result.click()
    expect(dialog.locator("#patient-chosen")).to_contain_text("Mustermann, Erika")
    dialog.locator("#book-count").fill("2")
    dialog.locator("#book-reason").fill("Kontrolle")
    with page.expect_response(is_api_call("POST", "/api/v1/appointments")) as booked:
        dialog.locator("#book-form button[type=submit]").click()
    assert booked.value.status == 201
    expect(page.locator(".grid .appt", has_text="Mustermann, Erika")).to_be_visible()

    held = api_slot(http_api, practice_ui.monday, 1, "09:00")
    assert held["state"] == "appointment"
    appt = http_api.get(f"/appointments/{held['appointment_id']}").json()
    assert appt["patient"]["id"] == erika.pk
    assert (appt["column"], appt["start"][11:16], appt["end"][11:16]) == (1, "09:00", "09:30")
    assert (appt["slot_count"], appt["reason"]) == (2, "Kontrolle")
    assert api_slot(http_api, practice_ui.monday, 1, "09:15")["appointment_id"] == appt["id"]


def test_a_refused_booking_shows_the_api_message_in_the_dialog(
    logged_in: Any, practice_ui: Practice, http_api: httpx.Client
) -> None:
    page = logged_in
    page.locator('.grid button.slot[data-column="2"][data-time="11:45"]').click()
    dialog = page.locator("#slot-dialog")
    expect(dialog).to_be_visible()
    dialog.locator("#book-text").fill("Langer Termin")
    dialog.locator("#book-count").fill("3")  # the grid ends at 12:00
    with page.expect_response(is_api_call("POST", "/api/v1/appointments")) as refused:
        dialog.locator("#book-form button[type=submit]").click()
    assert refused.value.status == 422
    alert = dialog.get_by_role("alert")
    expect(alert).to_have_text(refused.value.json()["detail"])
    expect(dialog).to_be_visible()
    assert api_slot(http_api, practice_ui.monday, 2, "11:45")["state"] == "free"


def test_book_a_slot_with_the_keyboard_only(
    logged_in: Any, practice_ui: Practice, http_api: httpx.Client
) -> None:
    page = logged_in
    erika = _patients(practice_ui)
    in_grid = "() => document.activeElement.matches('.grid [data-lane]')"
    for _ in range(40):  # Tab through the top bar and the toolbar into the grid
        page.keyboard.press("Tab")
        if page.evaluate(in_grid):
            break
    first = page.locator('.grid button.slot[data-column="1"][data-time="08:00"]')
    expect(first).to_be_focused()
    for _ in range(4):
        page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowRight")
    target = page.locator('.grid button.slot[data-column="2"][data-time="09:00"]')
    expect(target).to_be_focused()
    expect(target).to_have_attribute("aria-label", "09:00 frei – Dr. Keller")

    page.keyboard.press("Enter")
    dialog = page.locator("#slot-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#patient-search")).to_be_focused()
    with page.expect_response(is_api_call("GET", "/api/v1/patients")):
        page.keyboard.type("mustermann erika")
    expect(dialog.locator("#patient-results button")).to_have_count(1)
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(dialog.locator("#book-reason")).to_be_focused()
    page.keyboard.type("Impfung")
    with page.expect_response(is_api_call("POST", "/api/v1/appointments")) as booked:
        page.keyboard.press("Enter")
    assert booked.value.status == 201
    held = api_slot(http_api, practice_ui.monday, 2, "09:00")
    appt = http_api.get(f"/appointments/{held['appointment_id']}").json()
    # after the reload the keyboard user goes on from the new appointment
    expect(page.locator(f'.grid .appt[data-appointment-id="{appt["id"]}"]')).to_be_focused()
    assert (appt["patient"]["id"], appt["reason"], appt["slot_count"]) == (erika.pk, "Impfung", 1)


def test_escape_closes_the_dialog_without_a_change(
    logged_in: Any, practice_ui: Practice, http_api: httpx.Client
) -> None:
    page = logged_in
    page.locator('.grid button.slot[data-column="1"][data-time="10:00"]').click()
    dialog = page.locator("#slot-dialog")
    expect(dialog).to_be_visible()
    dialog.locator("#book-text").fill("nicht speichern")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert api_slot(http_api, practice_ui.monday, 1, "10:00")["state"] == "free"
