"""The Content-Security-Policy in a real browser (decision 016): the watch of
``tests.chromium`` sees a violation when one happens, and the day view's grid keeps its
sizes without inline style attributes."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import day_path, slot
from tests.chromium import CHROMIUM, CHROMIUM_MISSING
from tests.conftest import Practice

pytestmark = [pytest.mark.browser, pytest.mark.skipif(CHROMIUM is None, reason=CHROMIUM_MISSING)]

# Resolves with the violated directive once the browser reports a violation.
NEXT_VIOLATION = """
new Promise((resolve) => document.addEventListener(
  "securitypolicyviolation", (e) => resolve(e.effectiveDirective), { once: true }))
"""


def test_an_injected_inline_script_and_style_are_blocked_and_reported(
    browser: Any, page: Any
) -> None:
    page.goto("/login/")
    directive = page.evaluate(
        f"""() => {{
          const reported = {NEXT_VIOLATION};
          const script = document.createElement("script");
          script.textContent = "window.injected = true";
          document.body.append(script);
          return reported;
        }}"""
    )
    assert directive == "script-src-elem"
    assert page.evaluate("() => window.injected") is None, "the inline script ran"

    directive = page.evaluate(
        f"""() => {{
          const reported = {NEXT_VIOLATION};
          document.body.setAttribute("style", "background: red");
          return reported;
        }}"""
    )
    assert directive == "style-src-attr"
    assert page.evaluate("() => getComputedStyle(document.body).backgroundColor") != (
        "rgb(255, 0, 0)"
    )

    page.evaluate("0")  # the reports are on their way to the test: let them arrive
    seen = browser.csp.take()  # taken: the watch would fail this test at teardown
    assert sorted(v["directive"] for v in seen) == ["script-src-elem", "style-src-attr"], seen
    assert all(v["page"].endswith("/login/") for v in seen), seen


GRID_SIZES = """() => {
  const rem = parseFloat(getComputedStyle(document.documentElement).fontSize);
  const perMinute = parseFloat(
    getComputedStyle(document.documentElement).getPropertyValue("--px-per-minute"));
  const table = document.querySelector("#live-grid table.grid");
  return {
    lanes: Number(table.dataset.lanes),
    minWidth: parseFloat(getComputedStyle(table).minWidth),
    expectedMinWidth: 3.6 * rem + Number(table.dataset.lanes) * 8.5 * rem,
    rows: [...table.querySelectorAll("tr.grid__row:not(.is-gap)")].map((row) => [
      row.getBoundingClientRect().height, Number(row.dataset.minutes) * perMinute]),
  };
}"""


def assert_grid_sized(tab: Any) -> None:
    sizes = tab.evaluate(GRID_SIZES)
    assert sizes["lanes"] == 2
    assert sizes["minWidth"] == pytest.approx(sizes["expectedMinWidth"], abs=0.5), sizes
    assert sizes["rows"], "the day view shows slot rows"
    for height, expected in sizes["rows"]:
        assert height == pytest.approx(expected, abs=1), sizes["rows"]


def test_the_grid_has_its_lane_widths_and_row_heights_also_after_a_live_swap(
    logged_in: Any, practice_ui: Practice
) -> None:
    from termin360.practice.services.appointments import book_appointment

    page = logged_in
    assert page.url.endswith(day_path(practice_ui.monday))
    assert_grid_sized(page)

    # a booking elsewhere: the live view swaps a new grid in, which must be sized too
    appt = book_appointment(
        actor=None,
        slot_id=slot(practice_ui, 1, practice_ui.monday, "09:00").pk,
        text="Wagner",
        reason="EKG",
    )
    expect(page.locator(f'#live-grid .appt[data-appointment-id="{appt.pk}"]')).to_have_count(
        1, timeout=10_000
    )
    assert page.evaluate("() => performance.getEntriesByType('navigation').length") == 1
    assert_grid_sized(page)


def test_the_api_docs_work_under_the_same_policy(page: Any) -> None:
    # django-ninja serves Swagger UI from its own static files (no CDN, no inline script)
    response = page.goto("/api/v1/docs")
    assert response is not None and response.status == 200
    policy = response.headers["content-security-policy"]
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy, policy
    operation = page.locator(".opblock-summary", has_text="List Locations")
    expect(operation).to_be_visible()
    operation.click(no_wait_after=True)  # Swagger UI sets the URL fragment
    expect(page.locator(".opblock.is-open .responses-wrapper")).to_be_visible()
    page.locator(".opblock.is-open .try-out__btn").click(no_wait_after=True)
    expect(page.locator(".opblock.is-open .execute")).to_be_visible()
