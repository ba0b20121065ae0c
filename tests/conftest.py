"""Shared fixtures: the database backend of this run, staff users, an API client with a
token, a small practice, and a real ``termin360 practice serve`` process.

The suite runs twice (``scripts/test``): on SQLite and on PostgreSQL. On the
PostgreSQL run, when no server answers, every database test is skipped with
the reason.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time as _time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

# The headless Chromium fixture (`browser`) of the practice and the portal browser tests.
pytest_plugins = ["tests.chromium"]

BACKEND = os.environ.get("TERMIN360_TEST_DB", "sqlite")
ARTIFACTS = Path(__file__).resolve().parent.parent / "var" / "test-artifacts"


def _postgres_unreachable_reason() -> str | None:
    if BACKEND != "postgres":
        return None
    import dj_database_url
    import psycopg

    url = os.environ.get("PRACTICE_DATABASE_URL") or os.environ.get("PORTAL_DATABASE_URL", "")
    cfg = dj_database_url.parse(url)
    try:
        psycopg.connect(
            host=cfg["HOST"] or "127.0.0.1",
            port=int(cfg["PORT"] or 5432),
            user=cfg["USER"] or "postgres",
            dbname="postgres",
            connect_timeout=3,
        ).close()
    except Exception as exc:
        return f"PostgreSQL not reachable at {cfg['HOST']}:{cfg['PORT']} ({exc.__class__.__name__})"
    return None


PG_SKIP = _postgres_unreachable_reason()


def pytest_report_header(config: pytest.Config) -> str:
    return f"termin360 database backend: {BACKEND}" + (f" — SKIPPED: {PG_SKIP}" if PG_SKIP else "")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if BACKEND == "postgres" and PG_SKIP:
            item.add_marker(pytest.mark.skip(reason=PG_SKIP))
        if "postgres_only" in item.keywords and BACKEND != "postgres":
            item.add_marker(pytest.mark.skip(reason="runs on the PostgreSQL pass of scripts/test"))


# --------------------------------------------------------------------------- practice data


@dataclass
class Practice:
    """A small practice: one location, calendar 1 with columns 1 and 2, a grid of
    Monday–Friday 08:00–12:00 in 15-minute slots for two weeks from ``monday``."""

    location: Any
    calendar: Any
    columns: dict[int, Any]
    monday: date
    admin: Any
    staff: Any


def next_monday(today: date | None = None) -> date:
    today = today or date.today()
    return today + timedelta(days=7 - today.weekday())


def build_practice(monday: date | None = None) -> Practice:
    from django.contrib.auth import get_user_model

    from termin360.practice.domain.grid import TemplateRule
    from termin360.practice.services import setup

    monday = monday or next_monday()
    user_model = get_user_model()
    admin = user_model.objects.create_user("admin", password="admin-pass-123", is_staff=True)
    staff = user_model.objects.create_user("empfang", password="empfang-pass-123")
    staff2 = user_model.objects.create_user("empfang2", password="empfang-pass-123")
    del staff2
    location = setup.create_location(name="Bruchsal")
    calendar = setup.create_calendar(number=1, name="Allgemeinmedizin", location_id=location.pk)
    columns = {}
    for number, name in ((1, "Dr. Berger"), (2, "Dr. Keller")):
        col = setup.create_column(calendar=calendar, number=number, name=name)
        setup.set_template(
            column=col,
            rules=[
                TemplateRule(weekday=d, start=time(8), end=time(12), slot_minutes=15)
                for d in range(5)
            ],
        )
        setup.generate_grid(column=col, first=monday, last=monday + timedelta(days=13))
        columns[number] = col
    return Practice(location, calendar, columns, monday, admin, staff)


@pytest.fixture
def practice(db: None) -> Practice:
    return build_practice()


class Api:
    """A Django test client that talks JSON with a staff token."""

    def __init__(self, client: Any, token: str) -> None:
        self.client, self.headers = client, {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        fn = getattr(self.client, method)
        kwargs: dict[str, Any] = dict(self.headers)
        if body is not None:
            kwargs["data"] = body
            kwargs["content_type"] = "application/json"
        return fn(f"/api/v1{path}", **kwargs)

    def get(self, path: str) -> Any:
        return self._call("get", path)

    def post(self, path: str, body: Any = None) -> Any:
        return self._call("post", path, body if body is not None else {})

    def put(self, path: str, body: Any) -> Any:
        return self._call("put", path, body)

    def patch(self, path: str, body: Any) -> Any:
        return self._call("patch", path, body)

    def delete(self, path: str) -> Any:
        return self._call("delete", path)


def _token(client: Any, username: str, password: str) -> str:
    r = client.post(
        "/api/v1/auth/token",
        {"username": username, "password": password},
        content_type="application/json",
    )
    assert r.status_code == 201, r.content
    return str(r.json()["token"])


@pytest.fixture
def api(client: Any, practice: Practice) -> Api:
    """Logged in as a receptionist (no set-up rights)."""
    return Api(client, _token(client, "empfang", "empfang-pass-123"))


@pytest.fixture
def admin_api(client: Any, practice: Practice) -> Api:
    return Api(client, _token(client, "admin", "admin-pass-123"))


# --------------------------------------------------------------------------- real server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _test_database_url() -> str:
    """The URL of the test database pytest-django created, for a server process to open."""
    from django.db import connection

    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    user, host, port = s["USER"] or "postgres", s["HOST"] or "127.0.0.1", s["PORT"] or 5432
    return f"postgres://{user}@{host}:{port}/{s['NAME']}"


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


DATABASE_URL_VARIABLE = {"practice": "PRACTICE_DATABASE_URL", "portal": "PORTAL_DATABASE_URL"}


def require_shared_database() -> None:
    """A test that starts server processes needs a database they can open too."""
    if BACKEND == "sqlite" and not os.environ.get("TERMIN360_TEST_SQLITE_FILE"):
        pytest.skip("set TERMIN360_TEST_SQLITE_FILE (scripts/test does) to share SQLite")


def role_env(role: str, directory: Path, **extra: str) -> dict[str, str]:
    """The environment of a ``termin360 <role> …`` process on this test's database."""
    env = dict(os.environ)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(
        {
            DATABASE_URL_VARIABLE[role]: _test_database_url(),
            "TERMIN360_DATA_DIR": str(directory),
            "TERMIN360_SECRET_KEY": "test-secret-key-" + "x" * 40,
            "TERMIN360_LOG_LEVEL": "WARNING",
            **extra,
        }
    )
    return env


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if the process does not end within 10 s."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def running_server(
    role: str, directory: Path, *, threads: int = 16, env: dict[str, str] | None = None
) -> Iterator[Server]:
    """``termin360 <role> serve`` in its own process on the test database, until the block
    ends. The test's data must be committed (``transactional_db``). ``env`` adds to or
    overrides the process's environment (e.g. its database URL)."""
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    extra = {"TERMIN360_PORTAL_URL": url} if role == "portal" else {}
    extra.update(env or {})
    log = directory / f"{role}.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "termin360", role, "serve"),
                *("--port", str(port), "--threads", str(threads)),
            ],
            env=role_env(role, directory, **extra),
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = _time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or _time.monotonic() > deadline:
                pytest.fail(f"{role} server did not start:\n{log.read_text()}")
            _time.sleep(0.1)
        yield Server(url, proc, log)
    finally:
        stop(proc)


@pytest.fixture
def practice_server(transactional_db: None, tmp_path: Path) -> Iterator[Server]:
    """``termin360 practice serve`` in its own process on the test database."""
    require_shared_database()
    with running_server("practice", tmp_path) as server:
        yield server


def race(calls: list[Callable[[], httpx.Response]], *, wait: float = 30) -> list[httpx.Response]:
    """Run the calls in threads released by one barrier, so they hit the server together.
    Every call must answer (an exception in any thread fails the test)."""
    barrier = threading.Barrier(len(calls))
    results: list[httpx.Response | None] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=wait)
            results[i] = calls[i]()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=wait * 5)
    assert not errors, errors
    assert all(r is not None for r in results)
    return [r for r in results if r is not None]


# --------------------------------------------------------------------------- helpers for API tests


def slot_id(p: Practice, column: int, day: date, at: str) -> int:
    """The id of the slot of column number ``column`` starting at local ``at`` ("09:15")."""
    from zoneinfo import ZoneInfo

    from termin360.core.timezones import local_to_utc
    from termin360.practice.models import Slot

    start = local_to_utc(day, time.fromisoformat(at), ZoneInfo(p.location.time_zone))
    return int(Slot.objects.get(column=p.columns[column], start=start).pk)


def slot_state(api: Api, slot: int) -> dict[str, Any]:
    """The slot as the API shows it (state, reserved, note, annotation, appointment_id)."""
    r = api.get(f"/slots/{slot}")
    assert r.status_code == 200, r.content
    return dict(r.json())


def book(api: Api, slot: int, **body: Any) -> Any:
    """POST /appointments on ``slot`` with a free text unless a patient or text is given."""
    payload: dict[str, Any] = {"slot_id": slot, **body}
    if "patient_id" not in body and "text" not in body:
        payload["text"] = "Kontrolle"
    return api.post("/appointments", payload)


def booked(api: Api, slot: int, **body: Any) -> dict[str, Any]:
    r = book(api, slot, **body)
    assert r.status_code == 201, r.content
    return dict(r.json())


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """A clean API error: the status, a JSON body with ``code`` and a non-empty ``detail``."""
    assert response.status_code == status, (response.status_code, response.content)
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = dict(response.json())
    assert isinstance(body.get("code"), str) and body["code"], body
    assert isinstance(body.get("detail"), str) and body["detail"].strip(), body
    if code is not None:
        assert body["code"] == code, body
    return body


# --------------------------------------------------------------------------- fast password hashing


from django.contrib.auth.hashers import Argon2PasswordHasher  # noqa: E402


class QuickArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2 at minimal cost, for tests: hashing the practice's passwords would otherwise
    dominate the suite's time. The cost is part of each hash, so a real server process
    (with the default hasher) verifies these hashes as well."""

    time_cost = 1
    memory_cost = 8
    parallelism = 1


@pytest.fixture(autouse=True)
def _quick_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = [
        "tests.conftest.QuickArgon2PasswordHasher",
        *settings.PASSWORD_HASHERS,
    ]


# --------------------------------------------------------------------------- several servers


@pytest.fixture
def two_practice_servers(transactional_db: None, tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    """Two server processes on one database — the scale-out set-up of the SPEC."""
    require_shared_database()
    with (
        running_server("practice", tmp_path / "a") as a,
        running_server("practice", tmp_path / "b") as b,
    ):
        yield a, b


def count_queries(call: Callable[[], Any]) -> tuple[int, Any]:
    """How many SQL statements ``call`` issues on the default database, and its result."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        result = call()
    return len(ctx.captured_queries), result


def queries_of(call: Callable[[], Any], width: int = 90) -> list[str]:
    """The statements ``call`` issues, cut to ``width``: the message of a failed count."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        call()
    return [q["sql"][:width] for q in ctx.captured_queries]
