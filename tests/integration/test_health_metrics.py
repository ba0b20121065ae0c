"""Liveness, readiness, metrics, JSON logs and ``check --deploy`` of the practice role,
against real ``termin360 practice serve`` processes (docs/operations.md)."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Practice, Server, require_shared_database, running_server
from tests.database_cut import cuttable_database

TOKEN = "metrics-token-" + "m" * 32
OBSERVED = {
    "TERMIN360_METRICS_TOKEN": TOKEN,
    "TERMIN360_LOG_FORMAT": "json",
    "TERMIN360_LOG_LEVEL": "INFO",
}
PLAIN_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (DEBUG|INFO|WARNING|ERROR) ")


@pytest.fixture
def observed_server(transactional_db: None, tmp_path: Path) -> Iterator[Server]:
    """A practice server with metrics switched on and JSON logs."""
    require_shared_database()
    with running_server("practice", tmp_path, env=OBSERVED) as server:
        yield server


def ready(server: Server) -> httpx.Response:
    return httpx.get(f"{server.url}/health/ready", timeout=10)


def scrape(server: Server) -> dict[str, Any]:
    r = httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/plain")
    return {family.name: family for family in text_string_to_metric_families(r.text)}


def configure_connector(practice: Practice, *, synced_ago: timedelta) -> Any:
    """A connector set up, calendar 1 column 1 mapped, the last sync ``synced_ago``."""
    from termin360.connector.models import Mapping, SyncConfig, SyncState

    SyncConfig.objects.create(pk=1, portal_url="https://portal.invalid", api_key="k" * 40)
    SyncState.objects.update_or_create(
        pk=1, defaults={"last_success_at": timezone.now() - synced_ago}
    )
    return Mapping.objects.create(online_calendar_id=7, column=practice.columns[1])


def test_a_healthy_server_is_live_and_ready(observed_server: Server) -> None:
    live = httpx.get(f"{observed_server.url}/health/live")
    assert live.status_code == 200
    assert live.json() == {"status": "ok", "role": "practice"}
    assert httpx.get(f"{observed_server.url}/health").json() == live.json()

    r = ready(observed_server)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"database", "migrations", "outbox", "last_sync"}
    assert all(check["ok"] for check in body["checks"].values()), body
    assert body["checks"]["outbox"]["detail"] == "connector not configured"


def test_readiness_fails_while_the_outbox_is_stuck(
    practice: Practice, observed_server: Server
) -> None:
    from termin360.connector.models import OutboxEntry

    mapping = configure_connector(practice, synced_ago=timedelta(minutes=1))
    entry = OutboxEntry.objects.create(mapping=mapping, day=practice.monday)
    assert ready(observed_server).status_code == 200  # a fresh entry is on its way

    OutboxEntry.objects.filter(pk=entry.pk).update(created_at=timezone.now() - timedelta(minutes=6))
    r = ready(observed_server)
    assert r.status_code == 503, r.text
    body = r.json()
    assert body["status"] == "not_ready"
    assert body["checks"]["outbox"]["ok"] is False
    detail = re.fullmatch(
        r"oldest outbox entry is (\d+) s old \(limit 300 s\)", body["checks"]["outbox"]["detail"]
    )
    assert detail and int(detail[1]) >= 360, body
    assert body["checks"]["last_sync"]["ok"] is True
    assert body["checks"]["database"]["ok"] is True

    families = scrape(observed_server)
    assert families["termin360_connector_outbox_entries"].samples[0].value == 1
    assert families["termin360_connector_outbox_oldest_seconds"].samples[0].value >= 360
    assert families["termin360_connector_configured"].samples[0].value == 1


def test_readiness_fails_when_the_last_sync_is_too_long_ago(
    practice: Practice, observed_server: Server
) -> None:
    configure_connector(practice, synced_ago=timedelta(minutes=11))
    r = ready(observed_server)
    assert r.status_code == 503, r.text
    checks = r.json()["checks"]
    assert checks["last_sync"]["ok"] is False
    assert checks["outbox"] == {"ok": True, "detail": "no outbox entry"}
    last = scrape(observed_server)["termin360_connector_last_success_seconds"]
    assert last.samples[0].value >= 660


def test_readiness_fails_when_the_database_is_gone(transactional_db: None, tmp_path: Path) -> None:
    require_shared_database()
    with (
        cuttable_database(tmp_path / "db") as database,
        running_server("practice", tmp_path, env={"PRACTICE_DATABASE_URL": database.url}) as s,
    ):
        assert ready(s).status_code == 200, ready(s).text
        database.cut()
        r = ready(s)
        assert r.status_code == 503, r.text
        body = r.json()
        assert body["status"] == "not_ready"
        assert body["checks"]["database"]["ok"] is False
        assert body["checks"]["database"]["detail"].startswith("error: ")
        assert body["checks"]["migrations"] == {
            "ok": False,
            "detail": "skipped: database unavailable",
        }
        # alive all the same: a restart would not bring the database back
        assert httpx.get(f"{s.url}/health/live").status_code == 200
        # and no metrics endpoint without a token
        assert httpx.get(f"{s.url}/metrics").status_code == 404
    assert "Traceback" not in s.log.read_text()


def test_metrics_answer_only_with_the_token(observed_server: Server) -> None:
    url = f"{observed_server.url}/metrics"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}x"}).status_code == 401
    assert httpx.get(url, headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
    assert httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_a_page_request_shows_up_in_the_latency_histogram_under_its_route(
    practice: Practice, observed_server: Server
) -> None:
    day = practice.monday.isoformat()
    page = httpx.get(f"{observed_server.url}/calendars/1/{day}/")
    assert page.status_code == 302  # to the login page: anonymous

    families = scrape(observed_server)
    histogram = families["termin360_http_request_duration_seconds"]
    counts = {
        (s.labels["route"], s.labels["method"], s.labels["status"]): s.value
        for s in histogram.samples
        if s.name.endswith("_count") and s.labels["role"] == "practice"
    }
    assert counts[("/calendars/<int:number>/<isodate:day>/", "GET", "3xx")] == 1
    assert not any(day in route for route, _, _ in counts), "a raw path became a label"
    for name in (
        "termin360_connector_configured",
        "termin360_connector_outbox_entries",
        "termin360_connector_outbox_oldest_seconds",
        "termin360_connector_pending_receipts",
        "termin360_database_metrics_up",
    ):
        assert name in families, name
    assert families["termin360_database_metrics_up"].samples[0].value == 1
    assert families["termin360_connector_configured"].samples[0].value == 0
    assert "termin360_connector_last_success_seconds" not in families  # never synced


def test_logs_are_one_json_object_per_line(observed_server: Server) -> None:
    assert httpx.get(f"{observed_server.url}/calendars/no-such-page").status_code == 404
    lines = [line for line in observed_server.log.read_text().splitlines() if line.strip()]
    assert not [line for line in lines if PLAIN_LOG_LINE.match(line)]
    entries = [json.loads(line) for line in lines if line.startswith("{")]
    not_found = [e for e in entries if e["logger"] == "django.request"]
    assert not_found, lines
    assert set(not_found[0]) >= {"time", "level", "logger", "message"}
    assert not_found[0]["level"] == "WARNING"


def test_the_json_formatter_keeps_an_exception_in_its_line() -> None:
    from termin360.deploy.logs import JsonFormatter

    try:
        raise ValueError("kaputt")
    except ValueError:
        record = logging.LogRecord("termin360.x", logging.ERROR, __file__, 1, "ä %s", ("b",), None)
        record.exc_info = sys.exc_info()
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "ä b"
    assert entry["level"] == "ERROR"
    assert "ValueError: kaputt" in entry["exception"]


PRODUCTION = {
    "TERMIN360_DEBUG": "0",
    "TERMIN360_HTTPS": "1",
    "TERMIN360_SECRET_KEY": "a-real-secret-key-" + "s" * 40,
    "TERMIN360_ALLOWED_HOSTS": "termine.praxis-berger.de",
    "TERMIN360_CSRF_TRUSTED_ORIGINS": "https://termine.praxis-berger.de",
}


def check_deploy(
    role: str, tmp_path: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TERMIN360_")}
    environment.pop("DJANGO_SETTINGS_MODULE", None)
    environment.update(TERMIN360_DATA_DIR=str(tmp_path), **env)
    return subprocess.run(
        [sys.executable, "-m", "termin360", role, "check", "--deploy"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("role", ["practice", "portal"])
def test_check_deploy_with_production_settings_prints_no_warning(role: str, tmp_path: Path) -> None:
    r = check_deploy(role, tmp_path, PRODUCTION)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert r.stderr == ""
    assert r.stdout.strip() == "Prüfung für den Produktivbetrieb: keine Beanstandungen."


def test_check_deploy_without_https_names_the_warnings_and_fails(tmp_path: Path) -> None:
    r = check_deploy("practice", tmp_path, {**PRODUCTION, "TERMIN360_HTTPS": "0"})
    assert r.returncode == 1
    assert "security.W004" in r.stderr  # no HSTS
    assert "security.W012" in r.stderr  # session cookie not secure
    assert "Warnung(en)" in r.stderr
    assert "Traceback" not in r.stderr
