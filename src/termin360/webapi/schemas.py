"""Schema building blocks every termin360 API uses."""

from __future__ import annotations

from datetime import date, time
from typing import Annotated, Any

from ninja import Schema
from pydantic import Field, WithJsonSchema, field_validator

# Outside these days date arithmetic (the day after, the week around) could overflow,
# and nobody books for the year 9999: such dates are refused with a 422, not a 500.
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2199, 12, 31)
ApiDay = Annotated[date, Field(ge=FIRST_DAY, le=LAST_DAY)]

# A database id (BIGINT): anything beyond is refused with a 422 before it reaches the
# database (SQLite cannot even bind 2**63; PostgreSQL would fail on it late).
MAX_ID = 2**63 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
# A count or position a client may send where the API sets no tighter limit.
MAX_SMALL = 2**31 - 1

# A wall-clock time of the practice's day, sent as "08:30:00" (read also as "08:30").
# JSON Schema's ``format: time`` demands a UTC offset, which a time of a weekly template
# or a reservation does not have, so the documents describe it by its pattern.
LocalTime = Annotated[
    time,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$",
            "example": "08:30:00",
        }
    ),
]


class Input(Schema):
    """Base of request bodies and query parameters: no text may carry a NUL character
    (PostgreSQL cannot store one, so it would fail late instead of being refused)."""

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        texts = value if isinstance(value, list) else [value]
        if any(isinstance(t, str) and "\x00" in t for t in texts):
            raise ValueError("text must not contain NUL characters")
        return value


class ErrorOut(Schema):
    code: str
    detail: str
