"""The e2e harness: one portal for the whole session (its own database, HTTPS with a
certificate from a throw-away CA made by ``trustme``), and per test a practice database,
a ``practice serve`` process, the connector configured through ``termin360 sync …`` and
the real job process ``termin360 sync job run``.

Isolation without restarting the portal: every test seeds its own portal practice
(``portal_seed``) with its own API key, so a test's connector sees only its own feed.

These tests run in the practice pass of scripts/test (practice settings in this
process); the portal's data is reached only over HTTP, as the connector reaches it.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import ssl
import subprocess
import sys
import time as _time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.conftest import (
    BACKEND,
    Practice,
    Server,
    build_practice,
    free_port,
    require_shared_database,
    role_env,
    running_server,
    stop,
)

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]
BERLIN = ZoneInfo("Europe/Berlin")
POLL = 0.05
WAIT = 20.0  # generous: CI machines are slow, and a passing test never waits this long
# For a mail from ``Portal.worker``: the worker renders and sends the queue in order, the
# seed's bookings' mails (some 300) first — 18 s and more on a slow 2-core machine.
MAIL_WAIT = 90.0
TLS_PROFILE = "portal-e2e"
SECRET = "test-secret-key-" + "x" * 40


def wait_until(check: Callable[[], T], what: str, timeout: float = WAIT) -> T:
    """Poll ``check`` every 50 ms until it returns something truthy; fail with ``what``."""
    deadline = _time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if _time.monotonic() > deadline:
            pytest.fail(f"not reached within {timeout:.0f} s: {what} (last value: {value!r})")
        _time.sleep(POLL)


def berlin(day: date, at: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(at), BERLIN)


# --------------------------------------------------------------------------- failure logs


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """On a failure, attach the logs of the processes the test started (job, servers)."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.failed:
        for path in getattr(item, "e2e_logs", []):
            if path.exists():
                text = path.read_text(errors="replace")
                report.sections.append((f"log {path.name}", text[-20000:] or "(empty)"))


# --------------------------------------------------------------------------- TLS


@dataclass
class Tls:
    ca_bundle: Path
    cert: Path
    key: Path

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_bundle))


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    import trustme

    d = tmp_path_factory.mktemp("tls")
    ca = trustme.CA(organization_name="termin360 e2e CA")
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca.cert_pem.write_to_path(str(d / "ca.pem"))
    cert.private_key_pem.write_to_path(str(d / "server.key"))
    with (d / "server.pem").open("wb") as fh:
        for pem in cert.cert_chain_pems:
            fh.write(pem.bytes())
    return Tls(d / "ca.pem", d / "server.pem", d / "server.key")


# --------------------------------------------------------------------------- the portal


def parse_mails(directory: Path) -> list[EmailMessage]:
    """Every mail Django's file backend wrote into ``directory`` (several per file)."""
    mails: list[EmailMessage] = []
    if not directory.is_dir():
        return mails
    for path in sorted(directory.glob("*.log")):
        for chunk in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
            if chunk.strip():
                msg = email.message_from_bytes(chunk, policy=email.policy.default)
                assert isinstance(msg, EmailMessage)
                mails.append(msg)
    return mails


def mail_text(msg: EmailMessage) -> str:
    body = msg.get_body(preferencelist=("plain",))
    content = body.get_content() if body is not None else ""
    return f"{msg['subject']}\n{content}"


@dataclass
class Portal:
    url: str
    env: dict[str, str]
    data_dir: Path
    tls: Tls
    process: subprocess.Popen[bytes]
    log: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, verify=self.tls.context(), timeout=15)

    pool: list[dict[str, Any]] = field(default_factory=list)

    def seed(self) -> dict[str, Any]:
        """A fresh practice on the portal, for one test only (see ``portal_seed``)."""
        if not self.pool:
            self.pool.extend(self._seed(count=10))
        return self.pool.pop()

    def _seed(self, **spec: Any) -> list[dict[str, Any]]:
        done = subprocess.run(
            [sys.executable, "-m", "tests.e2e.portal_seed", json.dumps(spec)],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr.decode(errors="replace")
        return list(json.loads(done.stdout.decode().strip().splitlines()[-1]))

    def mails(self) -> list[EmailMessage]:
        return parse_mails(self.data_dir / "mails")

    def mails_to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.mails() if address in str(m["to"])]

    @contextmanager
    def worker(self, log: Path, **extra: str) -> Iterator[subprocess.Popen[bytes]]:
        """``termin360 portal worker`` (mails as files into the portal's data dir)."""
        with log.open("ab") as fh:
            proc = subprocess.Popen(
                [sys.executable, "-m", "termin360", "portal", "worker", "--poll", "0.2"],
                env={**self.env, "TERMIN360_LOG_LEVEL": "INFO", **extra},
                cwd=ROOT,
                stdout=fh,
                stderr=subprocess.STDOUT,
            )
        try:
            yield proc
        finally:
            stop(proc)


def _postgres_server() -> dict[str, Any]:
    import dj_database_url

    cfg = dj_database_url.parse(os.environ.get("PRACTICE_DATABASE_URL", ""))
    return {
        "host": cfg["HOST"] or "127.0.0.1",
        "port": int(cfg["PORT"] or 5432),
        "user": cfg["USER"] or "postgres",
    }


@contextmanager
def _portal_database(directory: Path) -> Iterator[str]:
    """The portal's own database: a file on SQLite, a fresh database on PostgreSQL."""
    if BACKEND != "postgres":
        yield f"sqlite:///{directory / 'portal.sqlite3'}"
        return
    import psycopg

    server = _postgres_server()
    name = f"t360_e2e_portal_{os.getpid()}"
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgres://{server['user']}@{server['host']}:{server['port']}/{name}"
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **server) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def portal(tls: Tls, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    """``termin360 portal serve`` over HTTPS on its own database, for the whole session."""
    require_shared_database()
    directory = tmp_path_factory.mktemp("portal")
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    with _portal_database(directory) as database_url:
        env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
        env.pop("TERMIN360_SMTP_HOST", None)
        env.update(
            PORTAL_DATABASE_URL=database_url,
            TERMIN360_DATA_DIR=str(directory),
            TERMIN360_SECRET_KEY=SECRET,
            TERMIN360_PORTAL_URL=url,
            TERMIN360_LOG_LEVEL="WARNING",
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")])),
        )
        init = subprocess.run(
            [sys.executable, "-m", "termin360", "portal", "init"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            timeout=300,
        )
        assert init.returncode == 0, init.stderr.decode(errors="replace")
        log = directory / "portal.log"
        with log.open("wb") as fh:
            proc = subprocess.Popen(
                [
                    *(sys.executable, "-m", "termin360", "portal", "serve"),
                    *("--port", str(port), "--threads", "32"),
                    *("--tls-cert", str(tls.cert), "--tls-key", str(tls.key)),
                ],
                env=env,
                cwd=ROOT,
                stdout=fh,
                stderr=subprocess.STDOUT,
            )
        try:
            ctx = tls.context()

            def healthy() -> bool:
                if proc.poll() is not None:
                    pytest.fail(f"portal did not start:\n{log.read_text()}")
                try:
                    return httpx.get(f"{url}/health", verify=ctx, timeout=1).status_code == 200
                except httpx.HTTPError:
                    return False

            wait_until(healthy, "portal answers /health over HTTPS", timeout=60)
            yield Portal(url, env, directory, tls, proc, log)
        finally:
            # Threads still hold the long polls of the tests' killed jobs (up to 25 s);
            # a graceful stop would wait for them, and nothing is left to finish.
            proc.terminate()
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# --------------------------------------------------------------------------- one test's sync


@dataclass
class Sync:
    """One test's world: the practice (``p``), its portal practice (``seed``), the
    practice server, the connector and the job — with helpers to act on both sides."""

    p: Practice
    seed: dict[str, Any]
    portal: Portal
    tmp: Path
    item: pytest.Item
    stack: ExitStack
    server: Server | None = None
    job: subprocess.Popen[bytes] | None = None
    web: httpx.Client = field(init=False)
    staff_token: str = ""
    admin_token: str = ""
    _patient_tokens: dict[int, str] = field(default_factory=dict)
    _jobs: int = 0

    def __post_init__(self) -> None:
        self.web = self.stack.enter_context(self.portal.client())

    # ----------------------------------------------------------------- processes

    def env(self, **extra: str) -> dict[str, str]:
        return role_env("practice", self.tmp, TERMIN360_LOG_LEVEL="INFO", **extra)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``termin360 sync …`` in its own process on this test's practice database."""
        done = subprocess.run(
            [sys.executable, "-m", "termin360", "sync", *args],
            env=self.env(COLUMNS="200"),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check:
            assert done.returncode == 0, (args, done.returncode, done.stdout, done.stderr)
        return done

    def cli_json(self, *args: str) -> Any:
        return json.loads(self.cli(*args, "--json").stdout)

    def configure(
        self, *, mappings: dict[int, str] | None = None, url: str = "", via_cli: bool = False
    ) -> None:
        """TLS profile with the e2e CA, portal URL, API key and the mappings (default:
        online calendar A → calendar 1 column 1, B → 1/2). Through the connector's
        services in this process unless ``via_cli`` (starting a CLI process costs
        seconds; S1 tests the command itself)."""
        if mappings is None:
            mappings = {c["id"]: f"1/{i + 1}" for i, c in enumerate(self.seed["calendars"])}
        url = url or self.portal.url
        if via_cli:
            self.cli("tls", TLS_PROFILE, "--ca-bundle", str(self.portal.tls.ca_bundle))
            maps = [a for cal, target in mappings.items() for a in ("--map", f"{cal}={target}")]
            self.cli(
                "config",
                *("--portal-url", url),
                *("--api-key", self.seed["api_key"]),
                *("--tls-profile", TLS_PROFILE),
                *maps,
            )
            return
        from termin360.connector.services import config

        config.save_tls_profile(name=TLS_PROFILE, ca_bundle=str(self.portal.tls.ca_bundle))
        config.save_config(portal_url=url, api_key=self.seed["api_key"], tls_profile=TLS_PROFILE)
        entries = []
        for online_id, target in mappings.items():
            cal, col = target.split("/")
            entries.append((online_id, int(cal), int(col)))
        config.set_mappings(entries)

    def start_server(self) -> Server:
        """``termin360 practice serve`` (HTTP) on this test's database."""
        directory = self.tmp / f"server-{len(getattr(self.item, 'e2e_logs', []))}"
        cm = running_server("practice", directory)
        self._server_cm = cm
        self.server = cm.__enter__()
        self._log(self.server.log)
        self.staff_token = self._practice_token("empfang", "empfang-pass-123")
        self.admin_token = self._practice_token("admin", "admin-pass-123")
        return self.server

    def stop_server(self) -> None:
        if self.server is not None:
            self._server_cm.__exit__(None, None, None)
            self.server = None

    def start_job(self, *, wait: bool = True) -> subprocess.Popen[bytes]:
        """``termin360 sync job run``; waits until it holds the job lease."""
        self._jobs += 1
        log = self.tmp / f"job-{self._jobs}.log"
        self._log(log)
        with log.open("wb") as fh:
            self.job = subprocess.Popen(
                [sys.executable, "-m", "termin360", "sync", "job", "run"],
                env=self.env(),
                cwd=ROOT,
                stdout=fh,
                stderr=subprocess.STDOUT,
            )
        if wait:
            self.wait_job()
        return self.job

    def wait_job(self) -> None:
        job = self.job
        assert job is not None

        def holds_lease() -> bool:
            if job.poll() is not None:
                pytest.fail(f"the job ended at once with exit code {job.returncode}")
            return bool(self.state().job_pid == job.pid)

        wait_until(holds_lease, f"the job (pid {job.pid}) holds the lease")

    def stop_job(self) -> None:
        """SIGTERM, as ``practice serve`` or a service manager would stop it."""
        if self.job is not None:
            stop(self.job)
            self.job = None

    def stop_detached_job(self) -> None:
        """A job ``sync job on`` started in the background (not ours to signal): ask it to
        stop the way ``sync job stop`` does, so nothing outlives the test's database."""
        from termin360.connector.job import request_stop
        from termin360.connector.selectors import job_is_running

        if job_is_running(self.state()):
            request_stop()
            deadline = _time.monotonic() + 10
            while job_is_running(self.state()) and _time.monotonic() < deadline:
                _time.sleep(POLL)

    def kill_job(self) -> None:
        if self.job is not None:
            self.job.kill()
            self.job.wait()
            self.job = None

    def _log(self, path: Path) -> None:
        logs = getattr(self.item, "e2e_logs", [])
        logs.append(path)
        self.item.e2e_logs = logs  # type: ignore[attr-defined]

    # ----------------------------------------------------------------- practice side

    def _practice_token(self, username: str, password: str) -> str:
        assert self.server is not None
        r = httpx.post(
            f"{self.server.url}/api/v1/auth/token",
            json={"username": username, "password": password},
            timeout=15,
        )
        assert r.status_code == 201, r.text
        return str(r.json()["token"])

    def practice(
        self, method: str, path: str, body: Any = None, *, admin: bool = False
    ) -> httpx.Response:
        """A call to the practice server's JSON API as the receptionist (or the admin)."""
        assert self.server is not None, "start_server() first"
        token = self.admin_token if admin else self.staff_token
        return httpx.request(
            method,
            f"{self.server.url}/api/v1{path}",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )

    def slot(self, column: int, day: date, at: str) -> int:
        from tests.conftest import slot_id

        return slot_id(self.p, column, day, at)

    def book_in_practice(
        self, column: int, day: date, at: str, *, slots: int = 1, **body: Any
    ) -> httpx.Response:
        payload = {"slot_id": self.slot(column, day, at), "slot_count": slots, **body}
        if "patient_id" not in body and "text" not in body:
            payload["text"] = "Kontrolle (Praxis)"
        return self.practice("POST", "/appointments", payload)

    def state(self) -> Any:
        from termin360.connector.selectors import sync_state

        return sync_state()

    def online_booking(self, booking_id: int) -> Any:
        from termin360.connector.models import OnlineBooking

        return (
            OnlineBooking.objects.select_related("appointment__patient", "appointment__column")
            .filter(booking_id=booking_id)
            .first()
        )

    def placed(self, booking_id: int) -> Any:
        """The connector's record of the booking once it sits in the practice calendar."""
        ob = self.online_booking(booking_id)
        return ob if ob is not None and ob.placement and ob.appointment_id else None

    def wait_placed(self, booking_id: int, timeout: float = WAIT) -> Any:
        return wait_until(
            lambda: self.placed(booking_id), f"online booking {booking_id} placed", timeout
        )

    def busy_synced(self) -> bool:
        """Nothing left in the outbox: the portal has the practice's busy state."""
        from termin360.connector.models import OutboxEntry

        return not OutboxEntry.objects.exists()

    # ----------------------------------------------------------------- portal side

    def calendar(self, index: int = 0) -> dict[str, Any]:
        return dict(self.seed["calendars"][index])

    def patient_token(self, patient: int = 0) -> str:
        if patient not in self._patient_tokens:
            p = self.seed["patients"][patient]
            r = self.web.post(
                "/api/v1/auth/token", json={"email": p["email"], "password": p["password"]}
            )
            assert r.status_code == 201, r.text
            self._patient_tokens[patient] = str(r.json()["token"])
        return self._patient_tokens[patient]

    def _as(self, patient: int) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.patient_token(patient)}"}

    def try_book(
        self, day: date, at: str, *, calendar: int = 0, minutes: int = 15, patient: int = 0
    ) -> httpx.Response:
        cal = self.calendar(calendar)
        return self.web.post(
            "/api/v1/bookings",
            json={
                "calendar_id": cal["id"],
                "visit_type_id": cal["visit_types"][str(minutes)],
                "start": berlin(day, at).isoformat(),
                "reason": "e2e",
            },
            headers=self._as(patient),
        )

    def book_online(
        self, day: date, at: str, *, calendar: int = 0, minutes: int = 15, patient: int = 0
    ) -> dict[str, Any]:
        """A patient books on the portal over HTTPS; the booking as the portal answers it."""
        r = self.try_book(day, at, calendar=calendar, minutes=minutes, patient=patient)
        assert r.status_code == 201, r.text
        return dict(r.json())

    def cancel_online(self, booking_id: int, *, patient: int = 0) -> dict[str, Any]:
        r = self.web.delete(f"/api/v1/bookings/{booking_id}", headers=self._as(patient))
        assert r.status_code == 200, r.text
        return dict(r.json())

    def portal_booking(self, booking_id: int, *, patient: int = 0) -> dict[str, Any]:
        r = self.web.get(f"/api/v1/bookings/{booking_id}", headers=self._as(patient))
        assert r.status_code == 200, r.text
        return dict(r.json())

    def my_bookings(self, *, patient: int = 0) -> list[dict[str, Any]]:
        r = self.web.get("/api/v1/me/bookings", headers=self._as(patient))
        assert r.status_code == 200, r.text
        return list(r.json())

    def free_times(self, day: date, *, calendar: int = 0, minutes: int = 15) -> list[str]:
        """The free start times ("09:15") the portal offers on ``day``."""
        cal = self.calendar(calendar)
        r = self.web.get(
            f"/api/v1/calendars/{cal['id']}/slots",
            params={
                "from": day.isoformat(),
                "days": 1,
                "visit_type": cal["visit_types"][str(minutes)],
            },
        )
        assert r.status_code == 200, r.text
        days = r.json()["days"]
        return [
            datetime.fromisoformat(s["start"]).astimezone(BERLIN).strftime("%H:%M")
            for d in days
            if d["day"] == day.isoformat()
            for s in d["slots"]
        ]

    def wait_free(
        self, day: date, expected: set[str], *, free: bool, calendar: int = 0, minutes: int = 15
    ) -> None:
        """Wait until the portal offers (``free=True``) or withholds all ``expected`` times."""
        state = "free" if free else "blocked"

        def reached() -> bool:
            offered = set(self.free_times(day, calendar=calendar, minutes=minutes))
            return expected <= offered if free else not (expected & offered)

        wait_until(reached, f"{sorted(expected)} on {day} {state} online")

    def feed_last_seq(self) -> int:
        """The highest sequence number of this practice's change feed, asked as the
        connector would (sync API, with the practice's key)."""
        r = self.web.get(
            "/api/v1/sync/events",
            params={"after": 0, "wait": 0},
            headers={"Authorization": f"Bearer {self.seed['api_key']}"},
        )
        assert r.status_code == 200, r.text
        return int(r.json()["last_seq"])


@pytest.fixture
def make_sync(
    transactional_db: None, portal: Portal, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Sync]]:
    """Build the world of one test: ``make_sync(configure=True, server=True, job=True,
    mappings=None)``. Everything it starts is stopped at the end (job first)."""
    stack = ExitStack()
    made: list[Sync] = []

    def make(
        *,
        configure: bool = True,
        server: bool = True,
        job: bool = True,
        mappings: dict[int, str] | None = None,
    ) -> Sync:
        p = build_practice()
        seed = portal.seed()
        s = Sync(p, seed, portal, tmp_path, request.node, stack)
        made.append(s)
        if configure:
            s.configure(mappings=mappings)
        # The job and the server start side by side: each takes seconds to come up.
        if job:
            s.start_job(wait=False)
        if server:
            s.start_server()
        if job:
            s.wait_job()
        return s

    try:
        yield make
    finally:
        for s in made:
            s.stop_job()
            s.stop_server()
            s.stop_detached_job()
        stack.close()


def weekday(p: Practice, n: int) -> date:
    """Day ``n`` (0 = Monday) of the first week of the practice's grid."""
    return p.monday + timedelta(days=n)
