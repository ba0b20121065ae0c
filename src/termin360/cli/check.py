"""``termin360 portal check`` and ``termin360 practice check``: Django's system checks
for one role; with ``--deploy`` also the checks for a production set-up (HTTPS, HSTS,
secure cookies, a real secret key, DEBUG off — docs/operations.md says which
environment variables).

Django's findings are printed as Django words them (English, with their id, e.g.
``security.W004``); the summary line is German. Any warning with ``--deploy`` or any
error makes the command exit 1, so a deployment script can stop on it."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from termin360.cli.django_setup import setup

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

DeployOption = Annotated[
    bool, typer.Option("--deploy", help="auch die Prüfungen für den Produktivbetrieb")
]


def run_checks(role: str, *, deploy: bool) -> None:
    setup(role)
    from django.core import checks

    messages = [
        message
        for message in checks.run_checks(include_deployment_checks=deploy)
        if not message.is_silenced()
    ]
    for message in messages:
        kind = "Fehler" if message.is_serious() else "Warnung"
        hint = f" ({message.hint})" if message.hint else ""
        err.print(f"{kind} {message.id}: {message.msg}{hint}")
    serious = sum(1 for message in messages if message.is_serious())
    warnings = sum(1 for message in messages if message.level >= checks.WARNING) - serious
    what = "Prüfung für den Produktivbetrieb" if deploy else "Prüfung"
    if serious or (deploy and warnings):
        err.print(f"{what}: {serious} Fehler, {warnings} Warnung(en).")
        raise typer.Exit(1)
    if warnings:
        out.print(f"{what}: keine Fehler, {warnings} Warnung(en).")
        return
    out.print(f"{what}: keine Beanstandungen.")


def portal_check(deploy: DeployOption = False) -> None:
    """Einstellungen des Portals prüfen (mit --deploy: für den Produktivbetrieb)."""
    run_checks("portal", deploy=deploy)


def practice_check(deploy: DeployOption = False) -> None:
    """Einstellungen des Praxiskalenders prüfen (mit --deploy: für den Produktivbetrieb)."""
    run_checks("practice", deploy=deploy)
