"""The back office in Chromium (issue 12, point 4) on a real ``termin360 portal serve``:
the operator logs in with password and TOTP code, approves a pending practice, sends a
stuck mail again and unlocks a locked-out patient; each action is in the audit log."""

from __future__ import annotations

from typing import Any

import httpx
from django.contrib.admin.models import LogEntry

from termin360.portal.models import OutgoingEmail, Practice
from termin360.portal.services import ratelimit
from tests.conftest import Server
from tests.portal.browser.conftest import new_tab, screenshot
from tests.portal.conftest import PATIENT_PASSWORD, build_world, make_patient
from tests.portal.test_backoffice import OPERATOR_PASSWORD, code_of, make_operator


def _token(server: Server, email: str, password: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/api/v1/auth/token", json={"email": email, "password": password}
    )


def _run_action(tab: Any, row_text: str, action_label: str) -> None:
    """Tick the row that shows ``row_text``, choose the action, run it."""
    tab.locator("#result_list tr", has_text=row_text).locator("input.action-select").check()
    tab.locator("select[name=action]").select_option(label=action_label)
    with tab.expect_navigation():
        tab.locator(".actions button[name=index]").click()


def test_operator_approves_resends_and_unlocks_and_the_audit_log_shows_it(
    browser: Any, portal_server: Server
) -> None:
    world = build_world("Praxis Neu", "neu@praxis-neu.de", approved=False)
    operator = make_operator()
    locked = make_patient("gesperrt@example.org", last="Sperling", first="Sina")
    # Locked out by the server itself (the rate limit's keys are keyed with its secret).
    for _attempt in range(ratelimit.EMAIL_LIMIT):
        assert _token(portal_server, "gesperrt@example.org", "falsch").status_code == 401
    assert _token(portal_server, "gesperrt@example.org", PATIENT_PASSWORD).status_code == 429
    stuck = OutgoingEmail.objects.create(
        to="wartend@example.org", subject="s", body="b", kind="confirm_email", attempts=8
    )
    OutgoingEmail.objects.filter(pk=stuck.pk).update(last_error="SMTP nicht erreichbar")

    tab = new_tab(browser, portal_server)
    csp_reports: list[str] = []
    tab.on(
        "console",
        lambda msg: csp_reports.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    try:
        tab.goto("/backoffice/")
        assert tab.url.endswith("/backoffice/login/?next=/backoffice/")
        tab.locator("#id_username").fill("betrieb")
        tab.locator("#id_password").fill(OPERATOR_PASSWORD)
        tab.locator("#id_otp_token").fill(code_of(operator.device))
        with tab.expect_navigation():
            tab.locator("input[type=submit]").click()
        assert tab.url.endswith("/backoffice/")
        assert tab.get_by_text("termin360 Back-Office").first.is_visible()

        tab.goto("/backoffice/portal/practice/?status__exact=pending")
        _run_action(tab, "Praxis Neu", "Freigeben (Kalender werden öffentlich)")
        assert tab.get_by_text("Freigegeben: 1.").is_visible()
        assert Practice.objects.get(pk=world.practice.pk).status == "approved"

        tab.goto("/backoffice/portal/outgoingemail/?state=given_up")
        _run_action(tab, "SMTP nicht erreichbar", "Erneut senden")
        assert tab.get_by_text("Die ausgewählten E-Mails sind erneut eingereiht.").is_visible()
        stuck.refresh_from_db()
        assert stuck.attempts == 0 and stuck.sent_at is None

        tab.goto("/backoffice/portal/patientprofile/?q=Sperling")
        _run_action(tab, "gesperrt@example.org", "Anmeldung entsperren (nach Fehlversuchen)")
        assert tab.get_by_text("Die ausgewählten Anmeldungen sind entsperrt.").is_visible()
        assert _token(portal_server, "gesperrt@example.org", PATIENT_PASSWORD).status_code == 201

        tab.goto("/backoffice/admin/logentry/")
        rows = tab.locator("#result_list tbody tr")
        assert rows.count() == 3
        log = tab.locator("#result_list").inner_text()
        for entry in (
            "Freigegeben.",
            "Erneut eingereiht.",
            "Anmeldung entsperrt (5 Fehlversuche gelöscht).",
            "Praxis Neu",
            f"#{locked.pk}",
        ):
            assert entry in log, entry
        screenshot(tab, "backoffice-audit-log")
    finally:
        tab.context.close()
    assert tab.errors == [], tab.errors
    assert csp_reports == [], csp_reports
    assert LogEntry.objects.filter(user=operator.user).count() == 3
