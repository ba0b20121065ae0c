"""Every integer and string input of the practice API is bounded at the edge: 2**63,
-1 and 100,000-character strings in every path, query and body field answer 4xx with
the API's error shape — never 500 (SQLite cannot even hold 2**63)."""

from __future__ import annotations

from typing import Any

from tests.api_bounds import probes, send
from tests.conftest import Api, Practice


def test_no_absurd_value_in_any_practice_api_input_is_a_server_error(
    admin_api: Api, practice: Practice
) -> None:
    from termin360.practice.api import api

    doc = api.get_openapi_schema()
    failures: list[str] = []
    count = refused = 0
    for probe in probes(doc, ""):  # the document's paths carry the /api/v1 prefix
        count += 1
        r: Any = send(admin_api.client, probe, admin_api.headers)
        refused += r.status_code in (400, 422)
        if r.status_code >= 500 or not (200 <= r.status_code < 500):
            failures.append(f"{probe}: {r.status_code} {r.content[:200]!r}")
        elif r.status_code >= 400 and not r["Content-Type"].startswith("application/json"):
            failures.append(f"{probe}: {r.status_code} not JSON")
    assert count > 100, count  # the table really covers the API …
    assert refused > count / 2, (refused, count)  # … and reaches its validation
    assert not failures, "\n".join(failures)
