"""``termin360 portal api-key PRACTICE_ID``: a key for the practice's connector, shown
once, that the sync API accepts; a clear German error for an unknown practice."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from termin360.portal.services import practices
from tests.conftest import require_shared_database, role_env
from tests.portal.conftest import build_world


def _cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "termin360", "portal", *args],
        env=role_env("portal", tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_api_key_command_issues_a_working_key(transactional_db: None, tmp_path: Path) -> None:
    require_shared_database()
    world = build_world()
    done = _cli(tmp_path, "api-key", str(world.practice.pk), "--name", "Empfang-PC", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["practice_id"] == world.practice.pk
    assert data["calendars"] == [{"id": world.calendar.pk, "name": world.calendar.name}]
    assert practices.practice_for_key(data["key"]) == world.practice
    assert world.practice.api_keys.get().name == "Empfang-PC"

    plain = _cli(tmp_path, "api-key", str(world.practice.pk))
    assert plain.returncode == 0, plain.stderr
    assert "wird nur jetzt angezeigt" in plain.stdout
    key = next(line for line in plain.stdout.splitlines() if line.startswith("t360k_"))
    assert practices.practice_for_key(key) == world.practice


def test_api_key_for_an_unknown_practice_is_a_german_error(
    transactional_db: None, tmp_path: Path
) -> None:
    require_shared_database()
    done = _cli(tmp_path, "api-key", "4711")
    assert done.returncode == 1
    assert "Eine Praxis mit der Nummer 4711 gibt es nicht." in done.stderr
    assert "Traceback" not in done.stderr


def test_a_wrong_alert_delay_is_a_clear_configuration_error(
    transactional_db: None, tmp_path: Path
) -> None:
    require_shared_database()
    done = _cli(tmp_path, "api-key", "1", TERMIN360_UNDELIVERED_ALERT_MINUTES="bald")
    assert done.returncode == 2
    assert "TERMIN360_UNDELIVERED_ALERT_MINUTES" in done.stderr
    assert "Traceback" not in done.stderr
