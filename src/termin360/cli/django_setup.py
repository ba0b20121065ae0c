"""Start Django for one role, and turn application errors into clean console messages."""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import typer
from rich.console import Console

err = Console(stderr=True, soft_wrap=True)
T = TypeVar("T")


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a block imports: starting a command creates
    hundreds of thousands of objects that all stay alive, and the collector would walk
    them again and again (about a tenth of a command's start-up). Restored after it."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def setup(role: str) -> None:
    module = f"termin360.deploy.{role}.settings"
    current = os.environ.get("DJANGO_SETTINGS_MODULE")
    if current and current != module and "django.conf" in sys.modules:
        raise RuntimeError(f"this process is already set up as {current}")
    os.environ["DJANGO_SETTINGS_MODULE"] = module
    import django

    from termin360.deploy.env import ConfigError

    try:
        with collector_paused():
            django.setup()
    except ConfigError as exc:
        err.print(f"[red]Konfigurationsfehler:[/red] {exc}")
        raise typer.Exit(2) from None


def migrate(verbosity: int = 0) -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=verbosity)


# Whose database a role's commands work on, for the message about a schema behind.
DATABASE_OF = {"practice": "des Praxiskalenders", "portal": "des Portals"}


def ensure_schema(role: str) -> None:
    """Make sure the database fits this code, cheaply (``deploy.schema``: one query, no
    migration imported). A new, empty database is set up at once — the first command on
    a fresh data directory works as ``init`` would. A database with migrations still to
    apply is refused in one line naming ``termin360 <role> migrate``: changing the
    schema is a deliberate step (``init``, ``migrate``, ``serve``), not a side effect of
    ``sync list`` while an older server may still be running on it."""
    from termin360.deploy.schema import pending_migrations

    pending = pending_migrations()
    if pending is None:
        migrate()
        return
    if pending:
        count = f"{len(pending)} Migration" + ("en" if len(pending) > 1 else "")
        err.print(
            f"[red]Fehler:[/red] Die Datenbank {DATABASE_OF.get(role, role)} ist nicht auf dem "
            f"neuesten Stand ({count} ausstehend). Zuerst »termin360 {role} migrate« ausführen.",
            highlight=False,
        )
        raise typer.Exit(1)


def start(role: str) -> None:
    """Django for ``role`` on a database whose schema is current (see ``ensure_schema``)."""
    setup(role)
    ensure_schema(role)


@contextmanager
def user_errors() -> Iterator[None]:
    """Show an ApplicationError as one red line and exit 1 — never a traceback."""
    from termin360.core.errors import ApplicationError

    try:
        yield
    except ApplicationError as exc:
        err.print(f"[red]Fehler:[/red] {exc.message}", highlight=False)
        raise typer.Exit(1) from None


def run(fn: Callable[[], T]) -> T:
    with user_errors():
        return fn()
