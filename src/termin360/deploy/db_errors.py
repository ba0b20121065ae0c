"""A database that is busy or out of reach is not a bug: the request answers ``503``
with ``Retry-After`` and says so in the user's language; the console says it in one line.

``outage_kind`` decides, from the driver's own error (the ``__cause__`` of Django's
``OperationalError``/``InterfaceError``), whether an error is such an outage:

- ``database_busy``: SQLite locked past its busy timeout; PostgreSQL lock or statement
  timeout, deadlock; no connection of the process's pool free in time.
- ``database_unavailable``: no connection (refused, closed, server starting or shutting
  down, too many clients), SQLite file not to be opened.

Anything else (a missing table, bad SQL, a constraint) is a bug and stays a 500 with
its traceback in the log.

``DatabaseOutageMiddleware`` answers for pages (and any non-API path); the APIs answer
in their own JSON shape through ``webapi.errors``. It must come last in ``MIDDLEWARE`` so
its ``process_exception`` sees the view's exception first.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable
from typing import Literal

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.utils.html import escape
from django.utils.translation import get_language
from django.utils.translation import gettext as _

log = logging.getLogger(__name__)

Outage = Literal["database_busy", "database_unavailable"]
RETRY_AFTER_SECONDS = 5

_SQLITE_BUSY = {"SQLITE_BUSY", "SQLITE_LOCKED"}
_SQLITE_UNAVAILABLE = {"SQLITE_CANTOPEN", "SQLITE_IOERR", "SQLITE_FULL", "SQLITE_READONLY"}
# PostgreSQL SQLSTATEs: 08… connection exception, 53300 too many connections, 53400
# configuration limit, 57P01–57P03 admin/crash shutdown and "cannot connect now".
_PG_UNAVAILABLE_PREFIXES = ("08",)
_PG_UNAVAILABLE = {"53300", "53400", "57P01", "57P02", "57P03"}
# 55P03 lock not available, 57014 statement timeout, 40P01 deadlock.
_PG_BUSY = {"55P03", "57014", "40P01"}


def outage_kind(exc: BaseException) -> Outage | None:
    """``database_busy``/``database_unavailable`` for an outage, ``None`` for anything else."""
    if not isinstance(exc, OperationalError | InterfaceError):
        return None
    cause = exc.__cause__ or exc
    if isinstance(cause, sqlite3.Error):
        name = getattr(cause, "sqlite_errorname", "")
        text = str(cause).lower()
        if name in _SQLITE_BUSY or "database is locked" in text or "table is locked" in text:
            return "database_busy"
        if name in _SQLITE_UNAVAILABLE or "unable to open database" in text:
            return "database_unavailable"
        return None
    if isinstance(exc, InterfaceError):
        return "database_unavailable"  # the connection is closed or broken
    sqlstate = getattr(cause, "sqlstate", None)
    if type(cause).__name__ == "PoolTimeout":  # no pooled connection in time (decision 020)
        return _pool_outage()
    if sqlstate is None:
        # psycopg gives no SQLSTATE when there is no server to answer (refused,
        # timed out, closed): a connection failure, never a statement's error.
        return "database_unavailable" if _is_psycopg_error(cause) else None
    if sqlstate in _PG_BUSY:
        return "database_busy"
    if sqlstate in _PG_UNAVAILABLE or sqlstate.startswith(_PG_UNAVAILABLE_PREFIXES):
        return "database_unavailable"
    return None


def _pool_outage() -> Outage:
    """Why no pooled connection came: all of them in use (busy), or the pool had room for
    more and could not open one (unavailable: the server is gone)."""
    from django.db import DEFAULT_DB_ALIAS, connections

    try:
        stats = connections[DEFAULT_DB_ALIAS].pool.get_stats()  # type: ignore[attr-defined]
    except Exception:  # no pool here (the error came from elsewhere)
        return "database_busy"
    if int(stats.get("pool_size", 0)) < int(stats.get("pool_max", 0)):
        return "database_unavailable"
    return "database_busy"


def _is_psycopg_error(exc: BaseException) -> bool:
    return type(exc).__module__.split(".")[0] == "psycopg"


def outage_message(kind: Outage) -> str:
    """The message for the user, in the active language."""
    if kind == "database_busy":
        return _("The database is busy at the moment. Please try again in a few seconds.")
    return _("The database cannot be reached at the moment. Please try again in a few minutes.")


def console_message(kind: Outage) -> str:
    """The one line of a console command (German, as all console texts)."""
    if kind == "database_busy":
        return "Die Datenbank ist gerade belegt. Bitte in ein paar Sekunden noch einmal versuchen."
    return (
        "Die Datenbank ist nicht erreichbar (Verbindung abgelehnt, unterbrochen oder "
        "zu viele Verbindungen). Bitte Datenbank und Einstellung der Datenbank-URL prüfen."
    )


def json_outage_response(kind: Outage) -> HttpResponse:
    """``{code, detail}`` with ``503`` and ``Retry-After``, as the APIs answer errors."""
    response = HttpResponse(
        json.dumps({"code": kind, "detail": outage_message(kind)}),
        content_type="application/json; charset=utf-8",
        status=503,
    )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def html_outage_response(kind: Outage) -> HttpResponse:
    title = _("Please try again shortly")
    page = (
        f'<!doctype html><html lang="{escape(get_language() or "de")}"><head>'
        f'<meta charset="utf-8"><meta name="viewport" content="width=device-width">'
        f"<title>{escape(title)}</title></head><body><main><h1>{escape(title)}</h1>"
        f"<p>{escape(outage_message(kind))}</p>"
        f'<p><a href="">{escape(_("Reload the page"))}</a></p></main></body></html>'
    )
    response = HttpResponse(page, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseOutageMiddleware:
    """A view that fails on a busy or unreachable database answers 503, not 500."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        kind = outage_kind(exception)
        if kind is None:
            return None  # a real error: Django's 500 handling and its log
        log.warning("%s on %s %s", kind, request.method, request.path)
        if request.path.startswith("/api/"):
            return json_outage_response(kind)
        return html_outage_response(kind)
