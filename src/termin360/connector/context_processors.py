"""The "Online sync" link in the practice's top bar, with a status dot.

A context processor rather than a template tag, so the practice's base template only
shows the link when the connector is installed (it knows nothing of the connector).
Lazy: the status is read only when a page actually shows the link."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import SimpleLazyObject

from termin360.connector import pages, selectors


@dataclass(frozen=True)
class SyncNav:
    url: str
    state: str  # "ok", "error" or "off" (not configured): the dot's colour
    state_label: str
    pending: int  # changes still to go either way, plus bookings without a place
    current: bool


def _sync_nav(request: HttpRequest) -> SyncNav:
    status = selectors.sync_status()
    state, label = pages.nav_state(status)
    url = reverse("connector:status")
    return SyncNav(
        url=url,
        state=state,
        state_label=label,
        pending=status.pending_total + status.unplaced,
        current=request.path.startswith(url),
    )


def sync_nav(request: HttpRequest) -> dict[str, object]:
    return {"sync_nav": SimpleLazyObject(lambda: _sync_nav(request))}
