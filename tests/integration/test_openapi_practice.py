"""The practice API's OpenAPI document holds what the server answers: schemathesis
against a real ``termin360 practice serve`` process, as the practice administrator."""

from __future__ import annotations

import httpx

from tests.conftest import Server, build_practice
from tests.openapi_fuzz import fuzz_operations, fuzz_stateful, load


def _admin_headers(server: Server) -> dict[str, str]:
    r = httpx.post(
        f"{server.url}/api/v1/auth/token",
        json={"username": "admin", "password": "admin-pass-123"},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def test_every_practice_api_answer_is_in_its_openapi_document(practice_server: Server) -> None:
    build_practice()
    headers = _admin_headers(practice_server)
    schema = load(f"{practice_server.url}/api/v1/openapi.json")

    failures = fuzz_operations(schema, headers=headers)
    failures += fuzz_stateful(schema, headers=headers)

    assert not failures, "\n\n".join(failures)
