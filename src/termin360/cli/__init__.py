"""The ``termin360`` console command.

Groups (SPEC "Interfaces"): ``demo``, ``portal …``, ``practice …``, ``sync …``.
Each group sets up Django for its own role before it touches a database, so a
process never mixes the portal's and the practice's data.

A call loads only the group it names (``termin360 sync now`` never imports the portal's
commands or the demo launcher); the top level's help, an unknown group and ``demo``
load them all. ``app`` — every group — is built on first use, for tests that invoke it.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import typer
from typer._click import exceptions as click_errors

from termin360.cli import german
from termin360.cli.django_setup import collector_paused

# httpx imports its own command-line client whenever click and rich are installed (they
# are: typer's), and with it pygments — some 50 ms of every console command's start for a
# tool termin360 never runs. A None entry makes that import fail, which httpx expects.
# (Nothing above imports httpx.)
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
german.install()

HELP = "termin360 – Online-Terminbuchung mit 360°-Abgleich in den Praxiskalender."
# The groups in the order the help lists them: name → module (its ``app`` is the group).
GROUPS = {
    "portal": "termin360.cli.portal",
    "practice": "termin360.cli.practice",
    "sync": "termin360.cli.sync",
}


def build(groups: list[str] | None = None) -> typer.Typer:
    """The command with ``groups`` (all of them, and ``demo``, when ``None``)."""
    command = typer.Typer(
        rich_markup_mode="markdown",
        help=HELP,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    for name in GROUPS if groups is None else groups:
        command.add_typer(importlib.import_module(GROUPS[name]).app, name=name)
    if groups is None:
        from termin360.cli import demo

        command.command("demo")(demo.demo)
    return command


def for_arguments(args: list[str]) -> typer.Typer:
    """The command as far as ``args`` need it: one group when they start with its name."""
    if args and args[0] in GROUPS:
        return build([args[0]])
    return build()


def __getattr__(name: str) -> Any:
    if name == "app":  # every group, built once; Typer's own texts German at once, as
        german.translate_help_texts()  # a test's runner may draw them without help
        full = build()
        globals()["app"] = full
        return full
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def database_outage(exc: BaseException) -> str | None:
    """The German line for a busy or unreachable database (any command, any role), or
    ``None`` when ``exc`` is something else."""
    if "django.db" not in sys.modules:
        return None  # no command got as far as a database
    from termin360.deploy.db_errors import console_message, outage_kind

    kind = outage_kind(exc)
    return console_message(kind) if kind is not None else None


def main() -> None:
    """Run the command; a usage error is one German line on stderr (exit 2), not a box;
    so is a busy or unreachable database (exit 1)."""
    with collector_paused():
        command = for_arguments(sys.argv[1:])
    try:
        code = command(standalone_mode=False)
    except click_errors.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx is not None else "termin360"
        typer.echo(f"Fehler: {german.error(exc.format_message())} Hilfe: {where} --help", err=True)
        sys.exit(exc.exit_code)
    except click_errors.ClickException as exc:
        typer.echo(f"Fehler: {german.error(exc.format_message())}", err=True)
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("Abgebrochen.", err=True)
        sys.exit(130)
    except Exception as exc:
        outage = database_outage(exc)
        if outage is None:
            raise  # a bug: its traceback is what a developer needs
        typer.echo(f"Fehler: {outage}", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
