"""C8: the version of what the day and week views show, for open views to poll."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core import signing
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema
from ninja.security import APIKeyHeader

from termin360.core.errors import InvalidInput, NotFound
from termin360.practice import selectors
from termin360.practice.api.auth_schemes import STAFF_AUTH
from termin360.practice.api.schemas import CalendarDay, CalendarNumber
from termin360.webapi.responses import errors

LIVE_SALT = "termin360.practice.live-view"
LIVE_MAX_AGE = 12 * 3600  # a working day; the page gets a new one with every load
LIVE_HEADER = "X-Termin360-Live"


def live_token(user_id: int, calendar_number: int) -> str:
    """What an open view sends instead of its session: signed, naming the staff member and
    the calendar. It opens nothing but this version number (no patient data), so checking
    its signature is enough — no session or user lookup per poll, the most of a poll's cost
    (decision 014)."""
    return signing.dumps({"u": user_id, "c": calendar_number}, salt=LIVE_SALT, compress=False)


class LiveToken(APIKeyHeader):
    param_name = LIVE_HEADER

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        if not key:
            return None
        try:
            data = signing.loads(key, salt=LIVE_SALT, max_age=LIVE_MAX_AGE)
        except signing.BadSignature:
            return None
        return data if isinstance(data, dict) and "c" in data else None


router = Router(tags=["calendar"])

MAX_DAYS = 42  # a week view with room to spare; longer ranges are not a view


class VersionRange(Schema):
    first_day: CalendarDay
    last_day: CalendarDay | None = None


class ViewVersionOut(Schema):
    calendar: int
    first_day: date
    last_day: date
    version: int


@router.get(
    "/calendars/{number}/version",
    response={200: ViewVersionOut, **errors(401, 404, 422)},
    auth=[LiveToken(), *STAFF_AUTH],
)
def get_view_version(
    request: HttpRequest, number: CalendarNumber, period: Query[VersionRange]
) -> ViewVersionOut:
    """A number that grows whenever anything the day or week view of these days shows
    changes (appointments, slot states, reservations, the additional list). An open view
    asks about once a second and re-fetches its content only when the number changed.
    ``last_day`` defaults to ``first_day``."""
    granted = getattr(request, "auth", None)  # set by ninja: what the auth returned
    if isinstance(granted, dict) and granted.get("c") != number:
        raise NotFound(_("There is no calendar number %(n)s.") % {"n": number})
    last_day = period.last_day or period.first_day
    if not 0 <= (last_day - period.first_day).days < MAX_DAYS:
        raise InvalidInput(
            _("The last day must lie 0 to %(n)s days after the first.") % {"n": MAX_DAYS - 1},
            code="bad_range",
        )
    version = selectors.view_version(number, period.first_day, last_day)
    if version is None:
        raise NotFound(_("There is no calendar number %(n)s.") % {"n": number})
    return ViewVersionOut(
        calendar=number, first_day=period.first_day, last_day=last_day, version=version
    )
