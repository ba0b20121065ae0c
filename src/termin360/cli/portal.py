"""``termin360 portal …``: serve the booking portal, run its e-mail worker, admin tasks."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from termin360.cli.django_setup import migrate, setup

app = typer.Typer(
    help="Das Buchungsportal: starten, E-Mail-Versand, Verwaltung.", no_args_is_help=True
)
out = Console()


@app.command()
def init() -> None:
    """Datenbank des Portals anlegen bzw. auf den neuesten Stand bringen (migrate)."""
    setup("portal")
    migrate(verbosity=1)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Adresse, an der der Server lauscht")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
    threads: Annotated[int, typer.Option(help="Anzahl Arbeits-Threads")] = 16,
) -> None:
    """Das Portal (Webseiten und API) starten."""
    setup("portal")
    migrate()
    from waitress import serve as waitress_serve

    from termin360.deploy.portal.wsgi import application

    out.print(f"Portal läuft auf http://{host}:{port}/  (API: /api/v1/docs)")
    waitress_serve(
        application, host=host, port=port, threads=threads, ident="termin360", connection_limit=500
    )


@app.command("demo-data")
def demo_data() -> None:
    """Demo-Daten anlegen: Praxen, Ärzte verschiedener Fachrichtungen in mehreren Städten,
    veröffentlichte Online-Kalender, Demo-Logins."""
    setup("portal")
    migrate()
    from termin360.cli.django_setup import user_errors
    from termin360.portal.demo_data import load_demo_data

    with user_errors():
        summary = load_demo_data(progress=out)
    for key, value in summary.items():
        out.print(f"  {key}: {value}")


@app.command()
def worker(
    poll: Annotated[float, typer.Option(help="Sekunden zwischen zwei Durchläufen")] = 5.0,
) -> None:
    """E-Mails versenden und Erinnerungen einreihen (läuft bis SIGTERM / Strg+C)."""
    setup("portal")
    import signal
    import threading

    from termin360.portal.worker import describe_backend, run_worker

    stop = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    out.print(f"E-Mail-Versand läuft ({describe_backend()}); beenden mit Strg+C.")
    run_worker(stop, poll_seconds=poll)
    out.print("E-Mail-Versand beendet.")
