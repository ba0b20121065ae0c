"""One code base, two deployments: each role has its own settings and its own database."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port


def _settings_of(role: str, tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ, TERMIN360_DATA_DIR=str(tmp_path))
    env.pop("PRACTICE_DATABASE_URL", None)
    env.pop("PORTAL_DATABASE_URL", None)
    env["DJANGO_SETTINGS_MODULE"] = f"termin360.deploy.{role}.settings"
    code = (
        "import json, django; django.setup(); from django.conf import settings as s;"
        "print(json.dumps({'db': str(s.DATABASES['default']['NAME']),"
        "'apps': ' '.join(s.INSTALLED_APPS), 'cookie': s.SESSION_COOKIE_NAME,"
        "'debug': str(s.DEBUG)}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return dict(json.loads(out.stdout))


def test_portal_and_practice_deployments_use_separate_databases_and_cookies(
    tmp_path: Path,
) -> None:
    practice = _settings_of("practice", tmp_path)
    portal = _settings_of("portal", tmp_path)
    assert practice["db"] == str(tmp_path / "practice.sqlite3")
    assert portal["db"] == str(tmp_path / "portal.sqlite3")
    assert "termin360.practice" in practice["apps"]
    assert "termin360.practice" not in portal["apps"]
    assert practice["cookie"] != portal["cookie"]
    assert practice["debug"] == portal["debug"] == "False"


def test_secret_key_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    _settings_of("practice", tmp_path)
    key_file = tmp_path / "practice-secret-key"
    first = key_file.read_text()
    _settings_of("practice", tmp_path)
    assert key_file.read_text() == first
    assert len(first) >= 50
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_a_bad_database_url_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    env = dict(os.environ, TERMIN360_DATA_DIR=str(tmp_path), PRACTICE_DATABASE_URL="nosuch://x")
    r = subprocess.run(
        [sys.executable, "-m", "termin360", "practice", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert "PRACTICE_DATABASE_URL" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.sqlite_only
def test_demo_command_serves_portal_and_practice_calendar_with_demo_data(tmp_path: Path) -> None:
    portal_port, practice_port = free_port(), free_port()
    env = dict(os.environ)
    env.pop("PRACTICE_DATABASE_URL", None)
    env.pop("PORTAL_DATABASE_URL", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "termin360",
            "demo",
            "--portal-port",
            str(portal_port),
            "--practice-port",
            str(practice_port),
            "--data-dir",
            str(tmp_path / "demo"),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as in a terminal
    )
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:  # the demo prints its addresses once it is ready
            lines.append(line)
            if "Demo bereit" in line:
                break
        output = "".join(lines)
        # While it prepares, it shows what it does (minutes on a slow machine).
        assert "Terminraster" in output and "Patienten" in output, output
        assert f"http://127.0.0.1:{practice_port}/" in output
        assert f"http://127.0.0.1:{portal_port}/" in output
        assert "empfang / empfang-demo" in output
        assert "patientin@example.org / patientin-demo" in output
        # The connector is set up and its job runs beside the practice calendar.
        assert "Abgleich Portal ↔ Praxiskalender läuft" in output
        assert "→ Kalender 1 / Spalte 1" in output
        # Generous timeouts: the machine may be busy with other tests; this is no speed test.
        with httpx.Client(base_url=f"http://127.0.0.1:{practice_port}", timeout=30) as http:
            assert http.get("/login/").status_code == 200
            token = http.post(
                "/api/v1/auth/token", json={"username": "empfang", "password": "empfang-demo"}
            ).json()
            http.headers["Authorization"] = f"Bearer {token['token']}"
            calendars = http.get("/api/v1/calendars").json()
            assert [c["number"] for c in calendars] == [1, 2, 3]
            patients = http.get("/api/v1/patients?limit=200").json()
            assert len(patients) == 200
        with httpx.Client(base_url=f"http://127.0.0.1:{portal_port}", timeout=30) as http:
            assert http.get("/health").json()["role"] == "portal"
            assert http.get("/").status_code == 200
        # Ctrl+C in the terminal: SIGINT to the whole group; the demo ends quietly.
        os.killpg(proc.pid, signal.SIGINT)
        rest, _ = proc.communicate(timeout=40)
        assert proc.returncode == 0, rest
        assert "unerwartet" not in rest, rest
        assert "Traceback" not in rest, rest
        assert "Demo wird beendet" in rest
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
    assert (tmp_path / "demo" / "practice.sqlite3").exists()
    assert (tmp_path / "demo" / "portal.sqlite3").exists()


@pytest.mark.parametrize("role", ["practice", "portal"])
def test_production_settings_pass_djangos_deployment_checklist(role: str, tmp_path: Path) -> None:
    env = dict(
        os.environ,
        TERMIN360_DATA_DIR=str(tmp_path),
        TERMIN360_HTTPS="true",
        DJANGO_SETTINGS_MODULE=f"termin360.deploy.{role}.settings",
    )
    env.pop("TERMIN360_DEBUG", None)
    r = subprocess.run(
        [sys.executable, "-m", "django", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stdout + r.stderr
