"""How the practice API knows who asks: a staff token or a browser session (every
endpoint), and for the live views' version number also the page's live token
(``live.LiveToken``)."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.http import HttpRequest
from ninja.security import HttpBearer, django_auth

from termin360.practice.services.tokens import user_for_token


class StaffToken(HttpBearer):
    """``Authorization: Bearer t360p_…`` — a token from ``POST /api/v1/auth/token``."""

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        user = user_for_token(token)
        if user is not None:
            request.user = user
        return user


STAFF_AUTH = [StaffToken(), django_auth]
