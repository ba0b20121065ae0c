"""The exception tree of termin360.

    ApplicationError            anything a user can cause and should be told about
    ├── NotFound                an id that does not exist (or is not yours)
    ├── Conflict                the request collides with the current state
    │   └── SlotTaken           the time is already occupied
    ├── InvalidInput            the request itself is wrong (times outside the grid, …)
    └── PermissionDenied        the user may not do this

Each error carries a stable machine ``code`` and a human ``message`` (already
translated where the caller had a language). Web layers map the classes to
HTTP status codes; nothing else needs to know about HTTP.
"""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    status = 400
    code = "error"

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details


class NotFound(ApplicationError):
    status = 404
    code = "not_found"


class Conflict(ApplicationError):
    status = 409
    code = "conflict"


class SlotTaken(Conflict):
    code = "slot_taken"


class InvalidInput(ApplicationError):
    status = 422
    code = "invalid"


class PermissionDenied(ApplicationError):
    status = 403
    code = "forbidden"
