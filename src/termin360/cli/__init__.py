"""The ``termin360`` console command.

Groups (SPEC "Interfaces"): ``demo``, ``portal …``, ``practice …``, ``sync …``.
Each group sets up Django for its own role before it touches a database, so a
process never mixes the portal's and the practice's data.
"""

from __future__ import annotations

import sys

import typer
from typer._click import exceptions as click_errors

from termin360.cli import german

german.install()

from termin360.cli import demo, portal, practice, sync  # noqa: E402  (after the German texts)

app = typer.Typer(
    rich_markup_mode="markdown",
    help="termin360 – Online-Terminbuchung mit 360°-Abgleich in den Praxiskalender.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(portal.app, name="portal")
app.add_typer(practice.app, name="practice")
app.add_typer(sync.app, name="sync")
app.command("demo")(demo.demo)


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
    try:
        code = app(standalone_mode=False)
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
