"""Helpers of the sync API tests: a connector's view of the portal through the Django
test client (``Authorization: Bearer <practice API key>``) and a booking made the way a
patient makes it."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from django.test import Client

from termin360.portal.models import Booking
from termin360.portal.services import bookings, practices
from tests.portal.conftest import World
from tests.portal.test_api_bookings import bookable

PREFIX = "/api/v1/sync"


class SyncApi:
    """The connector's calls, as JSON, with the practice's key."""

    def __init__(self, client: Client, key: str | None) -> None:
        self.client = client
        self.headers: dict[str, str] = {"HTTP_ACCEPT_LANGUAGE": "de"}
        if key is not None:
            self.headers["HTTP_AUTHORIZATION"] = f"Bearer {key}"

    def _headers(self, idempotency_key: str | None) -> dict[str, str]:
        headers = dict(self.headers)
        if idempotency_key is not None:
            headers["HTTP_IDEMPOTENCY_KEY"] = idempotency_key
        return headers

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(PREFIX + path, params, **self.headers)

    def post(self, path: str, body: Any, key: str | None = None) -> Any:
        return self.client.post(
            PREFIX + path, body, content_type="application/json", **self._headers(key)
        )

    def put(self, path: str, body: Any, key: str | None = None) -> Any:
        return self.client.put(
            PREFIX + path, body, content_type="application/json", **self._headers(key)
        )


def connector(world: World, client: Client | None = None) -> SyncApi:
    """A fresh API key of the world's practice and a client that uses it."""
    _record, key = practices.issue_api_key(practice=world.practice, name="Connector")
    return SyncApi(client or Client(), key)


def book(world: World, at: time = time(9), weekday: int = 1, patient: Any = None) -> Booking:
    """A patient's booking next week (Tuesday 09:00 unless told otherwise)."""
    return book_at(world, bookable(at, weekday), patient)


def book_at(world: World, start: datetime, patient: Any = None) -> Booking:
    return bookings.book(
        patient=patient or world.patient,
        calendar_id=world.calendar.pk,
        visit_type_id=world.checkup.pk,
        start=start,
    )


def iso(instant: datetime) -> str:
    return instant.isoformat()
