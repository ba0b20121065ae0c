"""What the security-header tests of both roles share (decision 016): the pages of the
running URL conf, and the headers every page must carry."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

API_PREFIX = "api/"
# The interactive API documents are pages; the rest under /api/ answers JSON.
API_DOCS_NAME = "openapi-view"


@dataclass(frozen=True)
class Route:
    """One URL pattern as written in the URL conf (``calendars/<int:number>/``)."""

    route: str
    name: str  # with its namespaces (``practice:day``), "" when it has none


def _walk(patterns: list[Any], prefix: str, namespace: str) -> Iterator[Route]:
    from django.urls import URLPattern, URLResolver

    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = namespace
            if pattern.namespace:
                inner = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            name = pattern.name or ""
            if name and namespace:
                name = f"{namespace}:{name}"
            yield Route(prefix + str(pattern.pattern), name)


def page_routes() -> list[Route]:
    """Every route of the URL conf that answers a page: all but the JSON API."""
    from django.urls import get_resolver

    return [
        r
        for r in _walk(get_resolver().url_patterns, "", "")
        if not r.route.lstrip("^").startswith(API_PREFIX) or r.name.endswith(f":{API_DOCS_NAME}")
    ]


def directives(policy: str) -> dict[str, list[str]]:
    """``default-src 'none'; img-src 'self' data:`` as ``{"default-src": ["'none'"], …}``."""
    parsed: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            parsed[words[0]] = words[1:]
    return parsed


# Each directive with exactly the sources the pages may use.
EXPECTED_POLICY = {
    "default-src": ["'none'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
    "base-uri": ["'none'"],
    "object-src": ["'none'"],
}


def security_header_problems(response: Any) -> list[str]:
    """What is missing or too lax in ``response``'s headers (empty when all is well)."""
    problems = []
    policy = response.headers.get("Content-Security-Policy")
    if not policy:
        return ["no Content-Security-Policy"]
    if "'unsafe-inline'" in policy or "'unsafe-eval'" in policy:
        problems.append(f"the policy allows inline code: {policy}")
    parsed = directives(policy)
    for directive, sources in EXPECTED_POLICY.items():
        if sorted(parsed.get(directive, [])) != sorted(sources):
            problems.append(f"{directive} is {parsed.get(directive)}, expected {sources}")
    expected = {
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "DENY",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    for header, value in expected.items():
        if response.headers.get(header) != value:
            problems.append(f"{header} is {response.headers.get(header)!r}, expected {value!r}")
    if "camera=()" not in response.headers.get("Permissions-Policy", ""):
        problems.append(f"Permissions-Policy is {response.headers.get('Permissions-Policy')!r}")
    return problems
