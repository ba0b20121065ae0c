"""No two active bookings of one online calendar overlap — refused by PostgreSQL itself.

``EXCLUDE USING gist (calendar_id WITH =, tstzrange(start, "end") WITH &&) WHERE
(status = 'active')``. The ``btree_gist`` extension lets the GiST index compare the
calendar id for equality. SQLite has no such constraint; there every write transaction
starts with BEGIN IMMEDIATE (see deploy/base.py), so the service's check and insert
cannot interleave with another writer.
"""

from django.db import migrations

CONSTRAINT = "portal_booking_no_overlap"


def create(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    schema_editor.execute(
        f"ALTER TABLE portal_booking ADD CONSTRAINT {CONSTRAINT} EXCLUDE USING gist "
        "(calendar_id WITH =, tstzrange(start, \"end\", '[)') WITH &&) "
        "WHERE (status = 'active')"
    )


def drop(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE portal_booking DROP CONSTRAINT {CONSTRAINT}")


class Migration(migrations.Migration):
    dependencies = [("portal", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]
