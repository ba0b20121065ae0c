"""Reads of the connector's state: ``sync job status`` (S3), the TMEX L list and Info (S4),
and what is still pending. The CLI and the practice web UI both use these."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from termin360.connector.models import (
    Mapping,
    OnlineBooking,
    OutboxEntry,
    SyncConfig,
    SyncState,
)

# A job that has not written its heartbeat for this long is taken as not running
# (killed, machine off): another job may then take over.
HEARTBEAT_STALE_SECONDS = 15


def sync_state() -> SyncState:
    state, _ = SyncState.objects.get_or_create(pk=1)
    return state


def sync_config() -> SyncConfig | None:
    return SyncConfig.objects.select_related("tls_profile").filter(pk=1).first()


def this_host() -> str:
    return socket.gethostname()[:200]


def job_process_gone(state: SyncState) -> bool:
    """The recorded job ran on this machine and its process is gone (killed, crashed):
    then nobody has to wait for its heartbeat to go stale."""
    if state.job_pid is None or state.job_host != this_host():
        return False
    try:
        os.kill(state.job_pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    try:  # a killed child its parent has not reaped yet is a zombie: gone as well
        fields = Path(f"/proc/{state.job_pid}/stat").read_text().rsplit(")", 1)[1].split()
        return fields[0] in {"Z", "X"}
    except (OSError, IndexError):
        return False


def job_is_running(state: SyncState, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return (
        state.job_pid is not None
        and state.job_heartbeat_at is not None
        and now - state.job_heartbeat_at < timedelta(seconds=HEARTBEAT_STALE_SECONDS)
        and not job_process_gone(state)
    )


def pending_practice_changes() -> QuerySet[OnlineBooking]:
    """Active online bookings the practice deleted or moved and the portal does not know
    yet (S10): placed once, and now without appointment or at another time than when it
    was placed or last agreed with the portal — moved, extended or shortened — unless
    exactly that change was refused by the portal already."""
    placed = OnlineBooking.objects.filter(status=OnlineBooking.Status.ACTIVE).exclude(
        placement=OnlineBooking.Placement.NONE
    )
    deleted = Q(appointment__isnull=True)
    moved = Q(appointment__start__isnull=False) & (
        ~Q(appointment__start=F("placed_start")) | ~Q(appointment__end=F("placed_end"))
    )
    refused_again = (
        Q(refused_start__isnull=False)
        & Q(appointment__start=F("refused_start"))
        & Q(appointment__end=F("refused_end"))
    )
    return placed.filter(deleted | moved).exclude(refused_again).select_related("appointment")


def pending_receipts() -> QuerySet[OnlineBooking]:
    """Placed bookings whose delivery receipt (P6) has not reached the portal yet."""
    return OnlineBooking.objects.filter(receipt_sent_at__isnull=True).exclude(
        placement=OnlineBooking.Placement.NONE
    )


def unplaced_bookings() -> QuerySet[OnlineBooking]:
    """Active online bookings for online calendars that are not mapped (any more):
    kept, shown to the staff, placed as soon as a mapping exists."""
    return OnlineBooking.objects.filter(
        status=OnlineBooking.Status.ACTIVE, placement=OnlineBooking.Placement.NONE
    )


@dataclass(frozen=True)
class SyncStatus:
    configured: bool
    portal_url: str
    practice_name: str
    running: bool
    job_pid: int | None
    job_started_at: datetime | None
    autostart: bool
    stop_requested: bool
    cursor: int
    last_success_at: datetime | None
    last_error: str
    last_error_at: datetime | None
    pending_to_portal: int  # (online calendar, day) pairs in the outbox
    pending_receipts: int
    pending_practice_changes: int
    unplaced: int
    mappings: int

    @property
    def pending_total(self) -> int:
        return self.pending_to_portal + self.pending_receipts + self.pending_practice_changes

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for key, value in self.__dict__.items():
            out[key] = value.isoformat() if isinstance(value, datetime) else value
        out["pending_total"] = self.pending_total
        return out


def sync_status() -> SyncStatus:
    state = sync_state()
    config = sync_config()
    return SyncStatus(
        configured=config is not None and bool(config.portal_url and config.api_key),
        portal_url=config.portal_url if config else "",
        practice_name=config.practice_name if config else "",
        running=job_is_running(state),
        job_pid=state.job_pid,
        job_started_at=state.job_started_at,
        autostart=state.autostart,
        stop_requested=state.stop_requested,
        cursor=state.cursor,
        last_success_at=state.last_success_at,
        last_error=state.last_error,
        last_error_at=state.last_error_at,
        pending_to_portal=OutboxEntry.objects.count(),
        pending_receipts=pending_receipts().count(),
        pending_practice_changes=pending_practice_changes().count(),
        unplaced=unplaced_bookings().count(),
        mappings=Mapping.objects.count(),
    )


def online_bookings(*, include_past: bool = True) -> QuerySet[OnlineBooking]:
    """TMEX L: every online booking and cancellation, by appointment date and time."""
    qs = OnlineBooking.objects.select_related(
        "appointment__column", "appointment__calendar", "mapping__column__calendar"
    ).order_by("start", "booking_id")
    if not include_past:
        qs = qs.filter(end__gte=timezone.now())
    return qs


def online_booking(booking_id: int) -> OnlineBooking | None:
    """TMEX Info: one booking by the portal's id, with where it sits."""
    return (
        OnlineBooking.objects.select_related(
            "appointment__column",
            "appointment__calendar",
            "appointment__patient",
            "mapping__column__calendar",
        )
        .filter(booking_id=booking_id)
        .first()
    )
