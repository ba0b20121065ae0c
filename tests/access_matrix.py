"""The machinery of the two access matrices (issue 12, point 2): the portal's
(tests/portal/test_access_matrix.py) and the practice's (tests/integration/test_access_matrix.py).

A matrix is a table ``route → Route``: the request (method, URL, body, filled from the
test's scene) and the roles that may make it. Every route of the role's URL conf must have
a row; the checks are in ``check_read`` and ``check_write``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

Url = Callable[[Any], str]
Body = Callable[[Any], Any]
Rows = dict[str, list[tuple[Any, ...]]]


@dataclass(frozen=True)
class Route:
    method: str
    url: Url | str
    allowed: frozenset[str]
    body: Body | None = None
    json: bool = False
    write: bool = False
    # a read both sides may make: the other side's secrets must not appear in the answer
    own_only: bool = False
    # roles that get the page, but one without anybody's data (e.g. a practice admin on a
    # patient's page)
    blank: frozenset[str] = frozenset()
    note: str = ""

    def path(self, scene: Any) -> str:
        return self.url if isinstance(self.url, str) else self.url(scene)


def read(url: Url | str, allowed: Iterable[str], blank: Iterable[str] = (), **kw: Any) -> Route:
    return Route("GET", url, frozenset(allowed), blank=frozenset(blank), **kw)


def write(method: str, url: Url | str, allowed: Iterable[str], body: Body, **kw: Any) -> Route:
    return Route(method, url, frozenset(allowed), body=body, write=True, **kw)


def routes_of_the_url_conf() -> set[str]:
    found: set[str] = set()

    def walk(patterns: list[Any], prefix: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                found.add(prefix + str(p.pattern))

    walk(get_resolver().url_patterns, "")
    return found


def assert_every_route_has_a_row(table: dict[str, Route], elsewhere: Iterable[str] = ()) -> None:
    routes = routes_of_the_url_conf()
    covered = {name.split(" ")[0] for name in table}
    prefixes = tuple(elsewhere)
    missing = {r for r in routes - covered if not (prefixes and r.startswith(prefixes))}
    assert not missing, f"routes without a row in the access matrix: {sorted(missing)}"
    stale = covered - routes
    assert not stale, f"rows for routes that no longer exist: {sorted(stale)}"


def rows(app_labels: Iterable[str], skip: set[str], volatile: set[str]) -> Rows:
    """Every row of the apps' models and the users, ``volatile`` columns and ``skip``
    models aside."""
    out: Rows = {}
    models = [m for label in app_labels for m in apps.get_app_config(label).get_models()]
    for model in [*models, apps.get_model("auth", "User")]:
        name = f"{model._meta.app_label}.{model._meta.model_name}"
        if name in skip:
            continue
        fields = [f.attname for f in model._meta.concrete_fields if f.attname not in volatile]
        out[name] = list(model.objects.order_by("pk").values_list(*fields))
    return out


def send(client: Client, headers: dict[str, str], route: Route, scene: Any) -> Any:
    path = route.path(scene)
    method = route.method.lower()
    if route.body is None:
        return getattr(client, method)(path, **headers)
    body = route.body(scene)
    if route.json or route.method in ("PUT", "PATCH", "DELETE"):
        data = json.dumps(body) if body is not None else ""
        return getattr(client, method)(path, data, content_type="application/json", **headers)
    return getattr(client, method)(path, body or {}, **headers)


def refused(response: Any) -> bool:
    """401/403/404/405, or sent to a login page."""
    if response.status_code in (401, 403, 404, 405):
        return True
    if response.status_code == 302:
        target = response.headers.get("Location", "")
        return "anmelden" in target or "login" in target
    return False


def answer(r: Any) -> str:
    return f"{r.status_code} {r.headers.get('Location', '')} {r.content[:300]!r}"


__all__ = [
    "Route",
    "Rows",
    "answer",
    "assert_every_route_has_a_row",
    "read",
    "refused",
    "routes_of_the_url_conf",
    "rows",
    "send",
    "write",
]
