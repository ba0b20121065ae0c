"""Benchmark of the portal's search and a doctor's week of free slots (issue point 6).

    python -m benchmarks.portal_search [--backend postgres|sqlite] [--calendars 2000] [--runs 300]

Creates a fresh database (PostgreSQL: ``createdb``/``dropdb`` on 127.0.0.1 as user
postgres; SQLite: a temporary file), migrates it with the portal settings and
bulk-creates ``--calendars`` published online calendars: one or two doctors per
practice, locations in 40 cities, 12 specialties, hours Monday–Friday 08–12 and
14–18 in 15-minute slots, two or three visit types, and bookings plus busy times
of the practice filling about 40 % of a 12-week horizon.

Then it measures **in-process**, through the Django test client (so including
middleware, routing, django-ninja validation and JSON, but no HTTP socket):

- ``GET /api/v1/search?specialty=…&place=…`` — random specialty/city
  combinations, specialty only and city only, a page of 20 with the next free slot
  of each hit;
- ``GET /api/v1/calendars/{id}/slots?days=7`` — a random doctor's week within the
  horizon;

and the search selector alone (``selectors.search_doctors``) for comparison.
Prints runs, median, p95, p99, min and max in milliseconds, the queries of one call,
how often a calendar's kept snapshot answered (``services.availability_cache``: a
calendar is loaded on its first use, then answers until a write changes it) and the
targets (p95 ≤ 100 ms search, ≤ 50 ms week). Not a test: numbers depend on the machine.
The same over real HTTP with concurrent clients: ``benchmarks.portal_search_http``.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time as _time
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

CITIES = [
    ("Berlin", "10115"), ("Hamburg", "20095"), ("München", "80331"), ("Köln", "50667"),
    ("Frankfurt am Main", "60311"), ("Stuttgart", "70173"), ("Düsseldorf", "40213"),
    ("Leipzig", "04109"), ("Dortmund", "44135"), ("Essen", "45127"), ("Bremen", "28195"),
    ("Dresden", "01067"), ("Hannover", "30159"), ("Nürnberg", "90402"), ("Duisburg", "47051"),
    ("Bochum", "44787"), ("Wuppertal", "42103"), ("Bielefeld", "33602"), ("Bonn", "53111"),
    ("Münster", "48143"), ("Mannheim", "68159"), ("Karlsruhe", "76133"), ("Augsburg", "86150"),
    ("Wiesbaden", "65183"), ("Mönchengladbach", "41061"), ("Gelsenkirchen", "45879"),
    ("Aachen", "52062"), ("Braunschweig", "38100"), ("Kiel", "24103"), ("Chemnitz", "09111"),
    ("Halle (Saale)", "06108"), ("Magdeburg", "39104"), ("Freiburg im Breisgau", "79098"),
    ("Krefeld", "47798"), ("Mainz", "55116"), ("Lübeck", "23552"), ("Erfurt", "99084"),
    ("Oberhausen", "46045"), ("Rostock", "18055"), ("Bruchsal", "76646"),
]  # fmt: skip
SPECIALTIES = [
    "Allgemeinmedizin", "Innere Medizin", "Kinderheilkunde", "Frauenheilkunde",
    "Augenheilkunde", "HNO", "Dermatologie", "Orthopädie", "Neurologie", "Urologie",
    "Zahnmedizin", "Psychotherapie",
]  # fmt: skip
FIRST_NAMES = ["Anna", "Jonas", "Lea", "Paul", "Mia", "Felix", "Emma", "Lukas", "Sophie", "Ben"]
LAST_NAMES = [
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
    "Schulz", "Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Schröder", "Neumann",
]  # fmt: skip
HORIZON_DAYS = 84
TARGETS = {"search (API)": 100.0, "search (selector)": 100.0, "week of slots (API)": 50.0}


def _setup_django(backend: str, work: Path) -> str:
    """Point the portal settings at a fresh database; returns the PostgreSQL name or ''."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "termin360.deploy.portal.settings"
    os.environ["TERMIN360_DATA_DIR"] = str(work)
    os.environ.setdefault("TERMIN360_LOG_LEVEL", "WARNING")
    dbname = ""
    if backend == "postgres":
        dbname = f"termin360_portal_bench_{os.getpid()}"
        subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", dbname], check=True)
        os.environ["PORTAL_DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{dbname}"
    else:
        os.environ["PORTAL_DATABASE_URL"] = f"sqlite:///{work / 'portal.sqlite3'}"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return dbname


def _populate(n_calendars: int, rng: random.Random) -> None:
    """Everything with bulk_create; a few hundred thousand rows in well under a minute."""
    from django.db import transaction

    from termin360.core.names import normalize_name
    from termin360.core.timezones import local_to_utc
    from termin360.portal.models import (
        Booking,
        BusyInterval,
        Doctor,
        Location,
        OnlineCalendar,
        Practice,
        VisitType,
        WeeklyHours,
    )

    tz = ZoneInfo("Europe/Berlin")
    with transaction.atomic():
        n_practices = (n_calendars * 2 + 2) // 3  # one or two doctors each
        practices = Practice.objects.bulk_create(
            Practice(
                name=f"Praxis {i}",
                email=f"praxis{i}@example.org",
                status=Practice.Status.APPROVED,
            )
            for i in range(n_practices)
        )
        locations = []
        for i, p in enumerate(practices):
            city, postcode = CITIES[i % len(CITIES)]
            locations.append(
                Location(
                    practice=p,
                    name=city,
                    street=f"Hauptstraße {i}",
                    postcode=postcode,
                    city=city,
                    city_key=normalize_name(city),
                )
            )
        locations = Location.objects.bulk_create(locations)
        doctors = []
        for i in range(n_calendars):
            loc = locations[i % n_practices]
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            specialty = SPECIALTIES[rng.randrange(len(SPECIALTIES))]
            doctors.append(
                Doctor(
                    practice_id=loc.practice_id,
                    location=loc,
                    title="Dr.",
                    first_name=first,
                    last_name=last,
                    specialty=specialty,
                    languages=rng.choice(["de", "de,en", "de,en,tr", "de,fr"]),
                    search_key=normalize_name(f"Dr. {first} {last} {specialty}"),
                )
            )
        doctors = Doctor.objects.bulk_create(doctors)
        calendars = OnlineCalendar.objects.bulk_create(
            OnlineCalendar(
                doctor=d,
                name=f"Dr. {d.first_name} {d.last_name}",
                slot_minutes=15,
                horizon_days=HORIZON_DAYS,
                lead_minutes=120,
                cancel_deadline_hours=24,
                published=True,
            )
            for d in doctors
        )
        WeeklyHours.objects.bulk_create(
            WeeklyHours(calendar=c, weekday=wd, start=start, end=end)
            for c in calendars
            for wd in range(5)
            for start, end in ((time(8), time(12)), (time(14), time(18)))
        )
        vts: list[VisitType] = []
        for c in calendars:
            vts.append(VisitType(calendar=c, name="Kontrolle", duration_minutes=15))
            vts.append(VisitType(calendar=c, name="Erstgespräch", duration_minutes=30))
            if rng.random() < 0.5:
                vts.append(
                    VisitType(
                        calendar=c, name="Privatsprechstunde", duration_minutes=20, insurances="pkv"
                    )
                )
        vts = VisitType.objects.bulk_create(vts)
        checkup = {vt.calendar_id: vt for vt in vts if vt.duration_minutes == 15}

        today = datetime.now(tz).date()
        busy: list[BusyInterval] = []
        bookings: list[Booking] = []
        for c in calendars:
            for offset in range(HORIZON_DAYS + 1):
                day = today + timedelta(days=offset)
                if day.weekday() >= 5:
                    continue
                # ≈ 40 % of the 8 bookable hours: a practice block of 1½–2 h in one half of
                # the day, and two half-hour online bookings in the other.
                morning = rng.random() < 0.5
                block_start = time(rng.choice([8, 9, 10] if morning else [14, 15, 16]))
                s = local_to_utc(day, block_start, tz)
                assert s is not None
                busy.append(
                    BusyInterval(
                        calendar=c,
                        day=day,
                        start=s,
                        end=s + timedelta(minutes=rng.choice([90, 120])),
                    )
                )
                hours = [14, 15, 16, 17] if morning else [8, 9, 10, 11]
                for h in rng.sample(hours, 2):
                    b = local_to_utc(day, time(h, rng.choice([0, 30])), tz)
                    assert b is not None
                    bookings.append(
                        Booking(
                            calendar=c,
                            visit_type=checkup[c.pk],
                            start=b,
                            end=b + timedelta(minutes=30),
                            patient_last_name=rng.choice(LAST_NAMES),
                            patient_first_name=rng.choice(FIRST_NAMES),
                        )
                    )
            if len(busy) > 20_000:
                BusyInterval.objects.bulk_create(busy, batch_size=5000)
                Booking.objects.bulk_create(bookings, batch_size=5000)
                busy, bookings = [], []
        BusyInterval.objects.bulk_create(busy, batch_size=5000)
        Booking.objects.bulk_create(bookings, batch_size=5000)


def _percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _measure(fn: Callable[[], Any], runs: int) -> list[float]:
    for _ in range(5):  # warm-up: connections, caches, imports
        fn()
    samples = []
    for _ in range(runs):
        t0 = _time.perf_counter()
        fn()
        samples.append((_time.perf_counter() - t0) * 1000)
    return samples


def _query_count(fn: Callable[[], Any]) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


def _search_params(rng: random.Random) -> dict[str, str]:
    specialty, (city, postcode) = rng.choice(SPECIALTIES), rng.choice(CITIES)
    kind = rng.randrange(4)
    if kind == 0:
        return {"specialty": specialty, "place": city}
    if kind == 1:
        return {"specialty": specialty}
    if kind == 2:
        return {"place": postcode}
    return {"specialty": specialty, "place": city, "insurance": "pkv"}


def run(args: argparse.Namespace) -> None:
    from django.db import connection
    from django.test import Client

    from termin360.portal import selectors
    from termin360.portal.models import Booking, BusyInterval, OnlineCalendar
    from termin360.portal.services import availability_cache

    rng = random.Random(args.seed)
    t0 = _time.perf_counter()
    _populate(args.calendars, rng)
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
    print(
        f"created {OnlineCalendar.objects.count()} published calendars, "
        f"{Booking.objects.count()} bookings, {BusyInterval.objects.count()} busy intervals "
        f"in {_time.perf_counter() - t0:.1f} s",
        flush=True,
    )

    client = Client(HTTP_HOST="localhost")
    ids = list(OnlineCalendar.objects.values_list("pk", flat=True))
    tz = ZoneInfo("Europe/Berlin")
    today = datetime.now(UTC).astimezone(tz).date()
    mondays = [today - timedelta(days=today.weekday()) + timedelta(weeks=w) for w in range(12)]
    hits: list[int] = []

    def api_search() -> None:
        r = client.get("/api/v1/search", {**_search_params(rng), "limit": 20})
        assert r.status_code == 200, r.content
        hits.append(len(r.json()["results"]))

    def selector_search() -> None:
        selectors.search_doctors(**_search_params(rng), limit=20)

    def week() -> None:
        day: date = rng.choice(mondays)
        r = client.get(f"/api/v1/calendars/{rng.choice(ids)}/slots", {"from": day, "days": 7})
        assert r.status_code == 200, r.content

    results, kept = {}, {}
    for name, fn in (
        ("search (API)", api_search),
        ("search (selector)", selector_search),
        ("week of slots (API)", week),
    ):
        before = availability_cache.stats()
        results[name] = _measure(fn, args.runs)
        after = availability_cache.stats()
        answered = after["hits"] - before["hits"]
        loaded = after["misses"] - before["misses"]
        kept[name] = f"{100 * answered / max(1, answered + loaded):.0f} %"
    queries = {
        "search (API)": _query_count(api_search),
        "search (selector)": _query_count(selector_search),
        "week of slots (API)": _query_count(week),
    }
    print(
        f"\nportal, {connection.vendor}, {args.calendars} calendars, {args.runs} runs each "
        f"(ms, in-process through the Django test client; {statistics.mean(hits):.1f} "
        "hits per search page on average; kept: calendars answered by a kept snapshot)"
    )
    header = f"{'operation':<22}{'runs':>6}{'median':>9}{'p95':>9}{'p99':>9}{'min':>9}{'max':>9}"
    print(header + f"{'queries':>9}{'kept':>7}{'target p95':>12}")
    for name, samples in results.items():
        s = sorted(samples)
        p95 = _percentile(s, 0.95)
        target = TARGETS[name]
        verdict = "ok" if p95 <= target else "MISSED"
        print(
            f"{name:<22}{len(s):>6}{statistics.median(s):>9.1f}{p95:>9.1f}"
            f"{_percentile(s, 0.99):>9.1f}{s[0]:>9.1f}{s[-1]:>9.1f}{queries[name]:>9}"
            f"{kept[name]:>7}{'≤ ' + format(target, '.0f'):>8} {verdict}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--calendars", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--seed", type=int, default=360)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="t360-portal-bench-"))
    dbname = ""
    try:
        dbname = _setup_django(args.backend, work)
        run(args)
    finally:
        if dbname and not args.keep:
            from django.db import connections

            connections.close_all()
            subprocess.run(
                ["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", dbname],
                check=False,
            )
        elif dbname:
            print(f"database kept: {dbname}", file=sys.stderr)


if __name__ == "__main__":
    main()
