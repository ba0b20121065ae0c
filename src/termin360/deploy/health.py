"""Liveness and readiness of a server process, for a load balancer or an orchestrator.

``/health/live`` (and the older ``/health``) says only that the process answers: it
touches no database, so a database outage never gets the process restarted.
``/health/ready`` says whether the process can do its work now: the database answers
within a short statement timeout, every migration is applied, and the role's own
checks pass (the portal's mail queue, the practice's outbox and sync). A role passes
its checks in its URL configuration (:func:`ready_view`), so this module imports
neither role.

The answers are for machines, in English, and hold no patient data: each check says
``ok`` and a short ``detail`` (an age in seconds, a count, an error class).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from termin360.core.health import CheckResult

log = logging.getLogger(__name__)

# A readiness probe that waits on a stuck database is itself stuck: the check gives up
# after this long (PostgreSQL's statement_timeout; SQLite answers from a local file).
STATEMENT_TIMEOUT_MS = 2000
PROCESS_HEADER = "X-Termin360-Process"


Check = Callable[[], CheckResult]


def check_database() -> CheckResult:
    connection = connections[DEFAULT_DB_ALIAS]
    started = time.monotonic()
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}")
        # A statement that reads a table: on SQLite ``SELECT 1`` never opens the file.
        cursor.execute("SELECT COUNT(*) FROM django_migrations")
        cursor.fetchone()
    return CheckResult(True, f"answered in {(time.monotonic() - started) * 1000:.0f} ms")


_migrations_applied = False


def check_migrations() -> CheckResult:
    """Every migration applied. Once true it stays true for this process (a running
    process does not get new migration files), so the plan is computed only until then."""
    global _migrations_applied
    if _migrations_applied:
        return CheckResult(True, "all applied")
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        return CheckResult(False, f"{len(plan)} migration(s) not applied")
    _migrations_applied = True
    return CheckResult(True, "all applied")


def run_checks(checks: Sequence[tuple[str, Check]]) -> dict[str, CheckResult]:
    """Run each check; one that raises fails with the error's class name only (its
    message might quote a statement or a connection string)."""
    results: dict[str, CheckResult] = {}
    for name, check in checks:
        try:
            results[name] = check()
        except Exception as exc:
            log.warning("readiness check %s failed: %s", name, type(exc).__name__)
            results[name] = CheckResult(False, f"error: {type(exc).__name__}")
        if name == "database" and not results[name].ok:
            # The other checks read the same database: they would only repeat the error.
            for other, _check in checks:
                if other not in results:
                    results[other] = CheckResult(False, "skipped: database unavailable")
            break
    return results


def _role() -> str:
    return str(getattr(settings, "ROLE", ""))


@never_cache
@require_safe
def live(request: HttpRequest) -> JsonResponse:
    response = JsonResponse({"status": "ok", "role": _role()})
    # Which process answered: with `serve --workers N` several share one port.
    response[PROCESS_HEADER] = str(os.getpid())
    return response


def ready_view(role_checks: Sequence[tuple[str, Check]]) -> Callable[[HttpRequest], JsonResponse]:
    """The ``/health/ready`` view: the shared checks, then ``role_checks``."""
    checks: list[tuple[str, Check]] = [
        ("database", check_database),
        ("migrations", check_migrations),
        *role_checks,
    ]

    @never_cache
    @require_safe
    def ready(request: HttpRequest) -> JsonResponse:
        results = run_checks(checks)
        ok = all(result.ok for result in results.values())
        body = {
            "status": "ready" if ok else "not_ready",
            "role": _role(),
            "checks": {
                name: {"ok": result.ok, "detail": result.detail} for name, result in results.items()
            },
        }
        return JsonResponse(body, status=200 if ok else 503)

    return ready
