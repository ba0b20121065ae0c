"""The ``termin360 practice`` set-up commands, run as a user would run them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.sqlite_only  # the commands run on their own SQLite file


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(
        os.environ,
        TERMIN360_DATA_DIR=str(tmp_path),
        PRACTICE_DATABASE_URL=f"sqlite:///{tmp_path / 'practice.sqlite3'}",
    )
    return subprocess.run(
        [sys.executable, "-m", "termin360", "practice", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_practice_is_set_up_from_the_command_line(tmp_path: Path) -> None:
    steps = [
        ("add-staff", "chefin", "--admin", "--password", "sicheres-passwort-1"),
        ("add-location", "Praxis Bruchsal"),
        ("add-calendar", "1", "Allgemeinmedizin", "--location", "1"),
        ("add-column", "1", "1", "Dr. Berger"),
        ("add-column", "1", "2", "Labor"),
        (
            "set-template",
            "1",
            "1",
            "--rule",
            "Mo-Fr 08:00-12:00/15",
            "--rule",
            "Mo,Di,Do 14:00-18:00/15",
        ),
        ("set-template", "1", "2", "--rule", "Mo-Fr 07:30-10:00/10"),
        ("generate-grid", "1", "--year", "2027"),
    ]
    for step in steps:
        r = _cli(tmp_path, *step)
        assert r.returncode == 0, (step, r.stdout, r.stderr)
    listing = json.loads(_cli(tmp_path, "list", "--json").stdout)
    assert listing == [
        {
            "calendar": 1,
            "name": "Allgemeinmedizin",
            "location": "Praxis Bruchsal",
            "columns": [{"number": 1, "name": "Dr. Berger"}, {"number": 2, "name": "Labor"}],
        }
    ]
    again = _cli(tmp_path, "generate-grid", "1", "--year", "2027")
    assert "Spalte 1: 0 Termine" in again.stdout


def test_errors_are_one_clear_line_and_a_nonzero_exit(tmp_path: Path) -> None:
    r = _cli(tmp_path, "add-column", "7", "1", "X")
    assert r.returncode == 1
    assert "Es gibt keinen Terminkalender Nummer 7." in r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    bad_rule = _cli(tmp_path, "set-template", "1", "1", "--rule", "Montag 8-12")
    assert bad_rule.returncode == 2
    assert "Mo-Fr 08:00-12:00/15" in bad_rule.stdout + bad_rule.stderr
    weak = _cli(tmp_path, "add-staff", "x", "--password", "123")
    assert weak.returncode == 2
    assert "Traceback" not in weak.stdout + weak.stderr


def test_demo_data_builds_a_realistic_practice(tmp_path: Path) -> None:
    r = _cli(tmp_path, "demo-data")
    assert r.returncode == 0, r.stderr
    for expected in ("Praxisstände: 2", "Kalender: 3", "Patienten: 200", "Reservierungen: 6"):
        assert expected in r.stdout
    listing = json.loads(_cli(tmp_path, "list", "--json").stdout)
    assert sum(len(c["columns"]) for c in listing) == 7
    assert {c["location"] for c in listing} == {"Bruchsal", "Karlsruhe"}


def test_serve_on_a_taken_port_says_so_in_one_line_and_starts_nothing(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = _cli(tmp_path, "serve", "--port", str(port))
    output = r.stdout + r.stderr
    assert r.returncode == 2, output
    assert f"Port {port} auf 127.0.0.1 ist schon belegt" in output
    assert "Traceback" not in output
    assert "läuft auf" not in output  # no address announced that another process serves


def test_demo_refuses_a_taken_port_before_starting_anything(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ports = ["--practice-port", str(port), "--portal-port", str(free_port())]
        r = subprocess.run(
            [sys.executable, "-m", "termin360", "demo", *ports, "--data-dir", str(data)],
            env=dict(os.environ, TERMIN360_DATA_DIR=str(tmp_path)),
            capture_output=True,
            text=True,
            timeout=60,
        )
    output = r.stdout + r.stderr
    assert r.returncode == 2, output
    assert f"Port {port} ist schon belegt" in output and "--practice-port" in output
    assert "Traceback" not in output and "Demo bereit" not in output
    assert not data.exists()  # nothing was set up
