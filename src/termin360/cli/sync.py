"""``termin360 sync …``: the connector between portal and practice calendar (DURIA: TMEX).

TMEX P → ``config`` / ``tls``; TMEX → ``now``; +J / -J → ``job on`` / ``job off``;
L → ``list``; Info → ``info``; notFree → ``push-existing``. Every command runs with the
practice's settings: the connector's state lives in the practice database.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from termin360.cli import bounds, sync_bookings, sync_job
from termin360.cli.django_setup import collector_paused, user_errors
from termin360.cli.django_setup import start as django_start

if TYPE_CHECKING:
    from rich.progress import Progress

app = typer.Typer(
    rich_markup_mode="markdown",
    help="Abgleich zwischen Portal und Praxiskalender (Connector, TMEX): einrichten, "
    "abgleichen, im Hintergrund laufen lassen, Online-Buchungen auflisten.",
    no_args_is_help=True,
)
app.add_typer(sync_job.app, name="job")
app.command("list")(sync_bookings.list_bookings)
app.command("info")(sync_bookings.info)
out = Console()
err = Console(stderr=True, soft_wrap=True)

MAP = re.compile(r"^\s*(?P<online>\d+)\s*=\s*(?P<cal>\d+)\s*/\s*(?P<col>\d+)\s*$")
NOT_YET = "—"


def start() -> None:
    """Django with the practice's settings and an up-to-date database."""
    django_start("practice")


def parse_mapping(text: str) -> tuple[int, int, int]:
    """``"17=1/2"`` → (online calendar 17, practice calendar 1, column 2)."""
    m = MAP.match(text)
    if not m:
        raise typer.BadParameter(
            f"{text!r}: erwartet ONLINE_ID=KALENDER/SPALTE, z. B. 17=1/2", param_hint="--map"
        )
    return int(m["online"]), int(m["cal"]), int(m["col"])


def jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def print_json(data: Any) -> None:
    typer.echo(json.dumps(jsonable(data), ensure_ascii=False, indent=2))


def portal_failed(exc: Any, what: str) -> typer.Exit:
    """A ``PortalError`` as one red German line with its reason; exit code 1."""
    err.print(f"[red]{what}:[/red] {exc.message}", highlight=False)
    return typer.Exit(1)


# --------------------------------------------------------------------------- config (TMEX P)


def config_as_dict() -> dict[str, Any] | None:
    from termin360.connector.models import Mapping
    from termin360.connector.selectors import sync_config

    config = sync_config()
    mappings = [
        {
            "online_calendar_id": m.online_calendar_id,
            "online_name": m.online_name or None,
            "calendar": m.column.calendar.number,
            "calendar_name": m.column.calendar.name,
            "column": m.column.number,
            "column_name": m.column.name,
        }
        for m in Mapping.objects.select_related("column__calendar").order_by(
            "column__calendar__number", "column__number"
        )
    ]
    if config is None and not mappings:
        return None
    return {
        "portal_url": config.portal_url if config else "",
        "practice_name": (config.practice_name if config else "") or None,
        "api_key_hint": config.key_hint if config else "",
        "tls_profile": config.tls_profile.name if config and config.tls_profile else None,
        "check_timeout_seconds": config.check_timeout_seconds if config else None,
        "mappings": mappings,
    }


def show_config(as_json: bool) -> None:
    data = config_as_dict()
    if as_json:
        print_json(data)
        return
    if data is None:
        out.print("Der Abgleich ist noch nicht eingerichtet: termin360 sync config --portal-url …")
        return
    table = Table("Einstellung", "Wert", title="Abgleich (TMEX P)")
    table.add_row("Portal-Adresse", data["portal_url"] or NOT_YET)
    table.add_row("Praxis im Portal", data["practice_name"] or NOT_YET)
    table.add_row("API-Schlüssel", data["api_key_hint"] or "(keiner)")
    table.add_row("TLS-Profil", data["tls_profile"] or "(Standard-Zertifikate des Systems)")
    timeout = data["check_timeout_seconds"]
    table.add_row(
        "Wartezeit der Prüfung",
        f"{timeout:g} s".replace(".", ",") if timeout is not None else NOT_YET,
    )
    out.print(table)
    maps = Table("Online-Kalender", "Name im Portal", "Kalender", "Spalte", title="Zuordnungen")
    for m in data["mappings"]:
        maps.add_row(
            str(m["online_calendar_id"]),
            m["online_name"] or NOT_YET,
            f"{m['calendar']} {m['calendar_name']}",
            f"{m['column']} {m['column_name']}",
        )
    if not data["mappings"]:
        maps.add_row(NOT_YET, "keine Zuordnung", "", "")
    out.print(maps)


@app.command()
def config(
    portal_url: Annotated[
        str | None, typer.Option(help="Adresse des Portals, z. B. https://portal.example.org")
    ] = None,
    api_key: Annotated[
        str | None, typer.Option(help="API-Schlüssel der Praxis (vom Portal ausgegeben)")
    ] = None,
    tls_profile: Annotated[
        str | None, typer.Option(help="Name des TLS-Profils (termin360 sync tls); '' = keins")
    ] = None,
    check_timeout: Annotated[
        float | None,
        typer.Option(help="Sekunden, die eine Praxisaktion höchstens auf das Portal wartet"),
    ] = None,
    map_: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="ONLINE_ID=KALENDER/SPALTE, mehrfach; ersetzt alle bisherigen Zuordnungen",
        ),
    ] = None,
    clear_mappings: Annotated[
        bool, typer.Option("--clear-mappings", help="alle Zuordnungen entfernen")
    ] = False,
    offline: Annotated[
        bool,
        typer.Option(
            "--offline",
            help="ohne Prüfung beim Portal speichern (wenn es gerade nicht erreichbar ist)",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="als JSON ausgeben")] = False,
) -> None:
    """Abgleich einrichten oder anzeigen (TMEX P).

    Portal-Adresse, API-Schlüssel, TLS-Profil und die Zuordnungen Online-Kalender →
    Kalender/Spalte. Vor dem Speichern fragt der Befehl das Portal: Der Schlüssel muss
    gelten und jeder zugeordnete Online-Kalender zur Praxis des Schlüssels gehören,
    sonst wird nichts gespeichert. Ohne Optionen: die Einstellungen anzeigen."""
    entries = [parse_mapping(text) for text in map_ or []]
    if entries and clear_mappings:
        raise typer.BadParameter("--map und --clear-mappings schließen einander aus.")
    start()
    from django.db import transaction

    from termin360.connector.selectors import sync_config
    from termin360.connector.services import config as services
    from termin360.connector.services import config_check

    changes_config = any(v is not None for v in (portal_url, api_key, tls_profile, check_timeout))
    changes_link = any(v is not None for v in (portal_url, api_key, tls_profile)) or bool(entries)
    listing = None
    with user_errors():
        current = sync_config()
        if changes_config and portal_url is None and current is None:
            err.print("[red]Fehler:[/red] Die Portal-Adresse fehlt (--portal-url).")
            raise typer.Exit(1)
        configured = current is not None and bool(current.portal_url and current.api_key)
        asked = portal_url is not None or api_key is not None
        if changes_link and not offline and (configured or asked):
            planned = services.planned_settings(
                portal_url=portal_url,
                api_key=api_key,
                tls_profile=tls_profile,
                mappings=[] if clear_mappings else (entries or None),
            )
            try:
                listing = config_check.check_with_portal(planned)
            except config_check.PortalCheckFailed as exc:
                hint = (
                    ""
                    if exc.reachable
                    else " Ohne Prüfung speichern: denselben Befehl mit --offline."
                )
                err.print(f"[red]Fehler:[/red] {exc.message}{hint}", highlight=False)
                raise typer.Exit(1) from None
        # One transaction: a refused mapping leaves the address and key as they were too.
        with transaction.atomic():
            if changes_config:
                services.save_config(
                    portal_url=portal_url
                    if portal_url is not None
                    else (current.portal_url if current else ""),
                    api_key=api_key,
                    tls_profile=tls_profile,
                    check_timeout=check_timeout,
                )
            if entries or clear_mappings:
                services.set_mappings(entries)
            if listing is not None:
                config_check.store_names(listing)
    if (changes_config or entries or clear_mappings) and not as_json:
        checked = (
            " (vom Portal bestätigt)"
            if listing is not None
            else " (ohne Prüfung beim Portal)"
            if offline and changes_link
            else ""
        )
        out.print(f"Einstellungen gespeichert{checked}.")
    show_config(as_json)


@app.command()
def tls(
    name: Annotated[str, typer.Argument(help="Name des Profils, z. B. portal")],
    ca_bundle: Annotated[
        Path | None, typer.Option(help="CA-Zertifikate (PEM), denen das Portal-Zertifikat folgt")
    ] = None,
    client_cert: Annotated[Path | None, typer.Option(help="Client-Zertifikat (PEM)")] = None,
    client_key: Annotated[Path | None, typer.Option(help="Schlüssel zum Client-Zertifikat")] = None,
) -> None:
    """Ein TLS-Profil anlegen oder ändern.

    CA-Zertifikate, optional ein Client-Zertifikat; danach mit
    `termin360 sync config --tls-profile NAME` verwenden."""
    # Absolute paths: the job may run in another working directory.
    files = {
        option: str(path.resolve())
        for option, path in (
            ("ca_bundle", ca_bundle),
            ("client_cert", client_cert),
            ("client_key", client_key),
        )
        if path is not None
    }
    start()
    from termin360.connector.services import config as services

    with user_errors():
        profile = services.save_tls_profile(name=name, **files)
    out.print(f"TLS-Profil {profile.name} gespeichert.")


# --------------------------------------------------------------------------- now (TMEX)


@app.command()
def now(as_json: Annotated[bool, typer.Option("--json", help="als JSON ausgeben")] = False) -> None:
    """Einmal abgleichen, in beide Richtungen (TMEX), mit Anzahl je Richtung."""
    start()
    with collector_paused():  # the connector's services and its HTTP client
        from termin360.connector.portal_client import PortalError
        from termin360.connector.services import config as services
        from termin360.connector.services.rounds import sync_round

    with user_errors():
        client = services.client_from_config()
    try:
        with client:
            result = sync_round(client, wait=0)
    except PortalError as exc:
        raise portal_failed(exc, "Abgleich fehlgeschlagen") from None
    if as_json:
        data = jsonable(result)
        if not isinstance(data, dict):
            data = {"to_practice": result.to_practice, "to_portal": result.to_portal}
        print_json(data)
        return
    out.print(f"{result.to_practice} Änderungen zum Praxiskalender, {result.to_portal} zum Portal")


# --------------------------------------------------------------------------- push-existing


def _progress() -> Progress:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=out
    )


@app.command("push-existing")
def push_existing(
    calendar: Annotated[
        int, typer.Argument(help="Nummer des Terminkalenders", **bounds.CALENDAR_NUMBER)
    ],
    column: Annotated[int, typer.Argument(help="Nummer der Spalte", **bounds.COLUMN_NUMBER)],
) -> None:
    """Vorhandene Termine einer Spalte im Portal blockieren (DURIA: notFree).

    Sendet alle belegten Zeiten der zugeordneten Spalte ab heute an das Portal.
    Mehrfach ausführen schadet nicht."""
    start()
    from termin360.connector.portal_client import PortalError
    from termin360.connector.services import config as services
    from termin360.connector.services import outbox
    from termin360.connector.services.push_existing import push_existing as push

    with user_errors(), _progress() as bar:
        task = bar.add_task("Belegte Zeiten ermitteln", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = push(calendar, column, progress=advance)
        bar.update(task, completed=bar.tasks[0].total or 0)
    out.print(
        f"Kalender {calendar} / Spalte {column}: {result.days} Tage mit "
        f"{result.appointments} Terminen vorgemerkt."
    )
    try:
        with user_errors():
            client = services.client_from_config()
        with client, _progress() as bar:
            total = outbox.pending_count()
            task = bar.add_task("An das Portal senden (Tage)", total=total)
            while True:
                sent = outbox.relay_once(client)
                left = outbox.pending_count()
                total = max(total, left)
                bar.update(task, completed=total - left, total=total)
                if sent == 0 or left == 0:
                    break
    except PortalError as exc:
        err.print(
            f"[red]Senden an das Portal fehlgeschlagen:[/red] {exc.message} Die Tage bleiben "
            "vorgemerkt und gehen mit dem nächsten Abgleich hinaus.",
            highlight=False,
        )
        raise typer.Exit(1) from None
    if left:
        out.print(f"{left} Tage noch offen; sie gehen mit dem nächsten Abgleich hinaus.")
    else:
        out.print("Das Portal hat alle belegten Zeiten dieser Spalte.")
