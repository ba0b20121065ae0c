"""``termin360 sync job …`` (S3; DURIA: TMEX +J / -J): the background sync.

``on`` switches autostart on (``practice serve`` then starts the job each time) and
starts a detached job now if none runs; ``off`` only switches autostart off — a running
job keeps running until ``stop`` or the end of its ``practice serve``.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from termin360.cli.django_setup import start, user_errors

app = typer.Typer(
    rich_markup_mode="markdown",
    help="Abgleich im Hintergrund (TMEX +J / -J): ein- und ausschalten, stoppen, Zustand.",
    no_args_is_help=True,
)
out = Console()
err = Console(stderr=True, soft_wrap=True)

WAIT_SECONDS = 10.0


def _start() -> None:
    start("practice")


def _running() -> bool:
    from termin360.connector.selectors import job_is_running, sync_state

    return job_is_running(sync_state())


def _wait_until(condition: bool, deadline: float) -> bool:
    """Poll ``_running()`` until it equals ``condition`` or the deadline passes."""
    while time.monotonic() < deadline:
        if _running() == condition:
            return True
        time.sleep(0.2)
    return _running() == condition


@app.command()
def on(
    start_now: Annotated[
        bool,
        typer.Option(
            "--start/--no-start",
            help="gleich starten; --no-start: nur den Autostart einschalten "
            "(der nächste `practice serve` startet den Abgleich)",
        ),
    ] = True,
) -> None:
    """Abgleich im Hintergrund starten, jetzt und bei jedem Start (TMEX +J).

    Schaltet den Autostart ein: `termin360 practice serve` startet den Abgleich dann
    jedes Mal mit."""
    _start()
    from termin360.cli.sync_autostart import job_log_path, spawn_job
    from termin360.connector.job import set_autostart
    from termin360.connector.selectors import sync_state, sync_status

    if not sync_status().configured:
        err.print(
            "[red]Fehler:[/red] Der Abgleich ist noch nicht eingerichtet "
            "(termin360 sync config --portal-url … --api-key …)."
        )
        raise typer.Exit(1)
    set_autostart(True)
    if not start_now:
        out.print("Autostart ist an; der Abgleich startet mit `termin360 practice serve`.")
        return
    if _running():
        out.print(f"Autostart ist an; der Abgleich läuft bereits (PID {sync_state().job_pid}).")
        return
    process = spawn_job(detached=True)
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline and process.poll() is None and not _running():
        time.sleep(0.2)
    if not _running():
        err.print(
            "[red]Fehler:[/red] Der Abgleich ist nicht angelaufen; "
            f"Einzelheiten in {job_log_path()}."
        )
        raise typer.Exit(1)
    out.print(
        f"Autostart ist an; der Abgleich läuft im Hintergrund (PID {sync_state().job_pid}, "
        f"Protokoll: {job_log_path()})."
    )


@app.command()
def off() -> None:
    """Autostart ausschalten (TMEX -J); ein laufender Abgleich läuft weiter.

    Beenden mit `termin360 sync job stop`."""
    _start()
    from termin360.connector.job import set_autostart

    set_autostart(False)
    if _running():
        out.print(
            "Autostart ist aus. Der laufende Abgleich läuft weiter; "
            "beenden mit: termin360 sync job stop"
        )
    else:
        out.print("Autostart ist aus.")


@app.command()
def stop() -> None:
    """Den laufenden Abgleich beenden (innerhalb etwa einer Sekunde).

    Der Autostart bleibt, wie er ist."""
    _start()
    from termin360.connector.job import request_stop

    if not _running():
        out.print("Es läuft kein Abgleich.")
        return
    request_stop()
    if not _wait_until(False, time.monotonic() + WAIT_SECONDS):
        err.print("[red]Fehler:[/red] Der Abgleich hat sich nicht innerhalb von 10 s beendet.")
        raise typer.Exit(1)
    out.print("Abgleich beendet.")


def _when(value: object) -> str:
    from datetime import datetime

    from django.utils import timezone

    if not isinstance(value, datetime):
        return "—"
    return f"{timezone.localtime(value):%d.%m.%Y %H:%M:%S}"


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="als JSON ausgeben")] = False,
) -> None:
    """Zustand: läuft er, Autostart, letzter Erfolg und Fehler, offene Änderungen."""
    _start()
    from termin360.connector.selectors import sync_status

    s = sync_status()
    if as_json:
        typer.echo(json.dumps(s.as_dict(), ensure_ascii=False, indent=2))
        return
    table = Table("", "", title="Abgleich im Hintergrund", show_header=False)
    table.add_row("Eingerichtet", f"ja ({s.portal_url})" if s.configured else "nein")
    running = (
        f"läuft (PID {s.job_pid}, seit {_when(s.job_started_at)})" if s.running else "läuft nicht"
    )
    table.add_row("Abgleich", running)
    table.add_row("Autostart", "an" if s.autostart else "aus")
    table.add_row("Letzter Erfolg", _when(s.last_success_at))
    error = f"{_when(s.last_error_at)}: {s.last_error}" if s.last_error else "—"
    table.add_row("Letzter Fehler", error)
    table.add_row(
        "Offene Änderungen",
        f"{s.pending_total} (Tage zum Portal {s.pending_to_portal}, Empfangsbestätigungen "
        f"{s.pending_receipts}, Praxisänderungen {s.pending_practice_changes})",
    )
    table.add_row("Ohne Zuordnung", str(s.unplaced))
    table.add_row("Zuordnungen", str(s.mappings))
    out.print(table)


@app.command()
def run(
    parent: Annotated[
        int | None,
        typer.Option(hidden=True, help="endet, wenn dieser Prozess (practice serve) endet"),
    ] = None,
) -> None:
    """Den Abgleich im Vordergrund laufen lassen (bis Strg+C oder `job stop`).

    Das ist der Prozess, den `job on` und der Autostart von `practice serve` starten."""
    _start()
    from termin360.connector.job import run_job

    stop_event = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        stop_event.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)

    def started() -> None:
        out.print("Abgleich läuft. Beenden mit Strg+C oder `termin360 sync job stop`.")

    with user_errors():
        run_job(stop_event, parent_pid=parent, on_started=started)
    out.print("Abgleich beendet.")
