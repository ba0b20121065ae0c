"""A console command checks the schema instead of migrating (issue 13): a new database is
set up by the first command, a current one is only looked at (one query, no migration
module imported), one with migrations still to apply is refused in one German line that
names ``termin360 <role> migrate``."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from typer.testing import CliRunner

from termin360.deploy.schema import migration_files, pending_migrations

# What a command imports when it runs Django's migrate (or only plans it).
MIGRATION_MACHINERY = ("django.db.migrations.executor", "django.db.migrations.loader")


def test_the_files_on_disk_are_the_migrations_djangos_loader_finds(db: None) -> None:
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(connection, ignore_no_migrations=True)
    assert migration_files() == set(loader.disk_migrations)
    assert pending_migrations() == []


def test_a_migration_not_recorded_is_pending_as_djangos_plan_says(db: None) -> None:
    from django.db.migrations.executor import MigrationExecutor

    newest = max(name for app_label, name in migration_files() if app_label == "connector")
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM django_migrations WHERE app = %s AND name = %s", ["connector", newest]
        )
    assert pending_migrations() == [("connector", newest)]
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    assert [(m.app_label, m.name) for m, _ in plan] == [("connector", newest)]


def test_a_command_on_a_current_database_runs_no_migrate(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In this process, on the (migrated) test database: no migration executor or loader
    is built, and the schema costs exactly one query on django_migrations."""
    from django.db.migrations import executor, loader

    from termin360.cli import app

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the command built Django's migration machinery")

    monkeypatch.setattr(executor.MigrationExecutor, "__init__", refuse)
    monkeypatch.setattr(loader.MigrationLoader, "__init__", refuse)
    with CaptureQueriesContext(connection) as queries:
        result = CliRunner().invoke(app, ["practice", "list", "--json"])
    assert result.exit_code == 0, result.output
    on_migrations = [q["sql"] for q in queries if "django_migrations" in q["sql"]]
    assert len(on_migrations) == 1, on_migrations
    assert on_migrations[0].lstrip().upper().startswith("SELECT")


def test_pending_migrations_refuse_the_command_in_one_german_line(db: None) -> None:
    from termin360.cli import app

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM django_migrations WHERE app = 'connector'")
    removed = {name for app_label, name in migration_files() if app_label == "connector"}
    result = CliRunner().invoke(app, ["sync", "list"])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert "nicht auf dem neuesten Stand" in lines[0]
    assert f"{len(removed)} Migration" in lines[0]
    assert "»termin360 practice migrate«" in lines[0]
    assert pending_migrations() == sorted(("connector", name) for name in removed)


# --------------------------------------------------------------------------- real processes


def _run(
    data: Path, *args: str, probe: bool = False, **env: str
) -> subprocess.CompletedProcess[str]:
    """``termin360 …`` as its own process on SQLite files in ``data``. ``probe``: the
    process reports on its last stderr line whether migration machinery was imported."""
    variables = dict(
        os.environ,
        TERMIN360_DATA_DIR=str(data),
        PRACTICE_DATABASE_URL=f"sqlite:///{data / 'practice.sqlite3'}",
        PORTAL_DATABASE_URL=f"sqlite:///{data / 'portal.sqlite3'}",
        **env,
    )
    variables.pop("DJANGO_SETTINGS_MODULE", None)
    if probe:
        code = (
            "import sys\n"
            f"sys.argv = ['termin360', *{list(args)!r}]\n"
            "from termin360.cli import main\n"
            "try:\n    main()\n"
            "finally:\n"
            f"    loaded = [m for m in {MIGRATION_MACHINERY!r} if m in sys.modules]\n"
            "    print('machinery:', ','.join(loaded) or 'none', file=sys.stderr)\n"
        )
        command = [sys.executable, "-c", code]
    else:
        command = [sys.executable, "-m", "termin360", *args]
    return subprocess.run(
        command, env=variables, capture_output=True, text=True, timeout=120, check=False
    )


def _django(data: Path, statement: str) -> subprocess.CompletedProcess[str]:
    """One statement with Django set up for the practice on ``data``."""
    code = (
        "import django\n"
        "from django.core.management import call_command\n"
        "django.setup()\n"
        f"{statement}\n"
    )
    env = dict(
        os.environ,
        TERMIN360_DATA_DIR=str(data),
        PRACTICE_DATABASE_URL=f"sqlite:///{data / 'practice.sqlite3'}",
        DJANGO_SETTINGS_MODULE="termin360.deploy.practice.settings",
    )
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )


def _applied(database: Path) -> set[tuple[str, str]]:
    with sqlite3.connect(database) as db:
        return set(db.execute("SELECT app, name FROM django_migrations"))


@pytest.mark.sqlite_only
def test_first_use_migrates_then_commands_only_check_and_migrate_catches_up(
    tmp_path: Path,
) -> None:
    database = tmp_path / "practice.sqlite3"
    first = _run(tmp_path, "practice", "list", "--json", probe=True)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "[]"
    assert "machinery: none" not in first.stderr  # a new database: set up by migrate
    applied = _applied(database)
    assert ("practice", "0001_initial") in applied

    second = _run(tmp_path, "practice", "list", "--json", probe=True)
    assert second.returncode == 0, second.stderr
    assert second.stderr.strip().splitlines()[-1] == "machinery: none"
    assert _applied(database) == applied

    # The database as it was before the newest migration (as after an update of the code)
    *_, previous, newest = sorted(name for app_label, name in applied if app_label == "practice")
    back = _django(tmp_path, f"call_command('migrate', 'practice', {previous!r}, verbosity=0)")
    assert back.returncode == 0, back.stderr
    for command in (("practice", "list"), ("sync", "list")):
        refused = _run(tmp_path, *command)
        assert refused.returncode == 1, refused
        assert refused.stdout == ""
        [line] = refused.stderr.strip().splitlines()
        assert "Traceback" not in line
        assert "Die Datenbank des Praxiskalenders ist nicht auf dem neuesten Stand" in line
        assert "(1 Migration ausstehend)" in line and "»termin360 practice migrate«" in line
    assert ("practice", newest) not in _applied(database)  # refused, not migrated

    caught_up = _run(tmp_path, "practice", "migrate")
    assert caught_up.returncode == 0, caught_up.stderr
    assert _applied(database) == applied
    assert _run(tmp_path, "practice", "list", "--json").returncode == 0


@pytest.mark.sqlite_only
def test_the_portals_commands_name_portal_migrate(tmp_path: Path) -> None:
    database = tmp_path / "portal.sqlite3"
    assert _run(tmp_path, "portal", "migrate").returncode == 0
    with sqlite3.connect(database) as db:
        db.execute("DELETE FROM django_migrations WHERE app = 'portal'")
    refused = _run(tmp_path, "portal", "api-key", "1")
    assert refused.returncode == 1, refused
    [line] = refused.stderr.strip().splitlines()
    assert "Die Datenbank des Portals ist nicht auf dem neuesten Stand" in line
    assert "»termin360 portal migrate«" in line
