"""Database connections of a serving process: a pool on PostgreSQL, and the start-up check
that all processes of one ``serve`` stay inside the connection budget.

Without a pool every thread that touched the database keeps a connection of its own for
``CONN_MAX_AGE``: ``workers × threads`` connections, whether the threads work or wait in
a long poll. With Django's pool (psycopg-pool, ``OPTIONS["pool"]``) a process holds at
most ``TERMIN360_DB_POOL_MAX`` connections, a request takes one for as long as it runs
and gives it back at its end, and threads that wait (the sync API's long polls, which
give theirs back while waiting) cost none. A request that finds every connection in use
waits up to ``POOL_TIMEOUT_SECONDS`` for one, then answers 503 (decision 017).

Only processes that serve requests use the pool, switched on by ``use_pool()`` before
their first connection: console commands need one connection and no pool threads, and a
process that forks workers (gunicorn's master) must hold no pooled connection a child
would inherit. SQLite has no connections to count; there everything here does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

from termin360.deploy.env import env_int

DEFAULT_POOL_MAX = 8
POOL_MIN = 2
# How long a request waits for a free connection before it answers 503 (also while the
# server is gone: the pool then keeps trying to connect in the background).
POOL_TIMEOUT_SECONDS = 5.0
# A pooled connection idle this long is closed (the pool keeps POOL_MIN).
POOL_MAX_IDLE_SECONDS = 300.0


class BudgetExceeded(RuntimeError):
    """The processes of one ``serve`` could open more connections than allowed (German)."""


def is_postgresql(alias: str = DEFAULT_DB_ALIAS) -> bool:
    return str(settings.DATABASES[alias]["ENGINE"]).endswith("postgresql")


def pool_max() -> int:
    """Connections one serving process may hold (``TERMIN360_DB_POOL_MAX``, default 8)."""
    return env_int("TERMIN360_DB_POOL_MAX", DEFAULT_POOL_MAX)


def use_pool(alias: str = DEFAULT_DB_ALIAS) -> None:
    """Let this process's connections come from a pool of ``pool_max()`` (PostgreSQL only).
    Call it before the process's first query; it closes what is open."""
    if not is_postgresql(alias):
        return
    size = pool_max()
    config: dict[str, Any] = settings.DATABASES[alias]
    connections[alias].close()
    config["OPTIONS"] = {
        **config.get("OPTIONS", {}),
        "pool": {
            "min_size": min(POOL_MIN, size),
            "max_size": size,
            "timeout": POOL_TIMEOUT_SECONDS,
            "max_idle": POOL_MAX_IDLE_SECONDS,
            "name": f"termin360-{alias}",
        },
    }
    config["CONN_MAX_AGE"] = 0  # a request gives its connection back at its end
    config["CONN_HEALTH_CHECKS"] = True  # the pool checks a connection before handing it out


@dataclass(frozen=True)
class Budget:
    """The connections one ``serve`` may open, and where that number comes from."""

    connections: int
    source: str  # for the message: the variable, or the server's own limit


def budget(alias: str = DEFAULT_DB_ALIAS) -> Budget:
    """``TERMIN360_DB_MAX_CONNECTIONS``, else what the PostgreSQL server allows to
    ordinary users (``max_connections`` less the reserved ones), asked once."""
    configured = env_int("TERMIN360_DB_MAX_CONNECTIONS", 0, minimum=0)
    if configured:
        return Budget(configured, "TERMIN360_DB_MAX_CONNECTIONS")
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT setting::int FROM pg_settings WHERE name IN "
            "('max_connections', 'superuser_reserved_connections', 'reserved_connections') "
            "ORDER BY name = 'max_connections' DESC"
        )
        values = [int(row[0]) for row in cursor.fetchall()]
    connection.close()
    allowed = values[0] - sum(values[1:])
    return Budget(allowed, "max_connections des PostgreSQL-Servers abzüglich reservierter")


def check_budget(*, workers: int, extra_per_process: int, alias: str = DEFAULT_DB_ALIAS) -> int:
    """Raise ``BudgetExceeded`` when ``workers`` processes, each with a full pool plus
    ``extra_per_process`` connections of their own (the portal's feed listener), could
    open more than the budget allows. Returns the most they can open (0 on SQLite)."""
    if not is_postgresql(alias):
        return 0
    per_process = pool_max() + extra_per_process
    most = workers * per_process
    allowed = budget(alias)
    if most > allowed.connections:
        raise BudgetExceeded(
            f"{workers} Prozesse × {per_process} Datenbankverbindungen (Pool "
            f"TERMIN360_DB_POOL_MAX={pool_max()}"
            + (f" + {extra_per_process} für die Long Polls" if extra_per_process else "")
            + f") = {most}, erlaubt sind {allowed.connections} ({allowed.source}). "
            "Weniger --workers, ein kleineres TERMIN360_DB_POOL_MAX oder ein größeres "
            "TERMIN360_DB_MAX_CONNECTIONS wählen."
        )
    return most
