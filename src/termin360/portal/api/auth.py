"""Patients' API tokens: ``POST /auth/token`` and ``Authorization: Bearer …``.

A token is the patient's user id and a fragment of an HMAC over their password
hash, signed with a timestamp (Django's ``TimestampSigner``). Nothing is stored:
the signature proves the portal issued it, the timestamp limits it to 30 days,
and a new password changes the fragment, so every older token stops working.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core import signing
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _
from ninja import Router, Status
from ninja.security import HttpBearer

from termin360.core.errors import ApplicationError, PermissionDenied
from termin360.portal.api.schemas import TokenIn, TokenOut
from termin360.portal.models import PatientProfile
from termin360.portal.services import ratelimit
from termin360.webapi.responses import BODY, errors

TOKEN_PREFIX = "t360pat_"
TOKEN_MAX_AGE = timedelta(days=30)
_SALT = "termin360.portal.api.patient-token"

router = Router(tags=["auth"])


class BadCredentials(ApplicationError):
    status = 401
    code = "bad_credentials"


class TooManyAttempts(ApplicationError):
    status = 429
    code = "too_many_attempts"


def _password_fragment(user: User) -> str:
    return salted_hmac(_SALT, user.password, algorithm="sha256").hexdigest()[:20]


def issue_token(user: User) -> str:
    signer = signing.TimestampSigner(salt=_SALT)
    return TOKEN_PREFIX + signer.sign(f"{user.pk}.{_password_fragment(user)}")


def user_for_token(token: str) -> User | None:
    """The active user the token was issued to, if it is genuine, fresh and still matches
    the user's password."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    signer = signing.TimestampSigner(salt=_SALT)
    try:
        value = signer.unsign(token[len(TOKEN_PREFIX) :], max_age=TOKEN_MAX_AGE)
    except signing.BadSignature:  # SignatureExpired is one too
        return None
    user_id, _sep, fragment = value.partition(".")
    if not user_id.isdigit():
        return None
    # The patient's profile comes along (``patient_of`` needs it next): one query.
    user = User.objects.select_related("patient").filter(pk=int(user_id), is_active=True).first()
    if user is None or not constant_time_compare(fragment, _password_fragment(user)):
        return None
    return user


class PatientToken(HttpBearer):
    """``Authorization: Bearer t360pat_…`` — a token from ``POST /api/v1/auth/token``."""

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        user = user_for_token(token)
        if user is not None:
            request.user = user
        return user


def patient_of(request: HttpRequest) -> PatientProfile:
    """The patient behind an authenticated request (a practice admin is not one)."""
    user = request.user
    if isinstance(user, User) and User.patient.is_cached(user):  # loaded with a token
        profile: PatientProfile | None = getattr(user, "patient", None)
        if profile is None:
            raise PermissionDenied(
                _("Only patients can book through this API."), code="not_a_patient"
            )
        return profile
    return _patient(user.pk)


def _patient(user_id: int | None) -> PatientProfile:
    profile = None
    if user_id is not None:
        profile = PatientProfile.objects.select_related("user").filter(user_id=user_id).first()
    if profile is None:
        raise PermissionDenied(_("Only patients can book through this API."), code="not_a_patient")
    return profile


@router.post("/token", auth=None, response={201: TokenOut, **errors(401, 403, 429, *BODY)})
def create_token(request: HttpRequest, payload: TokenIn) -> Status[TokenOut]:
    """Exchange a patient's e-mail address and password for a token, valid 30 days.
    Changing the password ends all tokens issued before. Failed attempts count towards
    the same rate limit as the login page."""
    email = payload.email.strip().lower()
    ip = request.META.get("REMOTE_ADDR", "")
    if ratelimit.login_lock(email=email, ip=ip) is not None:
        raise TooManyAttempts(_("Too many failed attempts. Please try again later."))
    user = authenticate(request, username=email, password=payload.password)
    if user is None or not user.is_active:
        ratelimit.login_failed(email=email, ip=ip)
        raise BadCredentials(_("E-mail address or password is wrong."))
    assert isinstance(user, User)
    ratelimit.login_succeeded(email=email)
    _patient(user.pk)
    expires: datetime = timezone.now() + TOKEN_MAX_AGE
    return Status(201, TokenOut(token=issue_token(user), expires_at=expires))
