"""Login rate limiting (P3), shared by all server processes through the ``LoginAttempt`` table.

A key (an e-mail address or a client IP) is locked for ``WINDOW`` after ``limit``
failed logins that lie within ``WINDOW`` of each other: 5 per e-mail address,
20 per client IP. While locked, attempts are refused without checking the
password and are *not* recorded, so a locked user is let in again exactly
``WINDOW`` after the failure that locked them, however often they retry.

Keys are stored as an HMAC-SHA-256 (keyed with ``SECRET_KEY``), never the raw
address or IP: a plain SHA-256 of an IPv4 address could be reversed by trying
all four billion of them.

The client IP is ``REMOTE_ADDR``. Behind a reverse proxy that is the proxy's
address, so the per-IP limit then counts all clients together; the per-e-mail
limit is unaffected.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.crypto import salted_hmac

from termin360.portal.models import LoginAttempt

WINDOW = timedelta(minutes=15)
EMAIL_LIMIT = 5
IP_LIMIT = 20
# Password-reset mails per address and window: stops mail-bombing someone's inbox.
RESET_LIMIT = 3


@dataclass(frozen=True)
class Lock:
    """A refused key and when it opens again."""

    kind: str  # "email" or "ip"
    until: datetime


def key(kind: str, value: str) -> str:
    """What is stored for ``value``: ``kind:`` and a hex HMAC-SHA-256 (no raw data)."""
    digest = salted_hmac(
        "termin360.portal.ratelimit", value.strip().lower(), algorithm="sha256"
    ).hexdigest()
    return f"{kind}:{digest}"


def _locked_until(k: str, limit: int, now: datetime) -> datetime | None:
    recent = list(
        LoginAttempt.objects.filter(key=k, at__gt=now - 2 * WINDOW)
        .order_by("-at")
        .values_list("at", flat=True)[:limit]
    )
    if len(recent) < limit:
        return None
    newest, oldest = recent[0], recent[-1]
    if newest - oldest > WINDOW:
        return None  # the failures were spread out: no lock
    until = newest + WINDOW
    return until if until > now else None


def login_lock(*, email: str, ip: str) -> Lock | None:
    """The lock refusing a login for ``email`` from ``ip``, or ``None`` when it may go ahead."""
    now = timezone.now()
    for kind, value, limit in (("email", email, EMAIL_LIMIT), ("ip", ip, IP_LIMIT)):
        until = _locked_until(key(kind, value), limit, now)
        if until is not None:
            return Lock(kind, until)
    return None


def login_failed(*, email: str, ip: str) -> None:
    """Count a failed login against the e-mail address and the IP; drop rows nobody needs."""
    now = timezone.now()
    LoginAttempt.objects.filter(at__lt=now - 2 * WINDOW).delete()
    LoginAttempt.objects.bulk_create(
        [LoginAttempt(key=key("email", email)), LoginAttempt(key=key("ip", ip))]
    )


def login_succeeded(*, email: str) -> None:
    """A correct password clears the address's failures (the IP's stay: one good account
    must not reset the counter of someone trying many)."""
    LoginAttempt.objects.filter(key=key("email", email)).delete()


def allow_reset_mail(*, email: str) -> bool:
    """Whether another password-reset mail may go to ``email`` now; counts it if so."""
    now = timezone.now()
    k = key("reset", email)
    if LoginAttempt.objects.filter(key=k, at__gt=now - WINDOW).count() >= RESET_LIMIT:
        return False
    LoginAttempt.objects.create(key=k)
    return True
