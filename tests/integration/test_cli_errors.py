"""Console commands facing absurd numbers or a database that is busy or gone: one German
line on stderr, a non-zero exit, no traceback — run as a user would run them."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.db_outage import sqlite_write_lock

pytestmark = pytest.mark.sqlite_only  # the commands run on their own SQLite file (or none)


def cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "TERMIN360_DATA_DIR": str(tmp_path),
        "PRACTICE_DATABASE_URL": f"sqlite:///{tmp_path / 'practice.sqlite3'}",
        "PORTAL_DATABASE_URL": f"sqlite:///{tmp_path / 'portal.sqlite3'}",
        **env,
    }
    environment.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        [sys.executable, "-m", "termin360", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def one_german_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Fehler:"), lines
    return lines[0]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ("practice", "generate-grid", "1", "--year", "99999"),
            "»--year«: erlaubt sind höchstens 2199",
        ),
        (
            ("practice", "generate-grid", "1", "--year", "0"),
            "»--year«: erlaubt sind mindestens 1900",
        ),
        (
            ("practice", "generate-grid", "1", "--column", "-1"),
            "»--column«: erlaubt sind mindestens 1",
        ),
        (("practice", "generate-grid", str(2**63)), "erlaubt sind höchstens 9999"),
        (("practice", "demo-data", "--year", "10000"), "»--year«: erlaubt sind höchstens 2199"),
        (("practice", "add-calendar", "0", "X", "--location", "1"), "erlaubt sind mindestens 1"),
        (
            ("practice", "add-calendar", "1", "X", "--location", str(2**64)),
            "»--location«: erlaubt sind höchstens 9223372036854775807",
        ),
        (("practice", "add-column", "1", "100000", "X"), "erlaubt sind höchstens 999"),
        (
            ("practice", "set-template", "1", "0", "--rule", "Mo 08:00-12:00/15"),
            "erlaubt sind mindestens 1",
        ),
        (("practice", "serve", "--port", "70000"), "»--port«: erlaubt sind höchstens 65535"),
        (("practice", "serve", "--threads", "0"), "»--threads«: erlaubt sind mindestens 1"),
        (("portal", "serve", "--port", "0"), "»--port«: erlaubt sind mindestens 1"),
        (("portal", "worker", "--poll", "0"), "»--poll«: erlaubt sind mindestens 0.1"),
        (("portal", "api-key", str(2**63)), "erlaubt sind höchstens 9223372036854775807"),
        (("sync", "push-existing", "10000", "1"), "erlaubt sind höchstens 9999"),
        (("sync", "info", "0"), "erlaubt sind mindestens 1"),
        (("demo", "--portal-port", "99999"), "»--portal-port«: erlaubt sind höchstens 65535"),
    ],
)
def test_an_absurd_number_is_one_german_line(
    tmp_path: Path, args: tuple[str, ...], expected: str
) -> None:
    result = cli(tmp_path, *args)
    assert result.returncode == 2, result
    assert expected in one_german_line(result)


def test_generate_grid_in_range_still_works(tmp_path: Path) -> None:
    """The bounds refuse only the absurd: 2199 is a year a calendar can hold."""
    assert cli(tmp_path, "practice", "add-location", "Praxis").returncode == 0
    assert cli(tmp_path, "practice", "add-calendar", "1", "A", "--location", "1").returncode == 0
    assert cli(tmp_path, "practice", "add-column", "1", "1", "B").returncode == 0
    rule = ("--rule", "Mo 08:00-09:00/30")
    assert cli(tmp_path, "practice", "set-template", "1", "1", *rule).returncode == 0
    result = cli(tmp_path, "practice", "generate-grid", "1", "--year", "2199")
    assert result.returncode == 0, result.stderr
    assert "Termine (Slots) erzeugt" in result.stdout


@pytest.mark.parametrize("role", ["practice", "portal"])
def test_an_unreachable_postgresql_is_one_german_line(tmp_path: Path, role: str) -> None:
    closed = free_port()  # nothing listens there
    url = f"postgres://postgres@127.0.0.1:{closed}/termin360"
    variable = "PRACTICE_DATABASE_URL" if role == "practice" else "PORTAL_DATABASE_URL"
    result = cli(tmp_path, role, "init", **{variable: url})
    assert result.returncode == 1, result
    assert "Die Datenbank ist nicht erreichbar" in one_german_line(result)


def test_an_unreadable_sqlite_file_is_one_german_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'practice.sqlite3'}"
    result = cli(tmp_path, "practice", "list", PRACTICE_DATABASE_URL=url)
    assert "Die Datenbank ist nicht erreichbar" in one_german_line(result)


def test_a_locked_sqlite_database_is_one_german_line(tmp_path: Path) -> None:
    assert cli(tmp_path, "practice", "init").returncode == 0
    database = tmp_path / "practice.sqlite3"
    with sqlite3.connect(database):
        pass
    with sqlite_write_lock(str(database)):
        result = cli(
            tmp_path,
            "practice",
            "add-location",
            "Praxis",
            TERMIN360_SQLITE_BUSY_MINUTES="0.005",
        )
    assert result.returncode == 1, result
    assert "Die Datenbank ist gerade belegt" in one_german_line(result)


def test_a_bug_still_shows_its_traceback(tmp_path: Path) -> None:
    """Only outages are shortened: a database error that is a bug is not hidden."""
    assert cli(tmp_path, "practice", "init").returncode == 0
    with sqlite3.connect(tmp_path / "practice.sqlite3") as db:
        db.execute("DROP TABLE practice_location")
    result = cli(tmp_path, "practice", "add-location", "Praxis")
    assert result.returncode != 0
    assert "Traceback" in result.stderr
