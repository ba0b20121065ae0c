"""German for what Typer prints itself, so the console command speaks one language.

Typer 0.29 carries its own copy of Click (``typer._click``) with its texts written in
English into the code, and renders a few panel titles with ``gettext`` at import. So:

* the panel titles ("Options", "Commands", …) come from the catalogue
  ``cli/locale/de/LC_MESSAGES/termin360-cli.po`` (German whatever the terminal's locale:
  the rest of the command is German too); they are set when help is first drawn, since
  Typer's help machinery (Rich's Markdown, tracebacks) costs a tenth of a second to
  import and a command that shows no help never needs it;
* the help option's text and the usage prefix are set where Typer builds them;
* error messages are translated when ``termin360.cli.main`` prints them, by the
  patterns below (anything unknown stays as Typer wrote it).

Import it before any command runs (``termin360.cli`` does).
"""

from __future__ import annotations

import gettext
import re
from pathlib import Path
from typing import Any

import typer._click.core
import typer._click.formatting
import typer.core

LOCALE = Path(__file__).with_name("locale")
CATALOGUE = gettext.translation("termin360-cli", localedir=LOCALE, languages=["de"], fallback=True)
HELP_TEXT = "Diese Hilfe zeigen und beenden."
USAGE = "Aufruf: "

# Typer's texts rendered once at import (typer/rich_utils.py).
_TYPER_CONSTANTS = (
    "DEPRECATED_STRING",
    "DEFAULT_STRING",
    "ENVVAR_STRING",
    "REQUIRED_LONG_STRING",
    "ARGUMENTS_PANEL_TITLE",
    "OPTIONS_PANEL_TITLE",
    "COMMANDS_PANEL_TITLE",
    "ERRORS_PANEL_TITLE",
    "ABORTED_TEXT",
    "RICH_HELP",
)

# Typer's error messages, as it writes them, and their German.
_ERRORS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^No such command '(.+)'\.$"), r"Unbekannter Befehl »\1«."),
    (
        re.compile(r"^No such option: (\S+)(?: \(Possible options: (.+)\))?$"),
        r"Unbekannte Option \1.",
    ),
    (re.compile(r"^Missing argument '(.+)'\.$"), r"Argument »\1« fehlt."),
    (re.compile(r"^Missing option '(.+)'\.$"), r"Option »\1« fehlt."),
    (re.compile(r"^Missing parameter: (.+)$"), r"Angabe »\1« fehlt."),
    (re.compile(r"^Missing command\.$"), r"Befehl fehlt."),
    (re.compile(r"^Got unexpected extra argument\(s\) \((.+)\)$"), r"Unerwartete Angabe: \1"),
    (re.compile(r"^Option '(.+)' requires an argument\.$"), r"Option »\1« braucht einen Wert."),
    (re.compile(r"^Option '(.+)' does not take a value\.$"), r"Option »\1« nimmt keinen Wert."),
    (
        re.compile(r"^Invalid value for '(.+?)' \(env var: '(.+?)'\): (.+)$"),
        r"Ungültiger Wert für »\1«: \3 (Option oder Umgebungsvariable \2)",
    ),
    (re.compile(r"^Invalid value for '(.+?)': (.+)$"), r"Ungültiger Wert für »\1«: \2"),
    (re.compile(r"^Invalid value: (.+)$"), r"Ungültiger Wert: \1"),
]
_DETAILS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"Input should be less than or equal to (\S+)"), r"erlaubt sind höchstens \1"),
    (re.compile(r"Input should be greater than or equal to (\S+)"), r"erlaubt sind mindestens \1"),
    (re.compile(r"Input should be less than (\S+)"), r"erlaubt sind Werte unter \1"),
    (re.compile(r"Input should be greater than (\S+)"), r"erlaubt sind Werte über \1"),
    (re.compile(r"Input should be a valid integer[^.]*"), "keine ganze Zahl"),
    (re.compile(r"Input should be a valid number[^.]*"), "keine Zahl"),
    (re.compile(r"Input should be a valid date[^.]*"), "kein gültiges Datum"),
    (re.compile(r"Input should be a valid (\w+)[^.]*"), r"kein gültiger Wert (\1)"),
    (re.compile(r"Value '(.+?)' is not a valid int(eger)?\."), r"»\1« ist keine ganze Zahl."),
    (re.compile(r"Value '(.+?)' is not a valid float\."), r"»\1« ist keine Zahl."),
    (re.compile(r"Value '(.+?)' is not a valid (\w+)\."), r"»\1« ist kein gültiger Wert (\2)."),
    (re.compile(r"'(.+?)' is not one of (.+)\."), r"»\1« ist keiner der Werte \2."),
    (re.compile(r"(\S+) is not in the range (.+)\."), r"\1 liegt nicht im Bereich \2."),
]


def error(message: str) -> str:
    """A usage error of Typer's in German (unknown ones as they are)."""
    message = message.strip()
    # The details first: their patterns reach to the next full stop, which must not be
    # one the frame below adds.
    for pattern, german in _DETAILS:
        message = pattern.sub(german, message)
    for pattern, german in _ERRORS:
        if pattern.match(message):
            message = pattern.sub(german, message)
            break
    return message


def translate_help_texts() -> None:
    """Put the German panel titles into Typer's help module (importing it)."""
    import typer.rich_utils

    for name in _TYPER_CONSTANTS:
        english = getattr(typer.rich_utils, name, None)
        if isinstance(english, str):
            setattr(typer.rich_utils, name, CATALOGUE.gettext(english))


def install() -> None:
    translated = False

    def german_help(original: Any) -> Any:
        def format_help(self: Any, ctx: Any, formatter: Any) -> Any:
            nonlocal translated
            if not translated:
                translate_help_texts()
                translated = True
            return original(self, ctx, formatter)

        return format_help

    for help_class in (typer.core.TyperCommand, typer.core.TyperGroup):
        help_class.format_help = german_help(help_class.format_help)  # type: ignore[method-assign]

    command = typer._click.core.Command
    original_help_option = command.get_help_option

    def get_help_option(self: Any, ctx: Any) -> Any:
        option = original_help_option(self, ctx)
        if option is not None:
            option.help = HELP_TEXT
        return option

    command.get_help_option = get_help_option  # type: ignore[method-assign]

    formatter = typer._click.formatting.HelpFormatter
    original_write_usage = formatter.write_usage

    def write_usage(self: Any, prog: str, args: str = "", prefix: str | None = None) -> None:
        original_write_usage(self, prog, args, USAGE if prefix is None else prefix)

    formatter.write_usage = write_usage  # type: ignore[method-assign]
