"""The practice server as a real process: it starts, answers, and serves the API."""

import httpx

from tests.conftest import Practice, Server, build_practice


def test_practice_server_answers_health_and_requires_login(practice_server: Server) -> None:
    assert httpx.get(f"{practice_server.url}/health").json() == {"status": "ok", "role": "practice"}
    r = httpx.get(f"{practice_server.url}/api/v1/calendars")
    assert r.status_code == 401
    assert r.json()["code"] == "unauthenticated"


def test_practice_server_serves_day_view_to_token_holder(practice_server: Server) -> None:
    p: Practice = build_practice()
    r = httpx.post(
        f"{practice_server.url}/api/v1/auth/token",
        json={"username": "empfang", "password": "empfang-pass-123"},
    )
    assert r.status_code == 201
    headers = {"Authorization": f"Bearer {r.json()['token']}"}
    day = httpx.get(f"{practice_server.url}/api/v1/calendars/1/days/{p.monday}", headers=headers)
    assert day.status_code == 200
    assert [c["number"] for c in day.json()["columns"]] == [1, 2]
    assert len(day.json()["columns"][0]["slots"]) == 16
