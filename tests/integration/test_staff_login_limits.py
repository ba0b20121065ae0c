"""Staff login limits: 5 failures per user name or 20 per client IP within 15 minutes
lock that key for 15 minutes, on the login page and the token endpoint alike, across
all server processes (the counter is a database table). Time passes by ageing the stored
rows — no sleeps."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
from django.db.models import F
from django.test import Client

from tests.conftest import Practice, Server, build_practice

PASSWORD = "empfang-pass-123"
LOCKED_PREFIX = "Zu viele fehlgeschlagene Versuche."


def page_login(client: Client, username: str, password: str, ip: str = "203.0.113.7") -> Any:
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def api_login(client: Client, username: str, password: str, ip: str = "203.0.113.7") -> Any:
    return client.post(
        "/api/v1/auth/token",
        {"username": username, "password": password},
        content_type="application/json",
        REMOTE_ADDR=ip,
    )


def age_attempts(minutes: float) -> None:
    from termin360.practice.models import StaffLoginAttempt

    StaffLoginAttempt.objects.update(at=F("at") - timedelta(minutes=minutes))


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_the_sixth_page_login_is_refused_even_with_the_right_password(
    client: Client, practice: Practice
) -> None:
    for _ in range(5):
        r = page_login(client, "empfang", "falsch")
        assert r.status_code == 200
        assert "Benutzername oder Passwort ist falsch" in r.content.decode()
    r = page_login(client, "empfang", PASSWORD)
    assert r.status_code == 429
    text = r.content.decode()
    assert LOCKED_PREFIX in text
    assert re.search(r"noch 15 Minuten", text), text
    assert int(r["Retry-After"]) > 14 * 60
    assert not logged_in(client)
    # Another spelling of the same name and another IP: the lock is on the user name.
    assert page_login(client, "EMPFANG", PASSWORD, ip="198.51.100.1").status_code == 429
    # Other staff are not affected.
    assert page_login(client, "empfang2", PASSWORD).status_code == 302


def test_the_token_endpoint_answers_429_with_retry_after_while_locked(
    client: Client, practice: Practice
) -> None:
    for _ in range(5):
        r = api_login(client, "empfang", "falsch")
        assert r.status_code == 401
        assert r.json()["code"] == "bad_credentials"
    r = api_login(client, "empfang", PASSWORD)
    assert r.status_code == 429
    body = r.json()
    assert body["code"] == "too_many_attempts"
    assert body["detail"].startswith(LOCKED_PREFIX), body
    assert 14 * 60 < int(r["Retry-After"]) <= 15 * 60
    assert "token" not in body


def test_page_and_api_failures_count_together(client: Client, practice: Practice) -> None:
    for _ in range(3):
        page_login(client, "empfang", "falsch")
    for _ in range(2):
        api_login(client, "empfang", "falsch")
    assert api_login(client, "empfang", PASSWORD).status_code == 429
    assert page_login(client, "empfang", PASSWORD).status_code == 429


def test_an_unknown_user_name_is_locked_the_same_way(client: Client, practice: Practice) -> None:
    """The answers do not tell whether a user name exists."""
    known, unknown = [], []
    for name, answers in (("empfang", known), ("niemand", unknown)):
        for _ in range(6):
            r = api_login(client, name, "falsch")
            answers.append((r.status_code, r.json()["code"], r.json()["detail"][:30]))
    assert known == unknown
    assert known[-1][:2] == (429, "too_many_attempts")


def test_twenty_failures_from_one_ip_lock_that_ip_for_every_user(
    client: Client, practice: Practice
) -> None:
    for i in range(20):
        assert api_login(client, f"name{i}", "falsch", ip="203.0.113.9").status_code == 401
    assert api_login(client, "empfang", PASSWORD, ip="203.0.113.9").status_code == 429
    assert page_login(client, "empfang", PASSWORD, ip="203.0.113.9").status_code == 429
    assert api_login(client, "empfang", PASSWORD, ip="198.51.100.2").status_code == 201


def test_attempts_while_locked_are_not_counted_and_the_lock_ends_after_15_minutes(
    client: Client, practice: Practice
) -> None:
    from termin360.practice.models import StaffLoginAttempt

    for _ in range(5):
        api_login(client, "empfang", "falsch")
    rows = StaffLoginAttempt.objects.count()
    for _ in range(10):
        assert api_login(client, "empfang", PASSWORD).status_code == 429
        assert page_login(client, "empfang", "falsch").status_code == 429
    assert StaffLoginAttempt.objects.count() == rows
    age_attempts(14)
    assert api_login(client, "empfang", PASSWORD).status_code == 429
    age_attempts(1.1)
    assert page_login(client, "empfang", PASSWORD).status_code == 302
    assert logged_in(client)


def test_a_correct_password_clears_the_users_failures(client: Client, practice: Practice) -> None:
    for _ in range(4):
        api_login(client, "empfang", "falsch")
    assert api_login(client, "empfang", PASSWORD).status_code == 201
    for _ in range(4):
        api_login(client, "empfang", "falsch")
    assert api_login(client, "empfang", PASSWORD).status_code == 201


def test_failures_spread_over_more_than_15_minutes_do_not_lock(
    client: Client, practice: Practice
) -> None:
    for _ in range(4):
        api_login(client, "empfang", "falsch")
    age_attempts(16)
    api_login(client, "empfang", "falsch")
    assert api_login(client, "empfang", PASSWORD).status_code == 201


def test_no_user_name_or_ip_is_stored_in_clear(client: Client, practice: Practice) -> None:
    from termin360.practice.models import StaffLoginAttempt

    api_login(client, "empfang", "falsch", ip="203.0.113.77")
    keys = list(StaffLoginAttempt.objects.values_list("key", flat=True))
    assert sorted(k.split(":")[0] for k in keys) == ["ip", "user"]
    assert all(re.fullmatch(r"(ip|user):[0-9a-f]{64}", k) for k in keys), keys
    assert not any("empfang" in k or "203.0.113" in k for k in keys)


# --------------------------------------------------------------------------- two processes


def _page_post(server: Server, username: str, password: str) -> httpx.Response:
    """A real browser-like login: fetch the form (CSRF cookie and token), then post it."""
    with httpx.Client(base_url=server.url, timeout=30) as http:
        form = http.get("/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        assert token, form.text
        return http.post(
            "/login/",
            data={
                "username": username,
                "password": password,
                "csrfmiddlewaretoken": token.group(1),
            },
            headers={"Referer": f"{server.url}/login/"},
        )


def _token_post(server: Server, username: str, password: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/api/v1/auth/token",
        json={"username": username, "password": password},
        timeout=30,
    )


def test_failures_on_two_server_processes_lock_the_user_on_both(
    two_practice_servers: tuple[Server, Server],
) -> None:
    a, b = two_practice_servers
    build_practice()
    assert _page_post(a, "empfang", "falsch").status_code == 200
    assert _token_post(b, "empfang", "falsch").status_code == 401
    assert _page_post(b, "empfang", "falsch").status_code == 200
    assert _token_post(a, "empfang", "falsch").status_code == 401
    assert _page_post(a, "empfang", "falsch").status_code == 200
    for server in (a, b):
        r = _token_post(server, "empfang", PASSWORD)
        assert r.status_code == 429, r.text
        assert r.json()["code"] == "too_many_attempts"
        assert int(r.headers["Retry-After"]) > 0
        page = _page_post(server, "empfang", PASSWORD)
        assert page.status_code == 429, page.text
        assert LOCKED_PREFIX in page.text
        assert "termin360_practice_session" not in page.cookies
    # The other receptionist logs in on both.
    assert _token_post(a, "empfang2", PASSWORD).status_code == 201
    assert _page_post(b, "empfang2", PASSWORD).status_code == 302
    for server in (a, b):
        assert "Traceback" not in server.log.read_text(errors="replace")
