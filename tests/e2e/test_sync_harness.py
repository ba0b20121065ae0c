"""The harness itself: the portal answers over HTTPS with the test CA only, a patient
books there, and the practice server answers beside it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Sync, weekday


def test_harness_portal_speaks_https_with_the_test_ca_and_a_patient_books_there(
    make_sync: Any,
) -> None:
    s: Sync = make_sync(configure=False, job=False)
    assert s.portal.url.startswith("https://")
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{s.portal.url}/health", timeout=5)  # the system CAs do not know it
    day = weekday(s.p, 1)
    assert "09:00" in s.free_times(day)
    booking = s.book_online(day, "09:00")
    assert booking["status"] == "active"
    assert "09:00" not in s.free_times(day)
    assert s.practice("GET", f"/calendars/1/days/{day}").status_code == 200
