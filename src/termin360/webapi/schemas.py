"""Schema building blocks every termin360 API uses."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from ninja import Schema
from pydantic import Field, field_validator

# Outside these days date arithmetic (the day after, the week around) could overflow,
# and nobody books for the year 9999: such dates are refused with a 422, not a 500.
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2199, 12, 31)
ApiDay = Annotated[date, Field(ge=FIRST_DAY, le=LAST_DAY)]


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
