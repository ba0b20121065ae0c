"""The portal patient API's OpenAPI document holds what the server answers: schemathesis
against a real ``termin360 portal serve`` process, as a confirmed patient with a token."""

from __future__ import annotations

import httpx

from tests.conftest import Server
from tests.openapi_fuzz import fuzz_operations, fuzz_stateful, load
from tests.portal.conftest import PATIENT_PASSWORD, build_world


def test_every_portal_api_answer_is_in_its_openapi_document(portal_server: Server) -> None:
    from termin360.portal.services import verification

    world = build_world()
    verification.approve(practice=world.practice)  # its calendar is public (P10)
    r = httpx.post(
        f"{portal_server.url}/api/v1/auth/token",
        json={"email": world.patient.user.email, "password": PATIENT_PASSWORD},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    headers = {"Authorization": f"Bearer {r.json()['token']}"}
    schema = load(f"{portal_server.url}/api/v1/openapi.json")

    failures = fuzz_operations(schema, headers=headers)
    failures += fuzz_stateful(schema, headers=headers)

    assert not failures, "\n\n".join(failures)
