"""S1: the settings are checked with the portal before they are saved (decision 010).

``check_with_portal`` asks the portal, with the settings as they would be saved
(``config.planned_settings``), which online calendars the key's practice has: a key the
portal does not accept, or a mapped online calendar of another practice, is refused
(``PortalCheckFailed``) and nothing is saved; a portal that cannot be asked says so —
the caller then offers to save without the check (``--offline`` / a checkbox).
"""

from __future__ import annotations

from collections.abc import Callable

from django.utils.translation import gettext as _

from termin360.connector.models import Mapping, SyncConfig
from termin360.connector.portal_client import AuthFailure, PortalApi, PortalClient, PortalError
from termin360.connector.services.config import PlannedSettings
from termin360.core.errors import ApplicationError
from termin360.protocol.messages import CalendarList

# The check when settings are saved: one call, so an IT person at the command line or in
# the settings page waits at most this long for a portal that does not answer.
CHECK_DEADLINE_SECONDS = 10.0


class PortalCheckFailed(ApplicationError):
    """The portal did not confirm the settings; nothing was saved. ``reachable`` is False
    when the portal could not be asked at all — then saving without the check is the
    way out (the caller names it: ``--offline`` or the checkbox)."""

    code = "portal_check_failed"

    def __init__(self, message: str, *, reachable: bool, code: str) -> None:
        super().__init__(message, code=code)
        self.reachable = reachable


# Tests of the settings page put an in-memory portal here.
check_client_factory: Callable[..., PortalApi] = PortalClient


def check_with_portal(planned: PlannedSettings) -> CalendarList:
    """Ask the portal with these settings which online calendars the key's practice has,
    and refuse (``PortalCheckFailed``) a key the portal does not accept or a mapped online
    calendar of another practice. Returns the portal's list (for the names, S1)."""
    try:
        client = check_client_factory(
            planned.portal_url,
            planned.api_key,
            ca_bundle=planned.ca_bundle,
            client_cert=planned.client_cert,
            client_key=planned.client_key,
            timeout=CHECK_DEADLINE_SECONDS,
        )
        try:
            listing = client.calendars()
        finally:
            client.close()
    except AuthFailure:
        raise PortalCheckFailed(
            _(
                "The portal does not accept this API key (unknown or revoked). "
                "Nothing has been saved."
            ),
            reachable=True,
            code="api_key_refused",
        ) from None
    except PortalError as exc:
        raise PortalCheckFailed(
            _(
                "The settings could not be checked with the portal: %(reason)s "
                "Nothing has been saved."
            )
            % {"reason": exc.message},
            reachable=False,
            code="portal_not_checked",
        ) from None
    own = {c.id for c in listing.calendars}
    foreign = sorted(set(planned.online_ids) - own)
    if foreign:
        raise PortalCheckFailed(
            _(
                "Online calendar %(ids)s does not belong to the practice of this API key "
                "(%(practice)s; its online calendars: %(own)s). Nothing has been saved."
            )
            % {
                "ids": ", ".join(map(str, foreign)),
                "practice": listing.practice,
                "own": ", ".join(map(str, sorted(own))) or "–",
            },
            reachable=True,
            code="online_calendar_foreign",
        )
    return listing


def store_names(listing: CalendarList) -> None:
    """The portal's names of the practice and of the mapped online calendars (S1)."""
    SyncConfig.objects.filter(pk=1).update(practice_name=listing.practice[:150])
    for calendar in listing.calendars:
        Mapping.objects.filter(online_calendar_id=calendar.id).update(
            online_name=calendar.name[:150]
        )
