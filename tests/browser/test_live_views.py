"""C8 in a real browser: two receptionists have the same day view open; an online booking
(a patient on the real portal, placed by the real job), its cancellation and a colleague's
booking reach both views within 2 s without a reload — and a booking dialog being filled
in on one of them stays as it is while the view changes under it.

Assertions are on structure (ids, data attributes, counts) and on data, not on texts
that are still waiting for their German translation.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import STAFF, day_path, is_api_call
from tests.chromium import CHROMIUM, CHROMIUM_MISSING
from tests.e2e.conftest import Sync, make_sync, portal, tls, weekday  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.skipif(CHROMIUM is None, reason=CHROMIUM_MISSING)]

LIVE_MS = 2_000  # the bound of the issue: "within 2 s"


class Tabs:
    """Browser tabs, each in its own context (two receptionists at two desks)."""

    def __init__(self, browser: Any, make_sync: Any) -> None:  # noqa: F811
        self.browser, self.make_sync = browser, make_sync
        self.contexts: list[Any] = []
        self.errors: list[str] = []
        self.base_url = ""

    def sync(self, **options: Any) -> Sync:
        """The e2e world (portal, practice server, job; see ``make_sync``)."""
        s: Sync = self.make_sync(**options)
        assert s.server is not None
        self.base_url = s.server.url
        return s

    def open(self, path: str) -> Any:
        context = self.browser.new_context(
            base_url=self.base_url,
            locale="de-DE",
            timezone_id="Europe/Berlin",
            viewport={"width": 1400, "height": 900},
        )
        context.set_default_timeout(10_000)
        self.contexts.append(context)
        tab = context.new_page()
        tab.on("pageerror", lambda exc: self.errors.append(str(exc)))
        tab.goto(f"/login/?next={path}")
        tab.locator("#id_username").fill(STAFF[0])
        tab.locator("#id_password").fill(STAFF[1])
        with tab.expect_navigation():
            tab.locator(".login button[type=submit]").click()
        assert tab.url.endswith(path), tab.url
        return tab

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def tabs(browser: Any, make_sync: Any) -> Iterator[Tabs]:  # noqa: F811
    opened = Tabs(browser, make_sync)
    try:
        yield opened
    finally:
        opened.close()
    assert opened.errors == [], f"script errors on the pages: {opened.errors}"


def left_ms(since: float) -> float:
    """What is left of the 2 s since ``since`` (monotonic), for an ``expect`` timeout."""
    return max(1.0, LIVE_MS - (time.monotonic() - since) * 1000)


def appointment_at(tab: Any, column: int, at: str, online: bool = False) -> Any:
    kind = ".appt--online" if online else ".appt"
    return tab.locator(f'#live-grid {kind}[data-column="{column}"][data-time="{at}"]')


def test_two_open_day_views_follow_online_bookings_and_each_other_live(
    tabs: Tabs,
) -> None:
    opened = tabs
    s = opened.sync()
    monday = weekday(s.p, 0)
    first = opened.open(day_path(monday))
    second = opened.open(day_path(monday))
    titles = [first.title(), second.title()]
    assert not any(re.match(r"\(\d+\)", t) for t in titles), titles

    # 1. A patient books on the portal; the job places it; both views show it, with a
    #    notice and a count in the tab title — without a reload.
    booking = s.book_online(monday, "10:15")
    confirmed = time.monotonic()
    for tab in (first, second):
        expect(appointment_at(tab, 1, "10:15", online=True)).to_have_count(
            1, timeout=left_ms(confirmed)
        )
    shown_after = time.monotonic() - confirmed
    appt_id = s.wait_placed(booking["id"], timeout=1).appointment_id
    for tab, title in zip((first, second), titles, strict=True):
        notice = tab.locator(f'#live-notices .live-notice[data-appointment-id="{appt_id}"]')
        expect(notice).to_have_count(1, timeout=1_000)
        name = appointment_at(tab, 1, "10:15").get_attribute("data-title")
        assert name, "the appointment carries the title the view shows"
        # time, column and the name the view already shows — nothing more
        expect(notice).to_contain_text("10:15")
        expect(notice).to_contain_text("Dr. Berger")
        expect(notice).to_contain_text(name)
        assert tab.title() == f"(1) {title}"
        assert tab.evaluate("() => performance.getEntriesByType('navigation').length") == 1
    print(f"online booking shown in both views {shown_after:.2f} s after the portal's answer")

    # Dismissing the notice on one desk counts it as seen there, not at the other desk.
    first.locator("#live-notices [data-action=dismiss-notice]").click()
    expect(first.locator("#live-notices .live-notice")).to_have_count(0)
    assert first.title() == titles[0]
    assert second.title() == f"(1) {titles[1]}"

    # 2. The second receptionist starts a booking and is typing in the dialog …
    second.locator('#live-grid button.slot[data-column="2"][data-time="11:00"]').click()
    dialog = second.locator("#slot-dialog")
    expect(dialog).to_be_visible()
    dialog.locator("#book-text").fill("Herr Weiß")
    dialog.locator("#book-reason").fill("Rückruf")
    dialog.locator("#book-text").focus()

    # … while the first one books a slot through the dialog of her view.
    first.locator('#live-grid button.slot[data-column="1"][data-time="08:30"]').click()
    expect(first.locator("#slot-dialog")).to_be_visible()
    first.locator("#book-text").fill("Frau Kern")
    with first.expect_response(is_api_call("POST", "/api/v1/appointments")) as made:
        first.locator("#book-form button[type=submit]").click()
    assert made.value.status == 201
    booked = time.monotonic()
    # (the first page reloads after its own change, so its answer's body is gone)
    colleague = appointment_at(first, 1, "08:30").get_attribute("data-appointment-id")

    # The second view shows it within 2 s; its dialog is still open, with what was typed
    # and the focus where it was.
    expect(second.locator(f'#live-grid .appt[data-appointment-id="{colleague}"]')).to_have_count(
        1, timeout=left_ms(booked)
    )
    expect(dialog).to_be_visible()
    expect(dialog.locator("#book-text")).to_have_value("Herr Weiß")
    expect(dialog.locator("#book-reason")).to_have_value("Rückruf")
    expect(dialog.locator("#book-text")).to_be_focused()
    # a colleague's booking is no online booking: no new notice, the count stays
    expect(second.locator("#live-notices .live-notice")).to_have_count(1)
    assert second.title() == f"(1) {titles[1]}"

    # The dialog still books the slot it was opened on; the first view follows.
    with second.expect_response(is_api_call("POST", "/api/v1/appointments")) as second_made:
        dialog.locator("#book-form button[type=submit]").click()
    assert second_made.value.status == 201
    booked = time.monotonic()
    expect(appointment_at(first, 2, "11:00")).to_have_count(1, timeout=left_ms(booked))

    # 3. The patient cancels on the portal: the appointment leaves both views.
    s.cancel_online(booking["id"])
    cancelled = time.monotonic()
    for tab in (first, second):
        expect(appointment_at(tab, 1, "10:15")).to_have_count(0, timeout=left_ms(cancelled))
        expect(
            tab.locator('#live-grid button.slot[data-column="1"][data-time="10:15"]')
        ).to_have_count(1)
    assert first.evaluate("() => performance.getEntriesByType('navigation').length") == 1


def test_an_online_booking_that_goes_to_the_additional_list_shows_there_with_a_notice(
    tabs: Tabs,
) -> None:
    opened = tabs
    s = opened.sync(configure=False, job=False)
    monday = weekday(s.p, 0)
    # The practice fills 09:00 before the connector exists: the portal still offers it.
    taken = s.book_in_practice(1, monday, "09:00", text="Praxistermin")
    assert taken.status_code == 201, taken.text
    tab = opened.open(day_path(monday))
    title = tab.title()

    # A colleague's entry in the additional list shows up there.
    extra = s.practice(
        "POST", "/additional-appointments", {"calendar": 1, "day": str(monday), "text": "Rückruf"}
    )
    assert extra.status_code == 201, extra.text
    added = time.monotonic()
    expect(
        tab.locator(f'#additional-list .appt[data-appointment-id="{extra.json()["id"]}"]')
    ).to_have_count(1, timeout=left_ms(added))

    # The patient books 09:00 online; the job, once it runs, finds the slot taken (S5)
    # and puts the booking in the additional list, flagged.
    s.configure()
    booking = s.book_online(monday, "09:00")
    s.start_job()
    appt_id = s.wait_placed(booking["id"]).appointment_id
    placed = time.monotonic()
    entry = tab.locator(f'#additional-list .appt--online[data-appointment-id="{appt_id}"]')
    expect(entry).to_have_count(1, timeout=left_ms(placed))
    assert entry.get_attribute("data-additional") == "1"
    notice = tab.locator(f'#live-notices .live-notice[data-appointment-id="{appt_id}"]')
    expect(notice).to_contain_text("09:00")
    assert tab.title() == f"(1) {title}"

    # The notice takes the receptionist to the entry, and counts as seen.
    notice.locator("[data-action=show-notice]").click()
    expect(entry).to_be_focused()
    expect(tab.locator("#live-notices .live-notice")).to_have_count(0)
    assert tab.title() == title
