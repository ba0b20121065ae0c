"""P10: the portal operator's accounts and the help they give in the back office.

An operator is a Django user with ``is_staff`` who is neither a practice admin nor a
patient, with a TOTP device (django-otp): the back office (``portal.admin``) lets only
such a user in, and only after the second factor. The actions here are what the
back office does for patients and the mail queue; the audit entry is the admin's.
"""

from __future__ import annotations

from base64 import b32encode
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db import transaction
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from termin360.core.errors import Conflict, InvalidInput
from termin360.portal.models import LoginAttempt, OutgoingEmail, PatientProfile, PracticeAdmin
from termin360.portal.services import patients, practices, ratelimit

DEVICE_NAME = "Back-Office"


@dataclass(frozen=True)
class NewOperator:
    user: User
    device: TOTPDevice

    @property
    def otpauth_uri(self) -> str:
        return str(self.device.config_url)

    @property
    def secret(self) -> str:
        """The device key in base32, for apps that take it typed in."""
        return b32encode(self.device.bin_key).decode("ascii")


def is_operator(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Staff, active, and no practice admin or patient account (those are separate)."""
    if not (user.is_authenticated and user.is_active and getattr(user, "is_staff", False)):
        return False
    return not (
        PracticeAdmin.objects.filter(user_id=user.pk).exists()
        or PatientProfile.objects.filter(user_id=user.pk).exists()
    )


def add_operator(*, username: str, email: str, password: str) -> NewOperator:
    """A new operator login with a confirmed TOTP device (its key is shown once by the
    caller: whoever has it has the second factor)."""
    username = username.strip()
    if not username:
        raise InvalidInput(_("The operator needs a name."), code="name_missing")
    if User.objects.filter(username__iexact=username).exists():
        raise Conflict(_("An account with this name exists already."), code="exists")
    practices._password(password)
    with transaction.atomic():
        user = User.objects.create_user(
            username=username, email=email.strip().lower(), password=password, is_staff=True
        )
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=True)
    return NewOperator(user, device)


def resend_confirmation(patient: PatientProfile) -> bool:
    """Queue the confirmation mail again; False if the address is confirmed already."""
    if patient.email_confirmed_at is not None:
        return False
    patients.send_confirmation(patient)
    return True


def unlock_login(patient: PatientProfile) -> int:
    """End a lock-out after failed logins for the patient's address (the per-IP count
    stays: it protects other accounts too). Returns the number of failures forgotten."""
    deleted, _rows = LoginAttempt.objects.filter(
        key=ratelimit.key("email", patient.user.email)
    ).delete()
    return deleted


def requeue_mail(outgoing: OutgoingEmail) -> OutgoingEmail:
    """Send a mail again: an unsent one (stuck, or given up after its attempts) is due
    at once with fresh attempts; a sent one is queued once more as a copy."""
    if outgoing.sent_at is None:
        OutgoingEmail.objects.filter(pk=outgoing.pk, sent_at__isnull=True).update(
            attempts=0, next_attempt_at=None, last_error=""
        )
        outgoing.refresh_from_db()
        return outgoing
    return OutgoingEmail.objects.create(
        to=outgoing.to,
        subject=outgoing.subject,
        body=outgoing.body,
        ics=outgoing.ics,
        kind=outgoing.kind,
    )
