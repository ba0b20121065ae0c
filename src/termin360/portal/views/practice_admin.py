"""The practice's pages (P1): sign-up, dashboard, locations, doctors, each doctor's online
calendar, the online bookings, API keys for the connector, settings.

Every page but sign-up needs a logged-in practice admin and sees only that admin's
practice: objects are always looked up *within* the practice, so another practice's
id is a plain 404, not a hint that it exists. Writes go through ``services``; an
``ApplicationError`` they raise is shown next to the form, with the input kept.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, Concatenate, ParamSpec

from django import forms
from django.contrib import messages
from django.contrib.auth import authenticate, login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from termin360.core.errors import ApplicationError
from termin360.portal import forms_practice as f
from termin360.portal import selectors
from termin360.portal.models import (
    Booking,
    Doctor,
    Insurance,
    OnlineCalendar,
    Practice,
    PracticeAdmin,
)
from termin360.portal.services import bookings, practices
from termin360.portal.services import practice_setup_extra as extra
from termin360.portal.services.mail import portal_url

P = ParamSpec("P")
PracticeView = Callable[Concatenate[HttpRequest, Practice, P], HttpResponse]

UPCOMING_ON_DASHBOARD = 10
BOOKINGS_PER_PAGE = 50


def practice_admin_required(view: PracticeView[P]) -> Callable[..., HttpResponse]:
    """Anonymous → the login page; logged in but not a practice admin → 403.
    The view gets the admin's practice as its second argument."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: P.args, **kwargs: P.kwargs) -> HttpResponse:
        user = request.user
        admin = (
            PracticeAdmin.objects.select_related("practice").filter(user=user).first()
            if user.is_authenticated
            else None
        )
        if admin is None:
            raise PermissionDenied(_("This page is for practice administrators."))
        return view(request, admin.practice, *args, **kwargs)

    return wrapper


def _show_error(form: forms.Form, exc: ApplicationError, field: str | None = None) -> None:
    form.add_error(field, exc.message)


def _doctor(practice: Practice, doctor_id: int) -> Doctor:
    return get_object_or_404(
        Doctor.objects.select_related("location", "calendar"), pk=doctor_id, practice=practice
    )


def _calendar(practice: Practice, calendar_id: int) -> OnlineCalendar:
    return get_object_or_404(
        OnlineCalendar.objects.select_related("doctor__location", "doctor__practice"),
        pk=calendar_id,
        doctor__practice=practice,
    )


def _practice_bookings(practice: Practice) -> Any:
    return Booking.objects.filter(calendar__doctor__practice=practice).select_related(
        "calendar__doctor", "visit_type"
    )


# --- sign-up and dashboard ---------------------------------------------------------------


def signup(request: HttpRequest) -> HttpResponse:
    """A new practice and its first admin; the admin is logged in right away."""
    if (
        request.user.is_authenticated
        and PracticeAdmin.objects.filter(user_id=request.user.pk).exists()
    ):
        return redirect("portal:practice-dashboard")
    form = f.SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            practices.signup_practice(
                name=data["name"],
                email=data["email"],
                admin_email=data["admin_email"],
                password=data["password"],
            )
        except ApplicationError as exc:
            field = {"exists": "admin_email", "weak_password": "password"}.get(exc.code)
            _show_error(form, exc, field)
        else:
            user = authenticate(
                request, username=data["admin_email"].strip().lower(), password=data["password"]
            )
            if user is not None:
                login(request, user)
            messages.success(request, _("Welcome! Now add your first location."))
            return redirect("portal:practice-locations")
    return render(request, "portal/practice/signup.html", {"form": form})


@practice_admin_required
def dashboard(request: HttpRequest, practice: Practice) -> HttpResponse:
    doctors = practice.doctors.select_related("location", "calendar").order_by(
        "last_name", "first_name"
    )
    upcoming = _practice_bookings(practice).filter(
        status=Booking.Status.ACTIVE, end__gte=timezone.now()
    )[:UPCOMING_ON_DASHBOARD]
    return render(
        request,
        "portal/practice/dashboard.html",
        {
            "practice": practice,
            "locations": practice.locations.order_by("name"),
            "doctors": doctors,
            "upcoming": upcoming,
        },
    )


# --- locations and doctors ---------------------------------------------------------------


@practice_admin_required
def locations(request: HttpRequest, practice: Practice) -> HttpResponse:
    form = f.LocationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            practices.add_location(practice=practice, **form.cleaned_data)
        except ApplicationError as exc:
            _show_error(form, exc)
        else:
            messages.success(request, _("The location was added."))
            return redirect("portal:practice-locations")
    return render(
        request,
        "portal/practice/locations.html",
        {"practice": practice, "locations": practice.locations.order_by("name"), "form": form},
    )


@practice_admin_required
def doctor_add(request: HttpRequest, practice: Practice) -> HttpResponse:
    form = f.DoctorForm(request.POST or None, practice=practice)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            doctor = practices.add_doctor(
                practice=practice,
                location_id=data["location"].pk,
                title=data["title"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                specialty=data["specialty"],
                languages=extra.clean_languages(data["languages"]),
            )
        except ApplicationError as exc:
            _show_error(form, exc, "languages" if exc.code == "languages" else None)
        else:
            messages.success(request, _("The doctor was added. Now set up the online calendar."))
            return redirect("portal:practice-calendar", calendar_id=doctor.calendar.pk)
    return render(
        request,
        "portal/practice/doctor_form.html",
        {"practice": practice, "form": form, "has_locations": practice.locations.exists()},
    )


@practice_admin_required
def doctor_edit(request: HttpRequest, practice: Practice, doctor_id: int) -> HttpResponse:
    doctor = _doctor(practice, doctor_id)
    initial = {
        "title": doctor.title,
        "first_name": doctor.first_name,
        "last_name": doctor.last_name,
        "specialty": doctor.specialty,
        "languages": doctor.languages.replace(",", ", "),
        "location": doctor.location,
    }
    form = f.DoctorForm(request.POST or None, practice=practice, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            extra.update_doctor(
                practice=practice,
                doctor_id=doctor.pk,
                location_id=data["location"].pk,
                title=data["title"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                specialty=data["specialty"],
                languages=data["languages"],
            )
        except ApplicationError as exc:
            _show_error(form, exc, "languages" if exc.code == "languages" else None)
        else:
            messages.success(request, _("The doctor's details were saved."))
            return redirect("portal:practice-calendar", calendar_id=doctor.calendar.pk)
    return render(
        request,
        "portal/practice/doctor_form.html",
        {"practice": practice, "form": form, "doctor": doctor, "has_locations": True},
    )


# --- one doctor's online calendar --------------------------------------------------------


def _calendar_page(
    request: HttpRequest,
    calendar: OnlineCalendar,
    *,
    rules_form: f.CalendarRulesForm | None = None,
    hours_formset: Any = None,
    visit_type_form: f.VisitTypeForm | None = None,
    absence_form: f.AbsenceForm | None = None,
    publish_error: str = "",
) -> HttpResponse:
    """The calendar's page with all its forms; a form that failed comes in bound."""
    if rules_form is None:
        rules_form = f.CalendarRulesForm(
            initial={
                "slot_minutes": calendar.slot_minutes,
                "horizon_days": calendar.horizon_days,
                "lead_minutes": calendar.lead_minutes,
                "cancel_deadline_hours": calendar.cancel_deadline_hours,
                "default_visit_type": calendar.default_visit_type_id,
                "waitlist_enabled": calendar.waitlist_enabled,
            },
            visit_types=list(calendar.visit_types.all()),
        )
    if hours_formset is None:
        hours_formset = f.HoursFormSet(
            initial=[
                {"weekday": h.weekday, "start": h.start, "end": h.end} for h in calendar.hours.all()
            ],
            prefix="hours",
        )
    insurance_names = dict(Insurance.choices)
    visit_types = [
        (vt, [insurance_names.get(i, i) for i in vt.insurances.split(",")])
        for vt in calendar.visit_types.all()
    ]
    weekday_names = dict(f.WEEKDAYS)
    return render(
        request,
        "portal/practice/calendar.html",
        {
            "practice": calendar.doctor.practice,
            "calendar": calendar,
            "doctor": calendar.doctor,
            "rules_form": rules_form,
            "hours_formset": hours_formset,
            "hours": [(weekday_names[h.weekday], h) for h in calendar.hours.all()],
            "visit_types": visit_types,
            "visit_type_form": visit_type_form or f.VisitTypeForm(),
            "absences": calendar.absences.order_by("first_day"),
            "absence_form": absence_form or f.AbsenceForm(),
            "publish_error": publish_error,
            "hours_check": selectors.practice_hours_check(calendar),
        },
    )


@practice_admin_required
def calendar_page(request: HttpRequest, practice: Practice, calendar_id: int) -> HttpResponse:
    return _calendar_page(request, _calendar(practice, calendar_id))


@require_POST
@practice_admin_required
def calendar_rules(request: HttpRequest, practice: Practice, calendar_id: int) -> HttpResponse:
    calendar = _calendar(practice, calendar_id)
    form = f.CalendarRulesForm(request.POST, visit_types=list(calendar.visit_types.all()))
    if form.is_valid():
        data = dict(form.cleaned_data)
        options = {k: data.pop(k) for k in ("default_visit_type", "waitlist_enabled")}
        try:
            with transaction.atomic():
                practices.set_calendar_rules(calendar=calendar, **data)
                extra.set_calendar_options(
                    calendar=calendar,
                    default_visit_type_id=options["default_visit_type"],
                    waitlist_enabled=options["waitlist_enabled"],
                )
        except ApplicationError as exc:
            _show_error(form, exc)
        else:
            messages.success(request, _("The booking rules were saved."))
            return redirect("portal:practice-calendar", calendar_id=calendar.pk)
    return _calendar_page(request, calendar, rules_form=form)


@require_POST
@practice_admin_required
def calendar_hours(request: HttpRequest, practice: Practice, calendar_id: int) -> HttpResponse:
    calendar = _calendar(practice, calendar_id)
    formset = f.HoursFormSet(request.POST, prefix="hours")
    if formset.is_valid():
        rows = [row for form in formset.forms if (row := form.row()) is not None]
        try:
            practices.set_weekly_hours(calendar=calendar, hours=rows)
        except ApplicationError as exc:
            formset.non_form_errors().append(exc.message)
        else:
            messages.success(request, _("The bookable hours were saved."))
            return redirect("portal:practice-calendar", calendar_id=calendar.pk)
    return _calendar_page(request, calendar, hours_formset=formset)


@require_POST
@practice_admin_required
def calendar_hours_source(
    request: HttpRequest, practice: Practice, calendar_id: int
) -> HttpResponse:
    """S14: hours typed here, or the bookable slots of the practice calendar."""
    calendar = _calendar(practice, calendar_id)
    source = request.POST.get("hours_source", "")
    try:
        extra.set_hours_source(calendar=calendar, source=source)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("The calendar now offers the bookable slots of the practice calendar.")
            if calendar.hours_from_practice
            else _("The calendar now offers the weekly hours typed here."),
        )
    return redirect("portal:practice-calendar", calendar_id=calendar.pk)


@require_POST
@practice_admin_required
def visit_type_add(request: HttpRequest, practice: Practice, calendar_id: int) -> HttpResponse:
    calendar = _calendar(practice, calendar_id)
    form = f.VisitTypeForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            practices.add_visit_type(
                calendar=calendar,
                name=data["name"],
                duration_minutes=data["duration_minutes"],
                new_patients=data["new_patients"],
                existing_patients=data["existing_patients"],
                insurances=tuple(data["insurances"]),
            )
        except ApplicationError as exc:
            _show_error(form, exc)
        else:
            messages.success(request, _("The visit type was added."))
            return redirect("portal:practice-calendar", calendar_id=calendar.pk)
    return _calendar_page(request, calendar, visit_type_form=form)


@require_POST
@practice_admin_required
def visit_type_active(
    request: HttpRequest, practice: Practice, calendar_id: int, visit_type_id: int
) -> HttpResponse:
    calendar = _calendar(practice, calendar_id)
    get_object_or_404(calendar.visit_types, pk=visit_type_id)
    active = request.POST.get("active") == "1"
    extra.set_visit_type_active(practice=practice, visit_type_id=visit_type_id, active=active)
    messages.success(
        request, _("The visit type is offered again.") if active else _("The visit type is off.")
    )
    return redirect("portal:practice-calendar", calendar_id=calendar.pk)


@require_POST
@practice_admin_required
def absence_add(request: HttpRequest, practice: Practice, calendar_id: int) -> HttpResponse:
    calendar = _calendar(practice, calendar_id)
    form = f.AbsenceForm(request.POST)
    if form.is_valid():
        try:
            practices.add_absence(calendar=calendar, **form.cleaned_data)
        except ApplicationError as exc:
            _show_error(form, exc)
        else:
            messages.success(request, _("The absence was added."))
            return redirect("portal:practice-calendar", calendar_id=calendar.pk)
    return _calendar_page(request, calendar, absence_form=form)


@require_POST
@practice_admin_required
def absence_remove(
    request: HttpRequest, practice: Practice, calendar_id: int, absence_id: int
) -> HttpResponse:
    calendar = _calendar(practice, calendar_id)
    get_object_or_404(calendar.absences, pk=absence_id)
    extra.remove_absence(practice=practice, absence_id=absence_id)
    messages.success(request, _("The absence was removed."))
    return redirect("portal:practice-calendar", calendar_id=calendar.pk)


@require_POST
@practice_admin_required
def calendar_publish(request: HttpRequest, practice: Practice, calendar_id: int) -> HttpResponse:
    calendar = _calendar(practice, calendar_id)
    published = request.POST.get("published") == "1"
    try:
        practices.publish(calendar=calendar, published=published)
    except ApplicationError as exc:
        return _calendar_page(request, calendar, publish_error=exc.message)
    if published and not practice.is_approved:
        text = _("The calendar is published; patients can book it once your practice is verified.")
    elif published:
        text = _("The calendar is online: patients can book.")
    else:
        text = _("The calendar is offline: nobody can book it now.")
    messages.success(request, text)
    return redirect("portal:practice-calendar", calendar_id=calendar.pk)


# --- bookings ----------------------------------------------------------------------------


@practice_admin_required
def booking_list(request: HttpRequest, practice: Practice) -> HttpResponse:
    """Upcoming online bookings of all the practice's calendars, cancelled ones included."""
    qs = _practice_bookings(practice).filter(end__gte=timezone.now())
    page = Paginator(qs, BOOKINGS_PER_PAGE).get_page(request.GET.get("seite"))
    return render(
        request,
        "portal/practice/bookings.html",
        {"practice": practice, "page": page, "bookings": page.object_list},
    )


@practice_admin_required
def booking_cancel(request: HttpRequest, practice: Practice, booking_id: int) -> HttpResponse:
    booking = get_object_or_404(
        _practice_bookings(practice).select_related("calendar__doctor__practice"), pk=booking_id
    )
    form = f.CancelBookingForm(request.POST or None)
    if request.method == "POST" and booking.status == Booking.Status.ACTIVE and form.is_valid():
        try:
            bookings.cancel_by_practice(
                practice_id=practice.pk, booking_id=booking.pk, reason=form.cleaned_data["reason"]
            )
        except ApplicationError as exc:
            _show_error(form, exc)
        else:
            messages.success(request, _("The booking was cancelled; the patient is told."))
            return redirect("portal:practice-bookings")
    return render(
        request,
        "portal/practice/booking_cancel.html",
        {"practice": practice, "booking": booking, "form": form},
    )


# --- API keys ----------------------------------------------------------------------------


def _connector_setup(practice: Practice, key: str = "") -> dict[str, Any]:
    """The online calendars' ids and the ``sync config`` line (``_connector_setup.html``)."""
    calendars = list(
        OnlineCalendar.objects.filter(doctor__practice=practice)
        .select_related("doctor")
        .order_by("pk")
    )
    return {
        "calendars": calendars,
        "config_line": extra.connector_config_line(calendars, portal_url(""), key),
    }


def _api_keys_page(request: HttpRequest, practice: Practice, form: f.ApiKeyForm) -> HttpResponse:
    return render(
        request,
        "portal/practice/api_keys.html",
        {
            "practice": practice,
            "keys": practice.api_keys.order_by("-created_at", "-pk"),
            "form": form,
            **_connector_setup(practice),
        },
    )


@practice_admin_required
def api_keys(request: HttpRequest, practice: Practice) -> HttpResponse:
    return _api_keys_page(request, practice, f.ApiKeyForm())


@require_POST
@practice_admin_required
def api_key_issue(request: HttpRequest, practice: Practice) -> HttpResponse:
    """Shows the new key on this one response — it is not stored and cannot be shown again."""
    form = f.ApiKeyForm(request.POST)
    if not form.is_valid():
        return _api_keys_page(request, practice, form)
    api_key, key = practices.issue_api_key(practice=practice, name=form.cleaned_data["name"])
    response = render(
        request,
        "portal/practice/api_key_issued.html",
        {
            "practice": practice,
            "api_key": api_key,
            "key": key,
            **_connector_setup(practice, key),
        },
    )
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@practice_admin_required
def api_key_revoke(request: HttpRequest, practice: Practice, key_id: int) -> HttpResponse:
    api_key = get_object_or_404(practice.api_keys, pk=key_id)
    practices.revoke_api_key(practice=practice, key_id=api_key.pk)
    messages.success(
        request,
        _("The key “%(name)s” is revoked; connectors using it are refused.")
        % {"name": api_key.name},
    )
    return redirect("portal:practice-api-keys")


# --- settings ----------------------------------------------------------------------------


@practice_admin_required
def settings_page(request: HttpRequest, practice: Practice) -> HttpResponse:
    form = f.PracticeSettingsForm(
        request.POST or None,
        initial={
            "name": practice.name,
            "email": practice.email,
            "phone": practice.phone,
            "reminder_hours": practice.reminder_hours,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            extra.update_practice_settings(practice=practice, **form.cleaned_data)
        except ApplicationError as exc:
            _show_error(form, exc)
        else:
            messages.success(request, _("The settings were saved."))
            return redirect("portal:practice-settings")
    return render(request, "portal/practice/settings.html", {"practice": practice, "form": form})
