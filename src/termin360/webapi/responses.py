"""The refusals of an operation, as its OpenAPI document lists them.

Errors are raised as exceptions and rendered by the handlers of ``webapi.errors``, so
the operations never return these bodies themselves; listing them in ``response=`` only
documents them (ninja looks a response model up only for what a view returns).

    response={200: DayOut, **errors(401, 404, 422)}

Every operation also lists 503 ``database_busy`` with its ``Retry-After`` header
(``DocumentedAPI``): any request may find the database busy or unreachable.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from ninja import NinjaAPI, Schema
from ninja.openapi.docs import Swagger, _csrf_needed
from pydantic import Field

from termin360.webapi.schemas import ErrorOut

# A JSON request body: not JSON (400 ``malformed_body``), too large (413 ``too_large``),
# not valid (422 ``invalid``).
BODY = (400, 413, 422)
# A write through a browser session: its CSRF check (403 ``csrf_failed``).
CSRF = 403
BUSY = 503

RETRY_AFTER = {
    "description": "seconds to wait before trying again",
    "schema": {"type": "integer", "minimum": 1},
}


class FieldError(Schema):
    field: str = Field(description="dotted path of the field, empty for the whole request")
    message: str


class InvalidOut(ErrorOut):
    """422: ``invalid`` with ``errors`` per field, or a rule's own code (``bad_range``,
    ``outside_grid``, …) without them."""

    errors: list[FieldError] = Field(default_factory=list)


def errors(*statuses: int) -> dict[int, Any]:
    """Response models of the error answers ``statuses``, and of 503."""
    return {s: InvalidOut if s == 422 else ErrorOut for s in sorted({*statuses, BUSY})}


class LocalSwagger(Swagger):
    """ninja's Swagger page from ninja's own template and static files — never the CDN
    variant, which the Content-Security-Policy would block. ninja picks the local one
    only when ``INSTALLED_APPS`` spells ``"ninja"``; ours lists its files without
    importing it (``deploy/ninja_files.py``)."""

    def render_page(self, request: HttpRequest, api: Any, **kwargs: Any) -> HttpResponse:
        self.settings["url"] = self.get_openapi_url(api, kwargs)
        context = {
            "swagger_settings": json.dumps(self.settings, indent=1),
            "api": api,
            "add_csrf": _csrf_needed(api),
        }
        return render(request, self.template, context)


class DocumentedAPI(NinjaAPI):
    """A NinjaAPI whose document gives every 503 its ``Retry-After`` header (ninja's
    ``response=`` has no place for headers), with its docs page served locally."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("docs", LocalSwagger())
        super().__init__(*args, **kwargs)

    def get_openapi_schema(self, **kwargs: Any) -> Any:
        schema = super().get_openapi_schema(**kwargs)
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                busy = operation.get("responses", {}).get(BUSY)
                if busy is not None:
                    busy.setdefault("headers", {})["Retry-After"] = RETRY_AFTER
        return schema
