"""The world of the sync benchmarks: a portal and a practice calendar, each with its own
fresh database, the connector configured between them, and — on request — the practice
server and the sync job as real processes.

The benchmark process itself runs with the **practice** settings (as the e2e tests do):
it builds the practice's data, configures the connector and reads the practice
database directly; the portal is reached only over HTTP, as the connector reaches it.
The portal's data comes from ``tests.e2e.portal_seed`` (one practice, two doctors with
online calendars Mon–Fri 08–12 in 15-minute slots, horizon 35 days, three patients,
an API key).

Databases: SQLite files in a temp dir, or on PostgreSQL (127.0.0.1:5432, user postgres)
two fresh databases that are dropped at the end. Everything started is stopped.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, redirect_stdout
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

ROOT = Path(__file__).resolve().parent.parent
BERLIN = ZoneInfo("Europe/Berlin")
SECRET = "bench-secret-key-" + "x" * 40
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}


# --------------------------------------------------------------------------- figures


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class Row:
    """One line of a result table: a metric, its samples (ms) and an optional target."""

    metric: str
    samples: list[float]
    target: str = ""
    met: bool | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.samples)


def print_table(title: str, rows: list[Row], unit: str = "ms") -> None:
    print(f"\n{title} ({unit})")
    head = f"{'metric':<38}{'runs':>6}{'median':>10}{'p95':>10}{'p99':>10}{'min–max':>20}"
    print(f"{head}  {'target':<18}met")
    for r in rows:
        s = r.samples
        span = f"{min(s):.1f}–{max(s):.1f}"
        met = "" if r.met is None else ("yes" if r.met else "NO")
        print(
            f"{r.metric:<38}{len(s):>6}{r.median:>10.1f}{percentile(s, 0.95):>10.1f}"
            f"{percentile(s, 0.99):>10.1f}{span:>20}  {r.target:<18}{met}"
        )


@contextmanager
def bench_report(name: str) -> Iterator[None]:
    """What the block prints, printed and also written to ``var/bench/<name>.txt``."""
    table = io.StringIO()
    with redirect_stdout(table):
        yield
    print(table.getvalue(), end="")
    out = ROOT / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.txt"
    path.write_text(table.getvalue().lstrip("\n"), encoding="utf-8")
    print(f"written to {path.relative_to(ROOT)}")


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"server at {url} did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)


def vm_hwm_kib(pid: int) -> int:
    """Peak resident memory of a running process (Linux: VmHWM in /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


@contextmanager
def _database(backend: str, work: Path, role: str, stack_name: str) -> Iterator[str]:
    if backend != "postgres":
        yield f"sqlite:///{work / f'{role}.sqlite3'}"
        return
    import psycopg

    name = f"t360_bench_{stack_name}_{role}_{os.getpid()}"
    with psycopg.connect(dbname="postgres", autocommit=True, **PG) as conn:  # type: ignore[arg-type]
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgres://{PG['user']}@{PG['host']}:{PG['port']}/{name}"
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **PG) as conn:  # type: ignore[arg-type]
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --------------------------------------------------------------------------- the world


@dataclass
class SyncEnv:
    backend: str
    work: Path
    stack: ExitStack
    practice_env: dict[str, str]
    portal_env: dict[str, str]
    portal_url: str
    seed: dict[str, Any]
    monday: date
    columns: dict[int, Any] = field(default_factory=dict)
    staff: Any = None
    server_url: str = ""
    staff_token: str = ""
    job: subprocess.Popen[bytes] | None = None
    web: httpx.Client = field(init=False)
    _tokens: dict[int, str] = field(default_factory=dict)
    _practice_http: httpx.Client | None = None

    def __post_init__(self) -> None:
        self.web = self.stack.enter_context(httpx.Client(base_url=self.portal_url, timeout=30))

    # ----------------------------------------------------------------- processes

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = self.work / f"{name}.log"
        with log.open("ab") as fh:
            proc = subprocess.Popen(
                [sys.executable, "-m", "termin360", *args],
                env=env,
                cwd=ROOT,
                stdout=fh,
                stderr=subprocess.STDOUT,
            )
        self.stack.callback(stop, proc)
        return proc

    def start_practice_server(self) -> None:
        port = free_port()
        self.server_url = f"http://127.0.0.1:{port}"
        proc = self._spawn(
            "practice-server",
            ["practice", "serve", "--port", str(port), "--threads", "16"],
            self.practice_env,
        )
        wait_healthy(self.server_url, proc, self.work / "practice-server.log")
        r = httpx.post(
            f"{self.server_url}/api/v1/auth/token",
            json={"username": "empfang", "password": "empfang-pass-123"},
            timeout=15,
        )
        r.raise_for_status()
        self.staff_token = str(r.json()["token"])

    def start_second_portal(self) -> str:
        """Another ``portal serve`` process on the same portal database; returns its URL.
        Bookings made there reach a connector that long-polls the first process through
        the database (PostgreSQL: LISTEN/NOTIFY)."""
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = self._spawn(
            "portal-2", ["portal", "serve", "--port", str(port), "--threads", "32"], self.portal_env
        )
        wait_healthy(url, proc, self.work / "portal-2.log")
        return url

    def start_job(self) -> subprocess.Popen[bytes]:
        """``termin360 sync job run``; returns once it holds the job lease."""
        from termin360.connector.selectors import sync_state

        job = self._spawn("job", ["sync", "job", "run"], self.practice_env)
        deadline = time.monotonic() + 60
        while sync_state().job_pid != job.pid:
            if job.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the job did not start:\n{(self.work / 'job.log').read_text()}")
            time.sleep(0.05)
        self.job = job
        return job

    def stop_job(self) -> None:
        if self.job is not None:
            stop(self.job)
            self.job = None

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "termin360", *args],
            env={**self.practice_env, "COLUMNS": "200"},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        )

    # ----------------------------------------------------------------- practice side

    def practice(self, method: str, path: str, body: Any = None) -> httpx.Response:
        # One kept-alive client, as a browser has: a new httpx client per call would add
        # its own set-up (TLS context) to every sample.
        if self._practice_http is None:
            self._practice_http = self.stack.enter_context(httpx.Client(timeout=30))
        return self._practice_http.request(
            method,
            f"{self.server_url}/api/v1{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.staff_token}"},
        )

    def slot_ids(self, column: int, days: list[date]) -> list[int]:
        """Every free slot of a column on ``days``, in time order."""
        from termin360.practice.models import Slot

        rows = Slot.objects.filter(
            column=self.columns[column], day__in=days, appointment__isnull=True, annotated=False
        ).order_by("start")
        return list(rows.values_list("id", flat=True))

    # ----------------------------------------------------------------- portal side

    def calendar(self, index: int = 0) -> dict[str, Any]:
        return dict(self.seed["calendars"][index])

    def patient_token(self, patient: int = 0) -> str:
        if patient not in self._tokens:
            p = self.seed["patients"][patient]
            r = self.web.post(
                "/api/v1/auth/token", json={"email": p["email"], "password": p["password"]}
            )
            r.raise_for_status()
            self._tokens[patient] = str(r.json()["token"])
        return self._tokens[patient]

    def book_online(
        self, start: datetime, *, calendar: int = 0, patient: int = 0, client: Any = None
    ) -> dict[str, Any]:
        cal = self.calendar(calendar)
        r = (client or self.web).post(
            "/api/v1/bookings",
            json={
                "calendar_id": cal["id"],
                "visit_type_id": cal["visit_types"]["15"],
                "start": start.isoformat(),
                "reason": "Benchmark",
            },
            headers={"Authorization": f"Bearer {self.patient_token(patient)}"},
        )
        if r.status_code != 201:
            raise SystemExit(f"booking at {start} refused: {r.status_code} {r.text}")
        return dict(r.json())


def booking_times(monday: date, weeks: int, *, every: int = 1) -> list[datetime]:
    """The online calendars' bookable 15-minute times (Mon–Fri 08–12) of ``weeks`` weeks
    from ``monday``, every ``every``-th one."""
    out = []
    for w in range(weeks):
        for d in range(5):
            day = monday + timedelta(days=7 * w + d)
            for q in range(16):
                out.append(datetime.combine(day, dtime(8), BERLIN) + timedelta(minutes=15 * q))
    return out[::every]


def _build_practice(monday: date, weeks: int, columns: int) -> tuple[dict[int, Any], Any]:
    """Location, calendar 1 with ``columns`` columns, Mon–Fri 08–12 in 15-minute slots for
    ``weeks`` weeks from ``monday`` (the grid of the online calendars), staff users."""
    from django.contrib.auth import get_user_model

    from termin360.practice.domain.grid import TemplateRule
    from termin360.practice.services import setup

    users = get_user_model()
    users.objects.create_user("admin", password="admin-pass-123", is_staff=True)
    staff = users.objects.create_user("empfang", password="empfang-pass-123")
    location = setup.create_location(name="Bruchsal")
    calendar = setup.create_calendar(number=1, name="Allgemeinmedizin", location_id=location.pk)
    cols = {}
    names = ["Dr. Berger", "Dr. Keller", "Labor", "Ultraschall"]
    for number in range(1, columns + 1):
        col = setup.create_column(calendar=calendar, number=number, name=names[number - 1])
        setup.set_template(
            column=col,
            rules=[
                TemplateRule(weekday=d, start=dtime(8), end=dtime(12), slot_minutes=15)
                for d in range(5)
            ],
        )
        setup.generate_grid(column=col, first=monday, last=monday + timedelta(days=7 * weeks - 1))
        cols[number] = col
    return cols, staff


@contextmanager
def sync_env(
    backend: str,
    *,
    name: str = "sync",
    weeks: int = 4,
    columns: int = 2,
    mappings: tuple[int, ...] = (1, 2),
) -> Iterator[SyncEnv]:
    """Portal (running, seeded) and practice database (built, connector configured with
    online calendar A → column ``mappings[0]``, B → ``mappings[1]``). The practice
    server and the job are started by the caller (``start_practice_server``,
    ``start_job``). Only once per process: Django is set up here for the practice."""
    work = Path(tempfile.mkdtemp(prefix=f"t360-bench-{name}-"))
    stack = ExitStack()
    try:
        practice_db = stack.enter_context(_database(backend, work, "practice", name))
        portal_db = stack.enter_context(_database(backend, work, "portal", name))
        base = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
        base.pop("TERMIN360_SMTP_HOST", None)
        base.update(
            TERMIN360_SECRET_KEY=SECRET,
            TERMIN360_LOG_LEVEL="WARNING",
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), base.get("PYTHONPATH", "")])),
        )
        (work / "practice").mkdir()
        (work / "portal").mkdir()
        practice_env = {
            **base,
            "PRACTICE_DATABASE_URL": practice_db,
            "TERMIN360_DATA_DIR": str(work / "practice"),
        }
        port = free_port()
        portal_url = f"http://127.0.0.1:{port}"
        portal_env = {
            **base,
            "PORTAL_DATABASE_URL": portal_db,
            "TERMIN360_DATA_DIR": str(work / "portal"),
            "TERMIN360_PORTAL_URL": portal_url,
        }
        print(f"setting up portal and practice ({backend}) …", flush=True)
        subprocess.run(
            [sys.executable, "-m", "termin360", "portal", "init"],
            env=portal_env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        seeded = subprocess.run(
            [sys.executable, "-m", "tests.e2e.portal_seed", json.dumps({"count": 1})],
            env=portal_env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        seed = json.loads(seeded.stdout.strip().splitlines()[-1])[0]

        os.environ.update(practice_env)
        from termin360.cli.django_setup import migrate, setup

        setup("practice")
        migrate()
        from django.db import connections

        stack.callback(connections.close_all)
        today = date.today()
        monday = today + timedelta(days=7 - today.weekday())
        cols, staff = _build_practice(monday, weeks, columns)

        from termin360.connector.services import config

        config.save_config(portal_url=portal_url, api_key=seed["api_key"])
        config.set_mappings(
            [(c["id"], 1, col) for c, col in zip(seed["calendars"], mappings, strict=False)]
        )
        env = SyncEnv(backend, work, stack, practice_env, portal_env, portal_url, seed, monday)
        env.columns, env.staff = cols, staff
        proc = env._spawn(
            "portal",
            ["portal", "serve", "--port", str(port), "--threads", "32"],
            portal_env,
        )
        wait_healthy(portal_url, proc, work / "portal.log")
        yield env
    finally:
        stack.close()
        shutil.rmtree(work, ignore_errors=True)
