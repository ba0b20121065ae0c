"""Fixtures of the portal tests (run with the portal's settings: ``--ds
termin360.deploy.portal.settings``, as scripts/test does).

``world``: a practice in Bruchsal with one doctor whose online calendar is published
(Mon–Fri 08:00–12:00, 15-minute slots, visit types "Kontrolle" 15 min and
"Erstgespräch" 30 min, horizon 28 days, lead 60 minutes), and a confirmed patient.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, time
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from tests.conftest import Server, require_shared_database, running_server

PATIENT_PASSWORD = "patient-pass-123"
ADMIN_PASSWORD = "admin-pass-123"


@dataclass
class World:
    practice: Any
    location: Any
    doctor: Any
    calendar: Any
    checkup: Any  # 15-minute visit type
    first_visit: Any  # 30-minute visit type
    patient: Any
    admin_email: str


def make_patient(
    email: str,
    *,
    last: str = "Müller",
    first: str = "Hans",
    born: date = date(1980, 5, 17),
    insurance: str = "gkv",
    confirmed: bool = True,
) -> Any:
    from django.contrib.auth.models import User

    from termin360.portal.models import PatientProfile

    user = User.objects.create_user(username=email, email=email, password=PATIENT_PASSWORD)
    return PatientProfile.objects.create(
        user=user,
        last_name=last,
        first_name=first,
        date_of_birth=born,
        phone="0721 123456",
        insurance=insurance,
        email_confirmed_at=timezone.now() if confirmed else None,
    )


def build_world(
    name: str = "Praxis Berger",
    admin_email: str = "admin@praxis-berger.de",
    *,
    approved: bool = True,
) -> World:
    """The practice of the module docstring; ``approved=False``: as signed up, pending (P10)."""
    from termin360.portal.services import practices, verification

    practice = practices.signup_practice(
        name=name, email=admin_email, admin_email=admin_email, password=ADMIN_PASSWORD
    )
    location = practices.add_location(
        practice=practice,
        name="Bruchsal",
        street="Hauptstraße 1",
        postcode="76646",
        city="Bruchsal",
    )
    doctor = practices.add_doctor(
        practice=practice,
        location_id=location.pk,
        title="Dr.",
        first_name="Anna",
        last_name="Berger",
        specialty="Allgemeinmedizin",
    )
    calendar = doctor.calendar
    practices.set_calendar_rules(
        calendar=calendar,
        slot_minutes=15,
        horizon_days=28,
        lead_minutes=60,
        cancel_deadline_hours=24,
    )
    practices.set_weekly_hours(calendar=calendar, hours=[(d, time(8), time(12)) for d in range(5)])
    checkup = practices.add_visit_type(calendar=calendar, name="Kontrolle", duration_minutes=15)
    first = practices.add_visit_type(calendar=calendar, name="Erstgespräch", duration_minutes=30)
    practices.publish(calendar=calendar)
    if approved:
        verification.approve(practice=practice)
    patient = make_patient(f"patient-{practice.pk}@example.org")
    return World(practice, location, doctor, calendar, checkup, first, patient, admin_email)


def rendered(kind: str, **filters: Any) -> list[Any]:
    """The queued mails of ``kind`` (oldest first) with their text: a booking's mails are
    rendered as the worker renders them just before sending (``mail.render_pending``)."""
    from termin360.portal.models import OutgoingEmail
    from termin360.portal.services import mail

    mails = list(OutgoingEmail.objects.filter(kind=kind, **filters).order_by("pk"))
    for m in mails:
        mail.render_pending(m)
    return mails


@pytest.fixture
def world(db: None) -> World:
    return build_world()


@pytest.fixture
def portal_server(transactional_db: None, tmp_path: Path) -> Iterator[Server]:
    """``termin360 portal serve`` in its own process on the test database."""
    require_shared_database()
    with running_server("portal", tmp_path, threads=64) as server:
        yield server
