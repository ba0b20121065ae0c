"""The sync's health as ``sync job status`` and the practice UI show it (S3): the last
success and the last error. Written with UPDATE statements so a status write never
overwrites the job's lease or the cursor written by someone else meanwhile."""

from __future__ import annotations

from django.utils import timezone

from termin360.connector.models import SyncState

MAX_ERROR_LENGTH = 500


def _ensure_row() -> None:
    SyncState.objects.get_or_create(pk=1)


def record_success() -> None:
    _ensure_row()
    SyncState.objects.filter(pk=1).update(last_success_at=timezone.now(), last_error="")


def record_error(message: str) -> None:
    """Keep the (German) reason for the staff. Callers pass messages without patient data."""
    _ensure_row()
    SyncState.objects.filter(pk=1).update(
        last_error=message[:MAX_ERROR_LENGTH], last_error_at=timezone.now()
    )
