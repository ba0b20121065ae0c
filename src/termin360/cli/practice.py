"""``termin360 practice …``: serve the practice calendar and set it up."""

from __future__ import annotations

import json
import re
from datetime import date, time
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from termin360.cli import bounds, check, serving
from termin360.cli.django_setup import migrate, run, setup, start, user_errors

app = typer.Typer(
    rich_markup_mode="markdown",
    help="Der Praxiskalender: starten und einrichten.",
    no_args_is_help=True,
)
out = Console()
app.command("check")(check.practice_check)

WEEKDAYS = {
    "mo": 0,
    "di": 1,
    "mi": 2,
    "do": 3,
    "fr": 4,
    "sa": 5,
    "so": 6,
    "tu": 1,
    "we": 2,
    "th": 3,
    "su": 6,
}
RULE = re.compile(r"^(?P<days>[a-z,\-]+)\s+(?P<t1>\d{1,2}:\d{2})-(?P<t2>\d{1,2}:\d{2})/(?P<m>\d+)$")
RULE_HELP = "erwartet z. B. 'Mo-Fr 08:00-12:00/15' oder 'Mo,Di,Do 14:00-18:00/15'"


def _days(spec: str, text: str) -> list[int]:
    days: list[int] = []
    for part in spec.split(","):
        first, _, last = part.partition("-")
        if first not in WEEKDAYS or (last and last not in WEEKDAYS):
            raise typer.BadParameter(f"{text!r}: {RULE_HELP}")
        a, b = WEEKDAYS[first], WEEKDAYS[last or first]
        if b < a:
            raise typer.BadParameter(f"{text!r}: der letzte Tag liegt vor dem ersten")
        days.extend(range(a, b + 1))
    return sorted(set(days))


def parse_rule(text: str) -> list[tuple[int, time, time, int]]:
    """``"Mo-Fr 08:00-12:00/15"`` or ``"Mo,Di,Do 14:00-18:00/15"`` → one rule per weekday."""
    m = RULE.match(text.strip().lower())
    if not m:
        raise typer.BadParameter(f"{text!r}: {RULE_HELP}")
    try:
        start, end = time.fromisoformat(m["t1"].zfill(5)), time.fromisoformat(m["t2"].zfill(5))
    except ValueError:
        raise typer.BadParameter(f"{text!r}: ungültige Uhrzeit") from None
    if end <= start:
        raise typer.BadParameter(f"{text!r}: das Ende liegt nicht nach dem Beginn")
    minutes = int(m["m"])
    if not 5 <= minutes <= 240:
        raise typer.BadParameter(f"{text!r}: Terminlänge 5 bis 240 Minuten")
    return [(d, start, end, minutes) for d in _days(m["days"], text)]


@app.command()
def init() -> None:
    """Datenbank anlegen bzw. auf den neuesten Stand bringen (migrate)."""
    setup("practice")
    migrate(verbosity=1)


@app.command("migrate")
def migrate_database() -> None:
    """Datenbank des Praxiskalenders auf den neuesten Stand bringen (nach einem Update; wie init).

    Die anderen Befehle ändern eine bestehende Datenbank nicht von selbst: Fehlen ihr
    Migrationen, sagen sie es und nennen diesen Befehl. `serve` migriert beim Start."""
    setup("practice")
    migrate(verbosity=1)


@app.command()
def serve(
    host: serving.Host = "127.0.0.1",
    port: serving.Port = 8001,
    workers: serving.Workers = 1,
    threads: serving.Threads = 8,
    tls_cert: serving.TlsCert = "",
    tls_key: serving.TlsKey = "",
) -> None:
    """Den Praxiskalender (Web-Oberfläche und API) starten — und, wenn eingeschaltet
    (`termin360 sync job on`), den Abgleich mit dem Portal im Hintergrund.

    Mit `--workers N` (ab 2) als N Prozesse an einem Port; der Abgleich läuft auch dann
    nur einmal."""
    setup("practice")
    most = serving.check_connections(workers=workers, extra_per_process=0)
    migrate()
    from termin360.cli.sync_autostart import JobSupervisor, start_job_if_autostart
    from termin360.deploy.dbpool import use_pool
    from termin360.deploy.practice.wsgi import application
    from termin360.deploy.server import ServerConfigError
    from termin360.deploy.server import serve as serve_forever

    scheme = "https" if tls_cert else "http"
    job: JobSupervisor | None = None

    def ready() -> None:
        nonlocal job
        out.print(f"Praxiskalender läuft auf {scheme}://{host}:{port}/  (API: /api/v1/docs)")
        if workers > 1:
            out.print(
                serving.describe(
                    workers=workers, threads=threads, connections=most, long_polls=None
                )
            )
        job = start_job_if_autostart(out)

    def stopped() -> None:
        if job is not None:
            job.stop()

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
            on_stop=stopped,
            in_worker=use_pool,
        )
    except ServerConfigError as exc:
        out.print(f"[red]Fehler:[/red] {exc}")
        raise typer.Exit(2) from None


def _ask_password() -> str:
    """The new password, typed twice without echo (German prompts, unlike Typer's own)."""
    for _attempt in range(3):
        first = typer.prompt("Passwort", hide_input=True)
        again = typer.prompt("Passwort wiederholen", hide_input=True)
        if first == again:
            return str(first)
        out.print("[red]Die beiden Eingaben stimmen nicht überein.[/red] Bitte noch einmal.")
    out.print("[red]Fehler:[/red] Das Passwort wurde dreimal verschieden eingegeben.")
    raise typer.Exit(1)


@app.command("add-staff")
def add_staff(
    username: str,
    password: Annotated[
        str | None,
        typer.Option(help="das Passwort; ohne diese Angabe wird es (verdeckt) zweimal abgefragt"),
    ] = None,
    admin: Annotated[bool, typer.Option(help="darf die Praxis einrichten")] = False,
) -> None:
    """Ein Mitarbeiterkonto anlegen (Login für Web-Oberfläche und API)."""
    if password is None:
        password = _ask_password()
    start("practice")
    from django.contrib.auth import get_user_model
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    try:
        validate_password(password)
    except ValidationError as exc:
        raise typer.BadParameter(" ".join(exc.messages)) from None
    user_model = get_user_model()
    if user_model.objects.filter(username=username).exists():
        out.print(f"[red]Fehler:[/red] Benutzer {username} existiert bereits.")
        raise typer.Exit(1)
    user_model.objects.create_user(username=username, password=password, is_staff=admin)
    out.print(f"Mitarbeiter {username} angelegt{' (Administrator)' if admin else ''}.")


@app.command("add-location")
def add_location(
    name: str,
    address: Annotated[str, typer.Option()] = "",
    time_zone: Annotated[str, typer.Option()] = "Europe/Berlin",
) -> None:
    """Einen Praxisstand anlegen."""
    start("practice")
    from termin360.practice.services.setup import create_location

    loc = run(lambda: create_location(name=name, address=address, time_zone=time_zone))
    out.print(f"Praxisstand {loc.name} angelegt (id {loc.pk}).")


@app.command("add-calendar")
def add_calendar(
    number: Annotated[int, typer.Argument(**bounds.CALENDAR_NUMBER)],
    name: str,
    location: Annotated[int, typer.Option(help="id des Praxisstands", **bounds.ID)],
) -> None:
    """Einen Terminkalender (Nummer, Name) an einem Praxisstand anlegen."""
    start("practice")
    from termin360.practice.services.setup import create_calendar

    cal = run(lambda: create_calendar(number=number, name=name, location_id=location))
    out.print(f"Terminkalender {cal.number} {cal.name} angelegt.")


@app.command("add-column")
def add_column(
    calendar: Annotated[int, typer.Argument(**bounds.CALENDAR_NUMBER)],
    number: Annotated[int, typer.Argument(**bounds.COLUMN_NUMBER)],
    name: str,
    location: Annotated[
        str | None,
        typer.Option(
            help="Praxisstand (Name oder id), wenn die Spalte zu einem anderen Praxisstand "
            "gehört als ihr Kalender"
        ),
    ] = None,
) -> None:
    """Eine Spalte (Nummer, Name) in einem Terminkalender anlegen."""
    start("practice")
    from termin360.practice.models import Location
    from termin360.practice.services.lookups import calendar_by_number
    from termin360.practice.services.setup import create_column

    location_id: int | None = None
    if location is not None:
        found = Location.objects.filter(name=location.strip()).first()
        if found is None and location.strip().isdigit():
            found = Location.objects.filter(pk=int(location)).first()
        if found is None:
            out.print(f"[red]Fehler:[/red] Es gibt keinen Praxisstand {location}.")
            raise typer.Exit(1)
        location_id = found.pk
    col = run(
        lambda: create_column(
            calendar=calendar_by_number(calendar),
            number=number,
            name=name,
            location_id=location_id,
        )
    )
    where = f" (Praxisstand {col.location.name})" if col.location else ""
    out.print(f"Spalte {col.number} {col.name} in Kalender {calendar} angelegt{where}.")


@app.command("set-template")
def set_template(
    calendar: Annotated[int, typer.Argument(**bounds.CALENDAR_NUMBER)],
    column: Annotated[int, typer.Argument(**bounds.COLUMN_NUMBER)],
    rule: Annotated[list[str], typer.Option(help="z. B. 'Mo-Fr 08:00-12:00/15'; mehrfach")],
) -> None:
    """Die Wochenvorlage einer Spalte festlegen (ersetzt die bisherige)."""
    start("practice")
    from termin360.practice.domain.grid import TemplateRule
    from termin360.practice.services.lookups import calendar_by_number, column_by_number
    from termin360.practice.services.setup import set_template as set_rules

    parsed = [
        TemplateRule(weekday=d, start=s, end=e, slot_minutes=m)
        for text in rule
        for (d, s, e, m) in parse_rule(text)
    ]
    with user_errors():
        col = column_by_number(calendar_by_number(calendar), column)
        set_rules(column=col, rules=parsed)
    out.print(f"Vorlage der Spalte {calendar}/{column}: {len(parsed)} Zeilen.")


@app.command("generate-grid")
def generate_grid(
    calendar: Annotated[int, typer.Argument(**bounds.CALENDAR_NUMBER)],
    year: Annotated[int, typer.Option(help="Jahrgang", **bounds.YEAR)] = date.today().year,
    column: Annotated[
        list[int] | None, typer.Option(help="nur diese Spalte(n)", **bounds.COLUMN_NUMBER)
    ] = None,
    rebuild: Annotated[
        bool,
        typer.Option(
            help="Raster an die Vorlage anpassen (Termine auf entfallenden Zeiten → Zusatzliste)"
        ),
    ] = False,
) -> None:
    """Das Terminraster eines Jahrgangs erzeugen oder bearbeiten."""
    start("practice")
    from termin360.practice.domain.grid import year_bounds
    from termin360.practice.services import setup as services
    from termin360.practice.services.lookups import calendar_by_number, column_by_number

    first, last = year_bounds(year)
    with user_errors():
        cal = calendar_by_number(calendar)
        cols = [column_by_number(cal, n) for n in column] if column else list(cal.columns.all())
        for col in cols:
            if rebuild:
                r = services.rebuild_grid(column=col, first=first, last=last)
                out.print(
                    f"Spalte {col.number}: {r['created']} neu, {r['removed']} entfernt, "
                    f"{r['moved_to_additional_list']} Termine in die Zusatzliste"
                )
            else:
                n = services.generate_grid(column=col, first=first, last=last)
                out.print(f"Spalte {col.number}: {n} Termine (Slots) erzeugt")


@app.command("list")
def list_calendars(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Praxisstände, Terminkalender und Spalten auflisten."""
    start("practice")
    from termin360.practice.models import Calendar

    rows: list[dict[str, Any]] = [
        {
            "calendar": c.number,
            "name": c.name,
            "location": c.location.name,
            "columns": [{"number": col.number, "name": col.name} for col in c.columns.all()],
        }
        for c in Calendar.objects.select_related("location").prefetch_related("columns")
    ]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table("Kalender", "Name", "Praxisstand", "Spalten")
    for r in rows:
        cols = ", ".join(f"{c['number']} {c['name']}" for c in r["columns"])
        table.add_row(str(r["calendar"]), r["name"], r["location"], cols)
    out.print(table)


@app.command("demo-data")
def demo_data(
    year: Annotated[
        int | None, typer.Option(help="Jahrgang; ohne: 12 Monate ab diesem Monat", **bounds.YEAR)
    ] = None,
    seed: Annotated[
        int,
        typer.Option(help="Zufallsstartwert (gleiche Daten bei gleichem Wert)", **bounds.SEED),
    ] = 360,
) -> None:
    """Eine realistische Praxis anlegen: 2 Praxisstände, 3 Kalender, Raster, 200 Patienten, …"""
    start("practice")
    from termin360.practice.demo_data import load_demo_data

    with user_errors():
        summary = load_demo_data(year=year, seed=seed, progress=out)
    for key, value in summary.items():
        out.print(f"  {key}: {value}")
