"""The ``termin360`` console command.

Groups (SPEC "Interfaces"): ``demo``, ``portal …``, ``practice …``, ``sync …``.
Each group sets up Django for its own role before it touches a database, so a
process never mixes the portal's and the practice's data.
"""

from __future__ import annotations

import typer

from termin360.cli import demo, portal, practice, sync

app = typer.Typer(
    help="termin360 – Online-Terminbuchung mit 360°-Abgleich in den Praxiskalender.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(portal.app, name="portal")
app.add_typer(practice.app, name="practice")
app.add_typer(sync.app, name="sync")
app.command("demo")(demo.demo)


def main() -> None:
    app()
