"""Request and response bodies of the practice API. Times go out in the calendar's local
zone with their UTC offset; times coming in may carry an offset or be local wall time."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from ninja import Schema
from pydantic import Field, model_validator

from termin360.webapi.schemas import FIRST_DAY as FIRST_DAY  # re-exported for the endpoints
from termin360.webapi.schemas import LAST_DAY as LAST_DAY
from termin360.webapi.schemas import ApiDay, Id, Input, LocalTime
from termin360.webapi.schemas import ErrorOut as ErrorOut

Insurance = Literal["gkv", "pkv", "self"]
SlotStateName = Literal["free", "note", "annotation", "appointment"]
# A day a practice calendar can hold (1900–2199).
CalendarDay = ApiDay
# The numbers of a calendar and of a column, as ``CalendarIn``/``ColumnIn`` allow them.
CalendarNumber = Annotated[int, Field(ge=1, le=9999)]
ColumnNumber = Annotated[int, Field(ge=1, le=999)]
# At most this many column numbers in one request (a calendar has far fewer).
MAX_COLUMNS = 100


class TokenIn(Input):
    username: str = Field(max_length=150)
    password: str = Field(max_length=200)


class TokenOut(Schema):
    token: str


class MeOut(Schema):
    username: str
    is_admin: bool


class LocationIn(Input):
    name: str = Field(min_length=1, max_length=120)
    address: str = Field("", max_length=250)
    time_zone: str = Field("Europe/Berlin", max_length=64)


class LocationOut(Schema):
    id: int
    name: str
    address: str
    time_zone: str


class ColumnIn(Input):
    number: int = Field(ge=1, le=999)
    name: str = Field(min_length=1, max_length=120)


class ColumnOut(Schema):
    number: int
    name: str


class CalendarIn(Input):
    number: int = Field(ge=1, le=9999)
    name: str = Field(min_length=1, max_length=120)
    location_id: Id


class CalendarOut(Schema):
    number: int
    name: str
    location_id: int
    columns: list[ColumnOut]


class TemplateRuleIO(Input):
    weekday: int = Field(ge=0, le=6, description="0 = Monday … 6 = Sunday")
    start: LocalTime
    end: LocalTime
    slot_minutes: int = Field(ge=5, le=240)

    @model_validator(mode="after")
    def _order(self) -> TemplateRuleIO:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class GridIn(Input):
    first_day: CalendarDay
    last_day: CalendarDay
    columns: list[ColumnNumber] | None = Field(
        None, max_length=MAX_COLUMNS, description="column numbers; all when omitted"
    )
    rebuild: bool = Field(
        False,
        description="false: only add missing slots; true: make the grid match the template "
        "(appointments on removed slots go to the additional list)",
    )


class GridOut(Schema):
    column: int
    created: int
    removed: int = 0
    moved_to_additional_list: int = 0


class SlotIn(Input):
    day: CalendarDay
    start: LocalTime
    minutes: int = Field(ge=5, le=240)


class PatientBrief(Schema):
    id: int
    last_name: str
    first_name: str
    date_of_birth: date


class AppointmentOut(Schema):
    id: int
    calendar: int
    column: int | None
    day: date
    start: datetime | None
    end: datetime | None
    slot_count: int
    in_additional_list: bool
    patient: PatientBrief | None
    text: str
    reason: str
    origin: str
    # The portal's booking number of an online booking's appointment (where a connector
    # is installed), else null.
    online_booking_id: int | None = None
    flagged: bool
    flag_reason: str


class SlotOut(Schema):
    id: int
    column: int
    start: datetime
    end: datetime
    state: SlotStateName
    reserved: bool
    note: str
    annotation: str
    appointment_id: int | None


class ColumnDayOut(Schema):
    number: int
    name: str
    slots: list[SlotOut]
    reservation_ids: list[int]


class DayOut(Schema):
    calendar: int
    day: date
    columns: list[ColumnDayOut]
    additional: list[AppointmentOut]


class SlotRef(Input):
    """A slot, either by id or by column and local start time."""

    slot_id: Id | None = None
    column: ColumnNumber | None = Field(None, description="column number (with start)")
    start: datetime | None = Field(None, description="slot start; local time if no offset")

    @model_validator(mode="after")
    def _one_way(self) -> SlotRef:
        if self.slot_id is None and (self.column is None or self.start is None):
            raise ValueError("give slot_id, or column and start")
        return self


class BookIn(SlotRef):
    calendar: CalendarNumber | None = Field(
        None, description="calendar number (with column and start)"
    )
    slot_count: int = Field(1, ge=1, le=24)
    patient_id: Id | None = None
    text: str = Field("", max_length=200)
    reason: str = Field("", max_length=200)


class AdditionalIn(Input):
    calendar: CalendarNumber
    day: CalendarDay
    patient_id: Id | None = None
    text: str = Field("", max_length=200)
    reason: str = Field("", max_length=200)
    start: datetime | None = None
    end: datetime | None = None


class AppointmentPatch(Input):
    patient_id: Id | None = None
    clear_patient: bool = False
    text: str | None = Field(None, max_length=200)
    reason: str | None = Field(None, max_length=200)
    clear_flag: bool = False


class MoveIn(Input):
    slot_id: Id | None = None
    column: ColumnNumber | None = None
    start: datetime | None = None
    to_additional_list: bool = False

    @model_validator(mode="after")
    def _target(self) -> MoveIn:
        if (
            not self.to_additional_list
            and self.slot_id is None
            and (self.column is None or self.start is None)
        ):
            raise ValueError("give slot_id, or column and start, or to_additional_list")
        return self


class AuditOut(Schema):
    at: datetime
    actor: str
    action: str
    summary: str


class TextIn(Input):
    text: str = Field("", max_length=200)


class ReservationIn(Input):
    columns: list[ColumnNumber] = Field(min_length=1, max_length=MAX_COLUMNS)
    first_day: CalendarDay
    last_day: CalendarDay
    start: LocalTime
    end: LocalTime
    reason: str = Field(min_length=1, max_length=200)


class ReservationOut(Schema):
    id: int
    calendar: int
    columns: list[int]
    first_day: date
    last_day: date
    start: LocalTime
    end: LocalTime
    reason: str
    # On creation: why the reservation may not be what was meant (``no_slots_in_range``:
    # its range holds no slot of its columns; it still blocks that time online).
    warning: str | None = None
    warning_code: str | None = None


class PatientIn(Input):
    location_id: Id
    last_name: str = Field(min_length=1, max_length=100)
    first_name: str = Field(min_length=1, max_length=100)
    date_of_birth: date
    phone: str = Field("", max_length=40)
    email: str = Field("", max_length=254)
    street: str = Field("", max_length=120)
    postcode: str = Field("", max_length=10)
    city: str = Field("", max_length=80)
    insurance: Insurance = "gkv"


class PatientPatch(Input):
    last_name: str | None = Field(None, min_length=1, max_length=100)
    first_name: str | None = Field(None, min_length=1, max_length=100)
    date_of_birth: date | None = None
    phone: str | None = Field(None, max_length=40)
    email: str | None = Field(None, max_length=254)
    street: str | None = Field(None, max_length=120)
    postcode: str | None = Field(None, max_length=10)
    city: str | None = Field(None, max_length=80)
    insurance: Insurance | None = None


class PatientOut(Schema):
    id: int
    location_id: int
    last_name: str
    first_name: str
    date_of_birth: date
    phone: str
    email: str
    street: str
    postcode: str
    city: str
    insurance: str
