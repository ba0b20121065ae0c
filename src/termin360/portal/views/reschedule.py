"""P8, "Termin verschieben": a patient moves their booking to another free time of the
same online calendar and visit type, one week of free times at a time, then confirms.

The page reads through ``services.reschedule`` (the free times the booking may move to,
its deadline) and changes the booking only through ``reschedule.move_by_patient``; the
service's refusals become messages on the page. Times are shown in the practice's zone.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from termin360.core.errors import ApplicationError, Conflict, NotFound
from termin360.portal.models import Booking, PatientProfile
from termin360.portal.services import reschedule
from termin360.portal.views.patients import (
    DAYS_SHOWN,
    _patient,
    _zone,
    address,
    clock,
    day_label,
    shown_week,
)
from termin360.portal.views.patients import when as when_text


def _own_booking(request: HttpRequest, booking_id: int) -> tuple[PatientProfile, Booking]:
    """The logged-in patient's active booking; 404 for anything else (someone else's,
    cancelled, unknown: the id tells nothing)."""
    patient = _patient(request)
    if patient is None:
        raise Http404(_("There is no such booking."))
    try:
        booking = reschedule.own_active_booking(patient, booking_id)
    except (NotFound, Conflict) as exc:
        raise Http404(exc.message) from None
    return patient, booking


def _move_url(booking: Booking, start: datetime | None = None, first: date | None = None) -> str:
    url = reverse("portal:reschedule", args=[booking.pk])
    query = {}
    if first is not None:
        query["from"] = first.isoformat()
    if start is not None:
        query["start"] = start.isoformat()
    return f"{url}?{urlencode(query)}" if query else url


def _base_context(booking: Booking, now: datetime) -> dict[str, Any]:
    tz = _zone(booking.calendar)
    deadline = reschedule.deadline_of(booking)
    practice = booking.calendar.doctor.practice
    return {
        "booking": booking,
        "doctor": booking.calendar.doctor,
        "practice": practice,
        "practice_phone": practice.phone,
        "address": address(booking.calendar.doctor),
        "visit_type": booking.visit_type,
        "when": when_text(booking.start, tz),
        "end": clock(booking.end, tz),
        "deadline": when_text(deadline, tz),
        "deadline_passed": now > deadline,
        "my_bookings_url": reverse("portal:my-bookings"),
        "error": "",
        "taken": False,
        "alternatives": [],
    }


def _alternatives(booking: Booking, starts: list[str]) -> list[dict[str, str]]:
    tz = _zone(booking.calendar)
    out = []
    for iso in starts:
        start = datetime.fromisoformat(iso)
        out.append({"label": when_text(start, tz), "url": _move_url(booking, start)})
    return out


def _next_free(booking: Booking, after: datetime, now: datetime, count: int = 3) -> list[str]:
    """A few times from ``after`` on (within a week) that the booking may move to."""
    day = after.astimezone(_zone(booking.calendar)).date()
    by_day = reschedule.free_for_move_by_day(booking, day, day + timedelta(days=DAYS_SHOWN), now)
    found = [
        s.start.isoformat()
        for d in sorted(by_day)
        for s in by_day[d]
        if s.start >= after and s.start != booking.start
    ]
    return found[:count]


def _wished_start(request: HttpRequest, booking: Booking) -> datetime | None:
    data = request.POST if request.method == "POST" else request.GET
    raw = data.get("start", "")
    if not raw:
        return None
    try:
        start = datetime.fromisoformat(raw)
    except ValueError:
        raise Http404(_("This time cannot be chosen here.")) from None
    if start.tzinfo is None:
        start = start.replace(tzinfo=_zone(booking.calendar))
    return start


def _week(request: HttpRequest, booking: Booking, now: datetime) -> dict[str, Any]:
    """The free times of one week (``?from=``) the booking may move to, and the links to
    the weeks before and after."""
    calendar = booking.calendar
    tz = _zone(calendar)
    today = now.astimezone(tz).date()
    first, last, last_bookable = shown_week(calendar, request.GET.get("from", ""), today)
    by_day = reschedule.free_for_move_by_day(booking, first, last, now)
    days = []
    for offset in range(DAYS_SHOWN):
        day = first + timedelta(days=offset)
        days.append(
            {
                "label": day_label(day),
                "slots": [
                    {"time": clock(s.start, tz), "url": _move_url(booking, s.start, first)}
                    for s in by_day.get(day, [])
                    if s.start != booking.start
                ],
            }
        )
    earlier = max(today, first - timedelta(days=DAYS_SHOWN))
    return {
        "days": days,
        "any_slot": any(d["slots"] for d in days),
        "range_label": f"{day_label(first)} – {day_label(last)}",
        "prev_url": _move_url(booking, first=earlier) if first > today else "",
        "next_url": _move_url(booking, first=last + timedelta(days=1))
        if last < last_bookable
        else "",
    }


@login_required
def reschedule_booking(request: HttpRequest, booking_id: int) -> HttpResponse:
    """GET: the booking, its deadline and a week of free times; GET ``?start=``: the
    confirmation of one time; POST: move (then back to "my appointments")."""
    patient, booking = _own_booking(request, booking_id)
    now = timezone.now()
    context = _base_context(booking, now)
    tz = _zone(booking.calendar)
    start = _wished_start(request, booking)
    if request.method == "POST":
        if start is None:
            raise Http404(_("This time cannot be chosen here."))
        try:
            reschedule.move_by_patient(patient=patient, booking_id=booking.pk, start=start)
        except reschedule.SlotGone as exc:
            context["taken"] = True
            context["alternatives"] = _alternatives(
                booking, list(exc.details.get("alternatives", []))
            )
            return render(request, "portal/patients/reschedule.html", context, status=409)
        except NotFound as exc:
            raise Http404(exc.message) from None
        except ApplicationError as exc:
            if exc.code == "deadline_passed":
                context["deadline_passed"] = True
            else:
                context["error"] = exc.message
            status = 409 if isinstance(exc, Conflict) else 422
            return render(request, "portal/patients/reschedule.html", context, status=status)
        messages.success(
            request,
            _("Your appointment with %(doctor)s is moved to %(when)s.")
            % {"doctor": booking.calendar.doctor.display_name, "when": when_text(start, tz)},
        )
        return redirect("portal:my-bookings")
    if context["deadline_passed"]:
        return render(request, "portal/patients/reschedule.html", context)
    if start is not None:
        day = start.astimezone(tz).date()
        free = reschedule.free_for_move_by_day(booking, day, day, now).get(day, [])
        if any(s.start == start for s in free):
            context.update(
                {
                    "new_when": when_text(start, tz),
                    "new_end": clock(
                        start + timedelta(minutes=booking.visit_type.duration_minutes), tz
                    ),
                    "start_iso": start.isoformat(),
                    "back_url": _move_url(booking, first=day),
                }
            )
            return render(request, "portal/patients/reschedule_confirm.html", context)
        # Taken meanwhile (or never offered): say so, with the next times it may move to.
        context["taken"] = True
        context["alternatives"] = _alternatives(booking, _next_free(booking, start, now))
    context.update(_week(request, booking, now))
    return render(request, "portal/patients/reschedule.html", context)
