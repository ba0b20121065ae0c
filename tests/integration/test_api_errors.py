"""Whatever a client sends, the API answers with a clean 4xx and a JSON body
``{code, detail}`` — never a 500: unknown ids 404, collisions 409, times outside the
grid 422, malformed or mistyped bodies 400/422."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api, Practice, assert_error, booked, slot_id

HUGE = 10**30


def _raw(api: Api, method: str, path: str, data: Any, content_type: str) -> Any:
    fn = getattr(api.client, method)
    return fn(f"/api/v1{path}", data=data, content_type=content_type, **api.headers)


# --------------------------------------------------------------------------- bodies


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ('{"slot_id": 1, "text": ', "application/json"),
        ("slot_id=1&text=x", "application/x-www-form-urlencoded"),
        ("just text", "text/plain"),
        (b"\xff\xfe\x00garbage", "application/json"),
    ],
    ids=["truncated-json", "form-encoded", "plain-text", "binary"],
)
def test_a_body_that_is_not_json_is_a_clean_400(
    api: Api, practice: Practice, data: Any, content_type: str
) -> None:
    r = _raw(api, "post", "/appointments", data, content_type)
    body = assert_error(r, 400, "malformed_body")
    assert "JSON" in body["detail"]


@pytest.mark.parametrize(
    "data",
    ["", "[]", "null", '"text"', "42", "[1, 2]"],
)
def test_an_empty_body_or_json_that_is_not_an_object_is_422(
    api: Api, practice: Practice, data: str
) -> None:
    assert_error(_raw(api, "post", "/appointments", data, "application/json"), 422, "invalid")


@pytest.mark.parametrize(
    "body",
    [
        {"slot_id": "abc", "text": "x"},
        {"slot_id": 1.5, "text": "x"},
        {"slot_id": [1], "text": "x"},
        {"slot_id": 1, "text": 5},
        {"slot_id": 1, "text": "x", "slot_count": "drei"},
        {"slot_id": 1, "text": "x", "slot_count": None},
        {"slot_id": 1, "text": "x" * 201},
        {"calendar": 1, "column": 1, "start": "morgen früh", "text": "x"},
        {"calendar": 1, "column": "eins", "start": "2030-01-07T09:00", "text": "x"},
        {"text": "x"},
        {"calendar": 1, "column": 1, "text": "x"},
    ],
    ids=[
        "id-string",
        "id-float",
        "id-list",
        "text-number",
        "count-string",
        "count-null",
        "text-too-long",
        "start-not-a-time",
        "column-string",
        "no-slot",
        "no-start",
    ],
)
def test_wrong_types_and_missing_fields_are_422_with_the_field_named(
    api: Api, practice: Practice, body: dict[str, Any]
) -> None:
    r = api.post("/appointments", body)
    err = assert_error(r, 422, "invalid")
    assert isinstance(err["errors"], list) and err["errors"]


def test_a_validation_error_names_the_field(api: Api, practice: Practice) -> None:
    err = assert_error(api.post("/appointments", {"slot_id": "abc", "text": "x"}), 422)
    assert [e["field"] for e in err["errors"]] == ["slot_id"]
    assert all(e["message"] for e in err["errors"])


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("put", "/slots/{slot}/note", {"text": ["a"]}),
        ("post", "/slots/{slot}/annotation", {"text": {"a": 1}}),
        ("patch", "/appointments/{appt}", {"patient_id": "Hans"}),
        ("patch", "/appointments/{appt}", {"clear_patient": "vielleicht"}),
        ("post", "/appointments/{appt}/move", {"slot_id": "oben"}),
        ("post", "/appointments/{appt}/move", {"to_additional_list": "ja bitte"}),
        ("post", "/additional-appointments", {"calendar": 1, "day": "morgen", "text": "x"}),
        ("post", "/calendars/1/reservations", {"columns": "1,2"}),
        ("post", "/calendars/1/reservations", {"columns": [1], "first_day": "2030-02-30"}),
        ("post", "/patients", {"location_id": "Bruchsal"}),
        ("patch", "/patients/{patient}", {"date_of_birth": 19610412}),
        ("post", "/auth/token", {"username": "empfang"}),
        ("post", "/auth/token", {"username": ["empfang"], "password": "x"}),
    ],
)
def test_every_endpoint_refuses_mistyped_bodies_with_422(
    api: Api, practice: Practice, method: str, path: str, body: dict[str, Any]
) -> None:
    slot = slot_id(practice, 1, practice.monday, "09:00")
    appt = booked(api, slot_id(practice, 1, practice.monday, "10:00"))
    patient = api.post(
        "/patients",
        {
            "location_id": practice.location.pk,
            "last_name": "Neu",
            "first_name": "Nina",
            "date_of_birth": "2000-01-01",
        },
    ).json()
    path = path.format(slot=slot, appt=appt["id"], patient=patient["id"])
    assert_error(getattr(api, method)(path, body), 422)


@pytest.mark.parametrize(
    "path",
    [
        "/slots/{slot}/note",
        "/appointments/{appt}",
    ],
)
def test_malformed_json_on_other_endpoints_is_400(api: Api, practice: Practice, path: str) -> None:
    slot = slot_id(practice, 1, practice.monday, "09:00")
    appt = booked(api, slot_id(practice, 1, practice.monday, "10:00"))
    path = path.format(slot=slot, appt=appt["id"])
    method = "put" if "note" in path else "patch"
    assert_error(_raw(api, method, path, "{nope", "application/json"), 400, "malformed_body")


def test_text_with_a_nul_character_is_refused_not_a_500(api: Api, practice: Practice) -> None:
    slot = slot_id(practice, 1, practice.monday, "09:00")
    assert_error(api.post("/appointments", {"slot_id": slot, "text": "a\x00b"}), 422)
    assert_error(api.put(f"/slots/{slot}/note", {"text": "\x00"}), 422)
    assert_error(
        api.post(
            "/patients",
            {
                "location_id": practice.location.pk,
                "last_name": "Ne\x00u",
                "first_name": "Nina",
                "date_of_birth": "2000-01-01",
            },
        ),
        422,
    )
    assert_error(api.get("/patients?q=M%00ller"), 422)
    token = api.client.post(
        "/api/v1/auth/token",
        {"username": "emp\x00fang", "password": "x"},
        content_type="application/json",
    )
    assert_error(token, 422)
    assert api.get(f"/slots/{slot}").json()["state"] == "free"
    # ordinary unicode is fine
    r = api.post("/appointments", {"slot_id": slot, "text": "Frau Ŝkoda 🙂 – Kontrolle"})
    assert r.status_code == 201, r.content
    assert r.json()["text"] == "Frau Ŝkoda 🙂 – Kontrolle"


# --------------------------------------------------------------------------- ids and paths


@pytest.mark.parametrize(
    "path",
    [
        "/appointments/999999",
        "/appointments/999999/history",
        "/slots/999999",
        "/patients/999999",
        "/calendars/99",
        "/calendars/99/days/2030-01-07",
        "/calendars/99/weeks/2030-01-07",
        "/calendars/1/columns/9/template",
    ],
)
def test_unknown_ids_are_404(api: Api, practice: Practice, path: str) -> None:
    assert_error(api.get(path), 404, "not_found")


@pytest.mark.parametrize(
    "path",
    [
        f"/appointments/{HUGE}",
        f"/appointments/{HUGE}/history",
        f"/slots/{HUGE}",
        f"/patients/{HUGE}",
        f"/calendars/{HUGE}",
        "/slots/-1",
        "/appointments/0",
        "/appointments/-5",
    ],
)
def test_ids_beyond_what_the_database_holds_are_422(
    api: Api, practice: Practice, path: str
) -> None:
    """Bounded at the edge (ids 1 … 2**63-1, calendar numbers 1 … 9999): never a lookup."""
    assert_error(api.get(path), 422, "invalid")


@pytest.mark.parametrize(
    "path",
    [
        "/appointments/abc",
        "/appointments/1.5",
        "/slots/eins",
        "/patients/null",
        "/calendars/1/days/morgen",
        "/calendars/1/days/2030-02-30",
        "/calendars/1/weeks/2030-13-01",
        "/calendars/x/days/2030-01-07",
    ],
)
def test_mistyped_path_parameters_are_422(api: Api, practice: Practice, path: str) -> None:
    assert_error(api.get(path), 422, "invalid")


@pytest.mark.parametrize(
    "body",
    [
        {"slot_id": 999999, "text": "x"},
        {"calendar": 99, "column": 1, "start": "2030-01-07T09:00", "text": "x"},
        {"calendar": 1, "column": 99, "start": "2030-01-07T09:00", "text": "x"},
    ],
)
def test_booking_with_ids_that_do_not_exist_is_404(
    api: Api, practice: Practice, body: dict[str, Any]
) -> None:
    assert_error(api.post("/appointments", body), 404, "not_found")


@pytest.mark.parametrize(
    "body",
    [
        {"slot_id": HUGE, "text": "x"},
        {"slot_id": -1, "text": "x"},
        {"calendar": HUGE, "column": 1, "start": "2030-01-07T09:00", "text": "x"},
        {"calendar": 1, "column": HUGE, "start": "2030-01-07T09:00", "text": "x"},
    ],
)
def test_booking_with_impossible_ids_is_422(
    api: Api, practice: Practice, body: dict[str, Any]
) -> None:
    assert_error(api.post("/appointments", body), 422, "invalid")


def test_booking_with_a_patient_id_that_does_not_exist_is_404(api: Api, practice: Practice) -> None:
    slot = slot_id(practice, 1, practice.monday, "09:00")
    assert_error(api.post("/appointments", {"slot_id": slot, "patient_id": 999999}), 404)
    assert_error(api.post("/appointments/999999/move", {"slot_id": slot}), 404)
    appt = booked(api, slot)
    assert_error(api.post(f"/appointments/{appt['id']}/move", {"slot_id": 999999}), 404)
    assert_error(api.delete("/reservations/999999"), 404)
    assert_error(api.post("/appointments", {"slot_id": slot, "patient_id": HUGE}), 422)
    assert_error(api.delete(f"/reservations/{HUGE}"), 422)


# --------------------------------------------------------------------------- times


@pytest.mark.parametrize(
    "at",
    ["03:07", "09:07", "12:00", "07:45", "23:59"],
)
def test_booking_at_a_time_outside_the_grid_is_422(api: Api, practice: Practice, at: str) -> None:
    r = api.post(
        "/appointments",
        {"calendar": 1, "column": 1, "start": f"{practice.monday}T{at}", "text": "x"},
    )
    assert_error(r, 422, "outside_grid")


def test_booking_on_a_day_without_grid_is_422(api: Api, practice: Practice) -> None:
    for day in ("2001-01-01", "2099-06-01", str(practice.monday.replace(day=1)) + "T03:00"):
        when = day if "T" in day else f"{day}T09:00"
        r = api.post("/appointments", {"calendar": 1, "column": 1, "start": when, "text": "x"})
        assert_error(r, 422)


def test_booking_with_an_offset_that_matches_a_slot(api: Api, practice: Practice) -> None:
    from datetime import UTC, datetime, time
    from zoneinfo import ZoneInfo

    local = datetime.combine(practice.monday, time(9), ZoneInfo("Europe/Berlin"))
    as_utc = local.astimezone(UTC).isoformat()
    r = api.post("/appointments", {"calendar": 1, "column": 1, "start": as_utc, "text": "x"})
    assert r.status_code == 201, r.content
    assert r.json()["start"].startswith(f"{practice.monday}T09:00")


@pytest.mark.parametrize(
    "path",
    [
        "/calendars/1/days/9999-12-31",
        "/calendars/1/weeks/9999-12-31",
        "/calendars/1/days/0001-01-01",
        "/calendars/1/weeks/0001-01-01",
        "/calendars/1/additional/9999-12-31",
        "/calendars/1/reservations?first_day=0001-01-01&last_day=9999-12-31",
    ],
)
def test_far_away_days_never_break_the_views(api: Api, practice: Practice, path: str) -> None:
    r = api.get(path)
    assert r.status_code in (200, 422), (r.status_code, r.content)
    if r.status_code == 422:
        assert_error(r, 422)


def test_far_away_days_never_break_the_writes(admin_api: Api, api: Api, practice: Practice) -> None:
    far = {"first_day": "9999-12-25", "last_day": "9999-12-31"}
    r = admin_api.post("/calendars/1/grid", far)
    assert r.status_code in (200, 422), r.content
    r = admin_api.post("/calendars/1/grid", {**far, "rebuild": True})
    assert r.status_code in (200, 422), r.content
    r = api.post(
        "/calendars/1/reservations",
        {**far, "columns": [1], "start": "09:00", "end": "00:00", "reason": "Weltende"},
    )
    assert r.status_code in (201, 422), r.content
    r = api.post(
        "/additional-appointments",
        {"calendar": 1, "day": "9999-12-31", "text": "x", "start": "9999-12-31T23:30"},
    )
    assert r.status_code in (201, 422), r.content
    r = admin_api.post(
        "/calendars/1/columns/1/slots", {"day": "9999-12-31", "start": "23:30", "minutes": 60}
    )
    assert r.status_code in (201, 422), r.content
    r = admin_api.post(
        "/calendars/1/columns/1/slots", {"day": "0001-01-01", "start": "00:00", "minutes": 30}
    )
    assert r.status_code in (201, 422), r.content


# --------------------------------------------------------------------------- http


def test_a_wrong_method_is_405_not_500(api: Api, practice: Practice) -> None:
    assert api.client.put("/api/v1/auth/token", **api.headers).status_code == 405
    assert api.delete("/calendars").status_code == 405


def test_errors_speak_the_requested_language(api: Api, practice: Practice) -> None:
    slot = slot_id(practice, 1, practice.monday, "09:00")
    booked(api, slot)
    en = api.client.post(
        "/api/v1/appointments",
        data={"slot_id": slot, "text": "x"},
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="en",
        **api.headers,
    )
    assert_error(en, 409, "slot_taken")
    assert en.json()["detail"] == "This time is already taken."


@pytest.mark.parametrize("start", ["0001-01-01T00:30", "9999-12-31T23:30", "0001-01-01T00:30Z"])
def test_booking_at_an_absurd_date_is_422(api: Api, practice: Practice, start: str) -> None:
    r = api.post("/appointments", {"calendar": 1, "column": 1, "start": start, "text": "x"})
    assert_error(r, 422)
    r = api.post(
        "/additional-appointments",
        {"calendar": 1, "day": "2030-01-01", "text": "x", "start": start},
    )
    assert_error(r, 422)


@pytest.mark.parametrize(
    "path",
    [
        "/calendars/1/days/2030-01-07?columns=eins",
        "/calendars/1/reservations",
        "/calendars/1/reservations?first_day=2030-01-07",
        "/calendars/1/reservations?first_day=heute&last_day=2030-01-07",
        "/patients?location_id=Bruchsal",
        "/patients?limit=1000",
        "/patients?q=" + "x" * 101,
    ],
)
def test_bad_query_parameters_are_422(api: Api, practice: Practice, path: str) -> None:
    assert_error(api.get(path), 422, "invalid")


def test_day_and_week_views_can_show_some_columns_only(api: Api, practice: Practice) -> None:
    day = api.get(f"/calendars/1/days/{practice.monday}?columns=2").json()
    assert [c["number"] for c in day["columns"]] == [2]
    week = api.get(f"/calendars/1/weeks/{practice.monday}?columns=1&columns=2").json()
    assert week[0]["day"] == str(practice.monday)
    assert len(week) == 7
    assert [len(d["columns"][0]["slots"]) for d in week] == [16] * 5 + [0, 0]


def test_a_body_too_large_is_refused_with_a_4xx(api: Api, practice: Practice) -> None:
    huge = '{"slot_id": 1, "text": "' + "x" * (3 * 1024 * 1024) + '"}'
    r = _raw(api, "post", "/appointments", huge, "application/json")
    body = assert_error(r, 413)
    assert body["code"] == "too_large"


def test_an_unknown_api_path_answers_with_a_json_404(api: Api) -> None:
    for path in ("/nonsense", "/calendars/1/nonsense/2027-01-01"):
        r = api.get(path)
        assert r.status_code == 404
        assert r["Content-Type"].startswith("application/json")
        assert r.json()["code"] == "not_found"
    assert api.client.get("/api/v2/calendars").json()["code"] == "not_found"
