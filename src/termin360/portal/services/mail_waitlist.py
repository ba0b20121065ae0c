"""E-mails of the waiting list (P9), queued like those of :mod:`.mail`: inside the
transaction that creates the offer, sent by the worker after commit."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import translation

from termin360.portal.models import OutgoingEmail, WaitlistOffer
from termin360.portal.services.mail import _local_when, _queue, _render, portal_url


def _offer_context(offer: WaitlistOffer, link: str) -> dict[str, Any]:
    entry = offer.entry
    calendar = entry.calendar
    doctor = calendar.doctor
    practice = doctor.practice
    location = doctor.location
    patient = entry.patient
    address = ", ".join(
        p for p in (location.street, f"{location.postcode} {location.city}".strip()) if p
    )
    booking = entry.booking
    return {
        "patient_name": f"{patient.first_name} {patient.last_name}".strip(),
        "practice_name": practice.name,
        "practice_email": practice.email,
        "practice_phone": practice.phone,
        "doctor": doctor.display_name,
        "specialty": doctor.specialty,
        "location_name": location.name,
        "address": address,
        "visit_type": entry.visit_type.name,
        "duration": entry.visit_type.duration_minutes,
        "when": _local_when(offer.start, practice.time_zone),
        "end": _local_when(offer.end, practice.time_zone),
        "valid_until": _local_when(offer.expires_at, practice.time_zone),
        "moves_booking": booking is not None,
        "old_when": _local_when(booking.start, practice.time_zone) if booking else None,
        "link": link,
        "waitlist_url": portal_url(reverse("portal:waitlist")),
        "portal_url": portal_url("/"),
    }


def waitlist_offer(offer: WaitlistOffer, link: str) -> OutgoingEmail | None:
    """Offer a freed time to a waiting patient; ``link`` (absolute) takes it in one step."""
    with translation.override(settings.LANGUAGE_CODE):
        subject, body = _render("waitlist_offer", _offer_context(offer, link))
    return _queue(offer.entry.patient.user.email, subject, body, "waitlist_offer")


__all__ = ["portal_url", "waitlist_offer"]
