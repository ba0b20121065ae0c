"""The load process of ``benchmarks.portal_load``: many clients at once for a bounded
time, in a process of its own, and the same bookings written directly through the
database driver (the limit the portal is measured against).

    python -m benchmarks._load_client PLAN.json --mode http --base URL --concurrency 8 \
        --seconds 10 --work book --slots 0:40000 --out RESULT.json

``--mode http``: asyncio clients (httpx, one keep-alive connection each) against one or
more base URLs (comma-separated: client k uses URL k mod n). ``--work``: ``book``
(``POST /api/v1/bookings``, a distinct free slot each), ``search``, ``slots`` or ``mix``
(6 searches : 3 slot listings : 1 booking).

``--mode direct-writes`` / ``direct-full``: threads, one driver connection each (psycopg
or sqlite3), each booking one transaction — the writes of a booking (practice lock,
booking row, feed number and event, the mail's queue row, the notification), and with
``direct-full`` also the reads the service makes before and inside it (token's user,
profile, calendar, visit type, existing-patient check, hours, what blocks the day).

Writes a JSON of per-operation latencies (ms), counts and errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from benchmarks._load_world import BERLIN, Plan, Slots

MAIL_BODY = "Guten Tag,\n\nIhr Termin ist bestätigt.\n" + "x" * 900  # a confirmation's size


class Results:
    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.lock = threading.Lock()

    def add(self, op: str, ms: float, ok: bool, detail: str = "") -> None:
        with self.lock:
            if ok:
                self.latencies[op].append(ms)
            else:
                self.errors[f"{op}: {detail}"] += 1


# --------------------------------------------------------------------------- over HTTP


async def _http_client(
    k: int,
    base: str,
    plan: Plan,
    slots: Slots,
    my_slots: range,
    work: str,
    until: float,
    results: Results,
) -> None:
    rng = random.Random(k)
    patient = plan.patients[k % len(plan.patients)]
    headers = {"Authorization": f"Bearer {patient['token']}", "Accept-Language": "de"}
    next_slot = iter(my_slots)
    first_day = plan.first_day
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
        while time.monotonic() < until:
            op = work
            if work == "mix":
                op = rng.choices(["search", "slots", "book"], weights=[6, 3, 1])[0]
            t0 = time.perf_counter()
            try:
                if op == "book":
                    j = next(next_slot, None)
                    if j is None:
                        results.add(op, 0, False, "slots of this client used up")
                        return
                    cal, start = slots[j]
                    body = {
                        "calendar_id": cal,
                        "visit_type_id": plan.checkup[str(cal)],
                        "start": start.isoformat(),
                    }
                    r = await client.post("/api/v1/bookings", json=body)
                    want = 201
                elif op == "search":
                    r = await client.get("/api/v1/search", params=rng.choice(plan.searches))
                    want = 200
                else:
                    cal = rng.choice(plan.calendars)
                    r = await client.get(
                        f"/api/v1/calendars/{cal}/slots", params={"from": first_day, "days": 7}
                    )
                    want = 200
            except httpx.HTTPError as exc:
                results.add(op, 0, False, type(exc).__name__)
                continue
            ms = (time.perf_counter() - t0) * 1000
            results.add(op, ms, r.status_code == want, f"HTTP {r.status_code}")


async def _run_http(args: argparse.Namespace, plan: Plan, results: Results) -> None:
    slots = Slots(plan)
    bases = args.base.split(",")
    lo, hi = (int(x) for x in args.slots.split(":"))
    per = (hi - lo) // args.concurrency
    until = time.monotonic() + args.seconds
    await asyncio.gather(
        *(
            _http_client(
                k,
                bases[k % len(bases)],
                plan,
                slots,
                range(lo + k * per, lo + (k + 1) * per),
                args.work,
                until,
                results,
            )
            for k in range(args.concurrency)
        )
    )


# --------------------------------------------------------------------------- through the driver

READS_BEFORE = [
    # the token's user, the patient's profile
    ("SELECT id, password, is_active, email FROM auth_user WHERE id = %s AND is_active", "user"),
    (
        "SELECT id, user_id, last_name, first_name, date_of_birth, phone, insurance,"
        " email_confirmed_at FROM portal_patientprofile WHERE user_id = %s",
        "user",
    ),
    # the public calendar with doctor, practice and location
    (
        "SELECT c.id, c.slot_minutes, c.horizon_days, c.lead_minutes, d.practice_id,"
        " p.time_zone, p.name, l.city FROM portal_onlinecalendar c"
        " JOIN portal_doctor d ON d.id = c.doctor_id JOIN portal_practice p ON p.id ="
        " d.practice_id JOIN portal_location l ON l.id = d.location_id"
        " WHERE c.id = %s AND c.published AND p.status = 'approved'",
        "cal",
    ),
    (
        "SELECT id, duration_minutes, new_patients, existing_patients, insurances"
        " FROM portal_visittype WHERE id = %s AND calendar_id = %s AND active",
        "vt cal",
    ),
    # known to the practice?
    (
        "SELECT 1 FROM portal_booking b JOIN portal_onlinecalendar c ON c.id = b.calendar_id"
        " JOIN portal_doctor d ON d.id = c.doctor_id WHERE b.patient_id = %s AND"
        " d.practice_id = %s AND (b.status = 'active' OR b.start < %s) LIMIT 1",
        "patient practice now",
    ),
    (
        'SELECT weekday, start, "end" FROM portal_weeklyhours WHERE calendar_id = %s'
        " ORDER BY weekday, start",
        "cal",
    ),
]
READS_LOCKED = [
    (
        "SELECT start, \"end\" FROM portal_booking WHERE calendar_id = %s AND status = 'active'"
        ' AND "end" > %s AND start < %s',
        "cal lo hi",
    ),
    (
        'SELECT start, "end" FROM portal_busyinterval WHERE calendar_id = %s AND "end" > %s'
        " AND start < %s",
        "cal lo hi",
    ),
    (
        'SELECT h.start, h."end" FROM portal_hold h JOIN portal_claim c ON c.id = h.claim_id'
        ' WHERE h.calendar_id = %s AND c.ended_at IS NULL AND c.expires_at > %s AND h."end" > %s'
        " AND h.start < %s",
        "cal now lo hi",
    ),
    (
        "SELECT id FROM portal_absence WHERE calendar_id = %s AND first_day <= %s"
        " AND last_day >= %s",
        "cal day day",
    ),
]
BOOKING_INSERT = (
    'INSERT INTO portal_booking (calendar_id, patient_id, visit_type_id, start, "end", reason,'
    " status, patient_last_name, patient_first_name, patient_date_of_birth, patient_email,"
    " patient_phone, patient_insurance, created_at, cancelled_by, cancel_reason) VALUES"
    " (%s, %s, %s, %s, %s, '', 'active', %s, %s, '1980-05-17', %s, '0721 123456', 'gkv', %s,"
    " '', '') RETURNING id"
)
EVENT_INSERT = (
    "INSERT INTO portal_changeevent (practice_id, seq, booking_id, kind, payload, created_at)"
    " VALUES (%s, %s, %s, 'booked', %s, %s)"
)
MAIL_INSERT = (
    'INSERT INTO portal_outgoingemail ("to", subject, body, ics, kind, created_at, attempts,'
    " last_error) VALUES (%s, %s, %s, %s, 'booking_confirmed', %s, 0, '')"
)


def _book_direct(
    cur: Any,
    plan: Plan,
    cal: int,
    start: datetime,
    patient: dict[str, Any],
    full: bool,
    sqlite: bool,
) -> None:
    def q(sql: str) -> str:
        return sql.replace("%s", "?") if sqlite else sql

    now = datetime.now(UTC)
    practice = plan.practice_of[str(cal)]
    end = start + timedelta(minutes=15)
    day = start.astimezone(BERLIN).date()
    lo = datetime.combine(day, datetime.min.time(), tzinfo=BERLIN).astimezone(UTC)
    hi = lo + timedelta(days=1)
    values = {
        "user": [patient["user_id"]],
        "cal": [cal],
        "vt cal": [plan.checkup[str(cal)], cal],
        "patient practice now": [patient["id"], practice, now],
        "cal lo hi": [cal, lo, hi],
        "cal now lo hi": [cal, now, lo, hi],
        "cal day day": [cal, day, day],
    }
    if full:
        for sql, params in READS_BEFORE:
            cur.execute(q(sql), values[params])
            cur.fetchall()
    cur.execute("BEGIN IMMEDIATE" if sqlite else "BEGIN")
    lock = "SELECT feed_seq FROM portal_practice WHERE id = %s"
    cur.execute(q(lock if sqlite else lock + " FOR UPDATE"), [practice])
    seq = cur.fetchone()[0] + 1
    if full:
        for sql, params in READS_LOCKED:
            cur.execute(q(sql), values[params])
            cur.fetchall()
    cur.execute(
        q(BOOKING_INSERT),
        [
            cal,
            patient["id"],
            plan.checkup[str(cal)],
            start,
            end,
            patient["last_name"],
            patient["first_name"],
            patient["email"],
            now,
        ],
    )
    booking_id = cur.fetchone()[0]
    cur.execute(q("UPDATE portal_practice SET feed_seq = %s WHERE id = %s"), [seq, practice])
    payload = json.dumps({"booking_id": booking_id, "start": start.isoformat(), "seq": seq})
    cur.execute(q(EVENT_INSERT), [practice, seq, booking_id, payload, now])
    if not sqlite:
        cur.execute("SELECT pg_notify('termin360_feed', %s)", [str(practice)])
    cur.execute(
        q(MAIL_INSERT),
        [patient["email"], "Termin bestätigt", MAIL_BODY, "BEGIN:VCALENDAR" + "x" * 700, now],
    )
    cur.execute("COMMIT")


def _connect(plan: Plan) -> Any:
    url = plan.database_url
    if url.startswith("sqlite:///"):
        conn = sqlite3.connect(url[len("sqlite:///") :], timeout=20, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn
    import psycopg

    return psycopg.connect(url, autocommit=True)


def _direct_client(
    k: int, plan: Plan, slots: Slots, my_slots: range, full: bool, until: float, results: Results
) -> None:
    conn = _connect(plan)
    sqlite = isinstance(conn, sqlite3.Connection)
    patient = plan.patients[k % len(plan.patients)]
    op = "book (driver, writes + reads)" if full else "book (driver, writes)"
    try:
        cur = conn.cursor()
        for j in my_slots:
            if time.monotonic() >= until:
                return
            cal, start = slots[j]
            t0 = time.perf_counter()
            try:
                _book_direct(cur, plan, cal, start, patient, full, sqlite)
            except Exception as exc:
                cur.execute("ROLLBACK") if sqlite else conn.rollback()
                results.add(op, 0, False, type(exc).__name__)
                continue
            results.add(op, (time.perf_counter() - t0) * 1000, True)
        results.add(op, 0, False, "slots of this client used up")
    finally:
        conn.close()


def _run_direct(args: argparse.Namespace, plan: Plan, results: Results) -> None:
    slots = Slots(plan)
    lo, hi = (int(x) for x in args.slots.split(":"))
    per = (hi - lo) // args.concurrency
    until = time.monotonic() + args.seconds
    threads = [
        threading.Thread(
            target=_direct_client,
            args=(
                k,
                plan,
                slots,
                range(lo + k * per, lo + (k + 1) * per),
                args.mode == "direct-full",
                until,
                results,
            ),
        )
        for k in range(args.concurrency)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=args.seconds + 60)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("plan", type=Path)
    parser.add_argument("--mode", choices=["http", "direct-writes", "direct-full"])
    parser.add_argument("--base", default="")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--work", choices=["book", "search", "slots", "mix"], default="book")
    parser.add_argument("--slots", default="0:0", help="LO:HI, the range of slot numbers")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    plan = Plan(**json.loads(args.plan.read_text()))
    results = Results()
    t0 = time.perf_counter()
    if args.mode == "http":
        asyncio.run(_run_http(args, plan, results))
    else:
        _run_direct(args, plan, results)
    elapsed = time.perf_counter() - t0
    args.out.write_text(
        json.dumps(
            {
                "seconds": elapsed,
                "latencies": results.latencies,
                "errors": results.errors,
            }
        )
    )


if __name__ == "__main__":
    main()
