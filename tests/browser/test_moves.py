"""C4/C5 in a real browser: drag & drop between columns and from the additional list."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import api_slot, is_api_call, slot
from tests.chromium import CHROMIUM, CHROMIUM_MISSING
from tests.conftest import Practice

pytestmark = [pytest.mark.browser, pytest.mark.skipif(CHROMIUM is None, reason=CHROMIUM_MISSING)]


def test_drag_an_appointment_to_another_column(
    logged_in: Any, practice_ui: Practice, http_api: httpx.Client
) -> None:
    from termin360.practice.services.appointments import book_appointment

    p = practice_ui
    appt = book_appointment(
        actor=None, slot_id=slot(p, 1, p.monday, "09:00").pk, text="Wagner", reason="EKG"
    )
    page = logged_in
    page.reload()  # the appointment was booked after the page was loaded
    source = page.locator(f'.grid .appt[data-appointment-id="{appt.pk}"]')
    target = page.locator('.grid button.slot[data-column="2"][data-time="10:15"]')
    with page.expect_response(is_api_call("POST", f"/appointments/{appt.pk}/move")) as moved:
        source.drag_to(target)
    assert moved.value.status == 200
    expect(page.locator(f'.grid .appt[data-appointment-id="{appt.pk}"]')).to_have_attribute(
        "data-column", "2"
    )

    body = http_api.get(f"/appointments/{appt.pk}").json()
    assert (body["column"], body["start"][11:16], body["slot_count"]) == (2, "10:15", 1)
    assert api_slot(http_api, p.monday, 2, "10:15")["appointment_id"] == appt.pk
    assert api_slot(http_api, p.monday, 1, "09:00")["state"] == "free"


def test_drag_an_appointment_from_the_additional_list_onto_a_slot(
    logged_in: Any, practice_ui: Practice, http_api: httpx.Client
) -> None:
    from termin360.practice.services.appointments import add_to_additional_list

    p = practice_ui
    appt = add_to_additional_list(
        actor=None, calendar=p.calendar, day=p.monday, text="Zusatz, Paula", reason="Notfall"
    )
    page = logged_in
    page.reload()
    source = page.locator(f'#additional-list .appt[data-appointment-id="{appt.pk}"]')
    target = page.locator('.grid button.slot[data-column="2"][data-time="11:00"]')
    with page.expect_response(is_api_call("POST", f"/appointments/{appt.pk}/move")) as moved:
        source.drag_to(target)
    assert moved.value.status == 200
    expect(page.locator(f'.grid .appt[data-appointment-id="{appt.pk}"]')).to_be_visible()
    expect(page.locator("#additional-list .appt")).to_have_count(0)

    body = http_api.get(f"/appointments/{appt.pk}").json()
    assert body["in_additional_list"] is False
    assert (body["column"], body["start"][11:16]) == (2, "11:00")
    assert api_slot(http_api, p.monday, 2, "11:00")["appointment_id"] == appt.pk
    assert http_api.get(f"/calendars/1/additional/{p.monday}").json() == []


def test_drag_an_appointment_onto_the_additional_list(
    logged_in: Any, practice_ui: Practice, http_api: httpx.Client
) -> None:
    from termin360.practice.services.appointments import book_appointment

    p = practice_ui
    appt = book_appointment(
        actor=None, slot_id=slot(p, 1, p.monday, "08:30").pk, slot_count=2, text="Lang, Udo"
    )
    page = logged_in
    page.reload()
    source = page.locator(f'.grid .appt[data-appointment-id="{appt.pk}"]')
    with page.expect_response(is_api_call("POST", f"/appointments/{appt.pk}/move")) as moved:
        source.drag_to(page.locator("#additional-list"))
    assert moved.value.status == 200
    expect(page.locator(f'#additional-list .appt[data-appointment-id="{appt.pk}"]')).to_be_visible()

    listed = http_api.get(f"/calendars/1/additional/{p.monday}").json()
    assert [a["id"] for a in listed] == [appt.pk]
    assert api_slot(http_api, p.monday, 1, "08:30")["state"] == "free"
    assert api_slot(http_api, p.monday, 1, "08:45")["state"] == "free"


def test_drag_between_days_in_the_week_view(
    logged_in: Any, practice_ui: Practice, http_api: httpx.Client
) -> None:
    from termin360.practice.services.appointments import book_appointment

    p = practice_ui
    appt = book_appointment(actor=None, slot_id=slot(p, 2, p.monday, "08:00").pk, text="Roth")
    page = logged_in
    page.goto(f"/calendars/1/week/{p.monday}/?column=2")
    day = (p.monday + timedelta(days=2)).isoformat()  # Wednesday
    source = page.locator(f'.grid .appt[data-appointment-id="{appt.pk}"]')
    target = page.locator(f'.grid button.slot[data-day="{day}"][data-time="09:30"]')
    with page.expect_response(is_api_call("POST", f"/appointments/{appt.pk}/move")) as moved:
        source.drag_to(target)
    assert moved.value.status == 200
    expect(page.locator(f'.grid .appt[data-appointment-id="{appt.pk}"]')).to_have_attribute(
        "data-day", day
    )

    body = http_api.get(f"/appointments/{appt.pk}").json()
    assert (body["day"], body["column"], body["start"][11:16]) == (day, 2, "09:30")
