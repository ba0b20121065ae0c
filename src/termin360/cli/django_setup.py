"""Start Django for one role, and turn application errors into clean console messages."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import typer
from rich.console import Console

err = Console(stderr=True, soft_wrap=True)
T = TypeVar("T")


def setup(role: str) -> None:
    module = f"termin360.deploy.{role}.settings"
    current = os.environ.get("DJANGO_SETTINGS_MODULE")
    if current and current != module and "django.conf" in sys.modules:
        raise RuntimeError(f"this process is already set up as {current}")
    os.environ["DJANGO_SETTINGS_MODULE"] = module
    import django

    from termin360.deploy.env import ConfigError

    try:
        django.setup()
    except ConfigError as exc:
        err.print(f"[red]Konfigurationsfehler:[/red] {exc}")
        raise typer.Exit(2) from None


def migrate(verbosity: int = 0) -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=verbosity)


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
