"""Settings for mypy's Django plugin only: it needs every app's models at once.
Never used to run anything; each deployment has its own settings module."""

from termin360.deploy.base import *  # noqa: F403
from termin360.deploy.base import INSTALLED_APPS_BASE

SECRET_KEY = "typecheck-only-" + "x" * 40
INSTALLED_APPS = [
    *INSTALLED_APPS_BASE,
    "ninja",
    "termin360.practice",
    "termin360.connector",
    "termin360.portal",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
ROOT_URLCONF = "termin360.deploy.practice.urls"
