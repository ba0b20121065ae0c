"""C8 through the API: the version an open day or week view polls grows with every change
to what the view shows, and only then; it is guarded like every other practice endpoint."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest

from tests.conftest import Api, Practice, assert_error, booked, slot_id


def version(api: Api, first: date, last: date | None = None) -> int:
    query = f"first_day={first}" + (f"&last_day={last}" if last else "")
    r = api.get(f"/calendars/1/version?{query}")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["calendar"] == 1 and body["first_day"] == str(first)
    assert body["last_day"] == str(last or first)
    return int(body["version"])


def changes(api: Api, day: date, action: Callable[[], Any]) -> tuple[int, int]:
    """(the day's version before, after) ``action``; the action's answer must be a 2xx."""
    before = version(api, day)
    r = action()
    assert 200 <= r.status_code < 300, r.content
    return before, version(api, day)


def assert_raises_version(api: Api, day: date, action: Callable[[], Any]) -> None:
    before, after = changes(api, day, action)
    assert after > before


def test_a_day_nobody_changed_is_version_0_and_reading_changes_nothing(
    api: Api, practice: Practice
) -> None:
    monday = practice.monday
    assert version(api, monday + timedelta(days=30)) == 0
    first = version(api, monday)
    api.get(f"/calendars/1/days/{monday}")
    api.get(f"/calendars/1/weeks/{monday}")
    assert version(api, monday) == first


def test_booking_moving_extending_shortening_and_deleting_each_raise_the_version(
    api: Api, practice: Practice
) -> None:
    monday, tuesday = practice.monday, practice.monday + timedelta(days=1)
    s = lambda col, day, at: slot_id(practice, col, day, at)  # noqa: E731
    before = version(api, monday)
    appt = booked(api, s(1, monday, "09:00"))
    assert version(api, monday) > before

    assert_raises_version(api, monday, lambda: api.post(f"/appointments/{appt['id']}/extend"))
    assert_raises_version(api, monday, lambda: api.post(f"/appointments/{appt['id']}/shorten"))
    assert_raises_version(
        api,
        monday,
        lambda: api.post(f"/appointments/{appt['id']}/move", {"slot_id": s(2, monday, "10:00")}),
    )
    # a move to another day changes both days
    day_before, tuesday_before = version(api, monday), version(api, tuesday)
    r = api.post(f"/appointments/{appt['id']}/move", {"slot_id": s(1, tuesday, "08:30")})
    assert r.status_code == 200, r.content
    assert version(api, monday) > day_before and version(api, tuesday) > tuesday_before
    assert_raises_version(api, tuesday, lambda: api.delete(f"/appointments/{appt['id']}"))


def test_details_of_an_appointment_and_a_linked_patients_name_raise_the_version(
    api: Api, practice: Practice
) -> None:
    monday = practice.monday
    patient = api.post(
        "/patients",
        {
            "location_id": practice.location.pk,
            "last_name": "Müller",
            "first_name": "Hans",
            "date_of_birth": "1980-05-17",
        },
    ).json()
    appt = booked(api, slot_id(practice, 1, monday, "09:00"), patient_id=patient["id"])
    assert_raises_version(
        api, monday, lambda: api.patch(f"/appointments/{appt['id']}", {"reason": "Kontrolle"})
    )
    assert_raises_version(
        api, monday, lambda: api.patch(f"/patients/{patient['id']}", {"last_name": "Meier"})
    )


def test_notes_and_annotations_raise_the_version(api: Api, practice: Practice) -> None:
    monday = practice.monday
    slot = slot_id(practice, 2, monday, "11:00")
    assert_raises_version(api, monday, lambda: api.put(f"/slots/{slot}/note", {"text": "Befund"}))
    assert_raises_version(api, monday, lambda: api.put(f"/slots/{slot}/note", {"text": ""}))
    assert_raises_version(api, monday, lambda: api.post(f"/slots/{slot}/annotation", {}))
    assert_raises_version(api, monday, lambda: api.delete(f"/slots/{slot}/annotation"))


def test_a_reservation_raises_every_day_it_covers_and_only_those(
    api: Api, practice: Practice
) -> None:
    monday, wednesday = practice.monday, practice.monday + timedelta(days=2)
    thursday = monday + timedelta(days=3)
    before = [version(api, monday + timedelta(days=n)) for n in range(4)]
    r = api.post(
        "/calendars/1/reservations",
        {
            "columns": [2],
            "first_day": str(monday),
            "last_day": str(wednesday),
            "start": "09:00",
            "end": "10:00",
            "reason": "Fortbildung",
        },
    )
    assert r.status_code == 201, r.content
    after = [version(api, monday + timedelta(days=n)) for n in range(4)]
    assert all(a > b for a, b in zip(after[:3], before[:3], strict=True))
    assert after[3] == before[3] == version(api, thursday)
    assert_raises_version(api, wednesday, lambda: api.delete(f"/reservations/{r.json()['id']}"))


def test_the_additional_list_raises_the_version(api: Api, practice: Practice) -> None:
    monday = practice.monday
    before = version(api, monday)
    r = api.post("/additional-appointments", {"calendar": 1, "day": str(monday), "text": "Rückruf"})
    assert r.status_code == 201, r.content
    assert version(api, monday) > before
    extra = r.json()["id"]
    # placing it onto a slot (of another day: both days change), and back into the list
    tuesday = monday + timedelta(days=1)
    day_before, tuesday_before = version(api, monday), version(api, tuesday)
    r = api.post(f"/appointments/{extra}/move", {"slot_id": slot_id(practice, 1, tuesday, "10:00")})
    assert r.status_code == 200, r.content
    assert version(api, monday) > day_before and version(api, tuesday) > tuesday_before
    r = api.post(f"/appointments/{extra}/move", {"to_additional_list": True})
    assert r.status_code == 200, r.content
    assert_raises_version(
        api,
        monday,
        lambda: api.post(
            f"/appointments/{extra}/move", {"slot_id": slot_id(practice, 1, monday, "10:00")}
        ),
    )
    assert_raises_version(
        api, monday, lambda: api.post(f"/appointments/{extra}/move", {"to_additional_list": True})
    )
    assert_raises_version(api, monday, lambda: api.delete(f"/appointments/{extra}"))


def test_a_grid_edit_raises_the_version(admin_api: Api, practice: Practice) -> None:
    saturday = practice.monday + timedelta(days=5)
    assert_raises_version(
        admin_api,
        saturday,
        lambda: admin_api.post(
            "/calendars/1/columns/1/slots",
            {"day": str(saturday), "start": "09:00", "minutes": 15},
        ),
    )


def test_a_week_sums_its_days(api: Api, practice: Practice) -> None:
    monday, sunday = practice.monday, practice.monday + timedelta(days=6)
    week = version(api, monday, sunday)
    assert week == sum(version(api, monday + timedelta(days=n)) for n in range(7))
    next_week = version(api, sunday + timedelta(days=1), sunday + timedelta(days=7))
    booked(api, slot_id(practice, 1, monday + timedelta(days=4), "08:00"))
    assert version(api, monday, sunday) > week
    assert version(api, sunday + timedelta(days=1), sunday + timedelta(days=7)) == next_week


def test_a_refused_change_leaves_the_version(api: Api, practice: Practice) -> None:
    monday = practice.monday
    taken = slot_id(practice, 1, monday, "09:00")
    booked(api, taken)
    before = version(api, monday)
    r = api.post("/appointments", {"slot_id": taken, "text": "zweiter"})
    assert_error(r, 409)
    assert version(api, monday) == before


def test_the_version_is_guarded_like_the_other_endpoints(
    client: Any, api: Api, practice: Practice
) -> None:
    path = f"/api/v1/calendars/1/version?first_day={practice.monday}"
    assert_error(client.get(path), 401, "unauthenticated")
    assert_error(client.get(path, HTTP_AUTHORIZATION="Bearer t360p_nonsense"), 401)
    # the browser's session, as the page polls
    client.force_login(practice.staff)
    assert client.get(path).status_code == 200


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/calendars/9/version?first_day=2026-03-02", 404),
        ("/calendars/1/version", 422),
        ("/calendars/1/version?first_day=2026-03-09&last_day=2026-03-02", 422),
        ("/calendars/1/version?first_day=2026-03-02&last_day=2026-06-01", 422),
        ("/calendars/1/version?first_day=2026-13-02", 422),
    ],
    ids=["unknown-calendar", "no-day", "backwards", "too-long", "no-date"],
)
def test_bad_requests_are_clean_errors(
    api: Api, practice: Practice, path: str, status: int
) -> None:
    assert_error(api.get(path), status)


def test_the_table_names_the_written_out_statements_use_are_the_models(
    practice: Practice,
) -> None:
    from termin360.practice import selectors
    from termin360.practice.models import Calendar, ViewVersion
    from termin360.practice.services.view_versions import TABLE

    assert ViewVersion._meta.db_table == TABLE
    assert f"FROM {TABLE} v" in selectors._VIEW_VERSION
    assert f"FROM {Calendar._meta.db_table} c" in selectors._VIEW_VERSION


def test_the_pages_live_token_opens_the_version_alone_without_a_session(
    api: Api, practice: Practice
) -> None:
    """The page polls with the live token from its config, not its session (a poll then
    costs one query): it opens this calendar's version number and nothing else."""
    from django.test import Client

    from termin360.practice.api.live import LIVE_HEADER, live_token

    day = practice.monday
    anonymous = Client()
    url = f"/api/v1/calendars/1/version?first_day={day}"
    token = live_token(1, 1)
    r = anonymous.get(url, headers={LIVE_HEADER: token})
    assert r.status_code == 200, r.content
    assert r.json()["version"] == version(api, day)
    # Another calendar's number, a forged token, no token, another endpoint: refused.
    assert anonymous.get(
        f"/api/v1/calendars/2/version?first_day={day}", headers={LIVE_HEADER: token}
    ).status_code in (401, 404)
    assert anonymous.get(url, headers={LIVE_HEADER: token[:-2] + "xx"}).status_code == 401
    assert anonymous.get(url).status_code == 401
    assert anonymous.get("/api/v1/calendars", headers={LIVE_HEADER: token}).status_code == 401
