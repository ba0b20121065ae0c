"""``termin360 demo``: portal, practice calendar and the sync between them, with demo data
on SQLite, one command.

Each part runs as its own process with its own database (as in production); this
command loads the demo data where a database is empty, starts the processes, prints
the addresses and logins and stops everything on Ctrl+C.

The connector joins as it would in a practice, through the commands an IT person types:
on the first run the portal issues an API key for "Praxis Dr. Berger",
``termin360 sync config`` maps its online calendars to the columns of the same doctors,
``sync push-existing`` blocks the practice's appointments online and ``sync job on``
switches autostart on — so ``practice serve`` runs the sync job as its child process.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console

from termin360.cli import bounds

out = Console()
# The portal's demo practice that is the online side of the practice calendar's demo
# (termin360.portal.demo_data.CONNECTED_PRACTICE; that module needs Django, this one not).
CONNECTED_PRACTICE = "Praxis Dr. Berger"


class DemoSyncError(Exception):
    pass


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


def _run(env: dict[str, str], *args: str) -> str:
    """Run one ``termin360`` command; its last error line becomes a ``DemoSyncError``."""
    done = subprocess.run(_cli(*args), env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise DemoSyncError(lines[-1] if lines else " ".join(args))
    return done.stdout


def _json(env: dict[str, str], *args: str) -> Any:
    return json.loads(_run(env, *args))


# --------------------------------------------------------------------------- the sync


def _portal_practice_id(data_dir: Path, name: str) -> int:
    """The demo practice's id in the portal's SQLite demo database: ``portal api-key``
    wants the id, and the demo has no other part to ask."""
    with sqlite3.connect(data_dir / "portal.sqlite3") as db:
        row = db.execute("SELECT id FROM portal_practice WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise DemoSyncError(f"{name} fehlt in den Demo-Daten des Portals")
    return int(row[0])


def doctor_columns(practice: list[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    """Column name ("Dr. Anna Berger") → (calendar number, column number)."""
    return {
        col["name"]: (cal["calendar"], col["number"]) for cal in practice for col in cal["columns"]
    }


def mapping_for(online_name: str, columns: dict[str, tuple[int, int]]) -> tuple[int, int] | None:
    """The portal names a calendar "Dr. Anna Berger – Allgemeinmedizin"; its column in the
    practice calendar is the doctor's own."""
    return columns.get(online_name.split(" – ")[0].strip())


def _first_connection(data_dir: Path, env: dict[str, str], portal_url: str) -> dict[int, str]:
    """Issue a key, map, push the practice's appointments, autostart on. Returns the
    online calendars' names (the job learns them too, but only once it runs)."""
    out.print("Verbinde Portal und Praxiskalender (API-Schlüssel, Zuordnung, belegte Zeiten) …")
    practice_id = _portal_practice_id(data_dir, CONNECTED_PRACTICE)
    issued = _json(env, "portal", "api-key", str(practice_id), "--name", "Demo", "--json")
    columns = doctor_columns(_json(env, "practice", "list", "--json"))
    targets = [(c["id"], mapping_for(c["name"], columns)) for c in issued["calendars"]]
    maps = [f"{online}={cal}/{col}" for online, found in targets if found for cal, col in [found]]
    if not maps:
        raise DemoSyncError("keine Spalte passt zu den Online-Kalendern")
    args = ["sync", "config", "--portal-url", portal_url, "--api-key", issued["key"]]
    for m in maps:
        args += ["--map", m]
    _run(env, *args)
    for _online, found in targets:
        if found:
            _run(env, "sync", "push-existing", str(found[0]), str(found[1]))
    _run(env, "sync", "job", "on", "--no-start")  # the job starts with practice serve
    return {int(c["id"]): str(c["name"]) for c in issued["calendars"]}


def _connect(data_dir: Path, env: dict[str, str], portal_url: str) -> list[dict[str, Any]]:
    """Set the connector up on the first run; later keep it, following a new portal port
    (and switching autostart back on if someone switched it off). Returns the mappings."""
    config = _json(env, "sync", "config", "--json")
    names: dict[int, str] = {}
    if not config or not config["mappings"]:
        names = _first_connection(data_dir, env, portal_url)
    else:
        if config["portal_url"] != portal_url:
            _run(env, "sync", "config", "--portal-url", portal_url)
        _run(env, "sync", "job", "on", "--no-start")
    mappings: list[dict[str, Any]] = _json(env, "sync", "config", "--json")["mappings"]
    for m in mappings:
        m["online_name"] = m["online_name"] or names.get(m["online_calendar_id"])
    return mappings


def _sync_running(env: dict[str, str], wait: float = 15) -> bool:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if _json(env, "sync", "job", "status", "--json").get("running"):
            return True
        time.sleep(0.5)
    return False


def _sync_line(mappings: list[dict[str, Any]]) -> str:
    parts = [
        f"Online-Kalender „{m['online_name'] or m['online_calendar_id']}“ → "
        f"Kalender {m['calendar']} / Spalte {m['column']}"
        for m in mappings
    ]
    return f"Abgleich Portal ↔ Praxiskalender läuft ({'; '.join(parts)})"


# --------------------------------------------------------------------------- the command


def _port_taken(port: int) -> bool:
    """Whether another process listens on 127.0.0.1:``port`` — checked before anything
    starts, so that a demo already running is not taken for the one starting now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _check_ports(portal_port: int, practice_port: int) -> None:
    if portal_port == practice_port:
        out.print("[red]Fehler:[/red] Portal und Praxiskalender brauchen verschiedene Ports.")
        raise typer.Exit(2)
    for option, port in (("--portal-port", portal_port), ("--practice-port", practice_port)):
        if _port_taken(port):
            out.print(
                f"[red]Fehler:[/red] Port {port} ist schon belegt — läuft die Demo schon "
                f"(dann diese beenden) oder ein anderer Server? Sonst mit {option} einen "
                "freien Port wählen.",
                highlight=False,
            )
            raise typer.Exit(2)


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
    portal_port: Annotated[int, typer.Option(help="Port des Portals", **bounds.PORT)] = 8000,
    practice_port: Annotated[
        int, typer.Option(help="Port des Praxiskalenders", **bounds.PORT)
    ] = 8001,
    data_dir: Annotated[
        Path, typer.Option(help="Ordner für Datenbanken, Schlüssel, E-Mails")
    ] = Path("var/demo"),
    fresh: Annotated[bool, typer.Option(help="Demo-Daten neu anlegen")] = False,
) -> None:
    """Demo starten: Portal und Praxiskalender mit Beispieldaten, verbunden durch den Abgleich."""
    _check_ports(portal_port, practice_port)
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    if fresh:
        for db in ("practice.sqlite3", "portal.sqlite3"):
            for suffix in ("", "-wal", "-shm"):
                (data_dir / f"{db}{suffix}").unlink(missing_ok=True)
    env = _env(data_dir, portal_port)
    portal_url = f"http://127.0.0.1:{portal_port}"
    for role, label in (("practice", "Praxiskalender"), ("portal", "Portal")):
        if not (data_dir / f"{role}.sqlite3").exists():
            # The command prints its own steps (grid, patients, appointments …): on a slow
            # machine this takes minutes, and the newcomer sees it move.
            out.print(f"Lege Demo-Daten an ({label}) …")
            subprocess.run(_cli(role, "demo-data"), env=env, check=True)
        else:
            # A demo of an older version: the commands below work only on a current
            # schema (they check it, they do not migrate).
            subprocess.run(_cli(role, "migrate"), env=env, check=True, capture_output=True)
    procs: list[tuple[str, subprocess.Popen[bytes]]] = [
        ("Portal", subprocess.Popen(_cli("portal", "serve", "--port", str(portal_port)), env=env)),
    ]
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    # Ctrl+C reaches every process of the terminal at once: the children end by
    # themselves, and their end must not read as a failure.
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        with out.status("Das Portal startet …"):
            _wait_healthy(portal_url, procs[0][1], "Das Portal")
        # Before `practice serve`: it starts the sync job if autostart is on.
        try:
            mappings = _connect(data_dir, env, portal_url)
            sync_error = ""
        except (DemoSyncError, OSError, ValueError, KeyError) as exc:
            mappings, sync_error = [], str(exc)
        practice_cmd = _cli("practice", "serve", "--port", str(practice_port))
        procs.append(("Praxiskalender", subprocess.Popen(practice_cmd, env=env)))
        procs.append(("E-Mail-Versand", subprocess.Popen(_cli("portal", "worker"), env=env)))
        with out.status("Der Praxiskalender startet …"):
            _wait_healthy(f"http://127.0.0.1:{practice_port}", procs[1][1], "Der Praxiskalender")
        from termin360.portal.demo_logins import DEMO_LOGINS as PORTAL_LOGINS
        from termin360.practice.demo_logins import DEMO_LOGINS as PRACTICE_LOGINS

        out.print()
        out.print(f"[bold]Portal:[/bold]          {portal_url}/")
        for username, password, role in PORTAL_LOGINS:
            out.print(f"  Login {role}: {username} / {password}")
        out.print(f"[bold]Praxiskalender:[/bold]  http://127.0.0.1:{practice_port}/")
        for username, password, role in PRACTICE_LOGINS:
            out.print(f"  Login {role}: {username} / {password}")
        if mappings and _sync_running(env):
            out.print(_sync_line(mappings), highlight=False, soft_wrap=True)
        else:
            reason = sync_error or f"siehe {data_dir / 'sync-job.log'}"
            out.print(
                f"[yellow]Abgleich läuft nicht:[/yellow] {reason}", highlight=False, soft_wrap=True
            )
        out.print(f"[bold]E-Mails[/bold] der Demo liegen als Dateien in {data_dir / 'mails'}")
        out.print("Demo bereit. Beenden mit Strg+C.", highlight=False)
        while not stopping and all(p.poll() is None for _, p in procs):
            time.sleep(0.3)
        if not stopping:
            time.sleep(0.5)  # a Ctrl+C whose signal the children handled first
        for name, p in procs:
            if not stopping and p.poll() is not None:
                out.print(
                    f"[red]{name} wurde unerwartet beendet[/red] (Exit-Code {p.returncode}); "
                    "die Demo endet.",
                    highlight=False,
                )
    except KeyboardInterrupt:
        stopping = True
    finally:
        if stopping:
            out.print("Demo wird beendet …", highlight=False)
        _stop_all(procs)


def _stop_all(procs: list[tuple[str, subprocess.Popen[bytes]]]) -> None:
    """The practice calendar first: it ends the sync job, whose long poll would otherwise
    keep a portal thread busy. A part that does not end in time is killed (SQLite's
    journal keeps its data safe)."""
    for name, p in procs:
        if name == "Praxiskalender":
            p.terminate()
            try:
                p.wait(timeout=12)
            except subprocess.TimeoutExpired:
                p.kill()
    for _, p in procs:
        if p.poll() is None:
            p.terminate()
    deadline = time.monotonic() + 8
    for _, p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
