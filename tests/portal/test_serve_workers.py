"""``termin360 portal serve --workers N`` (issue 13, decision 020): several processes on
one port, a database pool that keeps them inside PostgreSQL's connection limit, and long
polls that cannot take every thread of a process — each run as a real server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import time as day_time
from pathlib import Path

import httpx
import pytest

from termin360.deploy.health import PROCESS_HEADER
from termin360.portal.services import practices
from tests.conftest import require_shared_database, role_env
from tests.portal.conftest import build_world
from tests.portal.sync_support import book
from tests.processes import alive, children, command_line, serving


def _answering_processes(url: str, *, rounds: int = 20, at_once: int = 16) -> set[int]:
    """The processes that answer ``/health/live``, asked ``at_once`` at a time (fresh
    connections), until two have answered or ``rounds`` are done."""
    seen: set[int] = set()

    def ask(_: int) -> int:
        r = httpx.get(f"{url}/health/live", timeout=10, headers={"Connection": "close"})
        assert r.status_code == 200
        return int(r.headers[PROCESS_HEADER])

    with ThreadPoolExecutor(at_once) as pool:
        for _round in range(rounds):
            seen.update(pool.map(ask, range(at_once)))
            if len(seen) >= 2:
                break
    return seen


def test_two_workers_answer_on_one_port_and_stop_cleanly_on_sigterm(
    transactional_db: None, tmp_path: Path
) -> None:
    require_shared_database()
    env = role_env("portal", tmp_path)
    with serving("portal", tmp_path, "--workers", "2", "--threads", "4", env=env) as server:
        master = server.process.pid
        deadline = time.monotonic() + 15
        while len(workers := children(master)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(workers) == 2, [command_line(pid) for pid in workers]
        answering = _answering_processes(server.url)
        assert answering == set(workers), (answering, workers)
        output = server.log.read_text()
        assert "Portal läuft auf" in output
        assert "2 Prozesse (gunicorn) mit je 4 Threads" in output

        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=15) == 0
    assert not any(alive(pid) for pid in workers)
    assert "Traceback" not in server.log.read_text()


def test_a_long_poll_beyond_the_limit_answers_at_once_and_threads_stay_free(
    transactional_db: None, tmp_path: Path
) -> None:
    """One waiting poll per process allowed (TERMIN360_LONG_POLL_MAX=1, 4 threads): the
    second poll answers at once with an empty page, other calls are not held up, and the
    waiting one still wakes for the booking."""
    require_shared_database()
    world = build_world()
    _record, key = practices.issue_api_key(practice=world.practice, name="Connector")
    auth = {"Authorization": f"Bearer {key}"}
    env = role_env("portal", tmp_path, TERMIN360_LONG_POLL_MAX="1")
    with serving("portal", tmp_path, "--threads", "4", env=env) as server:
        events = f"{server.url}/api/v1/sync/events"
        answer: dict[str, object] = {}

        def first_poll() -> None:
            r = httpx.get(events, params={"after": 0, "wait": 20}, headers=auth, timeout=40)
            answer["at"], answer["body"] = time.monotonic(), r.json()

        waiting = threading.Thread(target=first_poll)
        waiting.start()
        time.sleep(1.0)  # the first poll waits now
        started = time.monotonic()
        second = httpx.get(events, params={"after": 0, "wait": 20}, headers=auth, timeout=40)
        assert time.monotonic() - started < 2, "the second poll waited"
        assert second.json() == {"events": [], "last_seq": 0, "more": False}
        started = time.monotonic()
        listing = httpx.get(f"{server.url}/api/v1/sync/calendars", headers=auth, timeout=10)
        assert listing.status_code == 200
        assert time.monotonic() - started < 2
        assert "at" not in answer, "the first poll did not wait"

        booking = book(world, day_time(9))
        waiting.join(timeout=20)
    assert "at" in answer, "the waiting poll did not answer"
    body = answer["body"]
    assert isinstance(body, dict)
    assert [e["booking"]["booking_id"] for e in body["events"]] == [booking.pk]


def test_a_budget_too_small_is_one_german_line_before_anything_starts(tmp_path: Path) -> None:
    """Nothing listens on port 1: the configured budget is checked without the database."""
    env = dict(
        os.environ,
        TERMIN360_DATA_DIR=str(tmp_path),
        PORTAL_DATABASE_URL="postgres://postgres@127.0.0.1:1/termin360",
        TERMIN360_DB_MAX_CONNECTIONS="5",
    )
    env.pop("DJANGO_SETTINGS_MODULE", None)
    command = [sys.executable, "-m", "termin360", "portal", "serve", "--workers", "2"]
    refused = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2, refused
    [line] = refused.stderr.strip().splitlines()
    assert "2 Prozesse × 9 Datenbankverbindungen" in line  # pool of 8 + the feed listener
    assert "= 18, erlaubt sind 5 (TERMIN360_DB_MAX_CONNECTIONS)" in line
    assert "läuft auf" not in refused.stdout

    env["TERMIN360_DB_POOL_MAX"] = "1"  # 2 × (1 + 1) = 4: allowed, so serve goes on …
    passed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert passed.returncode == 1, passed  # … to the database, which is not there
    assert "Die Datenbank ist nicht erreichbar" in passed.stderr


@pytest.mark.postgres_only
def test_worker_processes_stay_inside_their_pools(transactional_db: None, tmp_path: Path) -> None:
    """Two workers of eight threads with pools of two: however many requests come at once,
    the server holds at most four connections (without the pool: up to sixteen)."""
    from django.db import connection

    require_shared_database()
    env = role_env("portal", tmp_path, TERMIN360_DB_POOL_MAX="2")
    with serving("portal", tmp_path, "--workers", "2", "--threads", "8", env=env) as server:
        counts: list[int] = []
        done, counting = threading.Event(), threading.Event()

        def count() -> None:
            try:
                while not done.is_set():
                    with connection.cursor() as cursor:
                        cursor.execute(
                            "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                            "current_database() AND pid <> pg_backend_pid() "
                            "AND backend_type = 'client backend'"
                        )
                        counts.append(int(cursor.fetchone()[0]))
                    counting.set()
                    time.sleep(0.02)
            finally:
                connection.close()

        counter = threading.Thread(target=count)
        counter.start()
        counting.wait(10)
        baseline = counts[0]  # this test's own connections: the server has none yet

        def ready(_: int) -> int:
            r = httpx.get(f"{server.url}/health/ready", timeout=30)
            return r.status_code

        try:
            with ThreadPoolExecutor(32) as pool:
                statuses = list(pool.map(ready, range(160)))
        finally:
            done.set()
            counter.join()
    assert set(statuses) == {200}, statuses
    most = max(counts) - baseline
    assert 1 <= most <= 4, (baseline, counts)


@pytest.mark.postgres_only
def test_without_a_configured_budget_the_servers_limit_counts(transactional_db: None) -> None:
    from django.db import connection

    from termin360.deploy import dbpool

    with connection.cursor() as cursor:
        cursor.execute("SHOW max_connections")
        limit = int(cursor.fetchone()[0])
        cursor.execute("SHOW superuser_reserved_connections")
        reserved = int(cursor.fetchone()[0])
    budget = dbpool.budget()
    assert budget.source.startswith("max_connections")
    assert limit - reserved - 3 <= budget.connections <= limit - reserved  # PG 16: a few more
    with pytest.raises(dbpool.BudgetExceeded, match="Prozesse"):
        dbpool.check_budget(workers=budget.connections, extra_per_process=1)
    assert dbpool.check_budget(workers=1, extra_per_process=1) == dbpool.pool_max() + 1


def test_a_pool_without_a_free_connection_is_busy_not_a_bug() -> None:
    """What Django raises when no pooled connection comes free in time: 503, not 500."""
    from django.db import OperationalError
    from psycopg_pool import PoolTimeout

    from termin360.deploy.db_errors import outage_kind

    with pytest.raises(OperationalError) as caught:
        try:
            raise PoolTimeout("couldn't get a connection after 10.00 sec")
        except PoolTimeout as exc:
            raise OperationalError(str(exc)) from exc
    assert outage_kind(caught.value) == "database_busy"
