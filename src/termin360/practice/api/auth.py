"""Staff tokens for API clients."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Status

from termin360.core.errors import ApplicationError
from termin360.practice.api.schemas import MeOut, TokenIn, TokenOut
from termin360.practice.login import client_ip, lock_message
from termin360.practice.services import login_limits
from termin360.practice.services.tokens import issue_token
from termin360.webapi.responses import BODY, errors

router = Router(tags=["auth"])


class BadCredentials(ApplicationError):
    status = 401
    code = "bad_credentials"


class TooManyAttempts(ApplicationError):
    """Answered with ``Retry-After`` (see ``webapi.errors``)."""

    status = 429
    code = "too_many_attempts"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@router.post("/token", auth=None, response={201: TokenOut, **errors(401, 429, *BODY)})
def create_token(request: HttpRequest, payload: TokenIn) -> Status[TokenOut]:
    """Exchange a staff member's username and password for an API token (shown once).
    Failed attempts count towards the same lock-out as the login page; while locked
    the answer is 429 with ``Retry-After``, whatever the password."""
    ip = client_ip(request)
    lock = login_limits.login_lock(username=payload.username, ip=ip)
    if lock is not None:
        raise TooManyAttempts(lock_message(lock), retry_after=lock.seconds_left())
    user = authenticate(request, username=payload.username, password=payload.password)
    if user is None or not user.is_active:
        login_limits.login_failed(username=payload.username, ip=ip)
        raise BadCredentials(_("Username or password is wrong."))
    login_limits.login_succeeded(username=payload.username)
    return Status(201, TokenOut(token=issue_token(user=user)))


@router.get("/me", response={200: MeOut, **errors(401)})
def me(request: HttpRequest) -> MeOut:
    return MeOut(username=request.user.get_username(), is_admin=bool(request.user.is_staff))
