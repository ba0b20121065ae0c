"""The waiting list end to end in Chromium (issue 10, point 4), every part real:
``termin360 portal serve``, ``termin360 portal worker`` (its own process) and an SMTP
server. A patient cancels in the browser → the worker offers the freed time to the first
waiting patient by mail → her offer runs out → the next patient's link moves his
booking there in one step → the first patient's old link is refused clearly.
"""

from __future__ import annotations

import re
import subprocess
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from django.utils import timezone

from tests.conftest import Server
from tests.portal.browser.conftest import PHONE, new_tab
from tests.portal.conftest import PATIENT_PASSWORD, World, build_world
from tests.portal.smtp import SmtpServer
from tests.portal.test_waitlist import Waiting, setup_waiting

OFFER = re.compile(r"https?://\S+(/warteliste/angebot/\S+/)")


@pytest.fixture
def waiting_ui(portal_server: Server) -> Waiting:
    """Three patients booked 08:00, 08:15 and 08:30 of one day, nothing free before;
    the second and the third wait for an earlier time, in that order."""
    world: World = build_world()
    return setup_waiting(world)


def _body(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def _offer_to(smtp: SmtpServer, email: str) -> str:
    msg = smtp.wait_for(lambda m: email in str(m["To"]) and OFFER.search(_body(m)), timeout=30)
    found = OFFER.search(_body(msg))
    assert found is not None
    return found.group(1)


def _logged_in(browser: Any, server: Server, email: str) -> Any:
    tab = new_tab(browser, server, PHONE)
    tab.goto("/konto/anmelden/")
    tab.locator("#id_email").fill(email)
    tab.locator("#id_password").fill(PATIENT_PASSWORD)
    with tab.expect_navigation():
        tab.get_by_role("main").get_by_role("button", name="Anmelden").click()
    return tab


def test_a_cancelled_time_goes_to_the_waiting_list_in_order_and_an_old_offer_is_refused(
    browser: Any,
    portal_server: Server,
    waiting_ui: Waiting,
    smtp_server: SmtpServer,
    portal_worker: subprocess.Popen[bytes],
) -> None:
    from termin360.portal.models import Booking, WaitlistOffer

    w = waiting_ui
    first = w.booking_a.start
    a = _logged_in(browser, portal_server, w.a.user.email)
    b = _logged_in(browser, portal_server, w.b.user.email)
    c = _logged_in(browser, portal_server, w.c.user.email)
    try:
        # The first patient cancels, after the question.
        a.goto("/meine-termine/")
        with a.expect_navigation():
            a.locator(f"#booking-{w.booking_a.pk}").get_by_role(
                "link", name="Termin absagen"
            ).click()
        with a.expect_navigation():
            a.get_by_role("button", name="Ja, Termin absagen").click()
        assert "ist abgesagt" in a.locator(".notice--success").inner_text()

        # The worker offers the freed time to the first in line, by mail.
        to_b = _offer_to(smtp_server, w.b.user.email)
        assert not WaitlistOffer.objects.filter(entry=w.entry_c).exists()

        # She does not take it in time; the next round offers it to the next in line.
        WaitlistOffer.objects.filter(entry=w.entry_b).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
        to_c = _offer_to(smtp_server, w.c.user.email)
        c.goto(to_c)
        assert "Termin übernehmen" in c.locator("main").inner_text()
        with c.expect_navigation():
            c.get_by_role("button", name="Termin übernehmen").click()
        w.booking_c.refresh_from_db()
        assert w.booking_c.start == first  # moved, in one step
        assert Booking.objects.filter(start=first, status="active").count() == 1

        # The first in line follows her old link: a clear refusal, nothing booked twice.
        response = b.goto(to_b)
        assert response is not None and response.status == 410
        refusal = b.locator("[role=alert]")
        assert refusal.get_attribute("data-code") == "offer_expired"
        assert "abgelaufen" in refusal.inner_text()
        assert b.get_by_role("button", name="Termin übernehmen").count() == 0
        w.booking_b.refresh_from_db()
        assert w.booking_b.start == first + timedelta(minutes=15)
        assert Booking.objects.filter(start=first, status="active").count() == 1
    finally:
        for tab in (a, b, c):
            tab.context.close()
