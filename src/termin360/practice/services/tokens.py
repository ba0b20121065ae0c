"""API tokens for staff: shown once, stored as SHA-256 (they are long random strings,
so a fast hash is enough; passwords use Argon2)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.contrib.auth.models import User
from django.utils import timezone

from termin360.practice.models import StaffToken

# "Last used" to the minute is enough for the token list; writing it on every request
# would make each API read (and each open view's poll with a token) a write.
USE_RESOLUTION = timedelta(minutes=1)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def issue_token(*, user: User) -> str:
    key = "t360p_" + secrets.token_urlsafe(32)
    StaffToken.objects.create(user=user, key_hash=_digest(key), prefix=key[6:14])
    return key


def user_for_token(key: str) -> User | None:
    token = (
        StaffToken.objects.select_related("user")
        .filter(key_hash=_digest(key), user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > USE_RESOLUTION:
        StaffToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def revoke_tokens(*, user: User) -> int:
    deleted, _ = StaffToken.objects.filter(user=user).delete()
    return deleted
