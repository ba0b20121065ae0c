"""Web pages of the practice calendar. Pages read through ``selectors``; every change
goes through the JSON API (``/api/v1/``) from the page's script."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from termin360.practice import pages, selectors
from termin360.practice.api.live import live_token
from termin360.practice.models import Calendar


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok", "role": "practice"})


def _calendar(number: int) -> Calendar:
    calendar = Calendar.objects.select_related("location").filter(number=number).first()
    if calendar is None:
        raise Http404(_("There is no calendar number %(n)s.") % {"n": number})
    return calendar


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The day view of the first calendar, today; a hint when nothing is set up yet."""
    calendar = Calendar.objects.select_related("location").first()
    if calendar is None:
        return render(request, "practice/home.html", {})
    return redirect("practice:day", number=calendar.number, day=pages.today_in(calendar))


@login_required
def go(request: HttpRequest) -> HttpResponse:
    """Target of the calendar switcher and the date picker (plain GET forms)."""
    try:
        number = int(request.GET.get("calendar", ""))
    except ValueError:
        return redirect("practice:home")
    calendar = _calendar(number)
    try:
        day = date.fromisoformat(request.GET.get("day", ""))
    except ValueError:
        day = pages.today_in(calendar)
    if request.GET.get("view") == "week":
        url = reverse("practice:week", kwargs={"number": number, "day": day})
        column = request.GET.get("column", "")
        return redirect(f"{url}?column={column}" if column.isdigit() else url)
    return redirect("practice:day", number=number, day=day)


def _page_context(request: HttpRequest, calendar: Calendar, day: date, view: str) -> dict[str, Any]:
    columns = list(calendar.columns.all())
    return {
        "calendar": calendar,
        "calendars": list(Calendar.objects.all()),
        "columns": columns,
        "day": day,
        "today": pages.today_in(calendar),
        "view": view,
        "page_config": {
            "calendar": calendar.number,
            "locationId": calendar.location_id,
            "day": day.isoformat(),
            "columns": [{"number": c.number, "name": c.name} for c in columns],
            "messages": pages.js_messages(),
            "language": request.LANGUAGE_CODE,
            "timeZone": calendar.location.time_zone,
        },
    }


@login_required
def day_page(request: HttpRequest, number: int, day: date) -> HttpResponse:
    """All columns of one day side by side, with the additional list beside them."""
    calendar = _calendar(number)
    live = _live(request, calendar, day, day)  # before the content: a change in between is fetched
    view = selectors.day_view(calendar, day)
    tz = pages.zone_of(calendar)
    lanes = [pages.lane_of(cd, day, cd.column.name) for cd in view.columns]
    context = _page_context(request, calendar, day, "day")
    context["page_config"]["live"] = live
    context.update(
        grid=pages.build_grid(lanes, tz),
        additional_days=[(day, pages.additional_entries(view.additional, tz))],
        reservations=list(selectors.reservations_of(calendar, day, day)),
        previous=day - timedelta(days=1),
        next=day + timedelta(days=1),
        week_start=day - timedelta(days=day.weekday()),
    )
    return render(request, "practice/day.html", context)


@login_required
def week_page(request: HttpRequest, number: int, day: date) -> HttpResponse:
    """One column, Monday to Sunday side by side; appointments move between days."""
    calendar = _calendar(number)
    columns = list(calendar.columns.all())
    if not columns:
        raise Http404(_("This calendar has no columns yet."))
    wanted = request.GET.get("column", "")
    column = next((c for c in columns if str(c.number) == wanted), columns[0])
    monday = day - timedelta(days=day.weekday())
    live = _live(request, calendar, monday, monday + timedelta(days=6))
    days = selectors.week_view(calendar, day, [column.number])
    tz = pages.zone_of(calendar)
    lanes = [
        pages.lane_of(v.columns[0], v.day, _date_title(v.day), column.name)
        for v in days
        if v.columns
    ]
    context = _page_context(request, calendar, day, "week")
    context["page_config"]["weekColumn"] = column.number
    context["page_config"]["live"] = live
    context.update(
        column=column,
        grid=pages.build_grid(lanes, tz),
        additional_days=[(v.day, pages.additional_entries(v.additional, tz)) for v in days],
        reservations=list(selectors.reservations_of(calendar, monday, monday + timedelta(days=6))),
        previous=monday - timedelta(days=7),
        next=monday + timedelta(days=7),
        week_start=monday,
        week_end=monday + timedelta(days=6),
    )
    return render(request, "practice/week.html", context)


def _live(
    request: HttpRequest, calendar: Calendar, first_day: date, last_day: date
) -> dict[str, Any]:
    """What the page script polls to follow changes (C8, decision 014), and the version
    of what the page shows (read before the content, so a change in between is caught).
    ``token`` stands in for the session on each poll (``api.live.live_token``)."""
    return {
        "token": live_token(int(request.user.pk or 0), calendar.number),
        "firstDay": first_day.isoformat(),
        "lastDay": last_day.isoformat(),
        "version": selectors.view_version(calendar.number, first_day, last_day) or 0,
        "every": 1000,
    }


def _date_title(day: date) -> str:
    return date_format(day, "D, j.n.")
