from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("practice", "0003_viewversion"),
    ]

    operations = [
        migrations.CreateModel(
            name="StaffLoginAttempt",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("key", models.CharField(db_index=True, max_length=200)),
                ("at", models.DateTimeField(auto_now_add=True, db_index=True)),
            ],
        ),
    ]
