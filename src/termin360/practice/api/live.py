"""C8: the version of what the day and week views show, for open views to poll."""

from __future__ import annotations

from datetime import date

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema

from termin360.core.errors import InvalidInput, NotFound
from termin360.practice import selectors
from termin360.practice.api.schemas import CalendarDay

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


@router.get("/calendars/{number}/version", response=ViewVersionOut)
def get_view_version(
    request: HttpRequest, number: int, period: Query[VersionRange]
) -> ViewVersionOut:
    """A number that grows whenever anything the day or week view of these days shows
    changes (appointments, slot states, reservations, the additional list). An open view
    asks about once a second and re-fetches its content only when the number changed.
    ``last_day`` defaults to ``first_day``."""
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
