"""Idempotent writes of the sync API: the answer to a request with an ``Idempotency-Key``
is kept for 24 hours, per practice, and a repeat of the key gets that answer again
without a second effect (decision 008).

The connector retries whenever it did not get an answer — a timeout, a dropped
connection — although the portal may have done the work. The effect and the stored
answer commit in one transaction, so either both exist or neither: a retry then finds
the answer, or does the work for the first time. Two copies of one request that race
each other meet at the unique (practice, key) index; the loser's transaction (effect
included) rolls back and it answers with the winner's stored answer.

Refusals (4xx, an ``ApplicationError``) are stored as well: the same request gets the
same refusal. A bug (any other exception) stores nothing, so a retry runs again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from termin360.core.errors import ApplicationError, InvalidInput
from termin360.portal.models import IdempotentRequest, Practice

KEEP = timedelta(hours=24)
MAX_KEY_LENGTH = 100


@dataclass(frozen=True)
class Answer:
    """An HTTP answer as the API sends it: status and JSON body."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)


def _answer(action: Callable[[], Answer]) -> Answer:
    try:
        return action()
    except ApplicationError as exc:
        return Answer(exc.status, {"code": exc.code, "detail": exc.message, **exc.details})


def _stored(practice: Practice, key: str, now: datetime) -> IdempotentRequest | None:
    return IdempotentRequest.objects.filter(
        practice=practice, key=key, created_at__gte=now - KEEP
    ).first()


def _replay(stored: IdempotentRequest, method: str, path: str) -> Answer:
    if (stored.method, stored.path) != (method, path):
        raise InvalidInput(
            _("This Idempotency-Key was used for another request."),
            code="idempotency_key_reused",
        )
    return Answer(stored.status, dict(stored.response))


def check_key(key: str) -> None:
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isprintable() or not key.isascii():
        raise InvalidInput(
            _("The Idempotency-Key must be 1 to 100 printable ASCII characters."),
            code="bad_idempotency_key",
        )


def run_once(
    *,
    practice: Practice,
    key: str | None,
    method: str,
    path: str,
    action: Callable[[], Answer],
) -> Answer:
    """Run ``action`` once per (practice, ``key``); without a key, just run it."""
    if key is None:
        return _answer(action)
    check_key(key)
    path = path[:300]
    now = timezone.now()
    stored = _stored(practice, key, now)
    if stored is not None:
        return _replay(stored, method, path)
    try:
        with transaction.atomic():
            # Again inside the transaction: on SQLite (BEGIN IMMEDIATE) a twin that
            # committed while we waited for the write lock is seen here, before any effect.
            stored = _stored(practice, key, now)
            if stored is not None:
                return _replay(stored, method, path)
            answer = _answer(action)
            # An expired row of the same key would block the insert; it has served its time.
            # (Only an expired one: a twin's fresh row must make our insert fail.)
            IdempotentRequest.objects.filter(
                practice=practice, key=key, created_at__lt=now - KEEP
            ).delete()
            IdempotentRequest.objects.create(
                practice=practice,
                key=key,
                method=method,
                path=path,
                status=answer.status,
                response=answer.body,
            )
    except IntegrityError:
        stored = _stored(practice, key, timezone.now())
        if stored is None:
            raise
        return _replay(stored, method, path)
    return answer


def forget_old(now: datetime | None = None) -> int:
    """Delete the answers older than ``KEEP`` (the worker calls this every round)."""
    now = now or timezone.now()
    deleted, _per_model = IdempotentRequest.objects.filter(created_at__lt=now - KEEP).delete()
    return deleted
