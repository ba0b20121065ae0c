"""The portal world of the load benchmark (``benchmarks.portal_load``): practices with
published online calendars, confirmed patients with API tokens, and for every client a
list of free slots nobody else books — so that every booking over HTTP and every booking
written directly through the driver takes a distinct free slot.

Runs in the benchmark process with the **portal** settings, on a fresh database.
"""

from __future__ import annotations

import os
import random
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from math import gcd
from pathlib import Path
from zoneinfo import ZoneInfo

BERLIN = ZoneInfo("Europe/Berlin")
SECRET = "bench-load-secret-key-" + "x" * 40
SPECIALTIES = ["Allgemeinmedizin", "Innere Medizin", "Kinderheilkunde", "Dermatologie"]
CITIES = [("Bruchsal", "76646"), ("Karlsruhe", "76133"), ("Heidelberg", "69117")]
HORIZON_DAYS = 84


@dataclass
class Plan:
    """What the load process needs; written as JSON next to the results."""

    backend: str
    database_url: str
    calendars: list[int]
    checkup: dict[str, int]  # calendar id → its 15-minute visit type
    practice_of: dict[str, int]  # calendar id → practice id
    patients: list[dict[str, object]]  # id, user_id, token, names, e-mail
    searches: list[dict[str, str]] = field(default_factory=list)
    first_day: str = ""

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def database(backend: str, work: Path) -> tuple[str, str]:
    """(database URL, PostgreSQL name or '') of a fresh database."""
    if backend == "postgres":
        name = f"termin360_portal_load_{os.getpid()}"
        subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", name], check=True)
        return f"postgres://postgres@127.0.0.1:5432/{name}", name
    return f"sqlite:///{work / 'portal.sqlite3'}", ""


def drop_database(name: str) -> None:
    if name:
        subprocess.run(
            ["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", "--force", name],
            check=False,
        )


def setup_django(database_url: str, work: Path) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "termin360.deploy.portal.settings"
    os.environ["TERMIN360_DATA_DIR"] = str(work)
    os.environ["TERMIN360_SECRET_KEY"] = SECRET
    os.environ["PORTAL_DATABASE_URL"] = database_url
    os.environ.setdefault("TERMIN360_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def build(n_calendars: int, n_patients: int, rng: random.Random) -> Plan:
    """Two calendars per practice, Mon–Fri 07:00–19:00 in 15-minute slots."""
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import User
    from django.db import connection, transaction
    from django.utils import timezone

    from termin360.core.names import normalize_name
    from termin360.portal.api.auth import issue_token
    from termin360.portal.models import (
        Doctor,
        Location,
        OnlineCalendar,
        PatientProfile,
        Practice,
        VisitType,
        WeeklyHours,
    )

    with transaction.atomic():
        n_practices = (n_calendars + 1) // 2
        practices = Practice.objects.bulk_create(
            Practice(name=f"Praxis {i}", email=f"praxis{i}@example.org", status="approved")
            for i in range(n_practices)
        )
        locations = Location.objects.bulk_create(
            Location(
                practice=p,
                name=CITIES[i % len(CITIES)][0],
                street=f"Hauptstraße {i}",
                postcode=CITIES[i % len(CITIES)][1],
                city=CITIES[i % len(CITIES)][0],
                city_key=normalize_name(CITIES[i % len(CITIES)][0]),
            )
            for i, p in enumerate(practices)
        )
        doctors = Doctor.objects.bulk_create(
            Doctor(
                practice_id=locations[i // 2].practice_id,
                location=locations[i // 2],
                title="Dr.",
                first_name="Anna",
                last_name=f"Berger{i}",
                specialty=SPECIALTIES[i % len(SPECIALTIES)],
                search_key=normalize_name(f"Dr. Anna Berger{i} {SPECIALTIES[i % 4]}"),
            )
            for i in range(n_calendars)
        )
        calendars = OnlineCalendar.objects.bulk_create(
            OnlineCalendar(
                doctor=d,
                name=f"Dr. {d.last_name}",
                slot_minutes=15,
                horizon_days=HORIZON_DAYS,
                lead_minutes=60,
                cancel_deadline_hours=24,
                published=True,
            )
            for d in doctors
        )
        WeeklyHours.objects.bulk_create(
            WeeklyHours(calendar=c, weekday=wd, start=time(7), end=time(19))
            for c in calendars
            for wd in range(5)
        )
        checkups = VisitType.objects.bulk_create(
            VisitType(calendar=c, name="Kontrolle", duration_minutes=15) for c in calendars
        )
        password = make_password("load-pass-123")
        users = User.objects.bulk_create(
            User(username=f"load{i}@example.org", email=f"load{i}@example.org", password=password)
            for i in range(n_patients)
        )
        profiles = PatientProfile.objects.bulk_create(
            PatientProfile(
                user=u,
                last_name=f"Müller{i}",
                first_name="Hans",
                date_of_birth=date(1980, 5, 17),
                phone="0721 123456",
                insurance="gkv",
                email_confirmed_at=timezone.now(),
            )
            for i, u in enumerate(users)
        )
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
    patients = [
        {
            "id": p.pk,
            "user_id": u.pk,
            "token": issue_token(u),
            "last_name": p.last_name,
            "first_name": p.first_name,
            "email": u.email,
        }
        for u, p in zip(users, profiles, strict=True)
    ]
    today = timezone.now().astimezone(BERLIN).date()
    searches = [{"specialty": s, "place": c} for s in SPECIALTIES for c, _postcode in CITIES] + [
        {"place": postcode} for _city, postcode in CITIES
    ]
    rng.shuffle(searches)
    return Plan(
        backend=connection.vendor,
        database_url=os.environ["PORTAL_DATABASE_URL"],
        calendars=[c.pk for c in calendars],
        checkup={str(vt.calendar_id): vt.pk for vt in checkups},
        practice_of={str(c.pk): c.doctor.practice_id for c in calendars},
        patients=patients,
        searches=searches,
        first_day=(today + timedelta(days=2)).isoformat(),
    )


def slot_starts(first_day: date) -> list[datetime]:
    """Every bookable 15-minute start of a calendar from ``first_day`` on (beyond lead time
    and cancel deadline), Mon–Fri 07:00–19:00, to the end of the horizon."""
    days = [first_day + timedelta(days=d) for d in range(HORIZON_DAYS - 3)]
    return [
        datetime.combine(day, time(7), tzinfo=BERLIN) + timedelta(minutes=15 * k)
        for day in days
        if day.weekday() < 5
        for k in range(48)
    ]


class Slots:
    """The world's free slots in a fixed shuffled order: slot ``j`` for ``j`` in
    ``range(len(self))``. Phases and their clients take disjoint ranges of ``j``, so no two
    bookings ever compete for a time (the benchmark measures throughput, not the race —
    that is tests/portal/test_booking_race.py)."""

    def __init__(self, plan: Plan) -> None:
        self.calendars = plan.calendars
        self.starts = slot_starts(date.fromisoformat(plan.first_day))
        self.total = len(self.calendars) * len(self.starts)
        self.stride = next(p for p in range(7919, self.total) if gcd(p, self.total) == 1)

    def __len__(self) -> int:
        return self.total

    def __getitem__(self, j: int) -> tuple[int, datetime]:
        t = (j * self.stride) % self.total
        return self.calendars[t % len(self.calendars)], self.starts[t // len(self.calendars)]
