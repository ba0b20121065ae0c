"""The connector's settings (S1, TMEX P): portal address, API key, TLS profile and the
mappings online calendar → (practice calendar number, column number).

Everything is validated before it is stored, with a message the practice's IT person
can act on; nothing half-valid is ever saved.
"""

from __future__ import annotations

import ssl
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from django.db import transaction
from django.utils.translation import gettext as _

from termin360.connector.models import Mapping, SyncConfig, TlsProfile
from termin360.connector.portal_client import CALL_DEADLINE, PortalClient
from termin360.connector.selectors import sync_config
from termin360.connector.services import claims
from termin360.core.errors import ApplicationError, InvalidInput, NotFound
from termin360.practice.models import Calendar, Column
from termin360.practice.services.lookups import calendar_by_number, column_by_number

MIN_CHECK_TIMEOUT = 0.1
MAX_CHECK_TIMEOUT = 30.0


class NotConfigured(ApplicationError):
    code = "not_configured"


def _clean_url(portal_url: str) -> str:
    url = portal_url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(
            _("The portal address must be an http:// or https:// address, e.g. %(example)s.")
            % {"example": "https://portal.example.de"},
            code="portal_url_invalid",
        )
    return url


def _check_timeout(value: float) -> float:
    if not MIN_CHECK_TIMEOUT <= value <= MAX_CHECK_TIMEOUT:
        raise InvalidInput(
            _("The check timeout must lie between %(low)s and %(high)s seconds.")
            % {"low": MIN_CHECK_TIMEOUT, "high": MAX_CHECK_TIMEOUT},
            code="check_timeout_invalid",
        )
    return float(value)


def _profile_by_name(name: str) -> TlsProfile:
    profile = TlsProfile.objects.filter(name=name.strip()).first()
    if profile is None:
        raise NotFound(
            _("There is no TLS profile named %(name)s.") % {"name": name}, code="tls_profile"
        )
    return profile


@transaction.atomic
def save_config(
    *,
    portal_url: str,
    api_key: str | None = None,
    tls_profile: str | None = None,
    check_timeout: float | None = None,
) -> SyncConfig:
    """Create or change the one configuration row.

    ``api_key``, ``tls_profile`` and ``check_timeout`` left as ``None`` keep what is stored
    (the key is shown only as a hint, so nobody has to type it again to change the URL);
    ``tls_profile=""`` removes the profile.
    """
    url = _clean_url(portal_url)
    config = SyncConfig.objects.select_for_update().filter(pk=1).first()
    if config is None:
        config = SyncConfig(pk=1)
    config.portal_url = url
    if api_key is not None:
        if not api_key.strip():
            raise InvalidInput(_("The API key must not be empty."), code="api_key_missing")
        config.api_key = api_key.strip()
    if not config.api_key:
        raise InvalidInput(
            _("The API key is missing: the portal issues it to the practice."),
            code="api_key_missing",
        )
    if tls_profile is not None:
        config.tls_profile = _profile_by_name(tls_profile) if tls_profile.strip() else None
    if check_timeout is not None:
        config.check_timeout_seconds = _check_timeout(check_timeout)
    config.save()
    _forget_cached_config()
    return config


def _forget_cached_config() -> None:
    """The S9 check keeps the configuration for a moment; a change in this process applies
    at once (other processes see it within ``claims.CONFIG_TTL_SECONDS``)."""
    # Now, and again after the commit (another thread may read the old row meanwhile);
    # harmless if the transaction is rolled back: the check just reads again.
    claims.forget_config()
    transaction.on_commit(claims.forget_config)


def _readable(path: str, what: str) -> str:
    path = path.strip()
    if path and not Path(path).is_file():
        raise InvalidInput(
            _("TLS profile: the file %(path)s (%(what)s) does not exist.")
            % {"path": path, "what": what},
            code="tls_file_missing",
        )
    return path


def checked_tls_files(
    *, ca_bundle: str = "", client_cert: str = "", client_key: str = ""
) -> tuple[str, str, str]:
    """The files of a TLS profile, tried now the way the connector will load them, so a
    wrong path fails here and not at 3 a.m. in the job."""
    ca_bundle = _readable(ca_bundle, _("CA certificates"))
    client_cert = _readable(client_cert, _("client certificate"))
    client_key = _readable(client_key, _("client key"))
    if client_key and not client_cert:
        raise InvalidInput(
            _("TLS profile: a client key needs its client certificate."),
            code="tls_client_cert_missing",
        )
    try:
        ctx = ssl.create_default_context(cafile=ca_bundle or None)
        if client_cert:
            ctx.load_cert_chain(client_cert, client_key or None)
    except (ssl.SSLError, OSError, ValueError):
        raise InvalidInput(
            _("TLS profile: a file is not a readable PEM certificate or key."),
            code="tls_file_invalid",
        ) from None
    return ca_bundle, client_cert, client_key


def save_tls_profile(
    *, name: str, ca_bundle: str = "", client_cert: str = "", client_key: str = ""
) -> TlsProfile:
    """Create or replace a named TLS profile (its files checked first)."""
    if not name.strip():
        raise InvalidInput(_("The TLS profile needs a name."), code="tls_profile_name")
    ca_bundle, client_cert, client_key = checked_tls_files(
        ca_bundle=ca_bundle, client_cert=client_cert, client_key=client_key
    )
    profile, _created = TlsProfile.objects.update_or_create(
        name=name.strip(),
        defaults={"ca_bundle": ca_bundle, "client_cert": client_cert, "client_key": client_key},
    )
    return profile


def _spans_locations(calendar: Calendar) -> bool:
    locations = {c.location_id or calendar.location_id for c in calendar.columns.all()}
    return len(locations) > 1


def _resolve(entries: list[tuple[int, int, int]]) -> list[tuple[int, Column]]:
    """The columns of the entries, checked against the S1 rules."""
    online_twice = sorted(k for k, n in Counter(e[0] for e in entries).items() if n > 1)
    if online_twice:
        raise InvalidInput(
            _("Online calendar %(id)s is mapped twice.") % {"id": online_twice[0]},
            code="online_calendar_twice",
        )
    column_twice = sorted(k for k, n in Counter((e[1], e[2]) for e in entries).items() if n > 1)
    if column_twice:
        cal, col = column_twice[0]
        raise InvalidInput(
            _("Column %(col)s of calendar %(cal)s is mapped twice.") % {"cal": cal, "col": col},
            code="column_twice",
        )
    resolved = []
    for online_id, calendar_number, column_number in entries:
        if online_id <= 0:
            raise InvalidInput(
                _("%(id)s is not an online calendar id.") % {"id": online_id},
                code="online_calendar_invalid",
            )
        calendar = calendar_by_number(calendar_number)
        column = column_by_number(calendar, column_number)
        if _spans_locations(calendar):
            raise InvalidInput(
                _(
                    "The columns of calendar %(cal)s belong to different locations; "
                    "such a calendar cannot be connected."
                )
                % {"cal": calendar_number},
                code="calendar_spans_locations",
            )
        resolved.append((online_id, column))
    return resolved


@transaction.atomic
def set_mappings(entries: list[tuple[int, int, int]]) -> list[Mapping]:
    """Replace all mappings by ``entries`` = (online calendar id, calendar number, column
    number). A mapping that stays the same keeps its row (and with it the busy state the
    portal already has and the online calendar's name); a removed one takes its busy
    state and outbox rows with it, its bookings stay (without mapping)."""
    resolved = _resolve(entries)
    wanted = {(online_id, column.pk) for online_id, column in resolved}
    for mapping in Mapping.objects.select_for_update():
        if (mapping.online_calendar_id, mapping.column_id) not in wanted:
            mapping.delete()
    kept = {(m.online_calendar_id, m.column_id): m for m in Mapping.objects.all()}
    out = []
    for online_id, column in resolved:
        existing = kept.get((online_id, column.pk))
        out.append(existing or Mapping.objects.create(online_calendar_id=online_id, column=column))
    return out


# --------------------------------------------------------------------------- planned settings


@dataclass(frozen=True)
class PlannedSettings:
    """What the connector would use after a change: checked locally, not saved yet."""

    portal_url: str
    api_key: str
    ca_bundle: str
    client_cert: str
    client_key: str
    online_ids: list[int]


def planned_settings(
    *,
    portal_url: str | None,
    api_key: str | None = None,
    tls_profile: str | None = None,
    mappings: list[tuple[int, int, int]] | None = None,
) -> PlannedSettings:
    """The settings as they would be with these changes (``None``: keep what is stored),
    validated as ``save_config`` and ``set_mappings`` would — before anything is asked
    of the portal, so a typo is reported at once and not after a network wait."""
    current = sync_config()
    url = _clean_url(
        portal_url if portal_url is not None else (current.portal_url if current else "")
    )
    key = (api_key if api_key is not None else (current.api_key if current else "")).strip()
    if not key:
        raise InvalidInput(
            _("The API key is missing: the portal issues it to the practice."),
            code="api_key_missing",
        )
    if tls_profile is not None:
        profile = _profile_by_name(tls_profile) if tls_profile.strip() else None
    else:
        profile = current.tls_profile if current else None
    if mappings is not None:
        ids = [online_id for online_id, _column in _resolve(mappings)]
    else:
        ids = list(Mapping.objects.values_list("online_calendar_id", flat=True))
    return PlannedSettings(
        portal_url=url,
        api_key=key,
        ca_bundle=profile.ca_bundle if profile else "",
        client_cert=profile.client_cert if profile else "",
        client_key=profile.client_key if profile else "",
        online_ids=ids,
    )


def client_from_config(*, timeout: float = CALL_DEADLINE) -> PortalClient:
    """A portal client as configured; ``NotConfigured`` before ``termin360 sync config``."""
    config = sync_config()
    if config is None or not config.portal_url or not config.api_key:
        raise NotConfigured(
            _(
                "The connector is not set up: termin360 sync config --portal-url URL "
                "--api-key KEY --map ONLINE_ID=CAL/COL"
            )
        )
    profile = config.tls_profile
    return PortalClient(
        config.portal_url,
        config.api_key,
        ca_bundle=profile.ca_bundle if profile else "",
        client_cert=profile.client_cert if profile else "",
        client_key=profile.client_key if profile else "",
        timeout=timeout,
    )
