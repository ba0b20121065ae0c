"""``termin360 demo``: the practice calendar with demo data on SQLite, in one command.

The portal and the connector join this command in later issues.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

out = Console()


def demo(
    port: Annotated[int, typer.Option(help="Port des Praxiskalenders")] = 8001,
    data_dir: Annotated[Path, typer.Option(help="Ordner für Datenbank und Schlüssel")] = Path(
        "var/demo"
    ),
    fresh: Annotated[bool, typer.Option(help="Demo-Daten neu anlegen")] = False,
) -> None:
    """Demo starten: Praxiskalender mit Beispieldaten auf SQLite (keine Installation nötig)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    db = data_dir / "practice.sqlite3"
    if fresh and db.exists():
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    os.environ["TERMIN360_DATA_DIR"] = str(data_dir.resolve())
    os.environ["PRACTICE_DATABASE_URL"] = f"sqlite:///{db.resolve()}"
    os.environ.setdefault("TERMIN360_DEBUG", "false")
    from termin360.cli.django_setup import migrate, setup

    setup("practice")
    migrate()
    from termin360.practice.demo_data import DEMO_LOGINS, ensure_demo_data

    ensure_demo_data(progress=out)
    from waitress import serve

    from termin360.deploy.practice.wsgi import application

    out.print()
    out.print(f"[bold]Praxiskalender:[/bold] http://127.0.0.1:{port}/")
    out.print(f"[bold]API-Dokumentation:[/bold] http://127.0.0.1:{port}/api/v1/docs")
    for username, password, role in DEMO_LOGINS:
        out.print(f"  Login {role}: {username} / {password}")
    out.print("Beenden mit Strg+C.")
    serve(application, host="127.0.0.1", port=port, threads=8, ident="termin360")
