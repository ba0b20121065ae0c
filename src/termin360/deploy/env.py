"""Typed environment helpers that fail fast with a clear message."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


class ConfigError(RuntimeError):
    pass


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name}={raw!r}: expected true or false")


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if not raw:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def data_dir() -> Path:
    path = Path(os.environ.get("TERMIN360_DATA_DIR", "var")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def secret_key(role: str) -> str:
    """TERMIN360_SECRET_KEY, or a random key kept (mode 0600) in the data directory.

    A one-machine install then needs no set-up, and sessions survive restarts.
    """
    configured = os.environ.get("TERMIN360_SECRET_KEY")
    if configured:
        if len(configured) < 32:
            raise ConfigError("TERMIN360_SECRET_KEY must be at least 32 characters long")
        return configured
    path = data_dir() / f"{role}-secret-key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


def env_minutes(name: str, default: float) -> float:
    """A positive number of minutes (a float, so tests can use seconds)."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: expected a number of minutes") from None
    if not value > 0:
        raise ConfigError(f"{name} must be greater than 0")
    return value


def env_choice(name: str, default: str, choices: list[str]) -> str:
    value = os.environ.get(name, "").strip().lower() or default
    if value not in choices:
        raise ConfigError(f"{name}={value!r}: expected one of {', '.join(choices)}")
    return value


def metrics_token() -> str:
    """TERMIN360_METRICS_TOKEN, or "" (the metrics endpoint is then switched off)."""
    token = os.environ.get("TERMIN360_METRICS_TOKEN", "").strip()
    if token and len(token) < 32:
        raise ConfigError("TERMIN360_METRICS_TOKEN must be at least 32 characters long")
    return token


def env_int(name: str, default: int, *, minimum: int = 1) -> int:
    """A whole number of at least ``minimum``, or ``default`` when unset or empty."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: expected a whole number") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}")
    return value
