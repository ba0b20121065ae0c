"""A busy or unreachable database answers 503 with ``Retry-After`` and a message in the
user's language — JSON ``{code, detail}`` on the API, a small HTML page otherwise —
while other database errors stay bugs (500).

SQLite: a second connection holds the write lock past a short busy timeout.
PostgreSQL: a real server process reaches its database through a proxy the test cuts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from django.db import connection
from django.test import Client

from tests.conftest import BACKEND, Practice, build_practice, require_shared_database
from tests.db_outage import (
    csrf_form,
    server_behind_proxy,
    short_sqlite_busy_timeout,
    sqlite_write_lock,
)

BUSY_DE = "Die Datenbank ist gerade ausgelastet."
UNAVAILABLE_DE = "Die Datenbank ist gerade nicht erreichbar."

sqlite_lock = pytest.mark.skipif(BACKEND != "sqlite", reason="holds a SQLite write lock")


@pytest.fixture
def locked_practice(transactional_db: None) -> Any:
    require_shared_database()
    build_practice()
    with short_sqlite_busy_timeout(), sqlite_write_lock(connection.settings_dict["NAME"]):
        yield


@sqlite_lock
def test_a_page_that_must_write_while_the_database_is_locked_answers_503(
    locked_practice: None, client: Client
) -> None:
    r = client.post("/login/", {"username": "empfang", "password": "falsch"})
    assert r.status_code == 503
    assert r["Retry-After"] == "5"
    assert r["Content-Type"].startswith("text/html")
    text = r.content.decode()
    assert BUSY_DE in text
    assert "Traceback" not in text


@sqlite_lock
def test_the_api_answers_503_database_busy_while_the_database_is_locked(
    locked_practice: None, client: Client
) -> None:
    r = client.post(
        "/api/v1/auth/token",
        {"username": "empfang", "password": "empfang-pass-123"},
        content_type="application/json",
    )
    assert r.status_code == 503
    assert r["Retry-After"] == "5"
    body = r.json()
    assert body["code"] == "database_busy"
    assert body["detail"].startswith(BUSY_DE), body


@sqlite_lock
def test_the_busy_message_follows_the_users_language(locked_practice: None, client: Client) -> None:
    r = client.post(
        "/api/v1/auth/token",
        {"username": "empfang", "password": "x"},
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert r.status_code == 503
    assert r.json()["detail"].startswith("The database is busy"), r.json()


def test_other_database_errors_are_not_called_an_outage(db: None) -> None:
    """A missing table is a bug: no 503 for it."""
    from django.db import DatabaseError

    from termin360.deploy.db_errors import outage_kind

    with pytest.raises(DatabaseError) as caught, connection.cursor() as cursor:
        cursor.execute("SELECT * FROM no_such_table")
    assert outage_kind(caught.value) is None


def test_the_api_answers_other_operational_errors_with_500(
    monkeypatch: pytest.MonkeyPatch, client: Client, practice: Practice
) -> None:
    from django.db import OperationalError

    from termin360.practice.api import auth

    def broken(**kwargs: Any) -> str:
        raise OperationalError("near SELECT: syntax error")

    monkeypatch.setattr(auth, "issue_token", broken)
    r = client.post(
        "/api/v1/auth/token",
        {"username": "empfang", "password": "empfang-pass-123"},
        content_type="application/json",
    )
    assert r.status_code == 500
    assert r.json()["code"] == "server_error"


@pytest.mark.postgres_only
def test_a_server_that_lost_postgresql_answers_503_on_pages_and_api(
    transactional_db: None, tmp_path: Path
) -> None:
    build_practice()
    with server_behind_proxy("practice", tmp_path) as (server, proxy):
        r = httpx.post(
            f"{server.url}/api/v1/auth/token",
            json={"username": "empfang", "password": "empfang-pass-123"},
        )
        assert r.status_code == 201, r.text
        headers = {"Authorization": f"Bearer {r.json()['token']}"}
        proxy.cut()
        for _ in range(2):  # the broken connection, then a refused new one
            api = httpx.get(f"{server.url}/api/v1/calendars", headers=headers, timeout=30)
            assert api.status_code == 503, api.text
            assert api.headers["Retry-After"] == "5"
            assert api.json()["code"] == "database_unavailable"
            assert api.json()["detail"].startswith(UNAVAILABLE_DE)
        with httpx.Client(base_url=server.url, timeout=30) as http:
            token = csrf_form(http, "/login/")
            page = http.post(
                "/login/",
                data={"username": "empfang", "password": "x", "csrfmiddlewaretoken": token},
                headers={"Referer": f"{server.url}/login/"},
            )
        assert page.status_code == 503, page.text
        assert page.headers["Retry-After"] == "5"
        assert UNAVAILABLE_DE in page.text
        assert "Traceback" not in server.log.read_text(errors="replace")
