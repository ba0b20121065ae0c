"""The NinjaAPI object: authentication and the mapping of errors to HTTP answers."""

from __future__ import annotations

import json
import logging
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.parser import Parser
from ninja.security import HttpBearer, django_auth

from termin360.core.errors import ApplicationError
from termin360.practice.services.tokens import user_for_token

log = logging.getLogger(__name__)


class StaffToken(HttpBearer):
    """``Authorization: Bearer t360p_…`` — a token from ``POST /api/v1/auth/token``."""

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        user = user_for_token(token)
        if user is not None:
            request.user = user
        return user


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


api = NinjaAPI(
    title="termin360 practice calendar API",
    version="1",
    description=(
        "The practice calendar (C1–C7): locations, calendars, columns, slot grid, "
        "appointments, additional list, reservations, patients. Authenticate with a "
        "staff token (`Authorization: Bearer …`, from `POST /auth/token`) or a browser session."
    ),
    auth=[StaffToken(), django_auth],
    urls_namespace="practice-api",
    parser=JsonBodyParser(),
)


def _error(
    request: HttpRequest, status: int, code: str, message: str, **extra: Any
) -> HttpResponse:
    return api.create_response(request, {"code": code, "detail": message, **extra}, status=status)


@api.exception_handler(ApplicationError)
def application_error(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    return _error(request, exc.status, exc.code, exc.message, **exc.details)


@api.exception_handler(NinjaValidationError)
def validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    fields = []
    for err in exc.errors:
        loc = [str(p) for p in err.get("loc", []) if p not in ("body", "payload", "query", "path")]
        fields.append({"field": ".".join(loc), "message": err.get("msg", "")})
    return _error(request, 422, "invalid", _("The request is not valid."), errors=fields)


@api.exception_handler(AuthenticationError)
def authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _error(request, 401, "unauthenticated", _("Please log in or send a valid token."))


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if isinstance(exc.__cause__, MalformedBody):
        return _error(request, 400, "malformed_body", _("The request body is not valid JSON."))
    return _error(request, exc.status_code, "error", str(exc))


@api.exception_handler(RequestDataTooBig)
def too_large(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return _error(request, 413, "too_large", _("The request is too large."))


@api.exception_handler(SuspiciousOperation)
def suspicious(request: HttpRequest, exc: SuspiciousOperation) -> HttpResponse:
    return _error(request, 400, "bad_request", _("The request is not valid."))


@api.exception_handler(Exception)
def unexpected_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    """A bug: logged with its traceback; the client still gets the API's error shape."""
    log.exception("unexpected error in %s %s", request.method, request.path)
    return _error(
        request, 500, "server_error", _("Something went wrong on our side. Please try again.")
    )


from termin360.practice.api import (  # noqa: E402  (routers register on the api above)
    appointments,
    auth,
    calendars,
    patients,
    reservations,
    setup,
)

api.add_router("/auth", auth.router)
api.add_router("/", setup.router)
api.add_router("/", calendars.router)
api.add_router("/", appointments.router)
api.add_router("/", reservations.router)
api.add_router("/", patients.router)
