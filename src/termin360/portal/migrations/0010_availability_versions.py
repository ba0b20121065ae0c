"""A version per online calendar that every write changing what it offers bumps (decision 021).

``portal_availability_version(calendar_id, version)`` is kept by triggers, so the bump is
in the transaction of the write whatever code path makes it (services, the back office,
bulk updates, a test's ``save()``): bookings (insert, delete, a change of status, time or
calendar), the practice's busy times (S8) and bookable slots (S14), S9 holds and the end
or lease of their claims, absences, weekly hours, visit types, the calendar's own row,
the practice's time zone and status, a doctor moving to another practice. The portal's
reads keep what they computed from a calendar under its version
(``services.availability_cache``) and read the version in the query that finds the
calendar, so a cached answer is never older than that query.

Versions are never reused: PostgreSQL takes them from a sequence (``nextval`` is not
rolled back), SQLite from ``random()`` — so neither a rolled-back write nor a calendar id
used again after a deletion can meet an answer cached for an older state.

PostgreSQL bumps once per statement for the tables written in bulk (busy time is
replaced a day at a time); a booking changes one row, and only some of its columns count.

Three indexes the query plans asked for: bookings and busy time are read as "what
overlaps [from today, end of horizon)", where ``end > today`` is the selective half once
years of past rows pile up (the indexes on ``start`` scan all of them); and search's
``specialty__iexact`` is ``UPPER(specialty) = UPPER(…)`` on PostgreSQL, which only an
index on that expression serves (and gives the planner its row count).
"""

# ruff: noqa: S608 - the statements are put together from this file's constants only

from django.db import migrations

VERSIONS = "portal_availability_version"
SEQUENCE = "portal_availability_version_seq"
# Tables whose rows each block or offer time of one calendar (column ``calendar_id``).
PER_CALENDAR = ["busyinterval", "hold", "absence", "weeklyhours", "practiceslots", "visittype"]
BOOKING_CHANGED = (
    'OLD.status IS DISTINCT FROM NEW.status OR OLD.start IS DISTINCT FROM NEW.start OR OLD."end" '
    'IS DISTINCT FROM NEW."end" OR OLD.calendar_id IS DISTINCT FROM NEW.calendar_id'
)
PRACTICE_CHANGED = (
    "OLD.status IS DISTINCT FROM NEW.status OR OLD.time_zone IS DISTINCT FROM NEW.time_zone"
)
CLAIM_CHANGED = (
    "OLD.ended_at IS DISTINCT FROM NEW.ended_at OR OLD.expires_at IS DISTINCT FROM NEW.expires_at"
)
DOCTOR_CHANGED = "OLD.practice_id IS DISTINCT FROM NEW.practice_id"
OF_PRACTICE = (
    "SELECT c.id FROM portal_onlinecalendar c JOIN portal_doctor d ON d.id = c.doctor_id "
    "WHERE d.practice_id = {row}.id"
)
OF_DOCTOR = "SELECT c.id FROM portal_onlinecalendar c WHERE c.doctor_id = {row}.id"
OF_CLAIM = "SELECT h.calendar_id FROM portal_hold h WHERE h.claim_id = {row}.id"
INDEXES = [
    'CREATE INDEX portal_booking_active_end ON portal_booking (calendar_id, "end") '
    "WHERE status = 'active'",
    'CREATE INDEX portal_busyinterval_calendar_end ON portal_busyinterval (calendar_id, "end")',
]
PG_INDEXES = [
    "CREATE INDEX portal_doctor_specialty_upper ON portal_doctor (UPPER(specialty::text))"
]
DROP_INDEXES = [
    "DROP INDEX portal_booking_active_end",
    "DROP INDEX portal_busyinterval_calendar_end",
]


# --------------------------------------------------------------------------- PostgreSQL


def _pg_bump(where: str) -> str:
    new = f"nextval('{SEQUENCE}')"
    return f"UPDATE {VERSIONS} SET version = {new} WHERE calendar_id IN ({where});"


def _pg_function(name: str, body: str) -> str:
    return (
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body} "
        "RETURN NULL; END $$"
    )


def _postgres() -> list[str]:
    rows = _pg_function(
        "portal_av_rows",
        "IF TG_OP = 'INSERT' THEN "
        + _pg_bump("SELECT calendar_id FROM new_rows")
        + " ELSIF TG_OP = 'DELETE' THEN "
        + _pg_bump("SELECT calendar_id FROM old_rows")
        + " ELSE "
        + _pg_bump("SELECT calendar_id FROM new_rows UNION SELECT calendar_id FROM old_rows")
        + " END IF;",
    )
    sql = [
        f"CREATE SEQUENCE {SEQUENCE}",
        f"CREATE TABLE {VERSIONS} (calendar_id bigint PRIMARY KEY, version bigint NOT NULL)",
        f"INSERT INTO {VERSIONS} (calendar_id, version) "
        f"SELECT id, nextval('{SEQUENCE}') FROM portal_onlinecalendar",
        rows,
        # OLD is NULL for an INSERT and NEW for a DELETE (PostgreSQL 11+): IN ignores it.
        _pg_function("portal_av_booking", _pg_bump("NEW.calendar_id, OLD.calendar_id")),
        _pg_function(
            "portal_av_calendar",
            f"IF TG_OP = 'DELETE' THEN DELETE FROM {VERSIONS} WHERE calendar_id = OLD.id; "
            f"ELSE INSERT INTO {VERSIONS} (calendar_id, version) "
            f"VALUES (NEW.id, nextval('{SEQUENCE}')) "
            "ON CONFLICT (calendar_id) DO UPDATE SET version = EXCLUDED.version; END IF;",
        ),
        _pg_function("portal_av_practice", _pg_bump(OF_PRACTICE.format(row="NEW"))),
        _pg_function("portal_av_doctor", _pg_bump(OF_DOCTOR.format(row="NEW"))),
        _pg_function("portal_av_claim", _pg_bump(OF_CLAIM.format(row="NEW"))),
    ]
    for table in PER_CALENDAR:
        for event, short, refs in (
            ("INSERT", "ins", "NEW TABLE AS new_rows"),
            ("UPDATE", "upd", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
            ("DELETE", "del", "OLD TABLE AS old_rows"),
        ):
            sql.append(
                f"CREATE TRIGGER portal_av_{table}_{short} AFTER {event} ON portal_{table} "
                f"REFERENCING {refs} FOR EACH STATEMENT EXECUTE FUNCTION portal_av_rows()"
            )
    sql += [
        "CREATE TRIGGER portal_av_booking_ins AFTER INSERT ON portal_booking "
        "FOR EACH ROW EXECUTE FUNCTION portal_av_booking()",
        "CREATE TRIGGER portal_av_booking_del AFTER DELETE ON portal_booking "
        "FOR EACH ROW EXECUTE FUNCTION portal_av_booking()",
        f"CREATE TRIGGER portal_av_booking_upd AFTER UPDATE ON portal_booking "
        f"FOR EACH ROW WHEN ({BOOKING_CHANGED}) EXECUTE FUNCTION portal_av_booking()",
        *(
            f"CREATE TRIGGER portal_av_onlinecalendar_{short} AFTER {event} "
            "ON portal_onlinecalendar FOR EACH ROW EXECUTE FUNCTION portal_av_calendar()"
            for event, short in (("INSERT", "ins"), ("UPDATE", "upd"), ("DELETE", "del"))
        ),
        f"CREATE TRIGGER portal_av_practice AFTER UPDATE ON portal_practice "
        f"FOR EACH ROW WHEN ({PRACTICE_CHANGED}) EXECUTE FUNCTION portal_av_practice()",
        f"CREATE TRIGGER portal_av_doctor AFTER UPDATE ON portal_doctor "
        f"FOR EACH ROW WHEN ({DOCTOR_CHANGED}) EXECUTE FUNCTION portal_av_doctor()",
        f"CREATE TRIGGER portal_av_claim AFTER UPDATE ON portal_claim "
        f"FOR EACH ROW WHEN ({CLAIM_CHANGED}) EXECUTE FUNCTION portal_av_claim()",
    ]
    return [*sql, *INDEXES, *PG_INDEXES]


def _triggers() -> list[tuple[str, str]]:
    """(trigger, table) — the same names on both databases."""
    tables = [*PER_CALENDAR, "booking", "onlinecalendar"]
    found = [(f"portal_av_{t}_{e}", t) for t in tables for e in ("ins", "upd", "del")]
    return found + [(f"portal_av_{t}", t) for t in ("practice", "doctor", "claim")]


def _postgres_drop() -> list[str]:
    sql = [f"DROP TRIGGER {name} ON portal_{table}" for name, table in _triggers()]
    functions = ("rows", "booking", "calendar", "practice", "doctor", "claim")
    sql += [f"DROP FUNCTION portal_av_{f}()" for f in functions]
    sql += [*DROP_INDEXES, "DROP INDEX portal_doctor_specialty_upper"]
    return [*sql, f"DROP TABLE {VERSIONS}", f"DROP SEQUENCE {SEQUENCE}"]


# --------------------------------------------------------------------------- SQLite


def _sqlite_bump(where: str) -> str:
    return f"UPDATE {VERSIONS} SET version = random() WHERE calendar_id IN ({where});"


def _sqlite_condition(postgres: str) -> str:
    return postgres.replace("IS DISTINCT FROM", "IS NOT")  # SQLite's null-safe comparison


def _sqlite_trigger(name: str, event: str, table: str, body: str, when: str = "") -> str:
    condition = f" WHEN {when}" if when else ""
    return f"CREATE TRIGGER {name} AFTER {event} ON portal_{table}{condition} BEGIN {body} END"


def _sqlite() -> list[str]:
    sql = [
        f"CREATE TABLE {VERSIONS} (calendar_id integer PRIMARY KEY, version integer NOT NULL)",
        f"INSERT INTO {VERSIONS} (calendar_id, version) "
        "SELECT id, random() FROM portal_onlinecalendar",
    ]
    for table in [*PER_CALENDAR, "booking"]:
        changed = _sqlite_condition(BOOKING_CHANGED) if table == "booking" else ""
        new, old, both = "NEW.calendar_id", "OLD.calendar_id", "NEW.calendar_id, OLD.calendar_id"
        sql += [
            _sqlite_trigger(f"portal_av_{table}_ins", "INSERT", table, _sqlite_bump(new)),
            _sqlite_trigger(f"portal_av_{table}_upd", "UPDATE", table, _sqlite_bump(both), changed),
            _sqlite_trigger(f"portal_av_{table}_del", "DELETE", table, _sqlite_bump(old)),
        ]
    sql += [
        _sqlite_trigger(
            "portal_av_onlinecalendar_ins",
            "INSERT",
            "onlinecalendar",
            f"INSERT OR REPLACE INTO {VERSIONS} (calendar_id, version) VALUES (NEW.id, random());",
        ),
        _sqlite_trigger(
            "portal_av_onlinecalendar_upd",
            "UPDATE",
            "onlinecalendar",
            f"INSERT OR REPLACE INTO {VERSIONS} (calendar_id, version) VALUES (NEW.id, random());",
        ),
        _sqlite_trigger(
            "portal_av_onlinecalendar_del",
            "DELETE",
            "onlinecalendar",
            f"DELETE FROM {VERSIONS} WHERE calendar_id = OLD.id;",
        ),
        _sqlite_trigger(
            "portal_av_practice",
            "UPDATE",
            "practice",
            _sqlite_bump(OF_PRACTICE.format(row="NEW")),
            _sqlite_condition(PRACTICE_CHANGED),
        ),
        _sqlite_trigger(
            "portal_av_doctor",
            "UPDATE",
            "doctor",
            _sqlite_bump(OF_DOCTOR.format(row="NEW")),
            _sqlite_condition(DOCTOR_CHANGED),
        ),
        _sqlite_trigger(
            "portal_av_claim",
            "UPDATE",
            "claim",
            _sqlite_bump(OF_CLAIM.format(row="NEW")),
            _sqlite_condition(CLAIM_CHANGED),
        ),
    ]
    return [*sql, *INDEXES]


def _sqlite_drop() -> list[str]:
    drop = [f"DROP TRIGGER {name}" for name, _table in _triggers()]
    return [*drop, *DROP_INDEXES, f"DROP TABLE {VERSIONS}"]


def create(apps, schema_editor):  # type: ignore[no-untyped-def]
    vendor = schema_editor.connection.vendor
    for statement in _postgres() if vendor == "postgresql" else _sqlite():
        schema_editor.execute(statement, params=None)


def drop(apps, schema_editor):  # type: ignore[no-untyped-def]
    vendor = schema_editor.connection.vendor
    for statement in _postgres_drop() if vendor == "postgresql" else _sqlite_drop():
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("portal", "0009_mail_rendered_by_the_worker")]
    operations = [migrations.RunPython(create, drop)]
