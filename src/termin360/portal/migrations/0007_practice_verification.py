"""P10: practices are verified by the portal's operator. Practices that exist already were
public before verification existed and stay so: they become *approved* (default
"approved" while the column is added), then the default turns to *pending* for new ones."""

from typing import Any

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def _approved_since_creation(apps: Any, schema_editor: Any) -> None:
    Practice = apps.get_model("portal", "Practice")
    Practice.objects.filter(approved_at__isnull=True).update(
        approved_at=models.F("created_at"),
        status_note="Vor Einführung der Prüfung angelegt; als geprüft übernommen.",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0006_hours_from_the_practice"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="practice",
            name="busy_received_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterModelOptions(
            name="practice",
            options={"verbose_name": "practice", "verbose_name_plural": "practices"},
        ),
        migrations.AddField(
            model_name="practice",
            name="approved_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="approved at"),
        ),
        migrations.AddField(
            model_name="practice",
            name="approved_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="approved by",
            ),
        ),
        migrations.AddField(
            model_name="practice",
            name="status",
            field=models.CharField(
                choices=[
                    ("pending", "pending verification"),
                    ("approved", "approved"),
                    ("suspended", "suspended"),
                ],
                db_index=True,
                default="approved",
                max_length=10,
                verbose_name="status",
            ),
        ),
        migrations.AddField(
            model_name="practice",
            name="status_note",
            field=models.TextField(blank=True, verbose_name="note"),
        ),
        migrations.AddField(
            model_name="practice",
            name="suspended_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="suspended at"),
        ),
        migrations.AddField(
            model_name="practice",
            name="suspended_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="suspended by",
            ),
        ),
        migrations.RunPython(_approved_since_creation, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="practice",
            name="status",
            field=models.CharField(
                choices=[
                    ("pending", "pending verification"),
                    ("approved", "approved"),
                    ("suspended", "suspended"),
                ],
                db_index=True,
                default="pending",
                max_length=10,
                verbose_name="status",
            ),
        ),
        migrations.CreateModel(
            name="PracticeSync",
            fields=[],
            options={
                "verbose_name": "sync of a practice",
                "verbose_name_plural": "sync",
                "proxy": True,
                "indexes": [],
                "constraints": [],
            },
            bases=("portal.practice",),
        ),
        # German labels for the back office (no change to the tables).
        migrations.AlterModelOptions(
            name="apikey",
            options={"verbose_name": "API key", "verbose_name_plural": "API keys"},
        ),
        migrations.AlterModelOptions(
            name="outgoingemail",
            options={"verbose_name": "e-mail", "verbose_name_plural": "e-mails"},
        ),
        migrations.AlterModelOptions(
            name="patientprofile",
            options={"verbose_name": "patient", "verbose_name_plural": "patients"},
        ),
        migrations.AlterField(
            model_name="apikey",
            name="created_at",
            field=models.DateTimeField(auto_now_add=True, verbose_name="created at"),
        ),
        migrations.AlterField(
            model_name="apikey",
            name="last_used_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="last used at"),
        ),
        migrations.AlterField(
            model_name="apikey",
            name="name",
            field=models.CharField(max_length=100, verbose_name="name"),
        ),
        migrations.AlterField(
            model_name="apikey",
            name="practice",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="api_keys",
                to="portal.practice",
                verbose_name="practice",
            ),
        ),
        migrations.AlterField(
            model_name="apikey",
            name="prefix",
            field=models.CharField(max_length=12, verbose_name="beginning"),
        ),
        migrations.AlterField(
            model_name="apikey",
            name="revoked_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="revoked at"),
        ),
        migrations.AlterField(
            model_name="outgoingemail",
            name="attempts",
            field=models.PositiveSmallIntegerField(default=0, verbose_name="attempts"),
        ),
        migrations.AlterField(
            model_name="outgoingemail",
            name="created_at",
            field=models.DateTimeField(auto_now_add=True, verbose_name="created at"),
        ),
        migrations.AlterField(
            model_name="outgoingemail",
            name="kind",
            field=models.CharField(max_length=40, verbose_name="kind"),
        ),
        migrations.AlterField(
            model_name="outgoingemail",
            name="last_error",
            field=models.CharField(blank=True, max_length=300, verbose_name="last error"),
        ),
        migrations.AlterField(
            model_name="outgoingemail",
            name="next_attempt_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="next attempt at"),
        ),
        migrations.AlterField(
            model_name="outgoingemail",
            name="sent_at",
            field=models.DateTimeField(
                blank=True, db_index=True, null=True, verbose_name="sent at"
            ),
        ),
        migrations.AlterField(
            model_name="patientprofile",
            name="created_at",
            field=models.DateTimeField(auto_now_add=True, verbose_name="created at"),
        ),
        migrations.AlterField(
            model_name="patientprofile",
            name="email_confirmed_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="e-mail confirmed at"),
        ),
        migrations.AlterField(
            model_name="patientprofile",
            name="first_name",
            field=models.CharField(max_length=100, verbose_name="first name"),
        ),
        migrations.AlterField(
            model_name="patientprofile",
            name="last_name",
            field=models.CharField(max_length=100, verbose_name="last name"),
        ),
        migrations.AlterField(
            model_name="practice",
            name="created_at",
            field=models.DateTimeField(auto_now_add=True, verbose_name="created at"),
        ),
        migrations.AlterField(
            model_name="practice",
            name="email",
            field=models.EmailField(
                help_text="where alerts go (undelivered bookings, cancellations)",
                max_length=254,
                verbose_name="e-mail address",
            ),
        ),
        migrations.AlterField(
            model_name="practice",
            name="feed_seq",
            field=models.BigIntegerField(default=0, verbose_name="feed position"),
        ),
        migrations.AlterField(
            model_name="practice",
            name="name",
            field=models.CharField(max_length=150, verbose_name="name"),
        ),
        migrations.AlterField(
            model_name="practice",
            name="phone",
            field=models.CharField(blank=True, max_length=40, verbose_name="phone"),
        ),
    ]
