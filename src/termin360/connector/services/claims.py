"""The S9 claim: before a staff action in a mapped column occupies new time, it claims
that time on the portal (decision 009).

The portal answers under the same lock its online bookings take, so one of the two wins:

- Refused (an online booking the connector has not seen yet holds the time) → the action
  is rolled back with ``OnlineBookingHoldsTime`` (a ``Conflict`` naming the booking);
  once the rollback is done the occupancy gate calls its ``after_rollback()``, which
  pulls the booking in at once, so the receptionist sees it in the calendar.
- Granted → the portal *holds* the time under the claim's id: an online booking
  arriving a moment later is refused. The claim id goes into the outbox entry of each
  claimed day; the busy state the relay sends next names it (``settles``) and the hold
  gives way to the busy state. If the action is not saved after all, the claim is
  released (``occupancy.on_rollback``); if even that is lost, its lease ends it.

Portal unreachable, too slow, or answering nonsense → the action is saved (the offline
fallback). The outbox sends the new busy state later, and should the feed then bring a
booking for that time, S5 puts it in the additional list: a booking is never dropped,
and the practice never waits longer than ``SyncConfig.check_timeout_seconds``. This is
the only way two holders of one time can meet.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import date, datetime
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
from termin360.practice.services import occupancy
from termin360.protocol.messages import (
    MAX_CLAIM_DAYS,
    MAX_INTERVALS_PER_DAY,
    BookingState,
    Claim,
    ClaimDay,
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
        return _("An online booking holds this time.")  # the portal's words are not ours
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


def _known_at_their_time(bookings: list[BookingState]) -> set[int]:
    """The refusing bookings this calendar holds already, at the time the portal has
    them: pulled in before their feed event came (the portal still counts them as
    unseen). Claiming their time again is the practice's own decision."""
    wanted = {b.booking_id: b for b in bookings}
    known = set()
    for ob in OnlineBooking.objects.filter(
        booking_id__in=wanted, status=OnlineBooking.Status.ACTIVE
    ):
        b = wanted[ob.booking_id]
        if ob.start == b.start and ob.end == b.end:
            known.add(ob.booking_id)
    return known


# The check's HTTP calls run here while the listener writes the busy state and the
# outbox row: the practice waits for the slower of the two, not for both. Releases of
# claims whose action was not saved go out here too, without anyone waiting for them.
_executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="s9-check")

Answers = list[tuple[Claim, ClaimResult | ClaimRefused]]
ClaimedDay = tuple[int, date, list[Interval]]  # (online calendar id, local day, intervals)


@dataclass
class PendingCheck:
    """A claim on its way: ``claim_of`` names the claim id that covers each (online
    calendar, day), for the outbox (the busy state sent next settles it)."""

    claims: list[Claim]
    future: Future[Answers]
    deadline: float
    client: PortalApi
    timeout: float
    released: set[str] = field(default_factory=set)

    @property
    def claim_of(self) -> dict[tuple[int, date], str]:
        return {
            (day.online_calendar_id, day.day): claim.claim_id
            for claim in self.claims
            for day in claim.days
        }

    def release(self, claim_ids: Iterable[str] | None = None) -> None:
        """Tell the portal the action was not saved (in the background; if the portal
        does not hear it, the holds run out with their lease)."""
        ids = [
            c.claim_id
            for c in self.claims
            if (claim_ids is None or c.claim_id in claim_ids) and c.claim_id not in self.released
        ]
        self.released.update(ids)
        if ids:
            _executor.submit(_release, self.client, ids, self.timeout)


def _release(client: PortalApi, claim_ids: list[str], timeout: float) -> None:
    for claim_id in claim_ids:
        try:
            client.release_claim(claim_id, timeout=timeout)
        except PortalError as exc:
            logger.info("releasing an S9 claim failed (%s); its lease ends it", exc.code)


# Read once per CONFIG_TTL_SECONDS per process, not in every staff action. Safe: a cursor
# read a moment ago is at most lower than the real one, so the portal counts a few more
# bookings as unseen — and those the calendar already holds are sent as ``known``.
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


def _claims(days: list[ClaimedDay], after_seq: int) -> list[Claim]:
    """One claim normally; an action over more days than a claim carries (a reservation
    over months) is split, each part with its own id."""
    base = uuid.uuid4().hex
    parts = [
        [
            ClaimDay(
                online_calendar_id=cal,
                day=day,
                intervals=[TimeRange(start=iv.start, end=iv.end) for iv in chunk],
            )
            for cal, day, intervals in days[i : i + MAX_CLAIM_DAYS]
            for chunk in _interval_chunks(intervals)
        ]
        for i in range(0, len(days), MAX_CLAIM_DAYS)
    ]
    return [
        Claim(claim_id=base if len(parts) == 1 else f"{base}-{n}", days=part, after_seq=after_seq)
        for n, part in enumerate(parts)
    ]


def _interval_chunks(intervals: list[Interval]) -> list[list[Interval]]:
    return [
        intervals[i : i + MAX_INTERVALS_PER_DAY]
        for i in range(0, len(intervals), MAX_INTERVALS_PER_DAY)
    ]


def _ask(client: PortalApi, claims: list[Claim], deadline: float) -> Answers:
    """Send the claims in order until one is refused (the rest would be released anyway)."""
    answers: Answers = []
    for claim in claims:
        left = max(0.05, deadline - time.monotonic())
        answer = client.claim(claim, timeout=left)
        answers.append((claim, answer))
        if isinstance(answer, ClaimRefused):
            break
    return answers


def start_check(days: list[ClaimedDay]) -> PendingCheck | None:
    """Claim each (online calendar id, local day, newly claimed intervals) and return at
    once; ``finish_check`` waits for the answer. ``None`` when the connector is not set
    up. Should the action not be saved after all, the claims are released."""
    loaded = _config_and_cursor()
    if loaded is None or not days:
        return None
    config, after_seq = loaded
    client = _client(config)
    claims = _claims(days, after_seq)
    timeout = config.check_timeout_seconds
    deadline = time.monotonic() + timeout
    pending = PendingCheck(
        claims, _executor.submit(_ask, client, claims, deadline), deadline, client, timeout
    )
    occupancy.on_rollback(pending.release)
    return pending


def _skipped(exc: PortalError) -> None:
    # No patient data here: the message names the portal and the kind of failure.
    logger.warning("S9 check skipped, the change is saved unchecked: %s", exc.code)
    message = _("Check with the portal skipped (%(reason)s).") % {"reason": exc.message}
    # After the commit: writing SyncState now would hold its row lock together with the
    # column lock, and the feed consumer takes them in the opposite order.
    transaction.on_commit(functools.partial(state.record_error, message))


def _after_refusal(pending: PendingCheck, claim: Claim, refused: ClaimRefused) -> bool:
    """Whether the action may go ahead after all: the refusal names only bookings the
    calendar holds already (pulled in before their feed event), so the claim is asked
    once more with them as ``known`` — and then holds the time. Should the second answer
    again name only bookings the calendar holds (pulled in meanwhile), the time is the
    practice's own and the action goes ahead without a hold."""
    for attempt in range(2):
        ids = {b.booking_id for b in refused.bookings}
        if not ids or _known_at_their_time(list(refused.bookings)) != ids:
            return False
        if attempt == 1:
            return True
        retry = claim.model_copy(update={"known": sorted(ids | set(claim.known))})
        left = max(0.05, pending.deadline - time.monotonic())
        answer = pending.client.claim(retry, timeout=left)
        if isinstance(answer, ClaimResult):
            return True
        refused = answer
    return True


def _refusal(pending: PendingCheck, answer: ClaimRefused) -> OnlineBookingHoldsTime:
    known = _known_at_their_time(list(answer.bookings))
    unseen = [b for b in answer.bookings if b.booking_id not in known]
    refused = answer.model_copy(update={"bookings": unseen})
    first_day = pending.claims[0].days[0]
    calendar = unseen[0].online_calendar_id if unseen else first_day.online_calendar_id
    return OnlineBookingHoldsTime(_message(refused, _zone_of(calendar)), bookings=unseen)


def finish_check(pending: PendingCheck | None) -> None:
    """Raise ``OnlineBookingHoldsTime`` on a refusal (the claims granted before it are
    released); return quietly when the time is held, or when the portal cannot answer
    in time (then the error is recorded for ``sync job status`` and the action is saved
    unchecked — the offline fallback)."""
    if pending is None:
        return
    try:
        try:
            answers = pending.future.result(timeout=max(0.0, pending.deadline - time.monotonic()))
        except FutureTimeout:
            raise PortalTimeout(_("The portal does not answer in time."), code="timeout") from None
        granted: list[str] = []
        for i, claim in enumerate(pending.claims):
            if i < len(answers):
                answer = answers[i][1]
            else:  # not sent: an earlier part was refused, but only by known bookings
                left = max(0.05, pending.deadline - time.monotonic())
                answer = pending.client.claim(claim, timeout=left)
            if isinstance(answer, ClaimRefused) and not _after_refusal(pending, claim, answer):
                pending.release(granted)
                raise _refusal(pending, answer)
            granted.append(claim.claim_id)
    except PortalError as exc:
        _skipped(exc)
