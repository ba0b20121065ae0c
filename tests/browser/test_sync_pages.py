"""The connector in the practice web UI, in a real browser against a real server process:
the "Online sync" link, the TMEX L list and Info (S4), and a flagged online appointment
in the day view's additional list (S5)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import day_path, log_in
from tests.chromium import CHROMIUM, CHROMIUM_MISSING
from tests.conftest import Practice
from tests.connector import pages_seed as seed
from tests.connector.pages_seed import at, de

pytestmark = [pytest.mark.browser, pytest.mark.skipif(CHROMIUM is None, reason=CHROMIUM_MISSING)]


def test_s4_staff_open_online_sync_the_list_and_the_info_of_a_booking(
    page: Any, practice_ui: Practice
) -> None:
    day = practice_ui.monday
    mapping = seed.mapping(practice_ui.columns[2], online_calendar_id=102)
    appt = seed.online_appointment_in_slot(practice_ui, 2, at(day, "10:15"))
    seed.booking(
        4711,
        at(day, "10:15"),
        mapping=mapping,
        appointment=appt,
        placement="slot",
        visit_type="Vorsorge",
    )
    log_in(page, day_path(day))

    page.get_by_role("link", name=re.compile(re.escape(de("Online sync")))).click()
    expect(page).to_have_url(re.compile(r"/sync/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(de("Online sync"))
    # a receptionist sees the state, but neither the settings nor "sync now"
    expect(page.get_by_role("button", name=de("Sync now"))).to_have_count(0)
    expect(page.get_by_role("link", name=de("Settings"))).to_have_count(0)

    page.get_by_role("link", name=de("Online bookings")).click()
    row = page.locator("#bookings tbody tr", has_text="4711")
    expect(row).to_contain_text(f"{day:%d.%m.%Y}")
    expect(row).to_contain_text("10:15–10:30")
    expect(row).to_contain_text("Sommer, Lea")
    expect(row).to_contain_text("Vorsorge")
    expect(row).to_contain_text("2 Dr. Keller")

    row.get_by_role("link", name="4711").click()
    expect(page).to_have_url(re.compile(r"/sync/bookings/4711/$"))
    facts = page.locator("#booking-facts")
    expect(facts).to_contain_text(f"{day:%d.%m.%Y} 10:15–10:30")
    where = de("Calendar %(calendar)s, column %(column)s") % {
        "calendar": "1 Allgemeinmedizin",
        "column": "2 Dr. Keller",
    }
    # the place links to that calendar's day, where the appointment is
    facts.get_by_role("link", name=where).click()
    expect(page).to_have_url(re.compile(re.escape(day_path(day)) + "$"))
    expect(page.locator(f'[data-appointment-id="{appt.pk}"]')).to_contain_text("Sommer, Lea")


def test_s5_flagged_online_appointment_shows_its_reason_in_the_day_view(
    page: Any, practice_ui: Practice
) -> None:
    day = practice_ui.monday
    appt = seed.flagged_additional(practice_ui, day, at(day, "09:00"), "slot_taken")
    seed.booking(
        12,
        at(day, "09:00"),
        mapping=seed.mapping(practice_ui.columns[1]),
        appointment=appt,
        placement="additional_list",
    )
    log_in(page, day_path(day))

    entry = page.locator(f'#additional-list [data-appointment-id="{appt.pk}"]')
    expect(entry).to_be_visible()
    expect(entry).to_contain_text(de("time was taken"))
    expect(entry).to_contain_text(de("online"))
    expect(entry).to_have_class(re.compile(r"\bis-flagged\b"))
    expect(entry).to_have_attribute("aria-label", re.compile(re.escape(de("time was taken"))))
    # the appointment's dialog names the reason in words too, not the stored code
    entry.click()
    dialog = page.locator("#appt-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator('[data-fact="flag"]')).to_have_text(de("time was taken"))
    page.keyboard.press("Escape")

    # the state page lists it under "needs attention", with a link back to the day
    page.goto("/sync/")
    conflict = page.locator("#conflicts tbody tr")
    expect(conflict).to_have_count(1)
    expect(conflict).to_contain_text(de("time was taken"))
    place = de("Additional list of calendar %(calendar)s") % {"calendar": "1 Allgemeinmedizin"}
    conflict.get_by_role("link", name=place).click()
    expect(page).to_have_url(re.compile(re.escape(day_path(day)) + "$"))
