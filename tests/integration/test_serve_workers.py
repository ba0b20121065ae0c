"""``termin360 practice serve --workers N`` (issue 13, decision 020): the sync job that
runs beside the server runs once for the whole server — started by gunicorn's master,
not by each worker — and ends with it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.processes import alive, children, command_line, serving

pytestmark = pytest.mark.sqlite_only  # the server runs on its own SQLite file
KEY = "t360_demo_key_0123456789abcdef"


def _env(data: Path) -> dict[str, str]:
    env = dict(
        os.environ,
        TERMIN360_DATA_DIR=str(data),
        PRACTICE_DATABASE_URL=f"sqlite:///{data / 'practice.sqlite3'}",
        TERMIN360_SECRET_KEY="test-secret-key-" + "x" * 40,
        TERMIN360_LOG_LEVEL="WARNING",
    )
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


def _cli(env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "termin360", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _is_job(pid: int) -> bool:
    words = command_line(pid)
    return any(words[i : i + 3] == ["sync", "job", "run"] for i in range(len(words)))


def test_the_sync_job_runs_once_beside_two_workers_and_ends_with_the_server(
    tmp_path: Path,
) -> None:
    env = _env(tmp_path)
    # A connector set up against a portal that is not there: the job runs and retries.
    _cli(env, "sync", "config", "--portal-url", "http://127.0.0.1:1", "--api-key", KEY, "--offline")
    _cli(env, "sync", "job", "on", "--no-start")
    with serving("practice", tmp_path, "--workers", "2", "--threads", "2", env=env) as server:
        master = server.process.pid
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            kids = children(master)
            if sum(map(_is_job, kids)) and len(kids) >= 3:
                break
            time.sleep(0.2)
        time.sleep(5)  # two more rounds of the supervisor: no second job appears
        kids = children(master)
        jobs = [pid for pid in kids if _is_job(pid)]
        workers = [pid for pid in kids if not _is_job(pid)]
        assert len(jobs) == 1, [command_line(pid) for pid in kids]
        assert len(workers) == 2, [command_line(pid) for pid in kids]
        assert command_line(jobs[0])[-2:] == ["--parent", str(master)]
        for worker in workers:  # a worker starts nothing of its own
            assert children(worker) == [], [command_line(pid) for pid in children(worker)]

        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) == 0
    assert not any(alive(pid) for pid in [*jobs, *workers])
    log = server.log.read_text()
    assert "Praxiskalender läuft auf" in log and "Abgleich mit dem Portal läuft" in log
    assert "Traceback" not in log
