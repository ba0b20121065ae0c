"""The sync API's OpenAPI document holds what the server answers: schemathesis against a
real ``termin360 portal serve`` process, as a connector with the practice's API key."""

from __future__ import annotations

from typing import Any

from tests.conftest import Server
from tests.openapi_fuzz import fuzz_operations, fuzz_stateful, load
from tests.portal.conftest import build_world
from tests.portal.sync_support import book


def _no_long_poll(case: Any) -> None:
    """``GET /events?wait=…`` may wait up to 25 s for an event; the feed answers at once."""
    if case.operation.path.endswith("/events") and isinstance(case.query, dict):
        case.query["wait"] = 0


def test_every_sync_api_answer_is_in_its_openapi_document(portal_server: Server) -> None:
    from termin360.portal.services import practices, verification

    world = build_world()
    verification.approve(practice=world.practice)
    book(world)  # a booking in the feed, to cancel, move and confirm
    _record, key = practices.issue_api_key(practice=world.practice, name="Connector")
    headers = {"Authorization": f"Bearer {key}"}
    schema = load(f"{portal_server.url}/api/v1/sync/openapi.json")

    failures = fuzz_operations(schema, headers=headers, prepare=_no_long_poll)
    failures += fuzz_stateful(schema, headers=headers, prepare=_no_long_poll)

    assert not failures, "\n\n".join(failures)
