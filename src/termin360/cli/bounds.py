"""The ranges of the numbers console commands take (Typer's ``min``/``max``): an absurd
number is one German usage line ("liegt nicht im Bereich …"), never a traceback from
deep inside. The same limits as the APIs."""

from __future__ import annotations

YEAR = {"min": 1900, "max": 2199}  # the days a calendar can hold (webapi.schemas)
CALENDAR_NUMBER = {"min": 1, "max": 9999}
COLUMN_NUMBER = {"min": 1, "max": 999}
ID = {"min": 1, "max": 2**63 - 1}  # a database id (BIGINT)
PORT = {"min": 1, "max": 65535}
THREADS = {"min": 1, "max": 1024}
SEED = {"min": 0, "max": 2**63 - 1}
POLL_SECONDS = {"min": 0.1, "max": 3600.0}
WORKERS = {"min": 1, "max": 64}
