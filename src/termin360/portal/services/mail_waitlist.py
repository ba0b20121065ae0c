"""E-mails of the waiting list (P9), queued like those of :mod:`.mail`: inside the
transaction that creates the offer, sent by the worker after commit."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import translation

from termin360.portal.models import OutgoingEmail, WaitlistOffer
from termin360.portal.services.mail import (
    _local_when,
    _queue,
    _render,
    appointment_context,
    portal_url,
)


def _offer_context(offer: WaitlistOffer, link: str) -> dict[str, Any]:
    entry = offer.entry
    zone = entry.calendar.doctor.practice.time_zone
    patient = entry.patient
    booking = entry.booking
    return {
        **appointment_context(entry.calendar, entry.visit_type, offer.start, offer.end),
        "patient_name": f"{patient.first_name} {patient.last_name}".strip(),
        "valid_until": _local_when(offer.expires_at, zone),
        "moves_booking": booking is not None,
        "old_when": _local_when(booking.start, zone) if booking else None,
        "link": link,
        "waitlist_url": portal_url(reverse("portal:waitlist")),
    }


def waitlist_offer(offer: WaitlistOffer, link: str) -> OutgoingEmail | None:
    """Offer a freed time to a waiting patient; ``link`` (absolute) takes it in one step."""
    with translation.override(settings.LANGUAGE_CODE):
        subject, body = _render("waitlist_offer", _offer_context(offer, link))
    return _queue(offer.entry.patient.user.email, subject, body, "waitlist_offer")


__all__ = ["portal_url", "waitlist_offer"]
