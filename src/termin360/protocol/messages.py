"""The messages of the sync API (``/api/v1/sync/…``), shared by portal and connector.

Plain pydantic models, no Django: the portal validates requests and builds answers
with them, the connector builds requests and reads answers with them, so a field
renamed on one side fails the other side's type check and tests, not production.

Times are UTC instants with offset (ISO 8601); ``day`` is the practice's local day.

Endpoints (all need ``Authorization: Bearer <practice API key>``; every write takes an
``Idempotency-Key`` header — a repeated key answers with the first answer):

=====  ==========================  ===================  ======================
verb   path                        request              answer
=====  ==========================  ===================  ======================
GET    /calendars                  –                    ``CalendarList``
GET    /events?after=N&wait=S      –                    ``FeedPage`` (long poll)
PUT    /busy                       ``BusyBatch``        ``BusyBatchResult``
POST   /claims                     ``Claim``            ``ClaimResult`` / 409
POST   /claims/{id}/release        –                    ``ClaimReleased``
POST   /bookings/{id}/cancel       ``PracticeCancel``   ``BookingState``
POST   /bookings/{id}/move         ``PracticeMove``     ``BookingState`` / 409
POST   /receipts                   ``Receipts``         ``ReceiptsResult``
=====  ==========================  ===================  ======================

Errors are ``{"code", "detail"}`` with a 4xx status (``ErrorBody``); a refused claim is
409 ``online_booking_holds_time`` with ``bookings`` (``ClaimRefused``).

A granted claim *holds* its time on the portal (no online booking can take it) until the
busy state of that day arrives naming the claim in ``settles``, the practice releases it,
or ``CLAIM_LEASE_SECONDS`` pass (decision 009).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_BATCH_DAYS = 500
MAX_INTERVALS_PER_DAY = 300
# Bookable slots of one column day (S14): 5-minute slots around the clock are 288.
MAX_BOOKABLE_PER_DAY = 300
MAX_FEED_PAGE = 500
# A claim covers at most this many (online calendar, day)s; a bigger practice action (a
# reservation over months) is sent as several claims.
MAX_CLAIM_DAYS = 100
# Claim ids a busy day may settle; an outbox entry keeps only the newest ones (older
# holds have run out by then).
MAX_SETTLES_PER_DAY = 100
MAX_CLAIM_ID_LENGTH = 64
# A database id or feed position (BIGINT): larger ones are refused at the edge (422).
MAX_ID = 2**63 - 1
# How long a granted claim holds its time when nothing ends it earlier: the busy state
# normally arrives within a second; this covers a relay in its longest backoff.
CLAIM_LEASE_SECONDS = 120


class Message(BaseModel):
    # Unknown fields are ignored: a newer portal may add fields without breaking
    # an older connector (and vice versa). Each model's validator is built when it is
    # first used, not at import: a console command uses a few of them (decision 020).
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)


class TimeRange(Message):
    start: datetime
    end: datetime

    @model_validator(mode="after")
    def _ordered(self) -> TimeRange:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("times need an offset")
        if self.end <= self.start:
            raise ValueError("end must lie after start")
        return self


# ----------------------------------------------------------------- calendars (S1)


class CalendarInfo(Message):
    id: int
    name: str
    doctor: str
    time_zone: str
    slot_minutes: int
    published: bool


class CalendarList(Message):
    practice: str
    calendars: list[CalendarInfo]


# ----------------------------------------------------------------- change feed (portal → practice)

EventKind = Literal["booked", "cancelled", "moved"]
BookingStatus = Literal["active", "cancelled"]


class PatientData(Message):
    last_name: str
    first_name: str
    date_of_birth: date | None = None
    email: str = ""
    phone: str = ""
    insurance: str = ""


class BookingState(Message):
    """A booking as it is now (or was when its event was written)."""

    booking_id: int
    online_calendar_id: int
    status: BookingStatus
    start: datetime
    end: datetime
    visit_type: str = ""
    reason: str = ""
    patient: PatientData
    booked_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancelled_by: str | None = None
    # The number in the practice's change feed of the change this state results from
    # (0: not told). The connector skips feed events up to it: they are older than what
    # it has, e.g. the echo of its own earlier move.
    seq: int = Field(default=0, ge=0)


class BookingEvent(Message):
    seq: int = Field(ge=1)
    kind: EventKind
    at: datetime
    booking: BookingState


class FeedPage(Message):
    events: list[BookingEvent]
    # The highest sequence number the practice's feed has now: a connector whose
    # cursor is above it was pointed at another portal (or the portal was restored).
    last_seq: int
    more: bool = False


# ----------------------------------------------------------------- busy state (practice → portal)


ClaimId = Annotated[str, Field(min_length=8, max_length=MAX_CLAIM_ID_LENGTH, pattern=r"^[\w-]+$")]


class BusyDay(Message):
    """Everything the practice calendar holds of one online calendar on one local day.
    Replaces what the portal had for that day — resending is harmless.

    ``revision`` grows with every change of that day's state in the practice; the portal
    ignores a day older than the one it has (a delayed or repeated request arriving after
    a newer one), and ``0`` (an older connector) always applies. ``settles`` names the
    claims whose effect this state includes: their holds on this day end.

    ``bookable`` (S14): the bookable slots of the mapped column that day, one range per
    slot (free or noted, or holding an appointment — every slot of the grid that is not
    an annotation; what is occupied is in ``intervals``). An online calendar that takes
    its hours from the practice offers exactly their starts. ``None``: not sent (a
    connector from before) — the portal keeps what it had; ``[]``: no slots that day.
    The same ``revision`` orders both."""

    online_calendar_id: int = Field(ge=1, le=MAX_ID)
    day: date
    intervals: list[TimeRange] = Field(default_factory=list, max_length=MAX_INTERVALS_PER_DAY)
    revision: int = Field(default=0, ge=0, le=2**62)
    settles: list[ClaimId] = Field(default_factory=list, max_length=MAX_SETTLES_PER_DAY)
    bookable: list[TimeRange] | None = Field(default=None, max_length=MAX_BOOKABLE_PER_DAY)


class BusyBatch(Message):
    days: list[BusyDay] = Field(min_length=1, max_length=MAX_BATCH_DAYS)


class BusyBatchResult(Message):
    applied: int
    # Days not applied because the portal had a newer revision of them already.
    stale: int = 0


# ----------------------------------------------------------------- S9 check


class ClaimDay(Message):
    """Time of one online calendar on one local day that a practice action occupies."""

    online_calendar_id: int = Field(ge=1, le=MAX_ID)
    day: date
    intervals: list[TimeRange] = Field(min_length=1, max_length=MAX_INTERVALS_PER_DAY)


class Claim(Message):
    """A practice action wants to occupy ``days``. Refused as a whole if an active online
    booking the connector has not seen yet (booked after ``after_seq``, and not in
    ``known``: pulled in before its feed event came) holds any of that time; otherwise
    the portal holds all of it under ``claim_id`` — atomically with its bookings, so an
    online booking arriving a moment later is refused. Sending the same claim again
    changes nothing."""

    claim_id: ClaimId
    days: list[ClaimDay] = Field(min_length=1, max_length=MAX_CLAIM_DAYS)
    after_seq: int = Field(ge=0, le=MAX_ID)
    known: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(
        default_factory=list, max_length=MAX_FEED_PAGE
    )


class ClaimResult(Message):
    ok: bool
    claim_id: str = ""
    # Until when the hold lasts if nothing ends it earlier.
    expires_at: datetime | None = None


class ClaimReleased(Message):
    """The claim's holds are gone (or there were none: released twice, or never held)."""

    claim_id: str
    released: bool


class ClaimRefused(Message):
    code: Literal["online_booking_holds_time"] = "online_booking_holds_time"
    detail: str
    bookings: list[BookingState]


# ----------------------------------------------------------------- practice changes a booking (S10)


class PracticeCancel(Message):
    reason: str = Field(default="", max_length=300)


class PracticeMove(Message):
    start: datetime
    end: datetime

    @model_validator(mode="after")
    def _ordered(self) -> PracticeMove:
        if self.start.tzinfo is None or self.end <= self.start:
            raise ValueError("start needs an offset and must lie before end")
        return self


# ----------------------------------------------------------------- delivery receipts (P6)

Placement = Literal["slot", "additional_list"]


class Receipt(Message):
    booking_id: int = Field(ge=1, le=MAX_ID)
    placement: Placement


class Receipts(Message):
    receipts: list[Receipt] = Field(min_length=1, max_length=MAX_FEED_PAGE)


class ReceiptsResult(Message):
    delivered: int


class ErrorBody(Message):
    code: str
    detail: str
