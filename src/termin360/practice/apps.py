from django.apps import AppConfig


class PracticeConfig(AppConfig):
    name = "termin360.practice"
    label = "practice"
    verbose_name = "Praxiskalender"
    default_auto_field = "django.db.models.BigAutoField"
