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
POST   /bookings/{id}/cancel       ``PracticeCancel``   ``BookingState``
POST   /bookings/{id}/move         ``PracticeMove``     ``BookingState`` / 409
POST   /receipts                   ``Receipts``         ``ReceiptsResult``
=====  ==========================  ===================  ======================

Errors are ``{"code", "detail"}`` with a 4xx status (``ErrorBody``); a refused claim is
409 ``online_booking_holds_time`` with ``bookings`` (``ClaimRefused``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_BATCH_DAYS = 500
MAX_INTERVALS_PER_DAY = 300
MAX_FEED_PAGE = 500


class Message(BaseModel):
    # Unknown fields are ignored: a newer portal may add fields without breaking
    # an older connector (and vice versa).
    model_config = ConfigDict(extra="ignore", frozen=True)


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


class BusyDay(Message):
    """Everything the practice calendar holds of one online calendar on one local day.
    Replaces what the portal had for that day — resending is harmless."""

    online_calendar_id: int
    day: date
    intervals: list[TimeRange] = Field(default_factory=list, max_length=MAX_INTERVALS_PER_DAY)


class BusyBatch(Message):
    days: list[BusyDay] = Field(min_length=1, max_length=MAX_BATCH_DAYS)


class BusyBatchResult(Message):
    applied: int


# ----------------------------------------------------------------- S9 check


class Claim(Message):
    """The practice wants to occupy ``intervals`` of an online calendar. Refused if an
    active online booking the connector has not seen yet (booked after ``after_seq``)
    holds any of that time."""

    online_calendar_id: int
    intervals: list[TimeRange] = Field(min_length=1, max_length=MAX_INTERVALS_PER_DAY)
    after_seq: int = Field(ge=0)


class ClaimResult(Message):
    ok: bool


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
    booking_id: int
    placement: Placement


class Receipts(Message):
    receipts: list[Receipt] = Field(min_length=1, max_length=MAX_FEED_PAGE)


class ReceiptsResult(Message):
    delivered: int


class ErrorBody(Message):
    code: str
    detail: str
