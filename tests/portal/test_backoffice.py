"""P10: the back office (``/backoffice/``) lets in only operators, and only with a TOTP
second factor; it is read-only except for its actions, and each action is audited."""

from __future__ import annotations

import subprocess
import sys
from base64 import b32decode
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from termin360.portal.models import (
    ApiKey,
    Booking,
    LoginAttempt,
    OutgoingEmail,
    PatientProfile,
    Practice,
)
from termin360.portal.services import bookings, operators, practices, ratelimit
from tests.conftest import require_shared_database, role_env
from tests.portal.conftest import (
    ADMIN_PASSWORD,
    PATIENT_PASSWORD,
    World,
    build_world,
    make_patient,
    rendered,
)

OPERATOR_PASSWORD = "betrieb-pass-123"
BACKOFFICE = "/backoffice/"
LOGIN = "/backoffice/login/"


def code_of(device: TOTPDevice, *, offset: int = 0) -> str:
    """The device's current TOTP code (``offset`` steps away)."""
    value = totp(device.bin_key, device.step, device.t0, device.digits, device.drift + offset)
    return f"{value:0{device.digits}d}"


def make_operator(name: str = "betrieb") -> operators.NewOperator:
    return operators.add_operator(
        username=name, email=f"{name}@termin360.example", password=OPERATOR_PASSWORD
    )


def log_in(client: Client, username: str, password: str, token: str) -> Any:
    return client.post(
        LOGIN + "?next=" + BACKOFFICE,
        {"username": username, "password": password, "otp_token": token},
    )


def inside(client: Client) -> bool:
    """Whether the back office's start page opens (not a redirect to its login)."""
    return client.get(BACKOFFICE).status_code == 200


@pytest.fixture
def operator_client(client: Client, db: None) -> Client:
    operator = make_operator()
    response = log_in(client, "betrieb", OPERATOR_PASSWORD, code_of(operator.device))
    assert response.status_code == 302 and response["Location"] == BACKOFFICE
    return client


# --------------------------------------------------------------------------- who gets in


def test_anonymous_patients_and_practice_admins_do_not_get_in(client: Client, world: World) -> None:
    assert client.get(BACKOFFICE)["Location"].startswith(LOGIN)
    assert client.get(BACKOFFICE + "portal/practice/").status_code == 302

    client.force_login(world.patient.user)
    assert not inside(client)
    admin = User.objects.get(username=world.admin_email)
    client.force_login(admin)
    assert not inside(client)


@pytest.mark.parametrize("account", ["patient", "practice admin"])
def test_staff_flag_and_totp_do_not_make_a_patient_or_practice_admin_an_operator(
    client: Client, world: World, account: str
) -> None:
    """Even with ``is_staff`` and a confirmed TOTP device, the accounts stay separate."""
    if account == "patient":
        user, password = world.patient.user, PATIENT_PASSWORD
    else:
        user, password = User.objects.get(username=world.admin_email), ADMIN_PASSWORD
    User.objects.filter(pk=user.pk).update(is_staff=True)
    device = TOTPDevice.objects.create(user=user, name="x", confirmed=True)
    log_in(client, user.username, password, code_of(device))
    assert not inside(client)


def test_an_operator_without_a_verified_second_factor_is_refused(client: Client, db: None) -> None:
    operator = make_operator()
    client.force_login(operator.user)  # password only: not verified
    assert not inside(client)
    client.logout()

    no_code = log_in(client, "betrieb", OPERATOR_PASSWORD, "")
    assert no_code.status_code == 200  # the login form again, with its error
    assert not inside(client)
    wrong = log_in(client, "betrieb", OPERATOR_PASSWORD, code_of(operator.device, offset=20))
    assert wrong.status_code == 200
    assert not inside(client)
    bad_password = log_in(client, "betrieb", "falsch-falsch", code_of(operator.device))
    assert bad_password.status_code == 200
    assert not inside(client)


def test_an_operator_with_password_and_totp_code_gets_in(operator_client: Client) -> None:
    page = operator_client.get(BACKOFFICE)
    assert page.status_code == 200
    text = page.content.decode()
    assert "termin360 Back-Office" in text
    for section in ("Praxen", "Patienten", "E-Mails", "Abgleich", "Logeinträge"):
        assert section in text, section


# --------------------------------------------------------------------------- read-only


def test_the_back_office_changes_nothing_but_through_its_actions(
    operator_client: Client, world: World
) -> None:
    practice_url = f"{BACKOFFICE}portal/practice/{world.practice.pk}/change/"
    assert operator_client.get(practice_url).status_code == 200
    refused = operator_client.post(practice_url, {"name": "Anders", "status": "approved"})
    assert refused.status_code == 403
    assert operator_client.get(f"{BACKOFFICE}portal/practice/add/").status_code == 403
    delete = f"{BACKOFFICE}portal/practice/{world.practice.pk}/delete/"
    assert operator_client.post(delete, {"post": "yes"}).status_code == 403
    assert Practice.objects.get(pk=world.practice.pk).name == world.practice.name


def test_patients_are_shown_without_birth_date_insurance_or_bookings(
    operator_client: Client, world: World
) -> None:
    patient = world.patient
    listing = operator_client.get(f"{BACKOFFICE}portal/patientprofile/", {"q": "Müller"})
    assert patient.user.email in listing.content.decode()
    detail = operator_client.get(f"{BACKOFFICE}portal/patientprofile/{patient.pk}/change/")
    text = detail.content.decode()
    assert patient.last_name in text
    for hidden in ("17.05.1980", "1980-05-17", "0721 123456", "gesetzlich", "pbkdf2"):
        assert hidden not in text, hidden


def test_mails_are_shown_without_body_or_full_address(
    operator_client: Client, world: World
) -> None:
    booking = bookings.book(
        patient=world.patient,
        calendar_id=world.calendar.pk,
        visit_type_id=world.checkup.pk,
        start=_bookable(world),
        reason="Rückenschmerzen",
    )
    (outgoing,) = rendered("booking_confirmed")
    text = operator_client.get(f"{BACKOFFICE}portal/outgoingemail/").content.decode()
    text += operator_client.get(
        f"{BACKOFFICE}portal/outgoingemail/{outgoing.pk}/change/"
    ).content.decode()
    assert "booking_confirmed" in text and "…@example.org" in text
    assert world.patient.user.email not in text
    assert outgoing.subject not in text and "Rückenschmerzen" not in text
    assert booking.patient_last_name not in text


# --------------------------------------------------------------------------- actions


def _bookable(world: World) -> Any:
    from termin360.portal.services import availability

    first = timezone.now().date() + timedelta(days=2)
    by_day = availability.slots_by_day(world.calendar, first, first + timedelta(days=7), 15)
    return min(s.start for slots in by_day.values() for s in slots)


def act(client: Client, model: str, action: str, ids: list[int], **extra: str) -> Any:
    return client.post(
        f"{BACKOFFICE}portal/{model}/",
        {"action": action, "_selected_action": [str(i) for i in ids], **extra},
    )


def audit_messages(obj: Any) -> list[str]:
    return list(
        LogEntry.objects.filter(object_id=str(obj.pk), object_repr=str(obj))
        .order_by("pk")
        .values_list("change_message", flat=True)
    )


def test_approve_suspend_and_cancel_are_audited(operator_client: Client, db: None) -> None:
    world = build_world(approved=False)
    practice = world.practice
    operator = User.objects.get(username="betrieb")

    assert act(operator_client, "practice", "approve", [practice.pk]).status_code == 302
    practice.refresh_from_db()
    assert practice.status == "approved" and practice.approved_by == operator
    assert audit_messages(practice) == ["Freigegeben."]

    booking = bookings.book(
        patient=world.patient,
        calendar_id=world.calendar.pk,
        visit_type_id=world.checkup.pk,
        start=_bookable(world),
    )
    asked = act(operator_client, "practice", "suspend", [practice.pk])
    assert asked.status_code == 200 and "Praxen sperren" in asked.content.decode()
    practice.refresh_from_db()
    assert practice.status == "approved"  # nothing happens before the confirmation
    no_note = act(operator_client, "practice", "suspend", [practice.pk], confirmed="1")
    assert no_note.status_code == 200  # asked again: the note is required
    done = act(
        operator_client, "practice", "suspend", [practice.pk], confirmed="1", text="Fälschung"
    )
    assert done.status_code == 302
    practice.refresh_from_db()
    assert (practice.status, practice.suspended_by, practice.status_note) == (
        "suspended",
        operator,
        "Fälschung",
    )
    assert Booking.objects.get(pk=booking.pk).status == Booking.Status.ACTIVE

    act(
        operator_client,
        "practice",
        "cancel_future_bookings",
        [practice.pk],
        confirmed="1",
        text="Die Praxis ist geschlossen.",
    )
    assert Booking.objects.get(pk=booking.pk).status == Booking.Status.CANCELLED
    assert OutgoingEmail.objects.filter(kind="practice_cancelled").count() == 1
    assert audit_messages(practice) == [
        "Freigegeben.",
        "Gesperrt: Fälschung",
        "1 künftige Buchungen abgesagt: Die Praxis ist geschlossen.",
    ]
    assert {e.user for e in LogEntry.objects.all()} == {operator}


def test_revoking_an_api_key_is_audited(operator_client: Client, world: World) -> None:
    record, key = practices.issue_api_key(practice=world.practice, name="Empfang")
    detail = operator_client.get(f"{BACKOFFICE}portal/practice/{world.practice.pk}/change/")
    assert record.prefix in detail.content.decode()
    act(operator_client, "apikey", "revoke", [record.pk])
    assert practices.practice_for_key(key) is None
    assert audit_messages(ApiKey.objects.get(pk=record.pk)) == ["Widerrufen."]


def test_resending_the_confirmation_and_unlocking_are_audited(
    operator_client: Client, db: None
) -> None:
    patient = make_patient("neu@example.org", confirmed=False)
    act(operator_client, "patientprofile", "resend_confirmation", [patient.pk])
    assert OutgoingEmail.objects.filter(to="neu@example.org", kind="confirm_email").count() == 1

    for _attempt in range(ratelimit.EMAIL_LIMIT):
        ratelimit.login_failed(email="neu@example.org", ip="192.0.2.7")
    assert ratelimit.login_lock(email="neu@example.org", ip="198.51.100.1") is not None
    act(operator_client, "patientprofile", "unlock", [patient.pk])
    assert ratelimit.login_lock(email="neu@example.org", ip="198.51.100.1") is None
    assert LoginAttempt.objects.filter(key=ratelimit.key("ip", "192.0.2.7")).exists()
    assert audit_messages(PatientProfile.objects.get(pk=patient.pk)) == [
        "Bestätigungs-E-Mail erneut eingereiht.",
        "Anmeldung entsperrt (5 Fehlversuche gelöscht).",
    ]


def test_resending_a_mail_is_audited(operator_client: Client, db: None) -> None:
    stuck = OutgoingEmail.objects.create(
        to="x@example.org", subject="s", body="b", kind="confirm_email", attempts=8
    )
    stuck.last_error = "SMTP down"
    stuck.save()
    sent = OutgoingEmail.objects.create(
        to="y@example.org", subject="s", body="b", kind="confirm_email", sent_at=timezone.now()
    )
    act(operator_client, "outgoingemail", "resend", [stuck.pk, sent.pk])
    stuck.refresh_from_db()
    assert (stuck.attempts, stuck.last_error, stuck.sent_at) == (0, "", None)
    copy = OutgoingEmail.objects.exclude(pk__in=[stuck.pk, sent.pk]).get()
    assert (copy.to, copy.body, copy.sent_at) == ("y@example.org", "b", None)
    assert audit_messages(stuck) == ["Erneut eingereiht."]
    assert audit_messages(sent) == [f"Erneut eingereiht als E-Mail {copy.pk}."]


def test_the_audit_log_and_the_sync_view_are_in_the_back_office(
    operator_client: Client, world: World
) -> None:
    act(operator_client, "practice", "approve", [world.practice.pk])
    log = operator_client.get(f"{BACKOFFICE}admin/logentry/").content.decode()
    assert "Freigegeben." in log and world.practice.name in log
    record, _key = practices.issue_api_key(practice=world.practice, name="Empfang")
    ApiKey.objects.filter(pk=record.pk).update(last_used_at=timezone.now())
    Practice.objects.filter(pk=world.practice.pk).update(
        feed_seq=42, busy_received_at=timezone.now() - timedelta(minutes=7)
    )
    sync = operator_client.get(f"{BACKOFFICE}portal/practicesync/").content.decode()
    assert "vor 7 Minuten" in sync and ">42<" in sync


# --------------------------------------------------------------------------- CLI


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "termin360", "portal", *args],
        env=role_env("portal", tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_add_operator_prints_the_totp_key_once_and_refuses_a_taken_name(
    transactional_db: None, tmp_path: Path
) -> None:
    require_shared_database()
    done = _cli(
        tmp_path, "add-operator", "betrieb", "--email", "b@example.org", "--password", "x7-Qs!long"
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    uri = next(line for line in lines if line.startswith("otpauth://totp/"))
    assert uri.startswith("otpauth://totp/termin360%3Abetrieb?") and "issuer=termin360" in uri
    device = TOTPDevice.objects.get(user__username="betrieb")
    assert b32decode(lines[-1]) == device.bin_key and f"secret={lines[-1]}" in uri
    user = device.user
    assert user.is_staff and not user.is_superuser and user.check_password("x7-Qs!long")
    assert operators.is_operator(user)

    again = _cli(tmp_path, "add-operator", "betrieb", "--password", "x7-Qs!long")
    assert again.returncode == 1
    assert "Ein Konto mit diesem Namen gibt es bereits." in again.stderr
    assert "Traceback" not in again.stderr
    weak = _cli(tmp_path, "add-operator", "zweiter", "--password", "123")
    assert weak.returncode == 1 and "Traceback" not in weak.stderr
    assert not User.objects.filter(username="zweiter").exists()
