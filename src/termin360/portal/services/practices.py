"""P1: a practice signs up and sets up locations, doctors and their online calendars."""

from __future__ import annotations

import hashlib
import secrets
from datetime import date, time, timedelta
from itertools import pairwise

from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from termin360.core.errors import Conflict, InvalidInput, NotFound
from termin360.core.names import normalize_name
from termin360.portal.models import (
    Absence,
    ApiKey,
    Doctor,
    Location,
    OnlineCalendar,
    Practice,
    PracticeAdmin,
    VisitType,
    WeeklyHours,
)

INSURANCES = ("gkv", "pkv", "self")


def _password(password: str, user: User | None = None) -> None:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise InvalidInput(" ".join(exc.messages), code="weak_password") from None


def signup_practice(*, name: str, email: str, admin_email: str, password: str) -> Practice:
    """A new practice with its first admin login (the admin's e-mail is the username)."""
    if not name.strip():
        raise InvalidInput(_("The practice needs a name."), code="name_missing")
    admin_email = admin_email.strip().lower()
    if User.objects.filter(username=admin_email).exists():
        raise Conflict(_("An account with this e-mail address exists already."), code="exists")
    _password(password)
    with transaction.atomic():
        practice = Practice.objects.create(name=name.strip(), email=email.strip())
        user = User.objects.create_user(username=admin_email, email=admin_email, password=password)
        PracticeAdmin.objects.create(user=user, practice=practice)
    return practice


def add_location(
    *, practice: Practice, name: str, street: str, postcode: str, city: str
) -> Location:
    if not (name.strip() and postcode.strip() and city.strip()):
        raise InvalidInput(_("A location needs a name, postcode and city."), code="incomplete")
    return Location.objects.create(
        practice=practice,
        name=name.strip(),
        street=street.strip(),
        postcode=postcode.strip(),
        city=city.strip(),
        city_key=normalize_name(city),
    )


def add_doctor(
    *,
    practice: Practice,
    location_id: int,
    first_name: str,
    last_name: str,
    specialty: str,
    title: str = "",
    languages: str = "de",
    slot_minutes: int = 15,
) -> Doctor:
    """A doctor and their (unpublished) online calendar."""
    try:
        location = practice.locations.get(pk=location_id)
    except Location.DoesNotExist:
        raise NotFound(_("There is no such location.")) from None
    if not (first_name.strip() and last_name.strip() and specialty.strip()):
        raise InvalidInput(_("A doctor needs a name and a specialty."), code="incomplete")
    with transaction.atomic():
        doctor = Doctor.objects.create(
            practice=practice,
            location=location,
            title=title.strip(),
            first_name=first_name.strip(),
            last_name=last_name.strip(),
            specialty=specialty.strip(),
            languages=languages,
        )
        doctor.search_key = normalize_name(f"{doctor.display_name} {doctor.specialty}")
        doctor.save(update_fields=["search_key"])
        OnlineCalendar.objects.create(
            doctor=doctor,
            name=f"{doctor.display_name} – {doctor.specialty}",
            slot_minutes=slot_minutes,
        )
    return doctor


def set_calendar_rules(
    *,
    calendar: OnlineCalendar,
    slot_minutes: int,
    horizon_days: int,
    lead_minutes: int,
    cancel_deadline_hours: int,
) -> OnlineCalendar:
    if not 5 <= slot_minutes <= 240:
        raise InvalidInput(_("Slot length must be between 5 and 240 minutes."))
    if not 1 <= horizon_days <= 365:
        raise InvalidInput(_("The booking horizon is 1 to 365 days."), code="horizon")
    if not 0 <= lead_minutes <= 60 * 24 * 14 or not 0 <= cancel_deadline_hours <= 24 * 14:
        raise InvalidInput(_("Lead time and cancellation deadline are at most 14 days."))
    calendar.slot_minutes, calendar.horizon_days = slot_minutes, horizon_days
    calendar.lead_minutes, calendar.cancel_deadline_hours = lead_minutes, cancel_deadline_hours
    calendar.save()
    return calendar


def set_weekly_hours(
    *, calendar: OnlineCalendar, hours: list[tuple[int, time, time]]
) -> list[WeeklyHours]:
    for weekday, start, end in hours:
        if not 0 <= weekday <= 6 or end <= start:
            raise InvalidInput(_("Each line needs a weekday and an end after its start."))
    by_day: dict[int, list[tuple[time, time]]] = {}
    for weekday, start, end in hours:
        by_day.setdefault(weekday, []).append((start, end))
    for spans in by_day.values():
        spans.sort()
        if any(b[0] < a[1] for a, b in pairwise(spans)):
            raise InvalidInput(_("Two lines overlap on the same weekday."), code="overlap")
    with transaction.atomic():
        calendar.hours.all().delete()
        return WeeklyHours.objects.bulk_create(
            WeeklyHours(calendar=calendar, weekday=w, start=s, end=e) for w, s, e in hours
        )


def add_visit_type(
    *,
    calendar: OnlineCalendar,
    name: str,
    duration_minutes: int,
    new_patients: bool = True,
    existing_patients: bool = True,
    insurances: tuple[str, ...] = INSURANCES,
) -> VisitType:
    if not name.strip():
        raise InvalidInput(_("A visit type needs a name."), code="name_missing")
    if not 5 <= duration_minutes <= 480:
        raise InvalidInput(_("A visit lasts 5 to 480 minutes."), code="duration")
    if not (new_patients or existing_patients):
        raise InvalidInput(_("Allow new or existing patients (or both)."), code="nobody")
    if not insurances or any(i not in INSURANCES for i in insurances):
        raise InvalidInput(_("Unknown insurance type."), code="insurance")
    return VisitType.objects.create(
        calendar=calendar,
        name=name.strip(),
        duration_minutes=duration_minutes,
        new_patients=new_patients,
        existing_patients=existing_patients,
        insurances=",".join(insurances),
    )


def add_absence(
    *, calendar: OnlineCalendar, first_day: date, last_day: date, reason: str
) -> Absence:
    if last_day < first_day:
        raise InvalidInput(_("The last day lies before the first."))
    return Absence.objects.create(
        calendar=calendar, first_day=first_day, last_day=last_day, reason=reason.strip()
    )


def publish(*, calendar: OnlineCalendar, published: bool = True) -> OnlineCalendar:
    if published and not calendar.hours_from_practice and not calendar.hours.exists():
        raise Conflict(_("Set the bookable hours before publishing."), code="no_hours")
    if published and not calendar.visit_types.filter(active=True).exists():
        raise Conflict(_("Add a visit type before publishing."), code="no_visit_types")
    calendar.published = published
    calendar.save(update_fields=["published"])
    return calendar


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def issue_api_key(*, practice: Practice, name: str) -> tuple[ApiKey, str]:
    """A new key for a connector. The key itself is returned once and never stored."""
    key = "t360k_" + secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(
        practice=practice,
        name=name.strip() or "Connector",
        prefix=key[:12],
        key_hash=_digest(key),
    )
    return api_key, key


KEY_USE_RESOLUTION = timedelta(minutes=1)


def practice_for_key(key: str) -> Practice | None:
    api_key = (
        ApiKey.objects.select_related("practice")
        .filter(key_hash=_digest(key), revoked_at__isnull=True)
        .first()
    )
    if api_key is None:
        return None
    now = timezone.now()
    # "Last used" to the minute is enough for the practice's key list; writing it on every
    # call would make each connector request (the S9 check, every long poll) a write.
    if api_key.last_used_at is None or now - api_key.last_used_at > KEY_USE_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
    return api_key.practice


def revoke_api_key(*, practice: Practice, key_id: int) -> ApiKey:
    try:
        api_key = practice.api_keys.get(pk=key_id)
    except ApiKey.DoesNotExist:
        raise NotFound(_("There is no such API key.")) from None
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key
