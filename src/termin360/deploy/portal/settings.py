"""Settings of the portal deployment (the booking portal): its own database and cookies."""

import os

from termin360.deploy.base import *  # noqa: F403
from termin360.deploy.base import INSTALLED_APPS_BASE, NINJA_FILES, database
from termin360.deploy.base import MIDDLEWARE as _BASE_MIDDLEWARE
from termin360.deploy.env import ConfigError, data_dir, env_bool, env_minutes, env_str, secret_key

ROLE = "portal"
SECRET_KEY = secret_key(ROLE)
INSTALLED_APPS = [*INSTALLED_APPS_BASE, NINJA_FILES, "termin360.portal"]
# P10: the operator's back office (/backoffice/, termin360.portal.admin): Django's admin
# behind a TOTP second factor (django-otp) — on the portal only.
INSTALLED_APPS += [
    "django.contrib.admin.apps.SimpleAdminConfig",
    "django_otp",
    "django_otp.plugins.otp_totp",
]
MIDDLEWARE = [*_BASE_MIDDLEWARE]
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
    "django_otp.middleware.OTPMiddleware",
)
OTP_TOTP_ISSUER = "termin360"
ROOT_URLCONF = "termin360.deploy.portal.urls"
WSGI_APPLICATION = "termin360.deploy.portal.wsgi.application"
DATABASES = {"default": database("PORTAL_DATABASE_URL", "portal.sqlite3")}
SESSION_COOKIE_NAME = "termin360_portal_session"
CSRF_COOKIE_NAME = "termin360_portal_csrftoken"
LOGIN_URL = "portal:login"
LOGIN_REDIRECT_URL = "portal:my-bookings"
LOGOUT_REDIRECT_URL = "portal:search"

# The portal's public address, for links in e-mails (confirmation, password reset).
PORTAL_BASE_URL = env_str("TERMIN360_PORTAL_URL", "http://127.0.0.1:8000")

# P6: the practice is alerted about an active booking that has not reached its calendar
# this many minutes after it was made (only practices with a connector key). A float, so
# that tests can use seconds.
try:
    UNDELIVERED_ALERT_MINUTES = float(env_str("TERMIN360_UNDELIVERED_ALERT_MINUTES", "15"))
except ValueError:
    raise ConfigError("TERMIN360_UNDELIVERED_ALERT_MINUTES: expected a number of minutes") from None
if UNDELIVERED_ALERT_MINUTES <= 0:
    raise ConfigError("TERMIN360_UNDELIVERED_ALERT_MINUTES must be greater than 0")

# /health/ready fails while a mail still to be sent is older than this (docs/operations.md).
READY_MAIL_MINUTES = env_minutes("TERMIN360_READY_MAIL_MINUTES", 15)

# E-mail: SMTP when a host is configured; otherwise every mail is written as a file to
# $TERMIN360_DATA_DIR/mails/, where a newcomer running the demo finds it.
DEFAULT_FROM_EMAIL = env_str("TERMIN360_MAIL_FROM", "termin360 <noreply@termin360.invalid>")
if os.environ.get("TERMIN360_SMTP_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = env_str("TERMIN360_SMTP_HOST", "")
    EMAIL_PORT = int(env_str("TERMIN360_SMTP_PORT", "587"))
    EMAIL_HOST_USER = env_str("TERMIN360_SMTP_USER", "")
    EMAIL_HOST_PASSWORD = env_str("TERMIN360_SMTP_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("TERMIN360_SMTP_STARTTLS", False)
    EMAIL_USE_SSL = env_bool("TERMIN360_SMTP_SSL", False)
    EMAIL_TIMEOUT = 20
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(data_dir() / "mails")
