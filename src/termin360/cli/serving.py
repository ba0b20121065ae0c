"""What ``portal serve`` and ``practice serve`` share: how many processes and threads,
and the checks before they start — one German line and exit code 2 for a setting that
cannot work, before any port is bound."""

from __future__ import annotations

from typing import Annotated

import typer

from termin360.cli import bounds
from termin360.cli.django_setup import err

# The options both ``serve`` commands take (their defaults stay with each command).
Host = Annotated[str, typer.Option(help="Adresse, an der der Server lauscht")]
Port = Annotated[int, typer.Option(help="Port", **bounds.PORT)]
Workers = Annotated[
    int,
    typer.Option(
        envvar="TERMIN360_WORKERS",
        help="Anzahl Prozesse; ab 2 mit gunicorn, alle an einem Port",
        **bounds.WORKERS,
    ),
]
Threads = Annotated[
    int,
    typer.Option(envvar="TERMIN360_THREADS", help="Arbeits-Threads je Prozess", **bounds.THREADS),
]
TlsCert = Annotated[
    str, typer.Option(envvar="TERMIN360_TLS_CERT", help="TLS-Zertifikat (PEM) für HTTPS")
]
TlsKey = Annotated[
    str, typer.Option(envvar="TERMIN360_TLS_KEY", help="Schlüssel zum TLS-Zertifikat (PEM)")
]


def refuse(message: str) -> typer.Exit:
    err.print(f"[red]Fehler:[/red] {message}", highlight=False)
    return typer.Exit(2)


def long_poll_limit(threads: int) -> int:
    """``TERMIN360_LONG_POLL_MAX``, or by default all threads but a quarter (at least 4);
    never every thread: a process must keep one for the other requests."""
    from termin360.deploy.env import ConfigError, env_int
    from termin360.portal.services.sync_feed import default_long_poll_limit

    try:
        limit = env_int("TERMIN360_LONG_POLL_MAX", default_long_poll_limit(threads), minimum=0)
    except ConfigError as exc:
        raise refuse(str(exc)) from None
    if limit >= threads:
        raise refuse(
            f"TERMIN360_LONG_POLL_MAX={limit} ließe keinen der {threads} Threads für andere "
            f"Anfragen frei: höchstens {threads - 1} wählen oder mehr --threads."
        )
    return limit


def check_connections(*, workers: int, extra_per_process: int) -> int:
    """The most connections this ``serve`` may open, checked against the budget
    (``deploy.dbpool``; PostgreSQL only, 0 on SQLite)."""
    from termin360.deploy.dbpool import BudgetExceeded, check_budget
    from termin360.deploy.env import ConfigError

    try:
        return check_budget(workers=workers, extra_per_process=extra_per_process)
    except (BudgetExceeded, ConfigError) as exc:
        raise refuse(str(exc)) from None


def describe(*, workers: int, threads: int, connections: int, long_polls: int | None) -> str:
    """The line under the start line when several processes serve."""
    text = f"{workers} Prozesse (gunicorn) mit je {threads} Threads"
    if long_polls is not None:
        text += f", je Prozess höchstens {long_polls} wartende Long Polls"
    if connections:
        text += f", zusammen höchstens {connections} Datenbankverbindungen"
    return text + "."
