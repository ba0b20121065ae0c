"""The portal on a busy or unreachable database: 503 with ``Retry-After`` and a message
in the user's language, on pages (HTML) and the API (JSON ``{code, detail}``).

SQLite: a second connection holds the write lock past a short busy timeout.
PostgreSQL: a real server process reaches its database through a proxy the test cuts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from tests.conftest import BACKEND, require_shared_database
from tests.db_outage import (
    csrf_form,
    server_behind_proxy,
    short_sqlite_busy_timeout,
    sqlite_write_lock,
)
from tests.portal.conftest import PATIENT_PASSWORD, World, build_world

BUSY_DE = "Die Datenbank ist gerade ausgelastet."
UNAVAILABLE_DE = "Die Datenbank ist gerade nicht erreichbar."

sqlite_lock = pytest.mark.skipif(BACKEND != "sqlite", reason="holds a SQLite write lock")


@pytest.fixture
def locked_world(transactional_db: None) -> Iterator[World]:
    require_shared_database()
    world = build_world()
    with short_sqlite_busy_timeout(), sqlite_write_lock(connection.settings_dict["NAME"]):
        yield world


@sqlite_lock
def test_the_login_page_answers_503_while_the_database_is_locked(
    locked_world: World, client: Client
) -> None:
    r = client.post(
        reverse("portal:login"), {"email": locked_world.patient.user.email, "password": "falsch"}
    )
    assert r.status_code == 503
    assert r["Retry-After"] == "5"
    assert r["Content-Type"].startswith("text/html")
    assert BUSY_DE in r.content.decode()


@sqlite_lock
def test_the_patient_api_answers_503_database_busy_while_the_database_is_locked(
    locked_world: World, client: Client
) -> None:
    r = client.post(
        "/api/v1/auth/token",
        {"email": locked_world.patient.user.email, "password": "falsch"},
        content_type="application/json",
    )
    assert r.status_code == 503
    assert r["Retry-After"] == "5"
    assert r.json()["code"] == "database_busy"
    assert r.json()["detail"].startswith(BUSY_DE)


@pytest.mark.postgres_only
def test_a_portal_that_lost_postgresql_answers_503_on_pages_and_api(
    transactional_db: None, tmp_path: Path
) -> None:
    world = build_world()
    email = world.patient.user.email
    with server_behind_proxy("portal", tmp_path) as (server, proxy):
        assert httpx.get(f"{server.url}/").status_code == 200
        proxy.cut()
        for _ in range(2):  # the broken connection, then a refused new one
            api = httpx.post(
                f"{server.url}/api/v1/auth/token",
                json={"email": email, "password": PATIENT_PASSWORD},
                timeout=30,
            )
            assert api.status_code == 503, api.text
            assert api.headers["Retry-After"] == "5"
            assert api.json()["code"] == "database_unavailable"
            assert api.json()["detail"].startswith(UNAVAILABLE_DE)
        with httpx.Client(base_url=server.url, timeout=30) as http:
            login = reverse("portal:login")
            token = csrf_form(http, login)
            page = http.post(
                login,
                data={"email": email, "password": "x", "csrfmiddlewaretoken": token},
                headers={"Referer": f"{server.url}{login}"},
            )
        assert page.status_code == 503, page.text
        assert page.headers["Retry-After"] == "5"
        assert UNAVAILABLE_DE in page.text
