"""``termin360 portal …``: serve the booking portal, run its e-mail worker, admin tasks."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console

from termin360.cli import bounds, check, serving
from termin360.cli.django_setup import migrate, setup, start

app = typer.Typer(
    rich_markup_mode="markdown",
    help="Das Buchungsportal: starten, E-Mail-Versand, Verwaltung.",
    no_args_is_help=True,
)
out = Console()
app.command("check")(check.portal_check)


@app.command()
def init() -> None:
    """Datenbank des Portals anlegen bzw. auf den neuesten Stand bringen (migrate)."""
    setup("portal")
    migrate(verbosity=1)


@app.command("migrate")
def migrate_database() -> None:
    """Datenbank des Portals auf den neuesten Stand bringen (nach einem Update; wie init).

    Die anderen Befehle ändern eine bestehende Datenbank nicht von selbst: Fehlen ihr
    Migrationen, sagen sie es und nennen diesen Befehl. `serve` migriert beim Start."""
    setup("portal")
    migrate(verbosity=1)


@app.command()
def serve(
    host: serving.Host = "127.0.0.1",
    port: serving.Port = 8000,
    workers: serving.Workers = 1,
    threads: serving.Threads = 16,
    tls_cert: serving.TlsCert = "",
    tls_key: serving.TlsKey = "",
) -> None:
    """Das Portal (Webseiten, Patienten-API und Sync-API) starten.

    Mit `--workers N` (ab 2) als N Prozesse an einem Port, für den Betrieb hinter einem
    Reverse-Proxy (docs/deploy.md). Der E-Mail-Versand läuft getrennt davon:
    `termin360 portal worker`."""
    setup("portal")
    # The settings first: a server that cannot work should not touch the schema.
    long_polls = serving.long_poll_limit(threads)
    # One connection per process beyond its pool: the change feed's LISTEN (long polls).
    most = serving.check_connections(workers=workers, extra_per_process=1)
    migrate()
    from termin360.deploy.dbpool import use_pool
    from termin360.deploy.portal.wsgi import application
    from termin360.deploy.server import ServerConfigError
    from termin360.deploy.server import serve as serve_forever
    from termin360.portal.services.sync_feed import set_long_poll_limit, stop_waiting

    set_long_poll_limit(long_polls)  # before the workers fork: each inherits it
    scheme = "https" if tls_cert else "http"

    def ready() -> None:
        out.print(f"Portal läuft auf {scheme}://{host}:{port}/  (API: /api/v1/docs)")
        if workers > 1:
            out.print(
                serving.describe(
                    workers=workers, threads=threads, connections=most, long_polls=long_polls
                )
            )

    try:
        serve_forever(
            application,
            host=host,
            port=port,
            workers=workers,
            threads=threads,
            tls_cert=tls_cert,
            tls_key=tls_key,
            on_ready=ready,
            before_stop=stop_waiting,
            in_worker=use_pool,
        )
    except ServerConfigError as exc:
        out.print(f"[red]Fehler:[/red] {exc}")
        raise typer.Exit(2) from None


@app.command("demo-data")
def demo_data() -> None:
    """Demo-Daten anlegen: Praxen, Ärzte verschiedener Fachrichtungen in mehreren Städten,
    veröffentlichte Online-Kalender, Demo-Logins."""
    start("portal")
    from termin360.cli.django_setup import user_errors
    from termin360.portal.demo_data import load_demo_data

    with user_errors():
        summary = load_demo_data(progress=out)
    for key, value in summary.items():
        out.print(f"  {key}: {value}")


@app.command()
def worker(
    poll: Annotated[
        float, typer.Option(help="Sekunden zwischen zwei Durchläufen", **bounds.POLL_SECONDS)
    ] = 5.0,
) -> None:
    """E-Mails versenden, Erinnerungen und Warnungen zu nicht übermittelten Buchungen
    einreihen (läuft bis SIGTERM / Strg+C)."""
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


@app.command("api-key")
def api_key(
    practice_id: Annotated[
        int, typer.Argument(help="Nummer (id) der Praxis im Portal", **bounds.ID)
    ],
    name: Annotated[str, typer.Option(help="Bezeichnung des Schlüssels")] = "Connector",
    as_json: Annotated[bool, typer.Option("--json", help="Ausgabe als JSON")] = False,
) -> None:
    """Einen API-Schlüssel für den Connector einer Praxis ausgeben (P1). Der Schlüssel wird
    nur dieses eine Mal angezeigt; im Portal ist nur sein Hash gespeichert."""
    start("portal")
    from termin360.cli.django_setup import err
    from termin360.portal.models import OnlineCalendar, Practice
    from termin360.portal.services import practices

    practice = Practice.objects.filter(pk=practice_id).first()
    if practice is None:
        err.print(f"[red]Fehler:[/red] Eine Praxis mit der Nummer {practice_id} gibt es nicht.")
        raise typer.Exit(1)
    _record, key = practices.issue_api_key(practice=practice, name=name)
    calendars = OnlineCalendar.objects.filter(doctor__practice=practice).order_by("pk")
    if as_json:
        data = {
            "practice_id": practice.pk,
            "key": key,
            "calendars": [{"id": c.pk, "name": c.name} for c in calendars],
        }
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    out.print(f"API-Schlüssel für {practice.name} (wird nur jetzt angezeigt):")
    typer.echo(key)
    for c in calendars:
        out.print(f"  Online-Kalender {c.pk}: {c.name}")


@app.command("add-operator")
def add_operator(
    name: Annotated[str, typer.Argument(help="Anmeldename des Betreibers")],
    email: Annotated[str, typer.Option(help="E-Mail-Adresse des Betreibers")] = "",
    password: Annotated[
        str | None,
        typer.Option(help="das Passwort; ohne diese Angabe wird es (verdeckt) zweimal abgefragt"),
    ] = None,
) -> None:
    """Ein Betreiberkonto für das Back-Office (/backoffice/) anlegen (P10): Passwort und
    TOTP als zweiter Faktor. Der TOTP-Schlüssel wird nur dieses eine Mal angezeigt."""
    from termin360.cli.practice import _ask_password

    if password is None:
        password = _ask_password()
    start("portal")
    from termin360.cli.django_setup import user_errors
    from termin360.portal.services import operators

    with user_errors():
        operator = operators.add_operator(username=name, email=email, password=password)
    out.print(f"Betreiber {operator.user.username} angelegt.")
    out.print(
        "Zweiter Faktor: diese Adresse in eine Authenticator-App übernehmen "
        "(wird nur jetzt angezeigt):"
    )
    typer.echo(operator.otpauth_uri)
    out.print("Oder den Schlüssel von Hand eingeben:")
    typer.echo(operator.secret)
