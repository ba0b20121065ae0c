"""Every answer of a termin360 API that is not a success is JSON ``{code, detail}``:

- malformed JSON → 400 ``malformed_body``; too large → 413 ``too_large``;
- wrong types, NUL characters, absurd dates → 422 ``invalid`` (with ``errors`` per field);
- not logged in → 401 ``unauthenticated``; CSRF check failed → 403 ``csrf_failed``;
- an ``ApplicationError`` → its own status and code (404, 409, 422, …);
- a busy or unreachable database → 503 ``database_busy``/``database_unavailable`` with
  ``Retry-After`` (``deploy.db_errors`` tells an outage from a bug);
- anything else is a bug → 500 ``server_error``, logged with its traceback.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.parser import Parser

from termin360.core.errors import ApplicationError
from termin360.deploy.db_errors import RETRY_AFTER_SECONDS, outage_kind, outage_message

log = logging.getLogger(__name__)


class MalformedBody(ValueError):
    """The request body is not JSON (truncated, form-encoded, binary, …)."""


class JsonBodyParser(Parser):
    """django-ninja's JSON parser, with its failure recognisable: ninja turns any parser
    error into a bare 400 "Cannot parse request body"; we answer with our own code."""

    def parse_body(self, request: HttpRequest) -> Any:
        try:
            return json.loads(request.body)
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise MalformedBody(str(exc)) from exc


def install_error_handlers(api: NinjaAPI, *, unauthenticated: Promise) -> None:
    """Register the answers above on ``api``. ``unauthenticated`` is a lazy translation,
    rendered in the language of each request."""

    def error(
        request: HttpRequest, status: int, code: str, message: str, **extra: Any
    ) -> HttpResponse:
        return api.create_response(
            request, {"code": code, "detail": message, **extra}, status=status
        )

    @api.exception_handler(ApplicationError)
    def application_error(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
        response = error(request, exc.status, exc.code, exc.message, **exc.details)
        retry_after = getattr(exc, "retry_after", None)  # e.g. a login lock-out (429)
        if isinstance(retry_after, int):
            response["Retry-After"] = str(retry_after)
        return response

    @api.exception_handler(NinjaValidationError)
    def validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
        fields = []
        for err in exc.errors:
            loc = [
                str(p) for p in err.get("loc", []) if p not in ("body", "payload", "query", "path")
            ]
            fields.append({"field": ".".join(loc), "message": err.get("msg", "")})
        return error(request, 422, "invalid", _("The request is not valid."), errors=fields)

    @api.exception_handler(AuthenticationError)
    def authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return error(request, 401, "unauthenticated", str(unauthenticated))

    @api.exception_handler(HttpError)
    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        if isinstance(exc.__cause__, MalformedBody):
            return error(request, 400, "malformed_body", _("The request body is not valid JSON."))
        if exc.status_code == 403:  # the session's CSRF check
            return error(
                request, 403, "csrf_failed", _("The form has expired; please reload the page.")
            )
        return error(request, exc.status_code, "error", str(exc))

    @api.exception_handler(RequestDataTooBig)
    def too_large(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
        return error(request, 413, "too_large", _("The request is too large."))

    @api.exception_handler(SuspiciousOperation)
    def suspicious(request: HttpRequest, exc: SuspiciousOperation) -> HttpResponse:
        return error(request, 400, "bad_request", _("The request is not valid."))

    @api.exception_handler(OperationalError)
    @api.exception_handler(InterfaceError)
    def database_error(request: HttpRequest, exc: Exception) -> HttpResponse:
        kind = outage_kind(exc)
        if kind is None:
            return unexpected_error(request, exc)
        log.warning("%s in %s %s", kind, request.method, request.path)
        response = error(request, 503, kind, outage_message(kind))
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    @api.exception_handler(Exception)
    def unexpected_error(request: HttpRequest, exc: Exception) -> HttpResponse:
        """A bug: logged with its traceback; the client still gets the API's error shape."""
        log.exception("unexpected error in %s %s", request.method, request.path)
        return error(
            request, 500, "server_error", _("Something went wrong on our side. Please try again.")
        )
