"""Staff login limits: the lock-out of the practice's login page and token endpoint,
shared by all server processes through the ``StaffLoginAttempt`` table.

The rules are the portal's (``termin360.portal.services.ratelimit``): a key is locked
for ``WINDOW`` after ``limit`` failed logins that lie within ``WINDOW`` of each other —
5 per user name, 20 per client IP. While locked, attempts are refused without checking
the password and are *not* recorded, so a locked user is let in again exactly
``WINDOW`` after the failure that locked them, however often they retry. A correct
password clears the user name's failures (not the IP's).

Failures count for any user name, known or not, and the answers are the same: the lock
tells nobody whether a user name exists.

Keys are stored as an HMAC-SHA-256 keyed with ``SECRET_KEY``: a plain hash of an IPv4
address could be reversed by trying all four billion. The client IP is ``REMOTE_ADDR``;
behind a reverse proxy that is the proxy, and the per-IP limit then counts all clients
together (the per-user limit is unaffected).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.crypto import salted_hmac

from termin360.practice.models import StaffLoginAttempt

WINDOW = timedelta(minutes=15)
USER_LIMIT = 5
IP_LIMIT = 20


@dataclass(frozen=True)
class Lock:
    """A refused key and when it opens again."""

    kind: str  # "user" or "ip"
    until: datetime

    def seconds_left(self, now: datetime | None = None) -> int:
        """Whole seconds until the lock opens, at least 1 (for ``Retry-After``)."""
        left = (self.until - (now or timezone.now())).total_seconds()
        return max(1, math.ceil(left))


def key(kind: str, value: str) -> str:
    """What is stored for ``value``: ``kind:`` and a hex HMAC-SHA-256 (no raw data)."""
    digest = salted_hmac(
        "termin360.practice.login_limits", value.strip().lower(), algorithm="sha256"
    ).hexdigest()
    return f"{kind}:{digest}"


def _locked_until(k: str, limit: int, now: datetime) -> datetime | None:
    recent = list(
        StaffLoginAttempt.objects.filter(key=k, at__gt=now - 2 * WINDOW)
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


def login_lock(*, username: str, ip: str) -> Lock | None:
    """The lock refusing a login of ``username`` from ``ip``, or ``None`` if it may go ahead."""
    now = timezone.now()
    for kind, value, limit in (("user", username, USER_LIMIT), ("ip", ip, IP_LIMIT)):
        until = _locked_until(key(kind, value), limit, now)
        if until is not None:
            return Lock(kind, until)
    return None


def login_failed(*, username: str, ip: str) -> None:
    """Count a failed login against the user name and the IP; drop rows nobody needs."""
    now = timezone.now()
    StaffLoginAttempt.objects.filter(at__lt=now - 2 * WINDOW).delete()
    StaffLoginAttempt.objects.bulk_create(
        [StaffLoginAttempt(key=key("user", username)), StaffLoginAttempt(key=key("ip", ip))]
    )


def login_succeeded(*, username: str) -> None:
    """A correct password clears the user name's failures (the IP's stay: one good account
    must not reset the counter of someone trying many)."""
    StaffLoginAttempt.objects.filter(key=key("user", username)).delete()
