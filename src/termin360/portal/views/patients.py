"""Patients' pages: search (P2), a doctor's free slots, booking and "my appointments" (P4).

Pages read through ``selectors`` and ``services.availability`` and change things only
through ``services.bookings``; errors of the services become messages on the page.
Every time is shown in the practice's own time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import get_language, get_language_info
from django.utils.translation import gettext as _

from termin360.core.errors import ApplicationError, Conflict, InvalidInput, NotFound
from termin360.portal import selectors
from termin360.portal.models import (
    Booking,
    Doctor,
    Insurance,
    OnlineCalendar,
    PatientProfile,
    VisitType,
)
from termin360.portal.services import availability, bookings
from termin360.portal.services.availability_cache import availability_of, with_version

PAGE_SIZE = 20
DAYS_SHOWN = 7


# --------------------------------------------------------------------------- formatting


def _zone(calendar: OnlineCalendar) -> ZoneInfo:
    return ZoneInfo(calendar.doctor.practice.time_zone)


def when(instant: datetime, tz: ZoneInfo) -> str:
    """A slot as people read it: "Mo., 30.11., 09:15" (English: "Mon 30 Nov, 09:15")."""
    local = instant.astimezone(tz)
    if (get_language() or "de").startswith("de"):
        return date_format(local, "D., d.m., H:i")
    return date_format(local, "D j M, H:i")


def day_label(day: date) -> str:
    if (get_language() or "de").startswith("de"):
        return date_format(day, "l, d.m.")
    return date_format(day, "l j M")


def clock(instant: datetime, tz: ZoneInfo) -> str:
    return instant.astimezone(tz).strftime("%H:%M")


def language_names(codes: str) -> list[str]:
    names = []
    for code in (c.strip() for c in codes.split(",")):
        if not code:
            continue
        try:
            names.append(str(get_language_info(code)["name_translated"]))
        except KeyError:
            names.append(code)
    return names


def address(doctor: Doctor) -> str:
    loc = doctor.location
    return ", ".join(p for p in (loc.street, f"{loc.postcode} {loc.city}".strip()) if p)


def _patient(request: HttpRequest) -> PatientProfile | None:
    """The logged-in user's patient profile (a practice admin has none)."""
    if request.user.pk is None:
        return None
    return PatientProfile.objects.filter(user_id=request.user.pk).first()


def book_url(calendar_id: int, start: datetime, visit_type_id: int) -> str:
    query = urlencode({"start": start.isoformat(), "visit_type": visit_type_id})
    return f"{reverse('portal:book', args=[calendar_id])}?{query}"


# --------------------------------------------------------------------------- search (P2)


def search(request: HttpRequest) -> HttpResponse:
    q = request.GET
    profile = _patient(request)
    insurance = q.get("insurance", "")
    if "insurance" not in q and profile is not None:
        insurance = profile.insurance
    if insurance not in Insurance.values:
        insurance = ""
    criteria = {
        "specialty": q.get("specialty", "").strip()[:80],
        "place": q.get("place", "").strip()[:80],
        "name": q.get("name", "").strip()[:100],
        "insurance": insurance,
    }
    try:
        page = max(1, int(q.get("page", "1")))
    except ValueError:
        page = 1
    total, found = selectors.search_doctors(
        known_to=bookings.existing_practice_ids(profile),
        specialty=criteria["specialty"],
        place=criteria["place"],
        name=criteria["name"],
        insurance=criteria["insurance"],
        offset=(page - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
    )
    results = []
    for r in found:
        tz = _zone(r.calendar)
        doctor_query = {"insurance": insurance} if insurance else {}
        if r.visit_type is not None:
            doctor_query["visit_type"] = str(r.visit_type.pk)
        results.append(
            {
                "doctor": r.doctor,
                "calendar": r.calendar,
                "address": address(r.doctor),
                "languages": language_names(r.doctor.languages),
                "visit_types": r.visit_types,
                "next_free": when(r.next_free.start, tz) if r.next_free else "",
                "next_free_type": r.visit_type,
                "next_free_url": (
                    book_url(r.calendar.pk, r.next_free.start, r.visit_type.pk)
                    if r.next_free and r.visit_type
                    else ""
                ),
                "doctor_url": reverse("portal:doctor", args=[r.calendar.pk])
                + (f"?{urlencode(doctor_query)}" if doctor_query else ""),
            }
        )
    base_query = {k: v for k, v in criteria.items() if v}
    pages = (total + PAGE_SIZE - 1) // PAGE_SIZE
    return render(
        request,
        "portal/patients/search.html",
        {
            "criteria": criteria,
            "specialties": selectors.specialties(),
            "insurances": Insurance.choices,
            "results": results,
            "total": total,
            "page": page,
            "pages": pages,
            "searched": bool(base_query) or "page" in q,
            # On the results of a search the form folds away (phones); not on the start
            # page, where a patient's own insurance alone fills the criteria.
            "folded": any(k in q for k in ("specialty", "place", "name", "insurance", "page")),
            "prev_url": f"?{urlencode({**base_query, 'page': page - 1})}" if page > 1 else "",
            "next_url": f"?{urlencode({**base_query, 'page': page + 1})}" if page < pages else "",
        },
    )


# --------------------------------------------------------------------------- doctor page


def _published_calendar(calendar_id: int) -> OnlineCalendar:
    calendar = (
        with_version(OnlineCalendar.objects.public())
        .select_related("doctor__practice", "doctor__location")
        .filter(pk=calendar_id)
        .first()
    )
    if calendar is None:
        raise Http404(_("This online calendar does not exist or is not published."))
    return calendar


def shown_week(calendar: OnlineCalendar, requested: str, today: date) -> tuple[date, date, date]:
    """(first, last day shown, last bookable day) of the days a page shows from
    ``requested`` (``?from=``, ISO; not before today, not past the horizon)."""
    try:
        first = max(today, date.fromisoformat(requested))
    except ValueError:
        first = today
    last_bookable = today + timedelta(days=calendar.horizon_days)
    first = min(first, last_bookable)
    return first, first + timedelta(days=DAYS_SHOWN - 1), last_bookable


def doctor(request: HttpRequest, calendar_id: int) -> HttpResponse:
    """The doctor's details and free slots of one week, for the chosen visit type."""
    calendar = _published_calendar(calendar_id)
    tz = _zone(calendar)
    patient = _patient(request)
    now = timezone.now()
    snapshot = availability_of([calendar], now=now)[calendar.pk]
    types = list(snapshot.visit_types)
    insurance = patient.insurance if patient else request.GET.get("insurance", "")
    if insurance in Insurance.values:
        types = [vt for vt in types if vt.allows(insurance)] or types
    chosen = next((vt for vt in types if str(vt.pk) == request.GET.get("visit_type")), None)
    # Without a choice, show the times of the type this patient would book: never one
    # for new or existing patients only, unless it is the only one she may book.
    if chosen is None and types:
        chosen = bookings.preferred_visit_type(patient, calendar, types)
    today = now.astimezone(tz).date()
    first, last, last_bookable = shown_week(calendar, request.GET.get("from", ""), today)
    days: list[dict[str, Any]] = []
    if chosen is not None:
        by_day = snapshot.free_by_day(first, last, chosen.duration_minutes, now)
        for offset in range(DAYS_SHOWN):
            day = first + timedelta(days=offset)
            days.append(
                {
                    "date": day,
                    "label": day_label(day),
                    "slots": [
                        {
                            "time": clock(s.start, tz),
                            "url": book_url(calendar.pk, s.start, chosen.pk),
                            "label": when(s.start, tz),
                            "within_deadline": bookings.online_deadline(calendar, s.start) < now,
                        }
                        for s in by_day.get(day, [])
                    ],
                }
            )

    def week_url(start: date) -> str:
        query = {"from": start.isoformat()}
        if chosen is not None:
            query["visit_type"] = str(chosen.pk)
        if insurance in Insurance.values and patient is None:
            query["insurance"] = insurance
        return f"?{urlencode(query)}"

    return render(
        request,
        "portal/patients/doctor.html",
        {
            "calendar": calendar,
            "doctor": calendar.doctor,
            "address": address(calendar.doctor),
            "doctor_languages": language_names(calendar.doctor.languages),
            "visit_types": types,
            "chosen": chosen,
            "days": days,
            "any_slot": any(d["slots"] for d in days),
            "any_within_deadline": any(s["within_deadline"] for d in days for s in d["slots"]),
            "deadline_hours": calendar.cancel_deadline_hours,
            "insurance": insurance if insurance in Insurance.values else "",
            "first": first,
            "last": last,
            "range_label": f"{day_label(first)} – {day_label(last)}",
            "prev_url": week_url(max(today, first - timedelta(days=DAYS_SHOWN)))
            if first > today
            else "",
            "next_url": week_url(last + timedelta(days=1)) if last < last_bookable else "",
        },
    )


# --------------------------------------------------------------------------- booking (P4)


@dataclass
class _BookingRequest:
    calendar: OnlineCalendar
    visit_type: VisitType
    start: datetime


def _booking_request(request: HttpRequest, calendar_id: int) -> _BookingRequest:
    calendar = _published_calendar(calendar_id)
    data = request.POST if request.method == "POST" else request.GET
    try:
        start = datetime.fromisoformat(data.get("start", ""))
        visit_type = calendar.visit_types.get(pk=int(data.get("visit_type", "")), active=True)
    except (ValueError, VisitType.DoesNotExist):
        raise Http404(_("This time or visit type cannot be booked here.")) from None
    if start.tzinfo is None:
        start = start.replace(tzinfo=_zone(calendar))
    return _BookingRequest(calendar, visit_type, start)


def book(request: HttpRequest, calendar_id: int) -> HttpResponse:
    """The summary of one slot, an optional reason and "book" (POST)."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    wish = _booking_request(request, calendar_id)
    calendar, tz = wish.calendar, _zone(wish.calendar)
    patient = _patient(request)
    deadline = bookings.online_deadline(calendar, wish.start)
    context: dict[str, Any] = {
        "calendar": calendar,
        "doctor": calendar.doctor,
        "address": address(calendar.doctor),
        "visit_type": wish.visit_type,
        "start": wish.start,
        "start_iso": wish.start.isoformat(),
        "when": when(wish.start, tz),
        "end": clock(wish.start + timedelta(minutes=wish.visit_type.duration_minutes), tz),
        "patient": patient,
        "unconfirmed": patient is not None and patient.email_confirmed_at is None,
        "reason": request.POST.get("reason", "")[:300],
        "error": "",
        "alternatives": [],
        "doctor_url": reverse("portal:doctor", args=[calendar.pk])
        + f"?{urlencode({'visit_type': wish.visit_type.pk})}",
        "change_type_url": reverse("portal:doctor", args=[calendar.pk])
        + f"?{urlencode({'from': wish.start.astimezone(tz).date().isoformat()})}#id_visit_type",
        "deadline": when(deadline, tz),
        "deadline_hours": calendar.cancel_deadline_hours,
        "within_deadline": timezone.now() > deadline,
        "phone": calendar.doctor.practice.phone,
    }
    taken_alternatives: list[str] | None = None
    if request.method == "POST" and patient is not None:
        try:
            bookings.book(
                patient=patient,
                calendar_id=calendar.pk,
                visit_type_id=wish.visit_type.pk,
                start=wish.start,
                reason=context["reason"],
            )
        except bookings.SlotGone as exc:
            taken_alternatives = list(exc.details.get("alternatives", []))
        except ApplicationError as exc:
            context["error"] = exc.message
        else:
            messages.success(
                request,
                _("Your appointment on %(when)s with %(doctor)s is booked.")
                % {"when": context["when"], "doctor": calendar.doctor.display_name},
            )
            return redirect("portal:my-bookings")
    elif request.method == "GET" and not availability.is_free(
        calendar, wish.start, wish.visit_type.duration_minutes
    ):
        found = availability.upcoming_free(
            calendar, wish.visit_type.duration_minutes, after=wish.start
        )
        taken_alternatives = [a.start.isoformat() for a in found]
    if taken_alternatives is not None:
        context["taken"] = True
        context["alternatives"] = [
            {
                "label": when(datetime.fromisoformat(a), tz),
                "url": book_url(calendar.pk, datetime.fromisoformat(a), wish.visit_type.pk),
            }
            for a in taken_alternatives
        ]
    status = 409 if taken_alternatives is not None and request.method == "POST" else 200
    if context["error"]:
        status = 422
    return render(request, "portal/patients/book.html", context, status=status)


# --------------------------------------------------------------------------- my appointments


BOOKING_RELATED = ("calendar__doctor__practice", "calendar__doctor__location", "visit_type")


def _my_bookings(patient: PatientProfile) -> list[Booking]:
    return list(
        Booking.objects.filter(patient=patient).select_related(*BOOKING_RELATED).order_by("start")
    )


def _booking_row(b: Booking, now: datetime) -> dict[str, Any]:
    tz = _zone(b.calendar)
    deadline = bookings.deadline_of(b)
    active = b.status == Booking.Status.ACTIVE
    return {
        "booking": b,
        "when": when(b.start, tz),
        "end": clock(b.end, tz),
        "doctor": b.calendar.doctor,
        "practice": b.calendar.doctor.practice,
        "address": address(b.calendar.doctor),
        "active": active,
        "upcoming": active and b.end > now,
        "cancellable": active and now <= deadline,
        "deadline": when(deadline, tz),
        "deadline_hours": b.calendar.cancel_deadline_hours,
        "delivered": b.delivered_at is not None,
    }


@login_required
def my_bookings(request: HttpRequest) -> HttpResponse:
    patient = _patient(request)
    now = timezone.now()
    rows = [_booking_row(b, now) for b in _my_bookings(patient)] if patient else []
    upcoming = [r for r in rows if r["upcoming"]]
    past = [r for r in reversed(rows) if not r["upcoming"]]
    return render(
        request,
        "portal/patients/my_bookings.html",
        {"patient": patient, "upcoming": upcoming, "past": past},
    )


@login_required
def cancel(request: HttpRequest, booking_id: int) -> HttpResponse:
    """GET: "really cancel?" with the appointment; POST: cancel it."""
    patient = _patient(request)
    if patient is None:
        raise Http404(_("There is no such booking."))
    if request.method != "POST":
        booking = (
            Booking.objects.filter(pk=booking_id, patient=patient, status=Booking.Status.ACTIVE)
            .select_related(*BOOKING_RELATED)
            .first()
        )
        if booking is None:
            raise Http404(_("There is no such booking."))
        return render(
            request,
            "portal/patients/cancel_confirm.html",
            {"r": _booking_row(booking, timezone.now())},
        )
    try:
        booking = bookings.cancel_by_patient(patient=patient, booking_id=booking_id)
    except NotFound as exc:
        raise Http404(exc.message) from None
    except (Conflict, InvalidInput) as exc:
        messages.error(request, exc.message)
    else:
        tz = _zone(booking.calendar)
        messages.success(
            request,
            _("Your appointment on %(when)s is cancelled.") % {"when": when(booking.start, tz)},
        )
    return redirect("portal:my-bookings")
