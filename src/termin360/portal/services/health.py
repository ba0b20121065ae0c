"""The portal's own readiness checks (see :mod:`termin360.deploy.health`): the mail
queue moves. A mail the worker still means to send that waits longer than
``READY_MAIL_MINUTES`` says the worker is down or SMTP refuses — patients are not
getting their confirmations."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Min
from django.utils import timezone

from termin360.core.health import CheckResult, age_check
from termin360.portal.models import OutgoingEmail
from termin360.portal.worker import MAX_ATTEMPTS


def oldest_unsent_mail_age() -> timedelta | None:
    """Age of the oldest mail still to be sent (given-up mails are the back office's)."""
    oldest = OutgoingEmail.objects.filter(
        sent_at__isnull=True, attempts__lt=MAX_ATTEMPTS
    ).aggregate(oldest=Min("created_at"))["oldest"]
    return None if oldest is None else timezone.now() - oldest


def check_mail_queue() -> CheckResult:
    age = oldest_unsent_mail_age()
    limit = float(getattr(settings, "READY_MAIL_MINUTES", 15)) * 60
    return age_check(None if age is None else age.total_seconds(), limit, "unsent mail")


READY_CHECKS = [("mail_queue", check_mail_queue)]
