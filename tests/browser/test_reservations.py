"""C3 in a real browser: a reservation across two columns through the dialog."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import is_api_call
from tests.chromium import CHROMIUM, CHROMIUM_MISSING
from tests.conftest import Practice

pytestmark = [pytest.mark.browser, pytest.mark.skipif(CHROMIUM is None, reason=CHROMIUM_MISSING)]


def test_reserve_two_columns_through_the_dialog(
    logged_in: Any, practice_ui: Practice, http_api: httpx.Client
) -> None:
    page = logged_in
    day = practice_ui.monday.isoformat()
    page.locator(".toolbar [data-action=open-reservations]").click()
    dialog = page.locator("#reservation-dialog")
    expect(dialog).to_be_visible()
    dialog.locator('input[name="columns"][value="1"]').check()
    dialog.locator('input[name="columns"][value="2"]').check()
    expect(dialog.locator("#res-first")).to_have_value(day)
    expect(dialog.locator("#res-last")).to_have_value(day)
    dialog.locator("#res-start").fill("10:00")
    dialog.locator("#res-end").fill("11:00")
    dialog.locator("#res-reason").fill("Fortbildung")
    with page.expect_response(is_api_call("POST", "/calendars/1/reservations")) as created:
        dialog.locator("#reservation-form button[type=submit]").click()
    assert created.value.status == 201
    expect(page.locator(".grid .slot--reserved")).to_have_count(8)

    listed = http_api.get(
        "/calendars/1/reservations", params={"first_day": day, "last_day": day}
    ).json()
    assert [(r["columns"], r["start"], r["end"], r["reason"]) for r in listed] == [
        ([1, 2], "10:00:00", "11:00:00", "Fortbildung")
    ]
    body = http_api.get(f"/calendars/1/days/{day}").json()
    for column in body["columns"]:
        reserved = [s["start"][11:16] for s in column["slots"] if s["reserved"]]
        assert reserved == ["10:00", "10:15", "10:30", "10:45"]


def test_delete_a_reservation_from_the_dialog(
    logged_in: Any, practice_ui: Practice, http_api: httpx.Client
) -> None:
    from datetime import time

    from termin360.practice.services.reservations import create_reservation

    p = practice_ui
    r = create_reservation(
        actor=None,
        calendar=p.calendar,
        column_numbers=[1],
        first_day=p.monday,
        last_day=p.monday,
        start=time(8),
        end=time(9),
        reason="Praxisbegehung",
    )
    page = logged_in
    page.reload()
    page.locator('.grid button.slot--reserved[data-column="1"][data-time="08:00"]').click()
    page.locator("#slot-dialog [data-action=open-reservations]").click()
    dialog = page.locator("#reservation-dialog")
    expect(dialog).to_be_visible()
    delete = dialog.locator(f'[data-reservation-id="{r.pk}"]')
    delete.click()  # first press asks
    with page.expect_response(is_api_call("DELETE", f"/reservations/{r.pk}")) as deleted:
        delete.click()
    assert deleted.value.status == 204
    expect(page.locator(".grid .slot--reserved")).to_have_count(0)

    day = p.monday.isoformat()
    assert (
        http_api.get("/calendars/1/reservations", params={"first_day": day, "last_day": day}).json()
        == []
    )


def test_a_reservation_over_times_without_slots_is_saved_with_a_clear_warning(
    logged_in: Any, practice_ui: Practice, http_api: httpx.Client
) -> None:
    """Issue 11: before, it was accepted silently and blocked nothing the staff could see.
    It still blocks that time online (a lunch break between slots), so it is saved — and
    the page says what happened."""
    page = logged_in
    page.locator(".toolbar [data-action=open-reservations]").click()
    dialog = page.locator("#reservation-dialog")
    dialog.locator('input[name="columns"][value="1"]').check()
    dialog.locator("#res-start").fill("21:00")  # the grid ends long before
    dialog.locator("#res-end").fill("22:00")
    dialog.locator("#res-reason").fill("Abendtermin?")
    with page.expect_response(is_api_call("POST", "/calendars/1/reservations")) as created:
        dialog.locator("#reservation-form button[type=submit]").click()
    assert created.value.status == 201  # saved (the page then reloads)
    alert = page.locator("#page-alert")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("keine Zeiten")
