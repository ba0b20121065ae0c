"""Demo data of the portal: several practices with doctors of several specialties in
several cities, published online calendars, some bookings, and demo logins.

Built through the same services as the pages, deterministic for a given seed. The
first practice, "Praxis Dr. Berger" in Bruchsal, is the online side of the practice
calendar's demo: ``termin360 demo`` connects its online calendars to the columns of the
same doctors (calendar 1, columns 1 and 2), whose slot grid covers the online hours.
It gets no demo bookings here: the practice calendar is the master, and the first
online bookings in the connected demo are the newcomer's own.
"""

from __future__ import annotations

import random
from datetime import date, time, timedelta
from typing import Any, Protocol

from django.contrib.auth.models import User
from django.utils import timezone

from termin360.core.errors import ApplicationError
from termin360.portal.demo_logins import DEMO_LOGINS
from termin360.portal.models import OutgoingEmail, PatientProfile, Practice
from termin360.portal.services import availability, bookings, practices, verification

# The practice that `termin360 demo` connects to the practice calendar's demo.
CONNECTED_PRACTICE = "Praxis Dr. Berger"

MORNINGS = [(d, time(8), time(12)) for d in range(5)]
AFTERNOONS = [(d, time(14), time(18)) for d in (0, 1, 3)]

# practice, city, postcode, street, [(title, first, last, specialty, languages, hours)]
PRACTICES: list[tuple[str, str, str, str, list[tuple[str, str, str, str, str, Any]]]] = [
    (
        "Praxis Dr. Berger",
        "Bruchsal",
        "76646",
        "Hauptstraße 1",
        [
            ("Dr.", "Anna", "Berger", "Allgemeinmedizin", "de,en", MORNINGS + AFTERNOONS),
            ("Dr.", "Jonas", "Keller", "Allgemeinmedizin", "de", MORNINGS),
        ],
    ),
    (
        "Herzzentrum Karlsruhe",
        "Karlsruhe",
        "76133",
        "Kaiserstraße 42",
        [
            ("Dr. med.", "Mehmet", "Aydın", "Kardiologie", "de,tr,en", MORNINGS),
            ("Prof. Dr.", "Sabine", "Lang", "Kardiologie", "de,en", AFTERNOONS),
        ],
    ),
    (
        "Kinderarztpraxis am Schloss",
        "Karlsruhe",
        "76131",
        "Schlossplatz 3",
        [
            ("Dr.", "Clara", "Vogel", "Kinder- und Jugendmedizin", "de,en,fr", MORNINGS),
        ],
    ),
    (
        "Hautarztpraxis Neckar",
        "Heidelberg",
        "69117",
        "Hauptstraße 120",
        [
            ("Dr.", "Lukas", "Hoffmann", "Dermatologie", "de,en", MORNINGS + AFTERNOONS),
        ],
    ),
    (
        "Augenärzte Mannheim",
        "Mannheim",
        "68161",
        "Planken 7",
        [
            ("Dr.", "Elif", "Yılmaz", "Augenheilkunde", "de,tr", MORNINGS),
            ("Dr.", "Peter", "Schulz", "Augenheilkunde", "de", AFTERNOONS),
        ],
    ),
    (
        "Orthopädie Stuttgart-Mitte",
        "Stuttgart",
        "70173",
        "Königstraße 10",
        [
            ("Dr.", "Felix", "Wagner", "Orthopädie", "de,en", MORNINGS),
        ],
    ),
    (
        "Frauenärztinnen Freiburg",
        "Freiburg im Breisgau",
        "79098",
        "Bertoldstraße 5",
        [
            ("Dr.", "Maria", "König", "Frauenheilkunde", "de,en,it", MORNINGS + AFTERNOONS),
        ],
    ),
]

VISIT_TYPES = {
    "Allgemeinmedizin": [
        ("Sprechstunde", 15, True, True),
        ("Check-up", 30, True, True),
        ("Impfung", 15, False, True),
    ],
    "Kardiologie": [("Erstgespräch", 30, True, False), ("Kontrolle", 20, False, True)],
    "Kinder- und Jugendmedizin": [
        ("Vorsorge (U-Untersuchung)", 30, True, True),
        ("Akutsprechstunde", 15, True, True),
    ],
}
DEFAULT_TYPES = [("Erstuntersuchung", 30, True, False), ("Kontrolle", 15, False, True)]


class Progress(Protocol):
    def print(self, *objects: Any) -> None: ...


def ensure_demo_data(progress: Progress | None = None) -> bool:
    if Practice.objects.exists():
        return False
    load_demo_data(progress=progress)
    return True


def load_demo_data(*, seed: int = 360, progress: Progress | None = None) -> dict[str, int]:
    rng = random.Random(seed)  # noqa: S311 - demo data, not security
    say = progress.print if progress is not None else (lambda *a: None)
    say("Portal: Praxen, Ärzte, Online-Kalender …")
    calendars = []
    for index, (name, city, postcode, street, doctors) in enumerate(PRACTICES):
        admin = f"praxis-{index}@example.org"
        password = "praxis-demo"
        if index == 0:
            admin = DEMO_LOGINS[1][0]
        practice = practices.signup_practice(
            name=name, email=admin, admin_email=admin, password=password
        )
        practice.phone = f"0{7251 + index} {912300 + index * 11}"
        practice.save(update_fields=["phone"])
        verification.approve(practice=practice, note="Demo-Praxis")
        location = practices.add_location(
            practice=practice, name=city, street=street, postcode=postcode, city=city
        )
        for title, first, last, specialty, languages, hours in doctors:
            doctor = practices.add_doctor(
                practice=practice,
                location_id=location.pk,
                title=title,
                first_name=first,
                last_name=last,
                specialty=specialty,
                languages=languages,
            )
            cal = doctor.calendar
            practices.set_calendar_rules(
                calendar=cal,
                slot_minutes=15,
                horizon_days=56,
                lead_minutes=60,
                cancel_deadline_hours=24,
            )
            practices.set_weekly_hours(calendar=cal, hours=list(hours))
            for vt_name, minutes, new, existing in VISIT_TYPES.get(specialty, DEFAULT_TYPES):
                added = practices.add_visit_type(
                    calendar=cal,
                    name=vt_name,
                    duration_minutes=minutes,
                    new_patients=new,
                    existing_patients=existing,
                )
                if new and existing and cal.default_visit_type_id is None:
                    cal.default_visit_type = added
                    cal.save(update_fields=["default_visit_type"])
            christmas = date(timezone.now().year, 12, 24)
            practices.add_absence(
                calendar=cal,
                first_day=christmas,
                last_day=christmas + timedelta(days=7),
                reason="Praxisurlaub",
            )
            practices.publish(calendar=cal)
            calendars.append(cal)

    say("Portal: Demo-Patienten und Buchungen …")
    email, password, _ = DEMO_LOGINS[0]
    demo_user = User.objects.create_user(username=email, email=email, password=password)
    patients = [
        PatientProfile.objects.create(
            user=demo_user,
            last_name="Schneider",
            first_name="Lena",
            date_of_birth=date(1988, 3, 14),
            phone="0176 1234567",
            insurance="gkv",
            email_confirmed_at=timezone.now(),
        )
    ]
    for i in range(20):
        u = User.objects.create_user(
            username=f"patient{i}@example.org", email=f"patient{i}@example.org", password=password
        )
        patients.append(
            PatientProfile.objects.create(
                user=u,
                last_name=rng.choice(["Meyer", "Wolf", "Fischer", "Koch", "Braun"]),
                first_name=rng.choice(["Tim", "Eva", "Jan", "Ida", "Max"]),
                date_of_birth=date(
                    1950 + rng.randrange(60), 1 + rng.randrange(12), 1 + rng.randrange(28)
                ),
                phone="0721 555000",
                insurance=rng.choice(["gkv", "gkv", "pkv"]),
                email_confirmed_at=timezone.now(),
            )
        )
    booked = 0
    today = timezone.localdate()
    for cal in calendars:
        if cal.doctor.practice.name == CONNECTED_PRACTICE:
            continue  # its bookings come from the newcomer, through the connector
        vt = cal.visit_types.order_by("duration_minutes").first()
        assert vt is not None
        by_day = availability.slots_by_day(
            cal, today, today + timedelta(days=13), vt.duration_minutes
        )
        for slots in by_day.values():
            for slot in slots[::3]:
                if rng.random() < 0.5:
                    continue
                patient = rng.choice(patients[1:])
                if not vt.allows(patient.insurance):
                    continue
                try:
                    bookings.book(
                        patient=patient, calendar_id=cal.pk, visit_type_id=vt.pk, start=slot.start
                    )
                    booked += 1
                except ApplicationError:
                    pass  # e.g. a visit type for new patients only
    # The demo's own bookings need no confirmation mails: mark them as sent so the
    # mail folder only fills with what the newcomer does.
    OutgoingEmail.objects.filter(sent_at__isnull=True).update(sent_at=timezone.now())
    summary = {
        "Praxen": len(PRACTICES),
        "Online-Kalender": len(calendars),
        "Patienten": len(patients),
        "Buchungen": booked,
    }
    say(f"Portal fertig: {summary}")
    return summary
