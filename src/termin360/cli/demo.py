"""``termin360 demo``: portal and practice calendar with demo data on SQLite, one command.

Each part runs as its own process with its own database (as in production); this
command loads the demo data where a database is empty, starts the processes, prints
the addresses and logins and stops everything on Ctrl+C. The connector joins in the
sync issue.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console

out = Console()


def _env(data_dir: Path, portal_port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "TERMIN360_DATA_DIR": str(data_dir),
            "PRACTICE_DATABASE_URL": f"sqlite:///{data_dir / 'practice.sqlite3'}",
            "PORTAL_DATABASE_URL": f"sqlite:///{data_dir / 'portal.sqlite3'}",
            "TERMIN360_PORTAL_URL": f"http://127.0.0.1:{portal_port}",
        }
    )
    env.pop("TERMIN360_SMTP_HOST", None)  # the demo writes mails to files
    return env


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "termin360", *args]


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], name: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise typer.Exit(f"{name} konnte nicht starten (Port belegt?).")  # type: ignore[arg-type]
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise typer.Exit(1)


def demo(
    portal_port: Annotated[int, typer.Option(help="Port des Portals")] = 8000,
    practice_port: Annotated[int, typer.Option(help="Port des Praxiskalenders")] = 8001,
    data_dir: Annotated[
        Path, typer.Option(help="Ordner für Datenbanken, Schlüssel, E-Mails")
    ] = Path("var/demo"),
    fresh: Annotated[bool, typer.Option(help="Demo-Daten neu anlegen")] = False,
) -> None:
    """Demo starten: Portal und Praxiskalender mit Beispieldaten auf SQLite."""
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    if fresh:
        for db in ("practice.sqlite3", "portal.sqlite3"):
            for suffix in ("", "-wal", "-shm"):
                (data_dir / f"{db}{suffix}").unlink(missing_ok=True)
    env = _env(data_dir, portal_port)
    for role in ("practice", "portal"):
        if not (data_dir / f"{role}.sqlite3").exists():
            out.print(f"Lege Demo-Daten an ({role}) …")
            subprocess.run(_cli(role, "demo-data"), env=env, check=True, stdout=subprocess.DEVNULL)
    procs: list[tuple[str, subprocess.Popen[bytes]]] = [
        ("Portal", subprocess.Popen(_cli("portal", "serve", "--port", str(portal_port)), env=env)),
        (
            "Praxiskalender",
            subprocess.Popen(_cli("practice", "serve", "--port", str(practice_port)), env=env),
        ),
    ]
    worker = (
        subprocess.run(_cli("portal", "worker", "--help"), env=env, capture_output=True).returncode
        == 0
    )
    if worker:
        procs.append(("E-Mail-Versand", subprocess.Popen(_cli("portal", "worker"), env=env)))
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    try:
        _wait_healthy(f"http://127.0.0.1:{portal_port}", procs[0][1], "Das Portal")
        _wait_healthy(f"http://127.0.0.1:{practice_port}", procs[1][1], "Der Praxiskalender")
        from termin360.portal.demo_logins import DEMO_LOGINS as PORTAL_LOGINS
        from termin360.practice.demo_logins import DEMO_LOGINS as PRACTICE_LOGINS

        out.print()
        out.print(f"[bold]Portal:[/bold]          http://127.0.0.1:{portal_port}/")
        for username, password, role in PORTAL_LOGINS:
            out.print(f"  Login {role}: {username} / {password}")
        out.print(f"[bold]Praxiskalender:[/bold]  http://127.0.0.1:{practice_port}/")
        for username, password, role in PRACTICE_LOGINS:
            out.print(f"  Login {role}: {username} / {password}")
        out.print(f"[bold]E-Mails[/bold] der Demo liegen als Dateien in {data_dir / 'mails'}")
        out.print("Demo bereit. Beenden mit Strg+C.", highlight=False)
        while not stopping and all(p.poll() is None for _, p in procs):
            time.sleep(0.3)
    except KeyboardInterrupt:
        pass
    finally:
        for _, p in procs:
            p.terminate()
        for _, p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
