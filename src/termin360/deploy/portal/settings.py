"""Settings of the portal deployment (the booking portal). Its own database, its own
cookies; the portal apps join ``INSTALLED_APPS`` in the portal issue."""

from termin360.deploy.base import *  # noqa: F403
from termin360.deploy.base import INSTALLED_APPS_BASE, database
from termin360.deploy.env import secret_key

ROLE = "portal"
SECRET_KEY = secret_key(ROLE)
INSTALLED_APPS = [*INSTALLED_APPS_BASE, "ninja"]
ROOT_URLCONF = "termin360.deploy.portal.urls"
WSGI_APPLICATION = "termin360.deploy.portal.wsgi.application"
DATABASES = {"default": database("PORTAL_DATABASE_URL", "portal.sqlite3")}
SESSION_COOKIE_NAME = "termin360_portal_session"
CSRF_COOKIE_NAME = "termin360_portal_csrftoken"
