"""The patients' pages in a real browser, on a desktop and on a phone (390×844): they
render, keep to the viewport, are usable with the keyboard; screenshots go to
var/test-artifacts/ (portal-doctor.png among them) for a human to look at."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Server
from tests.portal.browser.conftest import screenshot
from tests.portal.conftest import PATIENT_PASSWORD, World, build_world


@pytest.fixture
def world_ui(portal_server: Server) -> World:
    """The portal test world, committed for the server process."""
    return build_world()


def log_in(tab: Any, email: str, next_path: str) -> None:
    tab.goto(f"/konto/anmelden/?next={next_path}")
    tab.locator("#id_email").fill(email)
    tab.locator("#id_password").fill(PATIENT_PASSWORD)
    with tab.expect_navigation():
        tab.locator("main form button[type=submit]").click()


def _fits_viewport(tab: Any) -> bool:
    return bool(tab.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_pages_on_desktop_and_phone(page: Any, phone: Any, world_ui: World) -> None:
    doctor_path = f"/arzt/{world_ui.calendar.pk}/"
    for tab, suffix in ((page, "desktop"), (phone, "phone")):
        tab.goto("/?place=Bruchsal")
        assert tab.get_by_role("heading", name="Dr. Anna Berger").is_visible()
        assert tab.get_by_text("Nächster freier Termin:").is_visible()
        assert _fits_viewport(tab), suffix
        screenshot(tab, f"portal-search-{suffix}")

        tab.goto(doctor_path)
        assert tab.get_by_role("heading", name="Dr. Anna Berger").is_visible()
        assert tab.locator("a.slot").count() > 0
        assert _fits_viewport(tab), suffix
        screenshot(tab, "portal-doctor" if suffix == "desktop" else "portal-doctor-phone")

        log_in(tab, world_ui.patient.user.email, doctor_path)
        with tab.expect_navigation():  # is_visible does not wait for the booking page
            tab.locator("a.slot").first.click()
        assert tab.get_by_role("button", name="Verbindlich buchen").is_visible()
        assert _fits_viewport(tab), suffix
        screenshot(tab, f"portal-book-{suffix}")


def test_keyboard_reaches_skip_link_search_and_slots(page: Any, world_ui: World) -> None:
    page.goto("/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    assert page.locator(".skip-link").is_visible()  # shown while focused
    page.keyboard.press("Enter")
    page.get_by_label("Stadt oder Postleitzahl").focus()
    page.keyboard.type("76646")
    page.keyboard.press("Enter")
    page.wait_for_url("**/?*place=76646*")
    link = page.get_by_role("link", name="Dr. Anna Berger", exact=True)
    link.focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    first_slot = page.locator("a.slot").first
    first_slot.focus()
    outline = first_slot.evaluate("e => getComputedStyle(e).outlineStyle")
    assert outline == "solid"  # focus is visible
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/konto/anmelden/" in page.url  # booking needs an account; next= brings us back
