"""Patients' waiting list pages (P9): my entries (and leaving), joining, and the page
behind the mailed offer link that takes the time in one step.

Everything is decided in ``services.waitlist``; errors of the service become messages
(and status codes) on the page. Times are shown in the practice's zone.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from termin360.core.errors import ApplicationError, NotFound
from termin360.portal.models import (
    Booking,
    OnlineCalendar,
    PatientProfile,
    VisitType,
    WaitlistEntry,
    WaitlistOffer,
)
from termin360.portal.services import availability, bookings, reschedule, waitlist
from termin360.portal.views.patients import address, when

DEFAULT_WEEKS_AHEAD = 2


def _patient(request: HttpRequest) -> PatientProfile:
    """The logged-in patient; a practice admin (no profile) has no waiting list."""
    patient = (
        PatientProfile.objects.filter(user_id=request.user.pk).first()
        if request.user.pk is not None
        else None
    )
    if patient is None:
        raise Http404(_("This account is not a patient account."))
    return patient


def _zone(calendar: OnlineCalendar) -> ZoneInfo:
    return ZoneInfo(calendar.doctor.practice.time_zone)


def _int(value: str | None) -> int | None:
    try:
        return int(value or "")
    except ValueError:
        return None


def _weekday_names(text: str) -> list[str]:
    return [str(WEEKDAYS[int(d)]) for d in text.split(",") if d]


# --------------------------------------------------------------------------- my entries


def _entry_row(entry: WaitlistEntry) -> dict[str, Any]:
    tz = _zone(entry.calendar)
    return {
        "entry": entry,
        "doctor": entry.calendar.doctor,
        "practice": entry.calendar.doctor.practice,
        "address": address(entry.calendar.doctor),
        "visit_type": entry.visit_type,
        "booking_when": when(entry.booking.start, tz) if entry.booking else "",
        "before": entry.before.astimezone(tz).date(),
        "weekdays": _weekday_names(entry.weekdays),
        "day_part": entry.get_day_part_display(),
    }


@login_required
def my_waitlist(request: HttpRequest) -> HttpResponse:
    """GET: the patient's entries; ``?leave=<id>`` asks to confirm leaving one.
    POST ``entry=<id>``: leave it."""
    patient = _patient(request)
    if request.method == "POST":
        entry_id = _int(request.POST.get("entry"))
        try:
            if entry_id is None:
                raise NotFound(_("There is no such waiting list entry."))
            waitlist.leave(patient=patient, entry_id=entry_id)
        except NotFound as exc:
            raise Http404(exc.message) from None
        messages.success(request, _("You have left the waiting list."))
        return redirect("portal:waitlist")
    rows = [_entry_row(e) for e in waitlist.entries_of(patient)]
    leave_id = _int(request.GET.get("leave"))
    leaving = next((r for r in rows if r["entry"].pk == leave_id), None)
    return render(
        request,
        "portal/patients/waitlist.html",
        {"rows": rows, "leaving": leaving},
    )


# --------------------------------------------------------------------------- joining


class JoinForm(forms.Form):
    """What a patient may choose; the service checks it against the calendar."""

    weekdays = forms.TypedMultipleChoiceField(
        label=gettext_lazy("Only on these weekdays (none chosen: every day)"),
        choices=[(d, WEEKDAYS[d]) for d in range(7)],
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    day_part = forms.ChoiceField(
        label=gettext_lazy("Time of day"),
        choices=WaitlistEntry.DayPart.choices,
        initial=WaitlistEntry.DayPart.ANY,
        widget=forms.RadioSelect,
    )
    before = forms.DateField(
        label=gettext_lazy("Free times before"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )


class _Wish:
    """What the page is about: an earlier time than a booking, or any time of a calendar."""

    def __init__(
        self,
        calendar: OnlineCalendar,
        visit_type: VisitType,
        booking: Booking | None,
    ) -> None:
        self.calendar, self.visit_type, self.booking = calendar, visit_type, booking


def _wish(request: HttpRequest, patient: PatientProfile) -> _Wish:
    data = request.POST if request.method == "POST" else request.GET
    booking_id = _int(data.get("booking"))
    try:
        if booking_id is not None:
            booking = reschedule.own_active_booking(patient, booking_id)
            return _Wish(booking.calendar, booking.visit_type, booking)
        calendar_id, visit_type_id = _int(data.get("calendar")), _int(data.get("visit_type"))
        if calendar_id is None or visit_type_id is None:
            raise NotFound(_("This online calendar does not exist or is not published."))
        calendar = bookings._calendar(calendar_id)
        return _Wish(calendar, bookings._visit_type(calendar, visit_type_id), None)
    except NotFound as exc:
        raise Http404(exc.message) from None


def _date_value(form: JoinForm) -> str:
    value = form["before"].value()
    return value.isoformat() if isinstance(value, date) else str(value or "")


@login_required
def join(request: HttpRequest) -> HttpResponse:
    """GET: the form (``?booking=<id>`` or ``?calendar=<id>&visit_type=<id>``); POST: join."""
    patient = _patient(request)
    error = ""
    status = 200
    try:
        wish = _wish(request, patient)
    except ApplicationError as exc:  # e.g. a cancelled booking
        return render(
            request,
            "portal/patients/waitlist_join.html",
            {"error": exc.message},
            status=exc.status,
        )
    calendar, tz = wish.calendar, _zone(wish.calendar)
    today = timezone.now().astimezone(tz).date()
    form = JoinForm(
        request.POST if request.method == "POST" else None,
        initial={"before": today + timedelta(weeks=DEFAULT_WEEKS_AHEAD)},
    )
    if not calendar.waitlist_enabled:
        error = _("This practice does not offer a waiting list for this calendar.")
        status = 403
    elif request.method == "POST":
        if form.is_valid():
            try:
                waitlist.join(
                    patient=patient,
                    booking_id=wish.booking.pk if wish.booking else None,
                    calendar_id=calendar.pk,
                    visit_type_id=wish.visit_type.pk,
                    before_date=form.cleaned_data["before"],
                    weekdays=form.cleaned_data["weekdays"],
                    day_part=form.cleaned_data["day_part"],
                )
            except ApplicationError as exc:
                error, status = exc.message, exc.status
            else:
                messages.success(
                    request,
                    _("You are on the waiting list. We will e-mail you when a time frees up."),
                )
                return redirect("portal:waitlist")
        else:
            status = 422
    last_day: date = today + timedelta(days=calendar.horizon_days + 1)
    context = {
        "form": form,
        "calendar": calendar,
        "doctor": calendar.doctor,
        "address": address(calendar.doctor),
        "visit_type": wish.visit_type,
        "booking": wish.booking,
        "booking_when": when(wish.booking.start, tz) if wish.booking else "",
        "before_value": _date_value(form),
        "min_date": (today + timedelta(days=1)).isoformat(),
        "max_date": last_day.isoformat(),
        "error": error,
        "unconfirmed": patient.email_confirmed_at is None,
        "back_url": reverse("portal:my-bookings")
        if wish.booking
        else reverse("portal:doctor", args=[calendar.pk]),
    }
    return render(request, "portal/patients/waitlist_join.html", context, status=status)


# --------------------------------------------------------------------------- the offer


def _offer_context(offer: WaitlistOffer) -> dict[str, Any]:
    entry = offer.entry
    calendar = entry.calendar
    tz = _zone(calendar)
    return {
        "offer": offer,
        "doctor": calendar.doctor,
        "practice": calendar.doctor.practice,
        "address": address(calendar.doctor),
        "visit_type": entry.visit_type,
        "when": when(offer.start, tz),
        "end": offer.end.astimezone(tz).strftime("%H:%M"),
        "valid_until": when(offer.expires_at, tz),
        "booking_when": when(entry.booking.start, tz) if entry.booking else "",
        "moves_booking": entry.booking_id is not None,
        "doctor_url": reverse("portal:doctor", args=[calendar.pk]),
    }


def _still_free(offer: WaitlistOffer) -> bool:
    entry = offer.entry
    return availability.is_free(
        entry.calendar,
        offer.start,
        entry.visit_type.duration_minutes,
        exclude_booking=entry.booking_id,
    )


@login_required
def offer(request: HttpRequest, token: str) -> HttpResponse:
    """The mailed link: the offered time and one button that takes it. Only the entry's
    patient sees it (404 for anyone else); 410 when it has expired or ended, 409 when
    someone else was faster."""
    patient = _patient(request)
    try:
        found = waitlist.offer_of(patient, token)
    except NotFound as exc:
        raise Http404(exc.message) from None
    context = _offer_context(found)
    template = "portal/patients/waitlist_offer.html"
    if request.method == "POST":
        try:
            booking = waitlist.take_offer(patient=patient, token=token)
        except ApplicationError as exc:
            context.update(refused=exc.message, code=exc.code)
            return render(request, template, context, status=exc.status)
        tz = _zone(booking.calendar)
        messages.success(
            request,
            _("Your appointment on %(when)s with %(doctor)s is booked.")
            % {"when": when(booking.start, tz), "doctor": booking.calendar.doctor.display_name},
        )
        return redirect("portal:my-bookings")
    try:
        waitlist.check_offer(found, timezone.now())
    except waitlist.OfferGone as exc:
        context.update(refused=exc.message, code=exc.code)
        return render(request, template, context, status=exc.status)
    if not _still_free(found):
        context.update(
            refused=_("Someone else was faster: this time has just been booked."),
            code="offer_taken",
        )
        return render(request, template, context, status=409)
    return render(request, template, context)


__all__ = ["join", "my_waitlist", "offer"]
