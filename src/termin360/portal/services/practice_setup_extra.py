"""P1, continued: the edits a practice makes after setting up (``practices`` has the first
steps): doctor details, switching visit types off and on, removing an absence, the
practice's own settings.

Visit types are switched off rather than deleted: bookings keep pointing at the type
they were made for (``Booking.visit_type`` is protected).
"""

from __future__ import annotations

import re

from django.db import transaction
from django.utils.translation import gettext as _

from termin360.core.errors import InvalidInput, NotFound
from termin360.core.names import normalize_name
from termin360.portal.models import Absence, Doctor, Location, OnlineCalendar, Practice, VisitType

MAX_REMINDER_HOURS = 24 * 7
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")


def clean_languages(languages: str) -> str:
    """``"DE, en ;tr"`` → ``"de,en,tr"``; refuses anything that is not an ISO 639 code."""
    codes = [c for c in re.split(r"[\s,;]+", languages.strip().lower()) if c]
    if not codes:
        return "de"
    bad = [c for c in codes if not _LANGUAGE.match(c)]
    if bad:
        raise InvalidInput(
            _("Languages are two- or three-letter codes such as de, en, tr (not %(bad)s).")
            % {"bad": ", ".join(bad)},
            code="languages",
        )
    return ",".join(dict.fromkeys(codes))


def update_doctor(
    *,
    practice: Practice,
    doctor_id: int,
    location_id: int,
    title: str,
    first_name: str,
    last_name: str,
    specialty: str,
    languages: str,
) -> Doctor:
    """New details of a doctor; search key and calendar name follow."""
    try:
        doctor = practice.doctors.select_related("calendar").get(pk=doctor_id)
        location = practice.locations.get(pk=location_id)
    except (Doctor.DoesNotExist, Location.DoesNotExist):
        raise NotFound(_("There is no such doctor or location.")) from None
    if not (first_name.strip() and last_name.strip() and specialty.strip()):
        raise InvalidInput(_("A doctor needs a name and a specialty."), code="incomplete")
    doctor.location = location
    doctor.title = title.strip()
    doctor.first_name = first_name.strip()
    doctor.last_name = last_name.strip()
    doctor.specialty = specialty.strip()
    doctor.languages = clean_languages(languages)
    doctor.search_key = normalize_name(f"{doctor.display_name} {doctor.specialty}")
    with transaction.atomic():
        doctor.save()
        calendar = doctor.calendar
        calendar.name = f"{doctor.display_name} – {doctor.specialty}"
        calendar.save(update_fields=["name"])
    return doctor


def set_visit_type_active(*, practice: Practice, visit_type_id: int, active: bool) -> VisitType:
    """Offer a visit type again, or stop offering it (existing bookings keep it)."""
    try:
        vt = VisitType.objects.get(pk=visit_type_id, calendar__doctor__practice=practice)
    except VisitType.DoesNotExist:
        raise NotFound(_("There is no such visit type.")) from None
    vt.active = active
    vt.save(update_fields=["active"])
    return vt


def remove_absence(*, practice: Practice, absence_id: int) -> None:
    deleted, _rows = Absence.objects.filter(
        pk=absence_id, calendar__doctor__practice=practice
    ).delete()
    if not deleted:
        raise NotFound(_("There is no such absence."))


def update_practice_settings(
    *, practice: Practice, name: str, email: str, reminder_hours: int, phone: str = ""
) -> Practice:
    """Name, contact address (for alerts), the phone number patients see with every
    booking and in every mail, and how many hours before an appointment patients get
    their reminder."""
    if not name.strip():
        raise InvalidInput(_("The practice needs a name."), code="name_missing")
    if not 1 <= reminder_hours <= MAX_REMINDER_HOURS:
        raise InvalidInput(
            _("Reminders go out 1 to %(max)s hours before the appointment.")
            % {"max": MAX_REMINDER_HOURS},
            code="reminder_hours",
        )
    practice.name = name.strip()
    practice.email = email.strip()
    practice.reminder_hours = reminder_hours
    practice.phone = phone.strip()[:40]
    practice.save(update_fields=["name", "email", "reminder_hours", "phone"])
    return practice


def set_calendar_options(
    *, calendar: OnlineCalendar, default_visit_type_id: int | None, waitlist_enabled: bool
) -> OnlineCalendar:
    """The visit type the doctor page shows first (one of the calendar's active types,
    open to new and existing patients; ``None``: the first such type) and whether
    patients may join the waiting list (P9)."""
    if default_visit_type_id is not None:
        vt = calendar.visit_types.filter(pk=default_visit_type_id, active=True).first()
        if vt is None:
            raise NotFound(_("This visit type is not offered in this calendar."))
        if not (vt.new_patients and vt.existing_patients):
            raise InvalidInput(
                _(
                    "The default visit type must be open to new and existing patients; "
                    "a patient who may not book it would otherwise see the wrong times."
                ),
                code="default_restricted",
            )
    calendar.default_visit_type_id = default_visit_type_id
    calendar.waitlist_enabled = waitlist_enabled
    calendar.save(update_fields=["default_visit_type", "waitlist_enabled"])
    return calendar


def set_hours_source(*, calendar: OnlineCalendar, source: str) -> OnlineCalendar:
    """S14: the calendar offers the weekly hours typed on the portal (``"portal"``) or
    exactly the bookable slots the practice calendar's connector sends (``"practice"``).
    The typed hours are kept either way: switching back brings them back."""
    if source not in OnlineCalendar.HoursSource.values:
        raise InvalidInput(_("The request is not valid."), code="invalid")
    calendar.hours_source = source
    calendar.save(update_fields=["hours_source"])
    return calendar


KEY_PLACEHOLDER = "<API-Schlüssel>"


def connector_config_line(calendars: list[OnlineCalendar], portal_url: str, key: str = "") -> str:
    """The ``termin360 sync config`` line for the connector of the practice whose online
    ``calendars`` these are, ready to copy: the portal's address, the key (a placeholder
    unless it was just issued) and one ``--map`` per online calendar. Which practice
    calendar and column each belongs to, the portal cannot know: they are numbered 1/1,
    1/2, … for the IT person to adjust."""
    maps = " ".join(f"--map {c.pk}=1/{n}" for n, c in enumerate(calendars, start=1))
    line = f"termin360 sync config --portal-url {portal_url} --api-key {key or KEY_PLACEHOLDER}"
    return f"{line} {maps}".strip()
