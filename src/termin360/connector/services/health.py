"""The connector's readiness checks (see :mod:`termin360.deploy.health`), only when a
connector is configured: the outbox drains (the portal gets the practice's busy times)
and the sync succeeded lately. Without a connector the practice calendar works on its
own, and both checks pass with "not configured"."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Min
from django.utils import timezone

from termin360.connector.models import OutboxEntry, SyncConfig, SyncState
from termin360.core.health import CheckResult, age_check


def connector_configured() -> bool:
    return SyncConfig.objects.filter(pk=1).exclude(portal_url="").exclude(api_key="").exists()


def oldest_outbox_entry_age() -> timedelta | None:
    oldest = OutboxEntry.objects.aggregate(oldest=Min("created_at"))["oldest"]
    return None if oldest is None else timezone.now() - oldest


def last_success_at() -> datetime | None:
    """The last successful sync round; before the first, when the connector was set up
    (a connector configured a minute ago is not late yet)."""
    state = SyncState.objects.filter(pk=1).first()
    if state is not None and state.last_success_at is not None:
        return state.last_success_at
    config = SyncConfig.objects.filter(pk=1).first()
    return None if config is None else config.updated_at


def _minutes(name: str, default: float) -> float:
    return float(getattr(settings, name, default)) * 60


def check_outbox() -> CheckResult:
    if not connector_configured():
        return CheckResult(True, "connector not configured")
    age = oldest_outbox_entry_age()
    limit = _minutes("READY_OUTBOX_MINUTES", 5)
    return age_check(None if age is None else age.total_seconds(), limit, "outbox entry")


def check_last_sync() -> CheckResult:
    if not connector_configured():
        return CheckResult(True, "connector not configured")
    since = last_success_at()
    limit = _minutes("READY_SYNC_MINUTES", 10)
    if since is None:
        return CheckResult(False, "never synchronised")
    seconds = (timezone.now() - since).total_seconds()
    detail = f"last successful sync {int(seconds)} s ago (limit {int(limit)} s)"
    return CheckResult(seconds <= limit, detail)


READY_CHECKS = [("outbox", check_outbox), ("last_sync", check_last_sync)]
