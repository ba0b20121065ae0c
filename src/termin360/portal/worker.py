"""The portal's background worker (``termin360 portal worker``): sends queued e-mails and
queues reminders (P5).

Every round:

1. reminders — active bookings that start within their practice's
   ``reminder_hours`` and have had none get one; ``reminder_sent_at`` is set by a
   conditional UPDATE in the same transaction as the queued mail, so two workers
   never remind twice;
2. undelivered alerts (P6) — an active booking that has not reached the practice
   calendar ``UNDELIVERED_ALERT_MINUTES`` after it was made alerts the practice, once
   (``undelivered_alert_at``, claimed the same way), if the practice has a connector key;
3. waiting list (P9) — ``waitlist.offer_round`` offers freed time to waiting patients
   and queues the offer mails (a failure there is logged and does not stop the mails);
4. mails — each unsent ``OutgoingEmail`` that is due is *claimed* before it is
   sent: a conditional UPDATE moves ``next_attempt_at`` from the value we read to
   now + ``LEASE`` and only the worker whose UPDATE changed the row sends it (as
   healthchecks' ``sendalerts`` does). A worker that dies mid-send leaves a lease
   that runs out; the mail is then sent again (at least once, never lost).

A failed send counts an attempt, keeps the error class (no addresses, no
contents) and is retried with exponential backoff and jitter; after
``MAX_ATTEMPTS`` the worker gives up on it and logs that. SIGTERM / SIGINT set the
stop event: the current mail is finished, then the loop ends. The log has counts
and ids only — never patient data.
"""

from __future__ import annotations

import logging
import random
import smtplib
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.mime.text import MIMEText

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import close_old_connections, transaction
from django.db.models import Max, Q
from django.utils import timezone

from termin360.portal import ics
from termin360.portal.models import ApiKey, Booking, OutgoingEmail, Practice
from termin360.portal.services import mail, patients, sync_claims, sync_idempotency, waitlist

log = logging.getLogger("termin360.portal.worker")

MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=5)
BACKOFF_BASE = timedelta(seconds=60)
BACKOFF_MAX = timedelta(hours=6)
CLAIM_BATCH = 20


@dataclass
class RoundResult:
    sent: int = 0
    failed: int = 0
    gave_up: int = 0
    reminders: int = 0
    alerts: int = 0
    offers: int = 0

    def __bool__(self) -> bool:
        return bool(
            self.sent or self.failed or self.gave_up or self.reminders or self.alerts or self.offers
        )


# --------------------------------------------------------------------------- reminders


def queue_reminders(now: datetime | None = None) -> int:
    """Queue the reminders that are due; returns how many were queued."""
    now = now or timezone.now()
    widest = _widest_reminder_hours()
    if not widest:
        return 0
    candidates = (
        Booking.objects.filter(
            status=Booking.Status.ACTIVE,
            reminder_sent_at__isnull=True,
            start__gt=now,
            start__lte=now + timedelta(hours=widest),
        )
        .select_related("calendar__doctor__practice", "calendar__doctor__location", "visit_type")
        .order_by("start")
    )
    queued = 0
    for booking in candidates:
        hours = booking.calendar.doctor.practice.reminder_hours
        if not hours or booking.start > now + timedelta(hours=hours):
            continue
        with transaction.atomic():
            # Only the worker whose UPDATE changes the row queues the mail; a booking
            # cancelled meanwhile is skipped by the status condition.
            claimed = Booking.objects.filter(
                pk=booking.pk, reminder_sent_at__isnull=True, status=Booking.Status.ACTIVE
            ).update(reminder_sent_at=now)
            if claimed == 1:
                mail.booking_reminder(booking)
                queued += 1
    return queued


def _widest_reminder_hours() -> int:
    return int(Practice.objects.aggregate(m=Max("reminder_hours"))["m"] or 0)


# --------------------------------------------------------------------------- P6 alerts


def queue_undelivered_alerts(now: datetime | None = None) -> int:
    """Alert practices about bookings that have not reached their calendar in time.

    Only for practices with an active API key: without a connector nothing is ever
    delivered, and the practice works from the portal's booking list instead. Only
    bookings that have not ended: an alert about a past appointment helps nobody.
    """
    now = now or timezone.now()
    minutes = float(getattr(settings, "UNDELIVERED_ALERT_MINUTES", 15))
    with_connector = ApiKey.objects.filter(revoked_at__isnull=True).values("practice_id")
    candidates = Booking.objects.filter(
        status=Booking.Status.ACTIVE,
        delivered_at__isnull=True,
        undelivered_alert_at__isnull=True,
        created_at__lte=now - timedelta(minutes=minutes),
        end__gt=now,
        calendar__doctor__practice_id__in=with_connector,
    ).select_related("calendar__doctor__practice", "calendar__doctor__location", "visit_type")
    queued = 0
    for booking in candidates.order_by("created_at"):
        with transaction.atomic():
            # As with reminders: only the worker whose UPDATE changes the row alerts, and a
            # booking delivered or cancelled meanwhile is left alone.
            claimed = Booking.objects.filter(
                pk=booking.pk,
                undelivered_alert_at__isnull=True,
                delivered_at__isnull=True,
                status=Booking.Status.ACTIVE,
            ).update(undelivered_alert_at=now)
            if claimed == 1:
                mail.undelivered_alert(booking)
                queued += 1
    return queued


# --------------------------------------------------------------------------- sending


def _due(now: datetime) -> Q:
    return Q(sent_at__isnull=True, attempts__lt=MAX_ATTEMPTS) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )


def claim_next(now: datetime | None = None) -> OutgoingEmail | None:
    """Lease one due mail to this worker, or ``None`` if there is none (left)."""
    now = now or timezone.now()
    for candidate in OutgoingEmail.objects.filter(_due(now)).order_by("pk")[:CLAIM_BATCH]:
        old = candidate.next_attempt_at
        same = Q(next_attempt_at__isnull=True) if old is None else Q(next_attempt_at=old)
        claimed = (
            OutgoingEmail.objects.filter(same, pk=candidate.pk, sent_at__isnull=True)
            .filter(_due(now))
            .update(next_attempt_at=now + LEASE)
        )
        if claimed == 1:
            candidate.next_attempt_at = now + LEASE
            return candidate
    return None


def build_message(outgoing: OutgoingEmail) -> EmailMessage:
    message = EmailMessage(
        subject=outgoing.subject,
        body=outgoing.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[outgoing.to],
    )
    if outgoing.ics:
        part = MIMEText(outgoing.ics, "calendar", "utf-8")
        part.set_param("method", ics.method_of(outgoing.ics))
        part.add_header("Content-Disposition", "attachment", filename="termin.ics")
        message.attach(part)
    return message


def _error_text(exc: BaseException) -> str:
    """What the row keeps about a failure: the class and, for SMTP replies, the code —
    never the message text, which may quote the recipient's address."""
    text = exc.__class__.__name__
    if isinstance(exc, smtplib.SMTPResponseException):
        text += f" {exc.smtp_code}"
    elif isinstance(exc, OSError) and exc.errno:
        text += f" errno {exc.errno}"
    return text[:300]


def backoff(attempts: int, rng: random.Random | None = None) -> timedelta:
    """Delay before attempt ``attempts + 1``: doubling from ``BACKOFF_BASE``, capped,
    with ±50 % jitter so that many failed mails do not retry in lock-step."""
    base = min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_MAX)
    jitter = rng.random() if rng else random.random()  # noqa: S311 - not security relevant
    return timedelta(seconds=base.total_seconds() * (0.5 + jitter))


def send_one(outgoing: OutgoingEmail) -> bool:
    """Render a claimed mail if it waits for that (``mail.render_pending``), send it and
    record the outcome; ``True`` if it went out."""
    try:
        mail.render_pending(outgoing)
        build_message(outgoing).send(fail_silently=False)
    except Exception as exc:
        attempts = outgoing.attempts + 1
        now = timezone.now()
        gave_up = attempts >= MAX_ATTEMPTS
        OutgoingEmail.objects.filter(pk=outgoing.pk).update(
            attempts=attempts,
            last_error=_error_text(exc),
            next_attempt_at=None if gave_up else now + backoff(attempts),
        )
        if gave_up:
            log.error(
                "mail %s (%s) not sent after %s attempts, giving up: %s",
                outgoing.pk,
                outgoing.kind,
                attempts,
                _error_text(exc),
            )
        else:
            log.warning(
                "mail %s (%s) attempt %s failed: %s",
                outgoing.pk,
                outgoing.kind,
                attempts,
                _error_text(exc),
            )
        return False
    OutgoingEmail.objects.filter(pk=outgoing.pk).update(
        sent_at=timezone.now(), attempts=outgoing.attempts + 1, last_error=""
    )
    return True


def run_round(stop_event: threading.Event | None = None) -> RoundResult:
    """One pass: queue due reminders, offer freed time to waiting patients (P9), forget
    what deleted accounts left behind once its time has passed (P7), then send due mails
    until none is left or we stop."""
    result = RoundResult(reminders=queue_reminders(), alerts=queue_undelivered_alerts())
    try:
        result.offers = waitlist.offer_round()
    except Exception:
        # The waiting list is a bonus; queued mails (confirmations) must still go out.
        log.exception("waiting list round failed; retrying next round")
    patients.forget_past_snapshots()
    sync_idempotency.forget_old()
    sync_claims.forget_old()
    while stop_event is None or not stop_event.is_set():
        outgoing = claim_next()
        if outgoing is None:
            break
        if send_one(outgoing):
            result.sent += 1
        else:
            result.failed += 1
            if outgoing.attempts + 1 >= MAX_ATTEMPTS:
                result.gave_up += 1
    return result


def run_worker(stop_event: threading.Event, poll_seconds: float = 5.0) -> None:
    """Run rounds every ``poll_seconds`` until ``stop_event`` is set.

    A database or configuration hiccup is logged and retried next round: the
    worker must outlive a database restart.
    """
    log.info("mail worker started (poll every %ss)", poll_seconds)
    try:
        while not stop_event.is_set():
            close_old_connections()
            try:
                result = run_round(stop_event)
            except Exception:
                log.exception("mail worker round failed; retrying")
            else:
                if result:
                    log.info(
                        "sent %s, failed %s, gave up %s, reminders queued %s, alerts queued %s, "
                        "waiting list offers %s",
                        result.sent,
                        result.failed,
                        result.gave_up,
                        result.reminders,
                        result.alerts,
                        result.offers,
                    )
            stop_event.wait(poll_seconds)
    finally:
        # The thread's (or process's) own connection; tests run this in a thread.
        from django.db import connection

        connection.close()
        log.info("mail worker stopped")


def describe_backend() -> str:
    """Where mails go, for the start line of ``termin360 portal worker``."""
    backend = settings.EMAIL_BACKEND
    if backend.endswith("smtp.EmailBackend"):
        return f"SMTP {settings.EMAIL_HOST}:{settings.EMAIL_PORT}"
    if backend.endswith("filebased.EmailBackend"):
        return f"Dateien in {getattr(settings, 'EMAIL_FILE_PATH', '?')}"
    return backend
