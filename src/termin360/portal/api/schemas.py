"""Request and response bodies of the portal API. Times go out in the practice's local
zone with their UTC offset (``2030-01-07T09:00:00+01:00``); a booking's start must come
in with an offset, so it is never ambiguous."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from ninja import Schema
from pydantic import AfterValidator, AwareDatetime, Field

from termin360.webapi.schemas import FIRST_DAY as FIRST_DAY  # re-exported for the endpoints
from termin360.webapi.schemas import LAST_DAY as LAST_DAY
from termin360.webapi.schemas import ApiDay, Input
from termin360.webapi.schemas import ErrorOut as ErrorOut

Insurance = Literal["gkv", "pkv", "self"]

# Ids are 64-bit in the database; a larger number can name nothing.
MAX_ID = 2**63 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


class SlotTakenOut(ErrorOut):
    alternatives: list[datetime]


# --------------------------------------------------------------------------- auth


class TokenIn(Input):
    email: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=200)


class TokenOut(Schema):
    token: str
    expires_at: datetime


# --------------------------------------------------------------------------- search


class SearchQuery(Input):
    specialty: str = Field("", max_length=80)
    place: str = Field("", max_length=80, description="city or (the start of a) postcode")
    name: str = Field("", max_length=120, description="words of the doctor's name")
    insurance: Insurance | Literal[""] = ""
    offset: int = Field(0, ge=0, le=100_000)
    limit: int = Field(20, ge=1, le=50)


class DoctorOut(Schema):
    id: int
    title: str
    first_name: str
    last_name: str
    display_name: str


class LocationOut(Schema):
    name: str
    street: str
    postcode: str
    city: str


class VisitTypeOut(Schema):
    id: int
    name: str
    duration_minutes: int
    new_patients: bool
    existing_patients: bool
    insurances: list[Insurance]


class SearchResultOut(Schema):
    calendar_id: int
    doctor: DoctorOut
    specialty: str
    languages: list[str]
    practice: str
    location: LocationOut
    visit_types: list[VisitTypeOut]
    next_free_slot: datetime | None = Field(
        description="local time of the first free slot of the shortest visit type"
    )


class SearchOut(Schema):
    total: int
    offset: int
    limit: int
    results: list[SearchResultOut]


class CalendarOut(Schema):
    id: int
    name: str
    doctor: DoctorOut
    specialty: str
    languages: list[str]
    practice: str
    location: LocationOut
    time_zone: str
    slot_minutes: int
    horizon_days: int
    lead_minutes: int
    cancel_deadline_hours: int
    visit_types: list[VisitTypeOut]


class SlotsQuery(Input):
    from_: ApiDay | None = Field(None, alias="from", description="first day (default: today)")
    days: int = Field(7, ge=1, le=14)
    visit_type: Id | None = Field(None, description="default: the shortest visit type")


class SlotOut(Schema):
    start: datetime
    end: datetime


class DayOut(Schema):
    day: date
    slots: list[SlotOut]


class SlotsOut(Schema):
    calendar_id: int
    visit_type_id: int
    duration_minutes: int
    days: list[DayOut]


# --------------------------------------------------------------------------- bookings


def _sensible_day(value: datetime) -> datetime:
    if not FIRST_DAY <= value.date() <= LAST_DAY:
        raise ValueError(f"the day must lie between {FIRST_DAY} and {LAST_DAY}")
    return value


BookingStart = Annotated[
    AwareDatetime,
    Field(description="with its UTC offset, e.g. 2030-01-07T09:00+01:00"),
    AfterValidator(_sensible_day),
]


class BookingIn(Input):
    calendar_id: Id
    visit_type_id: Id
    start: BookingStart
    reason: str = Field("", max_length=300)


class BookingMoveIn(Input):
    """P8: the new start of one's own booking (same calendar, same visit type)."""

    start: BookingStart


class BookingOut(Schema):
    id: int
    status: Literal["active", "cancelled"]
    calendar_id: int
    calendar_name: str
    doctor: str
    practice: str
    location: LocationOut
    visit_type_id: int
    visit_type: str
    start: datetime
    end: datetime
    reason: str
    cancellable_until: datetime
    cancelled_at: datetime | None
    cancelled_by: str | None
    cancel_reason: str
    delivered: bool = Field(description="P6: the booking has reached the practice calendar")
