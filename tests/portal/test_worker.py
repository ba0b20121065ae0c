"""The e-mail worker against a real SMTP server (aiosmtpd): sending, calendar files,
retries with backoff, reminders, and the real ``termin360 portal worker`` process (P5)."""

from __future__ import annotations

import logging
import os
import random
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.utils import timezone
from icalendar import Calendar

from termin360.portal import worker
from termin360.portal.models import Booking, OutgoingEmail
from termin360.portal.services import bookings, mail
from tests.conftest import BACKEND, role_env
from tests.portal.conftest import World, build_world, rendered
from tests.portal.smtp import SmtpServer, attachment, running_smtp_server, subject_of
from tests.portal.test_mail import booking_at, next_weekday_at

BERLIN = ZoneInfo("Europe/Berlin")
SUMMER = datetime(2027, 7, 5, 9, 30, tzinfo=BERLIN)  # CEST, UTC+2
WINTER = datetime(2027, 1, 11, 9, 30, tzinfo=BERLIN)  # CET, UTC+1


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    with running_smtp_server() as server:
        yield server


@pytest.fixture
def smtp_settings(settings: Any, smtp_server: SmtpServer) -> SmtpServer:
    """Django's SMTP backend pointed at the test server (what TERMIN360_SMTP_HOST does)."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = smtp_server.host
    settings.EMAIL_PORT = smtp_server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    return smtp_server


def calendar_of(msg: EmailMessage) -> tuple[str, Calendar]:
    found = attachment(msg, "termin.ics")
    assert found is not None, "no termin.ics attached"
    content_type, payload = found
    return content_type, Calendar.from_ical(payload.decode("utf-8"))


def subject(msg: EmailMessage) -> str:
    return subject_of(msg)


def uid_of(msg: EmailMessage) -> str | None:
    """The UID of the attached calendar event, if the message has one."""
    found = attachment(msg, "termin.ics")
    if found is None:
        return None
    return str(Calendar.from_ical(found[1].decode("utf-8")).walk("VEVENT")[0]["UID"])


# --------------------------------------------------------------------------- worker thread


@pytest.fixture
def worker_thread(transactional_db: None) -> Iterator[threading.Event]:
    """``run_worker`` in a thread (its own database connection), stopped after the test."""
    stop = threading.Event()
    thread = threading.Thread(target=worker.run_worker, args=(stop, 0.05), daemon=True)
    thread.start()
    yield stop
    stop.set()
    thread.join(timeout=20)
    assert not thread.is_alive(), "worker did not stop"


def test_worker_sends_confirmations_with_ics_in_summer_and_winter(
    smtp_settings: SmtpServer, worker_thread: threading.Event
) -> None:
    world = build_world()
    summer, winter = booking_at(world, SUMMER), booking_at(world, WINTER)
    with transaction.atomic():
        mail.booking_confirmed(summer)
        mail.booking_confirmed(winter)

    for booking, local, offset in ((summer, SUMMER, 2), (winter, WINTER, 1)):
        msg = smtp_settings.wait_for(lambda m, b=booking: uid_of(m) == f"booking-{b.pk}@termin360")
        assert subject(msg).startswith("Termin bestätigt")
        assert msg["To"] == world.patient.user.email
        assert "Guten Tag Hans Müller" in msg.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
        content_type, cal = calendar_of(msg)
        assert content_type.startswith("text/calendar")
        params = content_type.replace('"', "").replace(" ", "").lower()
        assert "method=publish" in params and "charset=utf-8" in params
        (event,) = cal.walk("VEVENT")
        dtstart = event.decoded("DTSTART")
        assert str(event["DTSTART"].params["TZID"]) == "Europe/Berlin"
        assert dtstart.replace(tzinfo=None) == local.replace(tzinfo=None)
        assert dtstart.utcoffset() == timedelta(hours=offset)
        assert dtstart.astimezone(UTC) == booking.start
        assert cal.walk("VTIMEZONE")[0]["TZID"] == "Europe/Berlin"

    def all_sent() -> bool:
        return not OutgoingEmail.objects.filter(sent_at__isnull=True).exists()

    _eventually(all_sent)
    assert set(OutgoingEmail.objects.values_list("attempts", flat=True)) == {1}
    assert len(smtp_settings.messages) == 2  # each mail once


def test_worker_sends_the_cancellation_with_method_cancel(
    smtp_settings: SmtpServer, worker_thread: threading.Event
) -> None:
    world = build_world()
    booking = bookings.book(
        patient=world.patient,
        calendar_id=world.calendar.pk,
        visit_type_id=world.checkup.pk,
        start=next_weekday_at(10, 30),
    )
    confirmed = smtp_settings.wait_for(lambda m: subject(m).startswith("Termin bestätigt"))
    bookings.cancel_by_patient(patient=world.patient, booking_id=booking.pk)
    cancelled = smtp_settings.wait_for(lambda m: subject(m).startswith("Termin abgesagt"))

    content_type, cal = calendar_of(cancelled)
    assert "method=cancel" in content_type.replace('"', "").lower()
    assert cal["METHOD"] == "CANCEL"
    (event,) = cal.walk("VEVENT")
    (first,) = calendar_of(confirmed)[1].walk("VEVENT")
    assert event["STATUS"] == "CANCELLED"
    assert event["UID"] == first["UID"] == f"booking-{booking.pk}@termin360"
    assert event["SEQUENCE"] > first["SEQUENCE"]


def _eventually(check: Any, timeout: float = 10) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail("condition not reached in time")
        time.sleep(0.05)


# --------------------------------------------------------------------------- failures


def test_smtp_failure_keeps_the_mail_and_a_later_retry_sends_it(
    smtp_settings: SmtpServer, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    booking = booking_at(world, SUMMER)
    mail.booking_confirmed(booking)
    smtp_settings.stop()

    with caplog.at_level(logging.INFO, logger="termin360.portal.worker"):
        result = worker.run_round()
    assert (result.sent, result.failed) == (0, 1)
    m = OutgoingEmail.objects.get()
    assert m.sent_at is None
    assert m.attempts == 1
    assert m.last_error.startswith("ConnectionRefusedError")
    assert m.next_attempt_at is not None and m.next_attempt_at > timezone.now()
    # Logs carry ids and error classes, never addresses or texts.
    assert world.patient.user.email not in caplog.text
    assert "Müller" not in caplog.text

    smtp_settings.start()
    assert worker.run_round().sent == 0  # not due yet: backoff
    assert smtp_settings.messages == []

    OutgoingEmail.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert worker.run_round().sent == 1
    m.refresh_from_db()
    assert m.sent_at is not None and m.attempts == 2 and m.last_error == ""
    assert subject(smtp_settings.wait_for()).startswith("Termin bestätigt")


def test_worker_gives_up_after_max_attempts(
    smtp_settings: SmtpServer, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    mail.booking_confirmed(booking_at(world, SUMMER))
    OutgoingEmail.objects.update(attempts=worker.MAX_ATTEMPTS - 1)
    smtp_settings.stop()

    with caplog.at_level(logging.INFO, logger="termin360.portal.worker"):
        result = worker.run_round()
    assert (result.failed, result.gave_up) == (1, 1)
    assert "giving up" in caplog.text
    m = OutgoingEmail.objects.get()
    assert m.attempts == worker.MAX_ATTEMPTS and m.sent_at is None

    smtp_settings.start()
    OutgoingEmail.objects.update(next_attempt_at=None)
    assert worker.run_round().sent == 0  # never claimed again
    assert smtp_settings.messages == []


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    rng = random.Random(7)
    for attempts in range(1, 12):
        base = min(worker.BACKOFF_BASE * 2 ** (attempts - 1), worker.BACKOFF_MAX)
        delays = [worker.backoff(attempts, rng) for _ in range(50)]
        assert all(base * 0.5 <= d <= base * 1.5 for d in delays)
        assert len(set(delays)) > 1  # jitter
    assert worker.backoff(30, rng) <= worker.BACKOFF_MAX * 1.5


# --------------------------------------------------------------------------- claiming


def test_a_claimed_mail_is_leased_and_not_claimed_twice(world: World) -> None:
    mail.booking_confirmed(booking_at(world, SUMMER))
    mail.booking_confirmed(booking_at(world, WINTER))
    first = worker.claim_next()
    second = worker.claim_next()
    assert first is not None and second is not None and first.pk != second.pk
    assert worker.claim_next() is None
    # A worker that died leaves a lease that runs out; then the mail is claimed again.
    later = timezone.now() + worker.LEASE + timedelta(seconds=1)
    again = worker.claim_next(now=later)
    assert again is not None and again.pk in (first.pk, second.pk)


def test_claim_loses_against_a_concurrent_claim(world: World) -> None:
    mail.booking_confirmed(booking_at(world, SUMMER))
    stale = OutgoingEmail.objects.get()
    assert worker.claim_next() is not None  # another worker was faster
    # What this worker read before is out of date: its conditional UPDATE changes nothing.
    assert (
        OutgoingEmail.objects.filter(pk=stale.pk, next_attempt_at__isnull=True).update(
            next_attempt_at=timezone.now()
        )
        == 0
    )
    assert worker.claim_next() is None


def test_without_smtp_mails_are_written_as_files(
    settings: Any, world: World, tmp_path: Path
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "mails")
    mail.booking_confirmed(booking_at(world, SUMMER))
    mail.booking_confirmed(booking_at(world, WINTER))
    assert worker.run_round().sent == 2
    # Django names the files by second and connection; two mails may share one file.
    text = "".join(f.read_text() for f in sorted((tmp_path / "mails").iterdir()))
    assert text.count("\nSubject: ") == 2
    assert text.count("termin.ics") >= 2 and "text/calendar" in text


# --------------------------------------------------------------------------- reminders


def _active(world: World, hours_ahead: float) -> Booking:
    start = (timezone.now() + timedelta(hours=hours_ahead)).replace(microsecond=0)
    return booking_at(world, start)


def test_reminder_is_queued_once_within_24_hours_and_not_further_out(world: World) -> None:
    soon = _active(world, 5)
    later = _active(world, 30)
    past = _active(world, -2)
    cancelled = _active(world, 6)
    Booking.objects.filter(pk=cancelled.pk).update(status=Booking.Status.CANCELLED)

    assert worker.queue_reminders() == 1
    assert worker.queue_reminders() == 0  # not twice
    (reminder,) = rendered("booking_reminder")
    assert reminder.subject.startswith("Erinnerung")
    soon.refresh_from_db()
    assert soon.reminder_sent_at is not None
    for b in (later, past, cancelled):
        b.refresh_from_db()
        assert b.reminder_sent_at is None


def test_reminder_hours_of_the_practice_are_respected(world: World) -> None:
    other = build_world("Praxis Keller", "admin@praxis-keller.de")
    other.practice.reminder_hours = 48
    other.practice.save()
    world.practice.reminder_hours = 2
    world.practice.save()
    in_5h_short = _active(world, 5)  # outside 2 h
    in_1h_short = _active(world, 1)  # inside 2 h
    in_30h_long = _active(other, 30)  # inside 48 h
    in_50h_long = _active(other, 50)  # outside 48 h

    assert worker.queue_reminders() == 2
    reminded = set(
        Booking.objects.filter(reminder_sent_at__isnull=False).values_list("pk", flat=True)
    )
    assert reminded == {in_1h_short.pk, in_30h_long.pk}
    assert in_5h_short.pk not in reminded and in_50h_long.pk not in reminded

    other.practice.reminder_hours = 0  # 0: this practice sends no reminders
    other.practice.save()
    Booking.objects.update(reminder_sent_at=None)
    OutgoingEmail.objects.all().delete()
    assert worker.queue_reminders() == 1
    assert OutgoingEmail.objects.get().to == world.patient.user.email


def test_worker_round_queues_and_sends_the_reminder(
    smtp_settings: SmtpServer, world: World
) -> None:
    _active(world, 3)
    result = worker.run_round()
    assert (result.reminders, result.sent) == (1, 1)
    assert subject(smtp_settings.wait_for()).startswith("Erinnerung")
    assert worker.run_round().reminders == 0


# --------------------------------------------------------------------------- the real command


def test_portal_worker_command_sends_and_stops_on_sigterm(
    transactional_db: None, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    if BACKEND == "sqlite" and not os.environ.get("TERMIN360_TEST_SQLITE_FILE"):
        pytest.skip("set TERMIN360_TEST_SQLITE_FILE (scripts/test does) to share SQLite")
    world = build_world()
    booking = booking_at(world, WINTER)
    mail.booking_confirmed(booking)

    env = role_env(
        "portal",
        tmp_path,
        TERMIN360_SMTP_HOST=smtp_server.host,
        TERMIN360_SMTP_PORT=str(smtp_server.port),
        TERMIN360_LOG_LEVEL="INFO",
    )
    log = tmp_path / "worker.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "termin360", "portal", "worker", "--poll", "0.2"],
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    try:
        msg = smtp_server.wait_for(lambda m: uid_of(m) == f"booking-{booking.pk}@termin360", 30)
        assert subject(msg).startswith("Termin bestätigt")
        event = calendar_of(msg)[1].walk("VEVENT")[0]
        assert event.decoded("DTSTART").replace(tzinfo=None) == WINTER.replace(tzinfo=None)
        assert event.decoded("DTSTART").utcoffset() == timedelta(hours=1)
        _eventually(lambda: OutgoingEmail.objects.get().sent_at is not None)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = log.read_text()
    assert "mail worker stopped" in output
    assert world.patient.user.email not in output  # counts, not addresses
    assert len(smtp_server.messages) == 1
