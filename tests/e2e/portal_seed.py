"""Seed one practice into the e2e portal's database and print what the tests need as JSON.

Run with the portal's settings, in its own process (the test process has the practice's)::

    PORTAL_DATABASE_URL=… python -m tests.e2e.portal_seed '{"count": 6}'

Each practice gets one location and two doctors with an online calendar each
(Mon–Fri 08:00–12:00, 15-minute slots, visit types of 15 and 30 minutes, no lead time,
horizon 35 days, published), the confirmed patients of ``PATIENTS``, and an API key
for the connector. Every practice name and e-mail address carries a fresh tag, so each
test has its own practice on the shared portal. Several practices are made in one
process because starting Django is the slow part.
"""

from __future__ import annotations

import json
import secrets
import sys
from datetime import date, time
from typing import Any

from django.contrib.auth.hashers import Argon2PasswordHasher

PATIENT_PASSWORD = "patient-pass-123"
ADMIN_PASSWORD = "admin-pass-123"
DOCTORS = [("Anna", "Berger"), ("Bernd", "Keller")]
# As the patients typed their names on the portal: index 1 with odd case, spaces and an
# accent the practice's record may lack (S6 ignores them); index 2 for an ambiguous match.
PATIENTS = [
    ("Müller", "Hans", "1980-05-17"),
    ("  WEBER ", "Jörg", "1969-11-30"),
    ("Schmidt", "Erika", "1975-03-02"),
]


class QuickArgon2PasswordHasher(Argon2PasswordHasher):
    time_cost = 1
    memory_cost = 8
    parallelism = 1


def seed() -> dict[str, Any]:
    from django.contrib.auth.models import User
    from django.utils import timezone

    from termin360.portal.models import PatientProfile
    from termin360.portal.services import practices, verification

    tag = secrets.token_hex(4)
    admin_email = f"praxis-{tag}@example.org"
    practice = practices.signup_practice(
        name=f"Praxis {tag}", email=admin_email, admin_email=admin_email, password=ADMIN_PASSWORD
    )
    verification.approve(practice=practice)
    location = practices.add_location(
        practice=practice,
        name="Bruchsal",
        street="Hauptstraße 1",
        postcode="76646",
        city="Bruchsal",
    )
    calendars = []
    for first, last in DOCTORS:
        doctor = practices.add_doctor(
            practice=practice,
            location_id=location.pk,
            title="Dr.",
            first_name=first,
            last_name=last,
            specialty="Allgemeinmedizin",
        )
        cal = doctor.calendar
        practices.set_calendar_rules(
            calendar=cal,
            slot_minutes=15,
            horizon_days=35,
            lead_minutes=0,
            cancel_deadline_hours=0,
        )
        practices.set_weekly_hours(calendar=cal, hours=[(d, time(8), time(12)) for d in range(5)])
        short = practices.add_visit_type(calendar=cal, name="Kontrolle", duration_minutes=15)
        long = practices.add_visit_type(calendar=cal, name="Erstgespräch", duration_minutes=30)
        practices.publish(calendar=cal)
        calendars.append(
            {"id": cal.pk, "name": cal.name, "visit_types": {"15": short.pk, "30": long.pk}}
        )
    patients = []
    for i, (last_name, first_name, born) in enumerate(PATIENTS):
        email = f"patient-{tag}-{i}@example.org"
        user = User.objects.create_user(username=email, email=email, password=PATIENT_PASSWORD)
        profile = PatientProfile.objects.create(
            user=user,
            last_name=last_name,
            first_name=first_name,
            date_of_birth=date.fromisoformat(born),
            phone="0721 123456",
            insurance="gkv",
            email_confirmed_at=timezone.now(),
        )
        patients.append(
            {
                "email": email,
                "password": PATIENT_PASSWORD,
                "last_name": profile.last_name,
                "first_name": profile.first_name,
                "date_of_birth": profile.date_of_birth.isoformat(),
            }
        )
    _key, key = practices.issue_api_key(practice=practice, name="e2e connector")
    return {
        "practice_id": practice.pk,
        "practice_name": practice.name,
        "practice_email": practice.email,
        "api_key": key,
        "calendars": calendars,
        "patients": patients,
    }


def main() -> None:
    from django.conf import settings

    from termin360.cli.django_setup import setup

    setup("portal")
    # Cheap hashes (the cost is part of each hash, so the portal verifies them as well):
    # with the default cost, hashing the patients' passwords is most of the seeding time.
    settings.PASSWORD_HASHERS = ["tests.e2e.portal_seed.QuickArgon2PasswordHasher"]
    spec = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    # S14: {"count": 0, "hours_from_practice": [calendar id, …]} switches those calendars.
    if spec.get("hours_from_practice"):
        from termin360.portal.models import OnlineCalendar
        from termin360.portal.services import practice_setup_extra

        for calendar in OnlineCalendar.objects.filter(pk__in=spec["hours_from_practice"]):
            practice_setup_extra.set_hours_source(calendar=calendar, source="practice")
    print(json.dumps([seed() for _ in range(int(spec.get("count", 1)))]))


if __name__ == "__main__":
    main()
