"""Is the database's schema current? A cheap answer for every console command.

Django's own answer (``migrate``, or ``MigrationExecutor.migration_plan``) imports every
migration module and builds the graph: about a tenth of a second per process, paid by
each ``termin360 …`` call before it did anything. Here the answer is the difference of
two sets of names — the migration files on disk (listed, not imported, by the same rule
Django's loader uses) and the rows of ``django_migrations`` — one query and a few
directory listings.

It errs only towards "not current": a squashed migration recorded under its replaced
names, or a file Django would skip, reads as pending, and the caller then runs (or asks
for) the real ``migrate``, which knows better. A database without any recorded migration
is *new* (``None``): the caller may set it up without asking.
"""

from __future__ import annotations

import importlib.util
import pkgutil

from django.apps import apps
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

TABLE = "django_migrations"


def migration_files() -> set[tuple[str, str]]:
    """(app label, migration name) of every migration on disk, without importing one."""
    configured = getattr(settings, "MIGRATION_MODULES", {})
    found: set[tuple[str, str]] = set()
    for app in apps.get_app_configs():
        module = configured.get(app.label, f"{app.name}.migrations")
        if module is None:
            continue  # migrations switched off for this app
        try:
            spec = importlib.util.find_spec(module)
        except ModuleNotFoundError:
            continue
        if spec is None or not spec.submodule_search_locations:
            continue  # no migrations package: an app without migrations
        for _finder, name, is_pkg in pkgutil.iter_modules(spec.submodule_search_locations):
            if not is_pkg and name[0] not in "_~":  # Django's MigrationLoader rule
                found.add((app.label, name))
    return found


def applied_migrations(alias: str = DEFAULT_DB_ALIAS) -> set[tuple[str, str]] | None:
    """The rows of ``django_migrations``, or ``None`` when the table is missing."""
    connection = connections[alias]
    with connection.cursor() as cursor:
        if TABLE not in connection.introspection.table_names(cursor):
            return None
        cursor.execute(f"SELECT app, name FROM {TABLE}")  # noqa: S608 - a fixed name
        return {(str(app), str(name)) for app, name in cursor.fetchall()}


def pending_migrations(alias: str = DEFAULT_DB_ALIAS) -> list[tuple[str, str]] | None:
    """The migrations on disk the database has not recorded, sorted; ``None`` for a new
    database (no migration recorded at all)."""
    applied = applied_migrations(alias)
    if not applied:
        return None
    return sorted(migration_files() - applied)
