"""django-ninja's templates and static files (the Swagger page of each API) as an app,
without importing ninja when Django starts.

Listing ``"ninja"`` in ``INSTALLED_APPS`` makes Django import the package, and ninja's
``__init__`` imports all of ninja (and ``django.test``): some 40 ms of every console
command, which never shows an API page. This app has ninja's label and its directory,
so the template loader and the static finders find the same files; the APIs import
ninja themselves when their URLs load, and render their docs page with
``webapi.responses.LocalSwagger``.
"""

from __future__ import annotations

import importlib.util

from django.apps import AppConfig


def _package_directory(name: str) -> str:
    """Where a package lives, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"package {name} not found")
    return str(next(iter(spec.submodule_search_locations)))


class NinjaFiles(AppConfig):
    name = "termin360.deploy.ninja_files"
    label = "ninja"
    verbose_name = "django-ninja (templates, static files)"
    path = _package_directory("ninja")
