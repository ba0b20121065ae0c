"""The connector in the practice web UI: state (S3), settings (S1, TMEX P), the list of
online bookings (S4, TMEX L) and one booking's details (TMEX Info).

Every page needs a logged-in staff member; changing the settings and starting a sync
round need an administrator (``is_staff``), as in the practice API. Reads go through
``selectors``/``pages``, writes through ``services``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from termin360.connector import pages, selectors
from termin360.connector.forms import MappingFormSet, SettingsForm
from termin360.connector.models import Mapping
from termin360.connector.portal_client import PortalError
from termin360.connector.services import config as config_services
from termin360.connector.services import config_check, rounds
from termin360.core.errors import ApplicationError
from termin360.protocol.messages import CalendarList

View = Callable[..., HttpResponse]


def admin_required(view: View) -> View:
    """Logged in (else to the login page) and an administrator (else 403, in German)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_staff:
            return render(
                request,
                "connector/forbidden.html",
                {"message": _("Only an administrator of the practice may do this.")},
                status=403,
            )
        return view(request, *args, **kwargs)

    return login_required(wrapped)


@login_required
def status_page(request: HttpRequest) -> HttpResponse:
    """Where the sync stands, the mappings, and what needs the staff's attention."""
    status = selectors.sync_status()
    config = selectors.sync_config()
    state, state_label = pages.nav_state(status)
    tz = pages.Zones().default
    unplaced = selectors.unplaced_bookings().select_related("mapping__column__calendar")
    context = {
        "status": status,
        "state": state,
        "state_label": state_label,
        "job_started_at": pages.when(status.job_started_at, tz),
        "last_success_at": pages.when(status.last_success_at, tz),
        "last_error_at": pages.when(status.last_error_at, tz),
        "key_hint": config.key_hint if config else "",
        "tls_profile": config.tls_profile.name if config and config.tls_profile else "",
        "mappings": pages.mapping_rows(),
        "conflicts": pages.flagged_online_appointments(),
        "unplaced": pages.booking_rows(list(unplaced)),
        "is_admin": request.user.is_staff,
        "section": "status",
    }
    return render(request, "connector/status.html", context)


@admin_required
@require_POST
def sync_now(request: HttpRequest) -> HttpResponse:
    """TMEX: one sync round in both directions, now (S2)."""
    try:
        client = config_services.client_from_config()
        try:
            result = rounds.sync_round(client, wait=0)
        finally:
            client.close()
    except PortalError as exc:
        messages.error(request, exc.message)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("Sync done: %(to_practice)s changes from the portal, %(to_portal)s to the portal.")
            % {"to_practice": result.to_practice, "to_portal": result.to_portal},
        )
    return redirect("connector:status")


@admin_required
@require_http_methods(["GET", "POST"])
def settings_page(request: HttpRequest) -> HttpResponse:
    """S1: portal address, API key (write-only), TLS profile, check timeout, mappings.
    All of it is saved together or not at all; on an error the page shows the input again
    with the services' message."""
    config = selectors.sync_config()
    if request.method == "POST":
        form = SettingsForm(request.POST)
        formset = MappingFormSet(request.POST, prefix="mappings")
        if form.is_valid() and formset.is_valid():
            try:
                _save(form.cleaned_data, formset)
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, _("The settings have been saved."))
                return redirect("connector:status")
    else:
        profile = config.tls_profile if config else None
        form = SettingsForm(
            initial={
                "portal_url": config.portal_url if config else "",
                "tls_name": profile.name if profile else "",
                "ca_bundle": profile.ca_bundle if profile else "",
                "client_cert": profile.client_cert if profile else "",
                "client_key": profile.client_key if profile else "",
                "check_timeout": config.check_timeout_seconds if config else 1.5,
            }
        )
        formset = MappingFormSet(
            prefix="mappings",
            initial=[
                {
                    "online_calendar_id": m.online_calendar_id,
                    "calendar_number": m.column.calendar.number,
                    "column_number": m.column.number,
                    # Not a field: shown beside the row, so the IT person sees which
                    # doctor a number is (the portal's name, known after the first contact).
                    "online_name": m.online_name or _("— (after the first sync)"),
                }
                for m in Mapping.objects.select_related("column__calendar")
            ],
        )
    # The portal's name of each mapped online calendar (known after the first contact, S1)
    # beside its row, so the IT person sees which doctor a number is.
    names = dict(Mapping.objects.values_list("online_calendar_id", "online_name"))

    def online_name(row: Any) -> str:
        mapped = row.initial.get("online_calendar_id")
        return (names.get(mapped) or _("— (after the first sync)")) if mapped else ""

    context = {
        "form": form,
        "formset": formset,
        "key_hint": config.key_hint if config else "",
        "section": "settings",
    }
    return render(request, "connector/settings.html", context)


def _check(data: dict[str, Any], entries: list[tuple[int, int, int]]) -> CalendarList | None:
    """Ask the portal with the settings as they would be saved (S1), unless the form says
    to save without; ``PortalCheckFailed`` if it does not confirm them."""
    files = ("", "", "")
    if data["tls_name"].strip():
        files = config_services.checked_tls_files(
            ca_bundle=data["ca_bundle"],
            client_cert=data["client_cert"],
            client_key=data["client_key"],
        )
    planned = config_services.planned_settings(
        portal_url=data["portal_url"], api_key=data["api_key"] or None, mappings=entries
    )
    if data.get("offline"):
        return None
    planned = replace(planned, ca_bundle=files[0], client_cert=files[1], client_key=files[2])
    return config_check.check_with_portal(planned)


def _save(data: dict[str, Any], formset: Any) -> None:
    entries = [e for f in formset.forms if (e := f.entry()) is not None]
    try:
        listing = _check(data, entries)
    except config_check.PortalCheckFailed as exc:
        if exc.reachable:
            raise
        raise config_check.PortalCheckFailed(
            exc.message + " " + _("To save anyway, tick “Save without checking with the portal”."),
            reachable=False,
            code=exc.code,
        ) from None
    with transaction.atomic():
        _store(data, entries)
        if listing is not None:
            config_check.store_names(listing)


def _store(data: dict[str, Any], entries: list[tuple[int, int, int]]) -> None:
    tls_name = data["tls_name"].strip()
    if tls_name:
        config_services.save_tls_profile(
            name=tls_name,
            ca_bundle=data["ca_bundle"],
            client_cert=data["client_cert"],
            client_key=data["client_key"],
        )
    config_services.save_config(
        portal_url=data["portal_url"],
        api_key=data["api_key"] or None,
        tls_profile=tls_name,
        check_timeout=data["check_timeout"],
    )
    config_services.set_mappings(entries)


@login_required
def bookings_page(request: HttpRequest) -> HttpResponse:
    """TMEX L: every online booking and cancellation, by appointment date and time."""
    upcoming = request.GET.get("upcoming") == "1"
    bookings = list(selectors.online_bookings(include_past=not upcoming))
    context = {"rows": pages.booking_rows(bookings), "upcoming": upcoming, "section": "bookings"}
    return render(request, "connector/bookings.html", context)


@login_required
def booking_page(request: HttpRequest, booking_id: int) -> HttpResponse:
    """TMEX Info: every detail of one booking, with where it sits."""
    booking = selectors.online_booking(booking_id)
    if booking is None:
        raise Http404(_("There is no online booking number %(id)s.") % {"id": booking_id})
    context = {"booking": booking, "facts": pages.booking_facts(booking), "section": "bookings"}
    return render(request, "connector/booking.html", context)
