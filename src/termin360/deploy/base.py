"""Settings shared by both roles. A role's settings module imports ``*`` and adds its apps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dj_database_url

from termin360.deploy.env import (
    ConfigError,
    data_dir,
    env_bool,
    env_choice,
    env_list,
    env_str,
    metrics_token,
)

SRC_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("TERMIN360_DEBUG", False)
ALLOWED_HOSTS = env_list("TERMIN360_ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("TERMIN360_CSRF_TRUSTED_ORIGINS", [])
HTTPS = env_bool("TERMIN360_HTTPS", False)

INSTALLED_APPS_BASE = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "csp",
]

# django-ninja's templates and static files, without importing ninja at start-up
# (deploy/ninja_files.py): in place of "ninja" in a role's INSTALLED_APPS.
NINJA_FILES = "termin360.deploy.ninja_files.NinjaFiles"

MIDDLEWARE = [
    # first: the request latency it measures includes every other middleware
    "termin360.deploy.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "termin360.deploy.headers.PermissionsPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "termin360.deploy.locale.GermanFirstMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # last: sees a view's exception first and answers a database outage with 503
    "termin360.deploy.db_errors.DatabaseOutageMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "de"
LANGUAGES = [("de", "Deutsch"), ("en", "English")]
LOCALE_PATHS = [SRC_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = env_str("TERMIN360_TIME_ZONE", "Europe/Berlin")

STATIC_URL = "/static/"
STATIC_ROOT = data_dir() / "static"
STATIC_ROOT.mkdir(exist_ok=True)
# Serve straight from the apps' static folders: no collectstatic step to forget.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Content-Security-Policy (django-csp, decision 016): the pages load only their own
# scripts, styles and images; no inline script or style, no eval, no framing.
CONTENT_SECURITY_POLICY: dict[str, Any] = {
    "DIRECTIVES": {
        "default-src": ["'none'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        # data: for the empty favicon (<link rel="icon" href="data:,">) and the icons
        # inside the API docs' stylesheet
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    }
}
if HTTPS:
    SECURE_HSTS_SECONDS = 31536000
    SECURE_SSL_REDIRECT = True
    # probes and the metrics scraper talk to the process directly, often without TLS
    SECURE_REDIRECT_EXEMPT = [r"^health$", r"^health/(live|ready)$", r"^metrics$"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# HSTS for subdomains and the preload list are the domain owner's decision, not ours.
SILENCED_SYSTEM_CHECKS = ["security.W005", "security.W021"]

# /metrics answers only with this bearer token, and not at all (404) without one.
METRICS_TOKEN = metrics_token()

# "plain" (default) or "json": one JSON object per line (termin360.deploy.logs).
LOG_FORMAT = env_choice("TERMIN360_LOG_FORMAT", "plain", ["plain", "json"])

# Patient data never goes to the logs: log levels and names only, no request bodies.
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "termin360.deploy.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env_str("TERMIN360_LOG_LEVEL", "INFO")},
    # One line per HTTP request of the connector (a long poll every 25 s, an S9 check per
    # staff action) would bury what the logs are for.
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}


def database(url_variable: str, default_file: str) -> dict[str, Any]:
    """The ``default`` database from ``url_variable`` (sqlite:///… or postgres://…)."""
    import os

    from termin360.deploy.env import env_minutes

    url = os.environ.get(url_variable) or f"sqlite:///{data_dir() / default_file}"
    try:
        config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=60))
    except Exception as exc:
        raise ConfigError(f"{url_variable}: cannot read database URL ({exc})") from exc
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["CONN_MAX_AGE"] = 0
        # IMMEDIATE: every write transaction takes the write lock at BEGIN, so two
        # writers serialize instead of failing mid-transaction; WAL lets reads go on.
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            # how long a writer waits for the lock before "busy" (503, decision 017)
            "timeout": env_minutes("TERMIN360_SQLITE_BUSY_MINUTES", 20 / 60) * 60,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    # Tests that start real server processes need a test database those processes can open:
    # a file for SQLite (the default would be in memory).
    test_name = os.environ.get("TERMIN360_TEST_SQLITE_FILE")
    config["TEST"] = (
        {"NAME": test_name} if test_name and config["ENGINE"].endswith("sqlite3") else {}
    )
    return config
