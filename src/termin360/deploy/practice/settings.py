"""Settings of a practice deployment: the practice calendar and its connector."""

from copy import deepcopy
from typing import cast

from termin360.deploy.base import *  # noqa: F403
from termin360.deploy.base import INSTALLED_APPS_BASE, NINJA_FILES, database
from termin360.deploy.base import TEMPLATES as TEMPLATES_BASE
from termin360.deploy.env import env_minutes, secret_key

ROLE = "practice"
SECRET_KEY = secret_key(ROLE)
INSTALLED_APPS = [*INSTALLED_APPS_BASE, NINJA_FILES, "termin360.practice", "termin360.connector"]
ROOT_URLCONF = "termin360.deploy.practice.urls"
WSGI_APPLICATION = "termin360.deploy.practice.wsgi.application"
DATABASES = {"default": database("PRACTICE_DATABASE_URL", "practice.sqlite3")}
LOGIN_URL = "practice:login"
LOGIN_REDIRECT_URL = "practice:home"
LOGOUT_REDIRECT_URL = "practice:login"
SESSION_COOKIE_NAME = "termin360_practice_session"
CSRF_COOKIE_NAME = "termin360_practice_csrftoken"

# The connector's link in the practice's top bar (the practice templates show it only
# when this context processor provides it).
TEMPLATES = deepcopy(TEMPLATES_BASE)
_options = cast(dict[str, list[str]], TEMPLATES[0]["OPTIONS"])
_options["context_processors"].append("termin360.connector.context_processors.sync_nav")

# /health/ready fails (with a connector set up) while the oldest outbox entry or the
# last successful sync is older than this (docs/operations.md).
READY_OUTBOX_MINUTES = env_minutes("TERMIN360_READY_OUTBOX_MINUTES", 5)
READY_SYNC_MINUTES = env_minutes("TERMIN360_READY_SYNC_MINUTES", 10)
