"""Every integer and string input of the portal's two APIs (the patients' and the sync
API of the connectors) is bounded at the edge: 2**63, -1 and 100,000-character strings
in every path, query and body field answer 4xx with the API's error shape — never 500."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.api_bounds import probes, send
from tests.portal.conftest import PATIENT_PASSWORD, World


def _patient_headers(client: Client, world: World) -> dict[str, str]:
    r = client.post(
        "/api/v1/auth/token",
        {"email": world.patient.user.email, "password": PATIENT_PASSWORD},
        content_type="application/json",
    )
    assert r.status_code == 201, r.content
    return {"HTTP_AUTHORIZATION": f"Bearer {r.json()['token']}"}


def _connector_headers(client: Client, world: World) -> dict[str, str]:
    from termin360.portal.services import practices

    _record, key = practices.issue_api_key(practice=world.practice, name="Connector")
    return {"HTTP_AUTHORIZATION": f"Bearer {key}", "HTTP_IDEMPOTENCY_KEY": "bounds-probe"}


@pytest.mark.parametrize("which", ["patient", "sync"])
def test_no_absurd_value_in_any_portal_api_input_is_a_server_error(
    client: Client, world: World, which: str
) -> None:
    if which == "patient":
        from termin360.portal.api import api

        headers = _patient_headers(client, world)
    else:
        from termin360.portal.api.sync import sync_api as api

        headers = _connector_headers(client, world)
    doc = api.get_openapi_schema()
    failures: list[str] = []
    count = refused = 0
    for probe in probes(doc, ""):  # the document's paths carry the /api/v1… prefix
        count += 1
        r: Any = send(client, probe, headers)
        refused += r.status_code in (400, 422)
        if not 200 <= r.status_code < 500:
            failures.append(f"{probe}: {r.status_code} {r.content[:200]!r}")
        elif r.status_code >= 400 and not r["Content-Type"].startswith("application/json"):
            failures.append(f"{probe}: {r.status_code} not JSON")
    assert count > 15, count  # the table really covers the API …
    assert refused > count / 2, (refused, count)  # … and reaches its validation
    assert not failures, "\n".join(failures)
