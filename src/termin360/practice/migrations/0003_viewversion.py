import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("practice", "0002_column_location"),
    ]

    operations = [
        migrations.CreateModel(
            name="ViewVersion",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                ("version", models.PositiveBigIntegerField(default=0)),
                (
                    "calendar",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="practice.calendar",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("calendar", "day"), name="view_version_unique")
                ],
            },
        ),
    ]
