"""The patient JSON API (P4): tokens, booking, listing, cancelling — and a clean 4xx for
every bad input, never a 500."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.test import Client

from tests.portal.conftest import ADMIN_PASSWORD, PATIENT_PASSWORD, World, make_patient

BERLIN = ZoneInfo("Europe/Berlin")
CSRF = "a" * 32
SLOT_TAKEN = "This time was just taken. Please choose another one."


def german(msgid: str) -> str:
    """The German text of an English msgid; the catalogue must translate it."""
    from django.utils import translation

    with translation.override("de"):
        text = translation.gettext(msgid)
    assert text != msgid, f"no German translation of {msgid!r}"
    return text


def weekday_at(weeks_ahead: int, weekday: int, at: time) -> datetime:
    """A local Berlin time ``weeks_ahead`` weeks after this week, on ``weekday``."""
    today = date.today()
    monday = today - timedelta(days=today.weekday()) + timedelta(weeks=weeks_ahead)
    return datetime.combine(monday + timedelta(days=weekday), at, tzinfo=BERLIN)


def bookable(at: time = time(9), weekday: int = 1) -> datetime:
    """A Tuesday 09:00 next week: inside the hours, beyond lead time and cancel deadline."""
    return weekday_at(1, weekday, at)


class PatientApi:
    """The Django test client with a patient's bearer token."""

    def __init__(self, client: Client, token: str | None, language: str = "de") -> None:
        self.client = client
        self.headers: dict[str, str] = {"HTTP_ACCEPT_LANGUAGE": language}
        if token:
            self.headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(f"/api/v1{path}", params, **self.headers)

    def post(self, path: str, body: Any) -> Any:
        return self.client.post(
            f"/api/v1{path}", body, content_type="application/json", **self.headers
        )

    def raw(self, path: str, data: Any, content_type: str = "application/json") -> Any:
        return self.client.post(f"/api/v1{path}", data, content_type=content_type, **self.headers)

    def delete(self, path: str) -> Any:
        return self.client.delete(f"/api/v1{path}", **self.headers)

    def book(self, world: World, start: datetime, vt: Any = None, reason: str = "") -> Any:
        return self.post(
            "/bookings",
            {
                "calendar_id": world.calendar.pk,
                "visit_type_id": (vt or world.checkup).pk,
                "start": start.isoformat(),
                "reason": reason,
            },
        )


def token_for(client: Client, email: str, password: str = PATIENT_PASSWORD) -> str:
    r = client.post(
        "/api/v1/auth/token",
        {"email": email, "password": password},
        content_type="application/json",
    )
    assert r.status_code == 201, r.content
    return str(r.json()["token"])


def patient_api(patient: Any) -> PatientApi:
    client = Client()
    return PatientApi(client, token_for(client, patient.user.email))


def assert_error(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.content)
    body: dict[str, Any] = r.json()
    assert body["code"] == code, body
    assert body["detail"].strip(), body
    return body


@pytest.fixture
def me(world: World) -> PatientApi:
    return patient_api(world.patient)


# --------------------------------------------------------------------------- tokens


def test_a_patient_gets_a_token_for_email_and_password(world: World, client: Client) -> None:
    r = client.post(
        "/api/v1/auth/token",
        {"email": world.patient.user.email.upper(), "password": PATIENT_PASSWORD},
        content_type="application/json",
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["token"].startswith("t360pat_")
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(days=29) < expires - datetime.now(tz=BERLIN) <= timedelta(days=30)
    assert PatientApi(client, body["token"]).get("/me/bookings").status_code == 200


def test_a_wrong_password_is_401_and_repeated_failures_are_rate_limited(
    world: World, client: Client
) -> None:
    body = {"email": world.patient.user.email, "password": "wrong-password"}
    for _ in range(5):
        r = client.post("/api/v1/auth/token", body, content_type="application/json")
        assert_error(r, 401, "bad_credentials")
    body["password"] = PATIENT_PASSWORD
    r = client.post("/api/v1/auth/token", body, content_type="application/json")
    assert_error(r, 429, "too_many_attempts")


def test_a_practice_admin_gets_no_patient_token(world: World, client: Client) -> None:
    r = client.post(
        "/api/v1/auth/token",
        {"email": world.admin_email, "password": ADMIN_PASSWORD},
        content_type="application/json",
    )
    assert_error(r, 403, "not_a_patient")


def test_a_password_change_ends_older_tokens(world: World, me: PatientApi) -> None:
    assert me.get("/me/bookings").status_code == 200
    user = world.patient.user
    user.set_password("a-brand-new-password-1")
    user.save()
    assert_error(me.get("/me/bookings"), 401, "unauthenticated")


def test_a_forged_or_expired_token_is_401(
    world: World, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = token_for(client, world.patient.user.email)
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert_error(PatientApi(client, forged).get("/me/bookings"), 401, "unauthenticated")
    other = make_patient("other@example.org")
    user_part = token.removeprefix("t360pat_").split(".", 1)
    swapped = "t360pat_" + str(other.user.pk) + "." + user_part[1]
    assert_error(PatientApi(client, swapped).get("/me/bookings"), 401, "unauthenticated")

    import django.core.signing

    real_time = django.core.signing.time.time
    monkeypatch.setattr(django.core.signing.time, "time", lambda: real_time() - 31 * 86400)
    old = token_for(client, world.patient.user.email)
    monkeypatch.undo()
    assert_error(PatientApi(client, old).get("/me/bookings"), 401, "unauthenticated")


# --------------------------------------------------------------------------- booking


def test_book_list_and_cancel(world: World, me: PatientApi) -> None:
    start = bookable(time(9, 15))
    r = me.book(world, start, reason="Kontrolle Blutdruck")
    assert r.status_code == 201, r.content
    booking = r.json()
    assert booking["status"] == "active"
    assert datetime.fromisoformat(booking["start"]) == start
    assert booking["start"].startswith(start.strftime("%Y-%m-%dT09:15:00+0"))  # local, offset
    assert datetime.fromisoformat(booking["end"]) == start + timedelta(minutes=15)
    assert booking["visit_type"] == "Kontrolle"
    assert booking["doctor"] == "Dr. Anna Berger"
    assert booking["reason"] == "Kontrolle Blutdruck"
    assert datetime.fromisoformat(booking["cancellable_until"]) == start - timedelta(hours=24)

    mine = me.get("/me/bookings").json()
    assert [b["id"] for b in mine] == [booking["id"]]
    assert me.get(f"/bookings/{booking['id']}").json()["id"] == booking["id"]

    r = me.delete(f"/bookings/{booking['id']}")
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "cancelled"
    assert r.json()["cancelled_by"] == "patient"
    assert_error(me.delete(f"/bookings/{booking['id']}"), 409, "already_cancelled")
    assert [b["status"] for b in me.get("/me/bookings").json()] == ["cancelled"]


def test_a_taken_time_is_409_slot_taken_with_alternatives(world: World, me: PatientApi) -> None:
    start = bookable()
    assert me.book(world, start).status_code == 201
    other = patient_api(make_patient("zweite@example.org", last="Schmidt"))
    body = assert_error(other.book(world, start), 409, "slot_taken")
    alternatives = [datetime.fromisoformat(a) for a in body["alternatives"]]
    assert alternatives, body
    assert all(a > start and a.utcoffset() is not None for a in alternatives)
    assert alternatives[0] == start + timedelta(minutes=15)
    # German with Accept-Language: de; English on request
    assert body["detail"] == german(SLOT_TAKEN), body
    other.headers["HTTP_ACCEPT_LANGUAGE"] = "en"
    body = assert_error(other.book(world, start), 409, "slot_taken")
    assert body["detail"] == SLOT_TAKEN


def test_an_overlapping_longer_visit_is_refused(world: World, me: PatientApi) -> None:
    assert me.book(world, bookable(time(9, 15))).status_code == 201
    other = patient_api(make_patient("zweite@example.org", last="Schmidt"))
    assert_error(other.book(world, bookable(time(9)), world.first_visit), 409, "slot_taken")
    assert other.book(world, bookable(time(9, 30)), world.first_visit).status_code == 201


def test_an_unconfirmed_patient_cannot_book(world: World) -> None:
    api = patient_api(make_patient("neu@example.org", confirmed=False))
    assert_error(api.book(world, bookable()), 403, "unconfirmed")


def test_a_time_the_calendar_does_not_offer_is_422(world: World, me: PatientApi) -> None:
    for start in (
        bookable(time(7)),  # before the hours
        bookable(time(11, 50)),  # off the 15-minute grid
        bookable(time(9), weekday=5),  # Saturday
        weekday_at(6, 1, time(9)),  # beyond the 28-day horizon
    ):
        assert_error(me.book(world, start), 422, "not_bookable")
    assert_error(me.book(world, bookable(time(11, 45)), world.first_visit), 422, "not_bookable")


def test_cancelling_after_the_deadline_is_409(world: World, me: PatientApi) -> None:
    from termin360.portal.services import practices

    practices.set_calendar_rules(
        calendar=world.calendar,
        slot_minutes=15,
        horizon_days=28,
        lead_minutes=60,
        cancel_deadline_hours=24 * 14,
    )
    booking = me.book(world, bookable()).json()
    assert_error(me.delete(f"/bookings/{booking['id']}"), 409, "deadline_passed")


def test_a_practice_admin_session_cannot_book(world: World, client: Client) -> None:
    client.login(username=world.admin_email, password=ADMIN_PASSWORD)
    assert_error(PatientApi(client, None).book(world, bookable()), 403, "not_a_patient")


def test_the_session_works_with_its_csrf_token_and_not_without(world: World) -> None:
    client = Client(enforce_csrf_checks=True)
    assert client.login(username=world.patient.user.email, password=PATIENT_PASSWORD)
    api = PatientApi(client, None)
    assert api.get("/me/bookings").status_code == 200  # reading needs no CSRF token
    assert_error(api.book(world, bookable()), 403, "csrf_failed")
    client.cookies[settings.CSRF_COOKIE_NAME] = CSRF
    api.headers["HTTP_X_CSRFTOKEN"] = CSRF
    r = api.book(world, bookable())
    assert r.status_code == 201, r.content
    assert api.delete(f"/bookings/{r.json()['id']}").status_code == 200


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ('{"calendar_id": 1, "start": ', "application/json"),
        ("calendar_id=1", "application/x-www-form-urlencoded"),
        (b"\xff\xfe\x00garbage", "application/json"),
    ],
    ids=["truncated-json", "form-encoded", "binary"],
)
def test_a_body_that_is_not_json_is_400(
    world: World, me: PatientApi, data: Any, content_type: str
) -> None:
    assert_error(me.raw("/bookings", data, content_type), 400, "malformed_body")


@pytest.mark.parametrize(
    "change",
    [
        {"start": "9999-12-31T23:59:59+14:00"},
        {"start": "0001-01-01T00:00:00-12:00"},
        {"start": "2030-01-07T09:00:00"},  # no offset: ambiguous
        {"start": "morgen früh"},
        {"start": None},
        {"reason": "Bauch\x00schmerzen"},
        {"reason": "x" * 301},
        {"calendar_id": 10**30},
        {"calendar_id": 0},
        {"calendar_id": "eins"},
        {"visit_type_id": [1]},
        {"visit_type_id": None},
    ],
    ids=[
        "year-9999",
        "year-1",
        "naive-start",
        "start-not-a-time",
        "start-null",
        "nul-in-reason",
        "reason-too-long",
        "huge-id",
        "zero-id",
        "id-string",
        "id-list",
        "no-visit-type",
    ],
)
def test_a_bad_field_is_422(world: World, me: PatientApi, change: dict[str, Any]) -> None:
    body = {
        "calendar_id": world.calendar.pk,
        "visit_type_id": world.checkup.pk,
        "start": bookable().isoformat(),
        "reason": "",
        **change,
    }
    assert_error(me.post("/bookings", body), 422, "invalid")


@pytest.mark.parametrize("data", ["", "[]", "null", '"text"', "42"])
def test_json_that_is_not_an_object_is_422(world: World, me: PatientApi, data: str) -> None:
    assert_error(me.raw("/bookings", data), 422, "invalid")


def test_unknown_calendar_or_visit_type_is_404(world: World, me: PatientApi) -> None:
    from tests.portal.conftest import build_world

    other = build_world("Praxis Zwei", "admin@zwei.de")
    r = me.post(
        "/bookings",
        {
            "calendar_id": 999_999,
            "visit_type_id": world.checkup.pk,
            "start": bookable().isoformat(),
        },
    )
    assert_error(r, 404, "not_found")
    r = me.post(
        "/bookings",
        {
            "calendar_id": world.calendar.pk,
            "visit_type_id": other.checkup.pk,  # belongs to another calendar
            "start": bookable().isoformat(),
        },
    )
    assert_error(r, 404, "not_found")


@pytest.mark.parametrize("path", ["/bookings/0", f"/bookings/{10**30}", "/bookings/abc"])
def test_a_bad_booking_id_in_the_path_is_422(world: World, me: PatientApi, path: str) -> None:
    assert_error(me.delete(path), 422, "invalid")
    assert_error(me.get(path), 422, "invalid")
