"""Patient accounts: register, confirm the e-mail address, export and delete (P3, P7).

The e-mail address is the username, stored lower-cased. Confirmation links carry a
signed token (``django.core.signing``, own salt, valid ``CONFIRM_MAX_AGE``) naming the
user and the address it was sent to; confirming twice is harmless.

Deleting an account (P7) — what happens to its bookings, and why:

1. Every *future* active booking is cancelled first, whatever the cancellation
   deadline, exactly as a patient's cancellation (``bookings._cancel``): the change
   feed gets a "cancelled" event, so the practice calendar frees the time, and the
   practice-notification mail is queued. The practice must not keep a slot for a
   patient who no longer exists.
2. On *all* the patient's bookings the e-mail address and phone number are blanked:
   nobody can contact a deleted account through the portal any more.
3. Names and date of birth stay only on bookings whose time is still ahead (those
   just cancelled): the connector may still have to find and remove that
   appointment in the practice calendar (SPEC S6, S7) and ``sync info`` shows it.
   Past bookings lose them at once; the practice keeps its own records of
   treatments in its own system. ``forget_past_snapshots`` (for a periodic task)
   blanks the names of account-less bookings once their time has passed.
4. The same fields are removed from the change-feed payloads of these bookings.
5. Profile and user are deleted; the bookings' ``patient`` becomes NULL.
"""

from __future__ import annotations

import contextlib
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from termin360.core.errors import ApplicationError, Conflict, InvalidInput
from termin360.portal.models import Booking, ChangeEvent, Insurance, PatientProfile
from termin360.portal.services import bookings, mail, ratelimit

CONFIRM_SALT = "termin360.portal.confirm-email"
CONFIRM_MAX_AGE = timedelta(days=3)
ACCOUNT_DELETED = "Konto gelöscht"  # the practice reads it (German practice calendar)


class LinkExpired(ApplicationError):
    """An authentic confirmation link that is too old; ``user`` may ask for a new one."""

    code = "link_expired"


class LinkInvalid(ApplicationError):
    code = "link_invalid"


def normalize_email(email: str) -> str:
    return email.strip().lower()


# --------------------------------------------------------------------------- registration


# Hashed when an address is known already, so both answers of ``register_patient`` cost
# the same time (the new account's password is hashed too).
_TIMING_PASSWORD = "termin360-timing-only"


@transaction.atomic
def register_patient(
    *,
    email: str,
    password: str,
    last_name: str,
    first_name: str,
    date_of_birth: date,
    phone: str,
    insurance: str,
    next_path: str = "",
) -> PatientProfile | None:
    """A new, unconfirmed patient; the confirmation mail is queued in the same transaction.
    ``next_path`` (a path on this site, checked by the caller) travels in the confirmation
    link: confirming leads there, e.g. to the booking page of the slot the patient chose.

    An address that has an account already gets no second one and no error either —
    that would tell anyone who is a patient here. Its owner is told by mail instead
    (log in, or reset the password), and ``None`` comes back.

    ``password`` must already have passed the password validators (the form checks them).
    """
    email = normalize_email(email)
    if insurance not in Insurance.values:
        raise InvalidInput(_("Please choose an insurance type."), code="insurance")
    known = User.objects.filter(username__iexact=email).first()
    if known is None:
        try:
            with transaction.atomic():
                user = User.objects.create_user(
                    username=email,
                    email=email,
                    password=password,
                    first_name=first_name.strip()[:150],
                    last_name=last_name.strip()[:150],
                )
        except IntegrityError:  # registered at the same moment by another request
            known = User.objects.filter(username__iexact=email).first()
    if known is not None:
        make_password(_TIMING_PASSWORD)
        if known.is_active and ratelimit.allow_reset_mail(email=known.username):
            mail.registration_attempt(
                known,
                login_link=mail.portal_url(reverse("portal:login")),
                reset_link=mail.portal_url(reverse("portal:password-reset")),
            )
        return None
    patient = PatientProfile.objects.create(
        user=user,
        last_name=last_name.strip(),
        first_name=first_name.strip(),
        date_of_birth=date_of_birth,
        phone=phone.strip(),
        insurance=insurance,
    )
    send_confirmation(patient, next_path=next_path)
    return patient


def confirmation_token(user: User, next_path: str = "") -> str:
    data = {"u": user.pk, "e": user.email}
    if next_path:
        data["n"] = next_path
    return signing.dumps(data, salt=CONFIRM_SALT)


def next_path_of(token: str) -> str:
    """The page an authentic confirmation link leads to after confirming ("" if none)."""
    try:
        data = signing.loads(token, salt=CONFIRM_SALT)
    except signing.BadSignature:
        return ""
    wanted = data.get("n", "") if isinstance(data, dict) else ""
    return wanted if isinstance(wanted, str) and wanted.startswith("/") else ""


def confirmation_link(user: User, next_path: str = "") -> str:
    token = confirmation_token(user, next_path)
    return mail.portal_url(reverse("portal:confirm", kwargs={"token": token}))


def send_confirmation(patient: PatientProfile, next_path: str = "") -> None:
    """Queue (again) the mail with the confirmation link; nothing if already confirmed."""
    if patient.email_confirmed_at is not None:
        return
    mail.confirm_email(patient.user, confirmation_link(patient.user, next_path))


def _patient_of_token(token: str, *, max_age: timedelta | None) -> PatientProfile:
    data = signing.loads(token, salt=CONFIRM_SALT, max_age=max_age)
    patient = (
        PatientProfile.objects.select_related("user")
        .filter(user_id=data.get("u"), user__email=data.get("e"))
        .first()
    )
    if patient is None:  # account deleted, or the address changed since
        raise LinkInvalid(_("This confirmation link is not valid."))
    return patient


def patient_of_expired_token(token: str) -> PatientProfile:
    """The patient an authentic (possibly expired) link was sent to: it may ask for a new one."""
    try:
        return _patient_of_token(token, max_age=None)
    except signing.BadSignature:
        raise LinkInvalid(_("This confirmation link is not valid.")) from None


@transaction.atomic
def confirm_email(*, token: str) -> PatientProfile:
    """Confirm the address a link was sent to. A second confirmation changes nothing."""
    try:
        patient = _patient_of_token(token, max_age=CONFIRM_MAX_AGE)
    except signing.SignatureExpired:
        raise LinkExpired(_("This confirmation link has expired.")) from None
    except signing.BadSignature:
        raise LinkInvalid(_("This confirmation link is not valid.")) from None
    if patient.email_confirmed_at is None:
        patient.email_confirmed_at = timezone.now()
        patient.save(update_fields=["email_confirmed_at"])
    return patient


# --------------------------------------------------------------------------- password reset


def user_for_login(email: str) -> User | None:
    """The login named by ``email`` (patients' usernames are lower-case; practice admins'
    may not be)."""
    return User.objects.filter(username__iexact=normalize_email(email)).first()


def request_password_reset(*, email: str) -> None:
    """Queue a reset mail if such an active login exists. Says nothing either way, so the
    page cannot be used to find out who has an account."""
    user = user_for_login(email)
    if user is None or not user.is_active or not user.has_usable_password():
        return
    if not ratelimit.allow_reset_mail(email=user.username):
        return
    path = reverse(
        "portal:password-reset-confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    mail.password_reset(user, mail.portal_url(path))


@transaction.atomic
def password_was_reset(user: User) -> None:
    """A reset through the mailed link proves the address: confirm it and lift the lock."""
    ratelimit.login_succeeded(email=user.username)
    PatientProfile.objects.filter(user=user, email_confirmed_at__isnull=True).update(
        email_confirmed_at=timezone.now()
    )


# --------------------------------------------------------------------------- export (P7)


def _iso(value: datetime | None, tz: ZoneInfo) -> str | None:
    return value.astimezone(tz).isoformat() if value else None


def export_data(patient: PatientProfile) -> dict[str, Any]:
    """Everything the portal holds about ``patient``, as JSON-ready data. Times are in the
    practice's zone (Europe/Berlin by default), with their UTC offset."""
    user = patient.user
    default_tz = ZoneInfo(settings.TIME_ZONE)
    rows = Booking.objects.filter(patient=patient).select_related(
        "calendar__doctor__practice", "calendar__doctor__location", "visit_type"
    )
    booking_list = []
    for b in rows.order_by("start"):
        doctor = b.calendar.doctor
        tz = ZoneInfo(doctor.practice.time_zone)
        loc = doctor.location
        booking_list.append(
            {
                "id": b.pk,
                "status": b.status,
                "start": _iso(b.start, tz),
                "end": _iso(b.end, tz),
                "time_zone": str(tz),
                "practice": doctor.practice.name,
                "doctor": doctor.display_name,
                "address": {"street": loc.street, "postcode": loc.postcode, "city": loc.city},
                "visit_type": b.visit_type.name,
                "reason": b.reason,
                "booked_at": _iso(b.created_at, tz),
                "cancelled_at": _iso(b.cancelled_at, tz),
                "cancelled_by": b.cancelled_by or None,
                "cancel_reason": b.cancel_reason,
                "patient_data_sent_to_practice": {
                    "last_name": b.patient_last_name,
                    "first_name": b.patient_first_name,
                    "date_of_birth": b.patient_date_of_birth.isoformat()
                    if b.patient_date_of_birth
                    else None,
                    "email": b.patient_email,
                    "phone": b.patient_phone,
                    "insurance": b.patient_insurance,
                },
            }
        )
    return {
        "exported_at": _iso(timezone.now(), default_tz),
        "account": {
            "email": user.email,
            "registered_at": _iso(user.date_joined, default_tz),
            "last_login": _iso(user.last_login, default_tz),
            "email_confirmed_at": _iso(patient.email_confirmed_at, default_tz),
        },
        "profile": {
            "last_name": patient.last_name,
            "first_name": patient.first_name,
            "date_of_birth": patient.date_of_birth.isoformat(),
            "phone": patient.phone,
            "insurance": patient.insurance,
        },
        "bookings": booking_list,
    }


# --------------------------------------------------------------------------- deletion (P7)


def cancel_future_bookings(patient: PatientProfile) -> list[Booking]:
    """Cancel every future active booking of ``patient``, ignoring the cancellation deadline,
    the way a patient's cancellation does (feed event, practice told)."""
    now = timezone.now()
    future = (
        Booking.objects.filter(patient=patient, status=Booking.Status.ACTIVE, start__gt=now)
        .select_related("calendar__doctor__practice", "visit_type")
        # One practice lock after the other, in one order: no deadlock with another deletion.
        .order_by("calendar__doctor__practice_id", "start")
    )
    cancelled = []
    for booking in future:
        # Conflict: cancelled meanwhile (by the practice), nothing left to do.
        with contextlib.suppress(Conflict):
            done = bookings._cancel(booking, by=Booking.CancelledBy.PATIENT, reason=ACCOUNT_DELETED)
            # The practice is told directly too: not every practice runs the connector.
            mail.practice_booking_notice(done, "cancelled")
            cancelled.append(done)
    return cancelled


def _scrub_payloads(booking_ids: list[int], fields: tuple[str, ...]) -> None:
    for event in ChangeEvent.objects.filter(booking_id__in=booking_ids):
        person = event.payload.get("patient") or {}
        if any(person.get(f) for f in fields):
            for f in fields:
                person[f] = None if f == "date_of_birth" else ""
            event.payload["patient"] = person
            event.save(update_fields=["payload"])


@transaction.atomic
def delete_account(*, user: User) -> int:
    """Delete a patient's account (P7); returns how many future bookings were cancelled."""
    patient = PatientProfile.objects.select_for_update().get(user=user)
    cancelled = cancel_future_bookings(patient)
    now = timezone.now()
    mine = Booking.objects.filter(patient=patient)
    all_ids = list(mine.values_list("pk", flat=True))
    past_ids = list(mine.filter(start__lte=now).values_list("pk", flat=True))
    mine.update(patient_email="", patient_phone="")
    Booking.objects.filter(pk__in=past_ids).update(
        patient_last_name="", patient_first_name="", patient_date_of_birth=None
    )
    _scrub_payloads(all_ids, ("email", "phone"))
    _scrub_payloads(past_ids, ("last_name", "first_name", "date_of_birth"))
    ratelimit.login_succeeded(email=user.username)
    user.delete()  # cascades to the profile; bookings keep patient=NULL
    return len(cancelled)


@transaction.atomic
def forget_past_snapshots() -> int:
    """Blank names and birth dates of bookings without an account whose time has passed
    (step 3 of the module docstring); for a periodic task. Returns the number of bookings."""
    ids = list(
        Booking.objects.filter(patient__isnull=True, start__lte=timezone.now())
        .exclude(patient_last_name="", patient_first_name="", patient_date_of_birth=None)
        .values_list("pk", flat=True)
    )
    Booking.objects.filter(pk__in=ids).update(
        patient_last_name="", patient_first_name="", patient_date_of_birth=None
    )
    _scrub_payloads(ids, ("last_name", "first_name", "date_of_birth"))
    return len(ids)
