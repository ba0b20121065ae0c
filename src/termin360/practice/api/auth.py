"""Staff tokens for API clients."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Status

from termin360.core.errors import ApplicationError
from termin360.practice.api.schemas import ErrorOut, MeOut, TokenIn, TokenOut
from termin360.practice.services.tokens import issue_token

router = Router(tags=["auth"])


class BadCredentials(ApplicationError):
    status = 401
    code = "bad_credentials"


@router.post("/token", auth=None, response={201: TokenOut, 401: ErrorOut})
def create_token(request: HttpRequest, payload: TokenIn) -> Status[TokenOut]:
    """Exchange a staff member's username and password for an API token (shown once)."""
    user = authenticate(request, username=payload.username, password=payload.password)
    if user is None or not user.is_active:
        raise BadCredentials(_("Username or password is wrong."))
    return Status(201, TokenOut(token=issue_token(user=user)))


@router.get("/me", response=MeOut)
def me(request: HttpRequest) -> MeOut:
    return MeOut(username=request.user.get_username(), is_admin=bool(request.user.is_staff))
