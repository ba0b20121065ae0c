"""The console command speaks German throughout (issue 11): Typer's own texts, one-line
usage errors, ``add-staff``'s password, help text wrapped as prose. Run as a user runs it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.sqlite_only  # the commands run on their own SQLite file


def _run(tmp_path: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(
        os.environ,
        TERMIN360_DATA_DIR=str(tmp_path),
        PRACTICE_DATABASE_URL=f"sqlite:///{tmp_path / 'practice.sqlite3'}",
        COLUMNS="80",
    )
    return subprocess.run(
        [str(Path(sys.executable).with_name("termin360")), *args],  # the installed command
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


ENGLISH = ("Show this message", "Usage:", "Options", "Commands", "[required]", "Try '")


@pytest.mark.parametrize(
    "command",
    [
        (),
        ("sync",),
        ("sync", "config"),
        ("sync", "job"),
        ("practice",),
        ("practice", "add-staff"),
        ("portal",),
        ("demo",),
    ],
    ids=lambda c: " ".join(c) or "termin360",
)
def test_help_is_german(tmp_path: Path, command: tuple[str, ...]) -> None:
    r = _run(tmp_path, *command, "--help")
    assert r.returncode == 0, r.stderr
    # the text as read: a help column may wrap inside its box
    text = " ".join(re.sub("[│╭╮╰╯─]", " ", r.stdout).split())
    assert "Diese Hilfe zeigen und beenden." in text
    assert "Aufruf: termin360" in text
    for english in ENGLISH:
        assert english not in text, (english, r.stdout)


def test_help_text_wraps_as_prose_not_at_the_docstring_lines(tmp_path: Path) -> None:
    out = _run(tmp_path, "sync", "config", "--help").stdout
    # The docstring's line ends are not kept: no line holds a lone arrow or one word.
    lines = [line.strip() for line in out.splitlines()]
    assert "→" not in lines
    assert "muss" not in lines


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("sync", "nope"), "Fehler: Unbekannter Befehl »nope«. Hilfe: termin360 sync --help"),
        (
            ("practice", "generate-grid"),
            "Fehler: Argument »calendar« fehlt. Hilfe: termin360 practice generate-grid --help",
        ),
        (("practice", "generate-grid", "abc"), "»calendar«: keine ganze Zahl"),
        (("sync", "job", "status", "--bogus"), "Fehler: Unbekannte Option --bogus."),
    ],
)
def test_a_usage_error_is_one_german_line(
    tmp_path: Path, args: tuple[str, ...], expected: str
) -> None:
    r = _run(tmp_path, *args)
    assert r.returncode == 2
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert expected in lines[0]


def test_add_staff_asks_for_the_password_twice_in_german_or_takes_it(tmp_path: Path) -> None:
    help_text = _run(tmp_path, "practice", "add-staff", "--help").stdout
    password_line = next(line for line in help_text.splitlines() if "--password" in line)
    assert "erforderlich" not in password_line  # optional: asked for when missing
    r = _run(
        tmp_path,
        "practice",
        "add-staff",
        "anna",
        stdin="sicheres-passwort-1\nsicheres-passwort-1\n",
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Passwort:" in r.stdout and "Passwort wiederholen:" in r.stdout
    assert "Repeat" not in r.stdout + r.stderr
    assert "Mitarbeiter anna angelegt" in r.stdout
    mismatch = _run(
        tmp_path, "practice", "add-staff", "bernd", stdin="eins-zwei-drei-4\nanders-5678\n" * 3
    )
    assert mismatch.returncode == 1
    assert "stimmen nicht überein" in mismatch.stdout
    given = _run(tmp_path, "practice", "add-staff", "clara", "--password", "sicheres-passwort-2")
    assert given.returncode == 0, given.stdout + given.stderr
    assert "Passwort:" not in given.stdout
