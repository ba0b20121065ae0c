"""The S9 check: before a staff action in a mapped column claims new time, ask the portal
whether an online booking the connector has not seen yet holds it.

Refused → the action is rolled back with ``OnlineBookingHoldsTime`` (a ``Conflict``
naming the booking); once the rollback is done the occupancy gate calls its
``after_rollback()``, which pulls the booking in at once, so the receptionist sees it
in the calendar when she looks again.

Portal unreachable, too slow, or answering nonsense → the action is saved. The outbox
sends the new busy state later, and should the feed then bring a booking for that time,
S5 puts it in the additional list: a booking is never dropped, and the practice never
waits longer than ``SyncConfig.check_timeout_seconds`` for the portal.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Subquery
from django.utils.translation import gettext as _

from termin360.connector.models import Mapping, OnlineBooking, SyncConfig, SyncState
from termin360.connector.portal_client import (
    PortalApi,
    PortalClient,
    PortalError,
    PortalTimeout,
)
from termin360.connector.services import consumer, state
from termin360.core.errors import Conflict
from termin360.core.intervals import Interval
from termin360.core.timezones import DEFAULT_ZONE
from termin360.protocol.messages import (
    MAX_INTERVALS_PER_DAY,
    BookingState,
    Claim,
    ClaimRefused,
    ClaimResult,
    TimeRange,
)

logger = logging.getLogger(__name__)


class OnlineBookingHoldsTime(Conflict):
    """The portal refused the claim: an unseen online booking holds (part of) the time."""

    code = "online_booking_holds_time"

    def __init__(self, message: str, *, bookings: list[BookingState]) -> None:
        super().__init__(message, bookings=[b.booking_id for b in bookings])
        self.bookings = bookings

    def after_rollback(self) -> None:
        """Pull the refusing bookings in (S5 placement), now that the staff's change is
        gone. A failure here must not hide the refusal itself: it is logged, and the
        feed brings the bookings anyway."""
        try:
            consumer.apply_booking_states(self.bookings)
        except Exception:
            logger.exception("pulling in the online booking that refused a change failed")


# --------------------------------------------------------------------------- the client


def _build_client(config: SyncConfig) -> PortalApi:
    profile = config.tls_profile
    return PortalClient(
        config.portal_url,
        config.api_key,
        ca_bundle=profile.ca_bundle if profile else "",
        client_cert=profile.client_cert if profile else "",
        client_key=profile.client_key if profile else "",
        timeout=config.check_timeout_seconds,
    )


# Tests put an in-memory portal here; the default builds the real HTTP client.
client_factory: Callable[[SyncConfig], PortalApi] = _build_client

_lock = threading.Lock()
_cached: tuple[tuple[int, datetime], PortalApi] | None = None


def _client(config: SyncConfig) -> PortalApi:
    """One client per configuration, kept between checks: its kept-alive connection makes
    the check one round trip instead of a TCP (and TLS) handshake each time."""
    global _cached
    key = (config.pk, config.updated_at)
    with _lock:
        if _cached is not None and _cached[0] == key:
            return _cached[1]
        if _cached is not None:
            _cached[1].close()
        client = client_factory(config)
        _cached = (key, client)
        return client


def reset_client() -> None:
    """Forget the cached client (tests; a changed configuration does this by itself)."""
    global _cached
    forget_config()
    with _lock:
        if _cached is not None:
            _cached[1].close()
        _cached = None


# --------------------------------------------------------------------------- the check


def _message(refused: ClaimRefused, tz: ZoneInfo) -> str:
    if not refused.bookings:
        return refused.detail or _("An online booking holds this time.")
    first = refused.bookings[0]
    when = first.start.astimezone(tz)
    return _(
        "An online booking holds this time: %(patient)s, %(date)s %(time)s "
        "(online booking %(id)s). It has been added to the calendar."
    ) % {
        "patient": f"{first.patient.last_name}, {first.patient.first_name}",
        "date": f"{when:%d.%m.%Y}",
        "time": f"{when:%H:%M}",
        "id": first.booking_id,
    }


def _zone_of(online_calendar_id: int) -> ZoneInfo:
    mapping = (
        Mapping.objects.select_related("column__calendar__location")
        .filter(online_calendar_id=online_calendar_id)
        .first()
    )
    name = mapping.column.calendar.location.time_zone if mapping else DEFAULT_ZONE
    return ZoneInfo(name)


def _chunks(intervals: list[Interval]) -> list[list[Interval]]:
    return [
        intervals[i : i + MAX_INTERVALS_PER_DAY]
        for i in range(0, len(intervals), MAX_INTERVALS_PER_DAY)
    ]


def _refuse(answer: ClaimRefused, online_calendar_id: int) -> None:
    """Raise for the bookings the practice calendar does not hold yet. One that was pulled
    in already (its feed event not read yet, so the portal still counts it as unseen) has
    been placed by S5 — refusing again would block the staff until the feed catches up."""
    known = set(
        OnlineBooking.objects.filter(
            booking_id__in=[b.booking_id for b in answer.bookings]
        ).values_list("booking_id", flat=True)
    )
    unseen = [b for b in answer.bookings if b.booking_id not in known]
    if unseen or not answer.bookings:
        refused = answer.model_copy(update={"bookings": unseen})
        raise OnlineBookingHoldsTime(
            _message(refused, _zone_of(online_calendar_id)), bookings=unseen
        )


# The check's HTTP calls run here while the listener writes the busy state and the
# outbox row: the practice waits for the slower of the two, not for both.
_executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="s9-check")

Answers = list[tuple[int, ClaimResult | ClaimRefused]]


@dataclass
class PendingCheck:
    future: Future[Answers]
    timeout: float


# Read once per CONFIG_TTL_SECONDS per process, not in every staff action. Safe: a cursor
# read a moment ago is at most lower than the real one, so the portal counts a few more
# bookings as unseen — and ``_refuse`` lets through those the calendar already holds.
CONFIG_TTL_SECONDS = 2.0
_loaded: tuple[float, tuple[SyncConfig, int] | None] | None = None


def _config_and_cursor() -> tuple[SyncConfig, int] | None:
    global _loaded
    now = time.monotonic()
    with _lock:
        if _loaded is not None and now - _loaded[0] < CONFIG_TTL_SECONDS:
            return _loaded[1]
    value = _read_config_and_cursor()
    with _lock:
        _loaded = (now, value)
    return value


def forget_config() -> None:
    """Read the configuration again at the next check (tests; ``sync config`` in this
    process)."""
    global _loaded
    with _lock:
        _loaded = None


def _read_config_and_cursor() -> tuple[SyncConfig, int] | None:
    """The configuration and the feed cursor in one query."""
    config = (
        SyncConfig.objects.select_related("tls_profile")
        .annotate(feed_cursor=Subquery(SyncState.objects.filter(pk=1).values("cursor")[:1]))
        .filter(pk=1)
        .first()
    )
    if config is None or not config.portal_url or not config.api_key:
        return None
    return config, int(getattr(config, "feed_cursor", None) or 0)


def start_check(claims: list[tuple[int, list[Interval]]]) -> PendingCheck | None:
    """Send the check for each (online calendar id, newly claimed intervals) and return at
    once; ``finish_check`` waits for the answer. ``None`` when the connector is not set up."""
    loaded = _config_and_cursor()
    if loaded is None:
        return None
    config, after_seq = loaded
    client = _client(config)
    requests = [
        (
            online_calendar_id,
            Claim(
                online_calendar_id=online_calendar_id,
                intervals=[TimeRange(start=iv.start, end=iv.end) for iv in chunk],
                after_seq=after_seq,
            ),
        )
        for online_calendar_id, intervals in claims
        for chunk in _chunks(intervals)
    ]
    timeout = config.check_timeout_seconds

    def ask() -> Answers:
        return [(cal, client.claim(claim, timeout=timeout)) for cal, claim in requests]

    # Each call has its own timeout; the bound here guards against a server that answers
    # byte by byte.
    return PendingCheck(_executor.submit(ask), timeout * len(requests) + 1.0)


def finish_check(pending: PendingCheck | None) -> None:
    """Raise ``OnlineBookingHoldsTime`` on a refusal; return quietly when the time is free
    or the portal cannot answer (then the error is recorded for ``sync job status``)."""
    if pending is None:
        return
    try:
        try:
            answers = pending.future.result(timeout=pending.timeout)
        except FutureTimeout:
            raise PortalTimeout(_("The portal does not answer in time."), code="timeout") from None
    except PortalError as exc:
        # No patient data here: the message names the portal and the kind of failure.
        logger.warning("S9 check skipped, the change is saved unchecked: %s", exc.code)
        message = _("Check with the portal skipped (%(reason)s).") % {"reason": exc.message}
        # After the commit: writing SyncState now would hold its row lock together with the
        # column lock, and the feed consumer takes them in the opposite order.
        transaction.on_commit(functools.partial(state.record_error, message))
        return
    for online_calendar_id, answer in answers:
        if isinstance(answer, ClaimRefused):
            _refuse(answer, online_calendar_id)


def check_claims(claims: list[tuple[int, list[Interval]]]) -> None:
    """Ask the portal about each (online calendar id, newly claimed intervals) and wait."""
    finish_check(start_check(claims))
