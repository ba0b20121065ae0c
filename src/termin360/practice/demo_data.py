"""A realistic demo practice, built through the same services the UI uses.

Two locations (a shared practice), three calendars, several columns, a grid of
a year, 200 patients, appointments (single and multi-slot, linked and free
text), notes, annotations, reservations and an additional list. Deterministic
for a given seed, so screenshots and tests can rely on it.
"""

from __future__ import annotations

import random
from datetime import date, time, timedelta
from typing import Any, Protocol

from django.contrib.auth import get_user_model
from django.db import transaction

from termin360.core.errors import ApplicationError
from termin360.practice.demo_logins import DEMO_LOGINS
from termin360.practice.domain.grid import TemplateRule
from termin360.practice.models import Calendar, Location, Patient, Slot
from termin360.practice.services import appointments, reservations, setup, slots
from termin360.practice.services.patients import create_patient

LAST_NAMES = [
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Schäfer",
    "Koch",
    "Bauer",
    "Richter",
    "Klein",
    "Wolf",
    "Schröder",
    "Neumann",
    "Schwarz",
    "Zimmermann",
    "Braun",
    "Krüger",
    "Hofmann",
    "Hartmann",
    "Lange",
    "Schmitt",
    "Werner",
    "Schmitz",
    "Krause",
    "Meier",
    "Lehmann",
    "Schmid",
    "Schulze",
    "Maier",
    "Köhler",
    "Herrmann",
    "König",
    "Walter",
    "Mayer",
    "Huber",
    "Kaiser",
    "Fuchs",
    "Peters",
    "Lang",
    "Scholz",
    "Möller",
    "Weiß",
    "Jung",
    "Hahn",
    "Schubert",
    "Yılmaz",
    "Nowak",
    "Kowalski",
    "Öztürk",
    "Rossi",
    "Dubois",
    "García",
]
FIRST_NAMES = [
    "Anna",
    "Maria",
    "Emma",
    "Sophie",
    "Marie",
    "Lena",
    "Hannah",
    "Leonie",
    "Lea",
    "Laura",
    "Julia",
    "Sarah",
    "Lisa",
    "Johanna",
    "Clara",
    "Greta",
    "Ida",
    "Frieda",
    "Elif",
    "Zeynep",
    "Lukas",
    "Leon",
    "Paul",
    "Jonas",
    "Felix",
    "Maximilian",
    "Ben",
    "Elias",
    "Noah",
    "Finn",
    "Luis",
    "Tim",
    "Jan",
    "Moritz",
    "Jakob",
    "David",
    "Niklas",
    "Emil",
    "Anton",
    "Mehmet",
    "Jürgen",
    "Günther",
    "Heike",
    "Sabine",
    "Petra",
    "Wolfgang",
    "Dieter",
    "Ursula",
    "Renate",
]
STREETS = [
    "Hauptstraße",
    "Bahnhofstraße",
    "Kirchweg",
    "Gartenstraße",
    "Schillerstraße",
    "Goethestraße",
    "Lindenallee",
    "Am Markt",
    "Rheinstraße",
    "Kaiserstraße",
]
REASONS = [
    "Kontrolle",
    "Vorsorge",
    "Impfung",
    "Blutabnahme",
    "Erstgespräch",
    "Befundbesprechung",
    "Rezept",
    "Überweisung",
    "Beschwerden Rücken",
    "Ultraschall",
    "EKG",
    "Nachsorge",
]
NOTES = [
    "Neupatienten bevorzugt",
    "nur Kontrolle",
    "Telefonsprechstunde möglich",
    "kurzfristig vergeben",
    "Akutsprechstunde",
]

# (location, calendar number, calendar name, [(column number, column name, rules)])
MORNING = [("Mo-Fr", time(8, 0), time(12, 0), 15)]
AFTERNOON = [("Mo,Di,Do", time(14, 0), time(18, 0), 15)]
LAYOUT = [
    (
        "Bruchsal",
        1,
        "Allgemeinmedizin",
        [
            (1, "Dr. Anna Berger", MORNING + AFTERNOON),
            (2, "Dr. Jonas Keller", [*MORNING, ("Mi", time(14, 0), time(19, 0), 15)]),
            (3, "Labor / Blutabnahme", [("Mo-Fr", time(7, 30), time(10, 0), 10)]),
        ],
    ),
    (
        "Bruchsal",
        2,
        "Kardiologie",
        [
            (1, "Dr. Mehmet Aydın", [("Mo-Do", time(8, 0), time(13, 0), 20)]),
            (2, "Belastungs-EKG", [("Di,Do", time(9, 0), time(12, 0), 30)]),
        ],
    ),
    (
        "Karlsruhe",
        3,
        "Kinder- und Jugendmedizin",
        [
            (1, "Dr. Clara Vogel", MORNING + AFTERNOON),
            (2, "Dr. Paul Neumann", [("Mo-Fr", time(9, 0), time(13, 0), 15)]),
        ],
    ),
]
_DAYS = {"Mo": 0, "Di": 1, "Mi": 2, "Do": 3, "Fr": 4, "Sa": 5, "So": 6}


class Progress(Protocol):
    def print(self, *objects: Any) -> None: ...


def _weekdays(spec: str) -> list[int]:
    days: list[int] = []
    for part in spec.split(","):
        if "-" in part:
            a, b = part.split("-")
            days.extend(range(_DAYS[a], _DAYS[b] + 1))
        else:
            days.append(_DAYS[part])
    return days


def _next_working_days(after: date, count: int) -> list[date]:
    days: list[date] = []
    day = after
    while len(days) < count:
        day += timedelta(days=1)
        if day.weekday() < 5:
            days.append(day)
    return days


def ensure_demo_data(progress: Progress | None = None) -> bool:
    """Load the demo data unless the database already holds a practice. True if loaded."""
    if Location.objects.exists():
        return False
    load_demo_data(seed=360, progress=progress)
    return True


def load_demo_data(
    *,
    year: int | None = None,
    seed: int = 360,
    progress: Progress | None = None,
    today: date | None = None,
) -> dict[str, int]:
    rng = random.Random(seed)
    today = today or date.today()
    first = date(year, 1, 1) if year else today.replace(day=1)
    last = date(year, 12, 31) if year else first + timedelta(days=364)
    say = progress.print if progress is not None else (lambda *a: None)

    user_model = get_user_model()
    for username, password, role in DEMO_LOGINS:
        if not user_model.objects.filter(username=username).exists():
            user_model.objects.create_user(
                username=username, password=password, is_staff=role.startswith("Praxis")
            )
    staff = user_model.objects.get(username="empfang")

    say("Praxisstände, Kalender und Spalten …")
    locations: dict[str, Location] = {}
    for loc_name, number, cal_name, columns in LAYOUT:
        if loc_name not in locations:
            locations[loc_name] = setup.create_location(
                name=loc_name, address=f"Hauptstraße 1, {loc_name}"
            )
        cal = setup.create_calendar(
            number=number, name=cal_name, location_id=locations[loc_name].pk
        )
        for col_number, col_name, rules in columns:
            col = setup.create_column(calendar=cal, number=col_number, name=col_name)
            setup.set_template(
                column=col,
                rules=[
                    TemplateRule(weekday=d, start=s, end=e, slot_minutes=m)
                    for spec, s, e, m in rules
                    for d in _weekdays(spec)
                ],
            )

    say(f"Terminraster {first:%d.%m.%Y} – {last:%d.%m.%Y} …")
    slot_count = 0
    for cal in Calendar.objects.all():
        for col in cal.columns.all():
            slot_count += setup.generate_grid(column=col, first=first, last=last)

    say("200 Patienten …")
    patients: dict[int, list[Patient]] = {loc.pk: [] for loc in locations.values()}
    loc_list = list(locations.values())
    with transaction.atomic():
        for i in range(200):
            loc = loc_list[0] if i < 130 else loc_list[1]
            born = date(1935, 1, 1) + timedelta(days=rng.randrange(0, 365 * 88))
            if loc.name == "Karlsruhe":  # the paediatric practice
                born = today - timedelta(days=rng.randrange(60, 365 * 17))
            last_name, first_name = rng.choice(LAST_NAMES), rng.choice(FIRST_NAMES)
            patients[loc.pk].append(
                create_patient(
                    location_id=loc.pk,
                    last_name=last_name,
                    first_name=first_name,
                    date_of_birth=born,
                    phone=f"0721 {rng.randrange(100000, 999999)}",
                    email=f"{first_name.lower()}.{i}@example.org",
                    street=f"{rng.choice(STREETS)} {rng.randrange(1, 120)}",
                    postcode=str(76600 + rng.randrange(0, 99)),
                    city=loc.name,
                    insurance=rng.choice(["gkv"] * 8 + ["pkv", "self"]),
                )
            )

    say("Termine, Notizen, Anmerkungen, Reservierungen …")
    booked = notes = annotations = 0
    window_start, window_end = max(first, today - timedelta(days=14)), today + timedelta(days=42)
    for cal in Calendar.objects.select_related("location"):
        pool = patients[cal.location_id]
        for col in cal.columns.all():
            day_slots = Slot.objects.filter(
                column=col, day__gte=window_start, day__lte=window_end
            ).order_by("start")
            for slot in day_slots:
                roll = rng.random()
                if roll < 0.45:
                    count = 2 if rng.random() < 0.12 else 1
                    try:
                        if rng.random() < 0.85:
                            appointments.book_appointment(
                                actor=staff,
                                slot_id=slot.pk,
                                slot_count=count,
                                patient_id=rng.choice(pool).pk,
                                reason=rng.choice(REASONS),
                            )
                        else:
                            appointments.book_appointment(
                                actor=staff,
                                slot_id=slot.pk,
                                slot_count=count,
                                text=f"{rng.choice(LAST_NAMES)} (tel.)",
                                reason=rng.choice(REASONS),
                            )
                        booked += 1
                    except ApplicationError:
                        pass  # the slot was taken by the previous multi-slot appointment
                elif roll < 0.50:
                    slots.set_note(slot_id=slot.pk, text=rng.choice(NOTES))
                    notes += 1
                elif roll < 0.53:
                    try:
                        slots.delete_free_slot(slot_id=slot.pk, text="gesperrt")
                        annotations += 1
                    except ApplicationError:
                        pass
        for day in _next_working_days(today, 3):
            appointments.add_to_additional_list(
                actor=staff,
                calendar=cal,
                day=day,
                patient_id=rng.choice(pool).pk,
                reason="Notfall – bitte einschieben",
            )

    reservation_count = 0
    vacation_start = today + timedelta(days=60)
    for cal in Calendar.objects.all():
        numbers = list(cal.columns.values_list("number", flat=True))
        reservations.create_reservation(
            actor=staff,
            calendar=cal,
            column_numbers=numbers[:2],
            first_day=vacation_start,
            last_day=vacation_start + timedelta(days=4),
            start=time(0, 0),
            end=time(0, 0),
            reason="Praxisurlaub",
        )
        reservation_count += 1
        team_day = today + timedelta(days=50)
        reservations.create_reservation(
            actor=staff,
            calendar=cal,
            column_numbers=numbers,
            first_day=team_day,
            last_day=team_day,
            start=time(12, 0),
            end=time(14, 0),
            reason="Teambesprechung",
        )
        reservation_count += 1

    summary = {
        "Praxisstände": len(locations),
        "Kalender": Calendar.objects.count(),
        "Slots": slot_count,
        "Patienten": 200,
        "Termine": booked,
        "Notizen": notes,
        "Anmerkungen": annotations,
        "Reservierungen": reservation_count,
    }
    say(f"Fertig: {summary}")
    return summary
