"""Who may see and change what in the practice calendar and its connector — every page and
every API operation × every role (issue 12, point 2), table-driven (see
``tests/access_matrix.py``).

The practice deployment serves one practice, so the lines run between roles, not between
practices: anonymous; a receptionist and an administrator, each by session (the pages)
and by API token; a revoked token; and the live token of an open day view of calendar 1,
which opens that calendar's version number and nothing else. Every route of the URL conf
has a row: a read is answered to the allowed roles and refused to the rest; a write by
anyone not allowed changes no row, and the owner's same request changes something.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.test import Client

from tests.access_matrix import (
    Route,
    Rows,
    answer,
    assert_every_route_has_a_row,
    read,
    refused,
    rows,
    send,
    write,
)
from tests.conftest import Api, Practice, build_practice, slot_id

ROLES = [
    "anonymous",
    "reception",
    "admin",
    "reception_token",
    "admin_token",
    "revoked_token",
    "live_token_1",
]
STAFF = {"reception", "admin", "reception_token", "admin_token"}
ADMIN = {"admin", "admin_token"}
SESSIONS = {"reception", "admin"}
EVERYONE = set(ROLES)
PASSWORDS = {"empfang": "empfang-pass-123", "admin": "admin-pass-123"}


@dataclass
class Scene:
    practice: Practice
    calendar_2: int
    appointment: int
    patient: int
    reservation: int
    slot: int
    free_slot: int
    booking: int  # an online booking's row in the connector
    tokens: dict[str, str]
    clients: dict[str, tuple[Client, dict[str, str]]] = field(default_factory=dict)


def _token(username: str) -> str:
    r = Client().post(
        "/api/v1/auth/token",
        {"username": username, "password": PASSWORDS[username]},
        content_type="application/json",
    )
    assert r.status_code == 201, r.content
    return str(r.json()["token"])


@pytest.fixture
def scene(db: None) -> Scene:
    from datetime import datetime, time
    from zoneinfo import ZoneInfo

    from django.contrib.auth import get_user_model

    from termin360.connector.models import OnlineBooking
    from termin360.practice.api.live import live_token
    from termin360.practice.models import StaffToken
    from termin360.practice.services import setup

    p = build_practice()
    other = setup.create_calendar(number=2, name="Kinder", location_id=p.location.pk)
    tokens = {"reception_token": _token("empfang"), "admin_token": _token("admin")}
    api = Api(Client(), tokens["admin_token"])
    patient = api.post(
        "/patients",
        {
            "location_id": p.location.pk,
            "last_name": "Schmidt",
            "first_name": "Erika",
            "date_of_birth": "1970-03-04",
        },
    ).json()["id"]
    booked = slot_id(p, 1, p.monday, "08:00")
    appointment = api.post("/appointments", {"slot_id": booked, "patient_id": patient}).json()
    annotated = slot_id(p, 1, p.monday, "11:00")
    assert api.post(f"/slots/{annotated}/annotation", {"text": "Notfall"}).status_code == 200
    tuesday = str(p.monday + timedelta(days=1))
    reservation = api.post(
        "/calendars/1/reservations",
        {
            "columns": [2],
            "first_day": tuesday,
            "last_day": tuesday,
            "start": "09:00",
            "end": "10:00",
            "reason": "Teamsitzung",
        },
    ).json()["id"]
    revoked = _token("empfang")
    StaffToken.objects.filter(prefix=revoked[6:14]).delete()
    tokens["revoked_token"] = revoked
    user = get_user_model().objects.get(username="empfang")
    tokens["live_token_1"] = live_token(user.pk, 1)
    start = datetime.combine(p.monday, time(9), ZoneInfo("Europe/Berlin"))
    online = OnlineBooking.objects.create(
        booking_id=4711,
        online_calendar_id=5,
        start=start,
        end=start + timedelta(minutes=15),
        last_name="Online",
        first_name="Olga",
    )
    return Scene(
        practice=p,
        calendar_2=other.number,
        appointment=appointment["id"],
        patient=patient,
        reservation=reservation,
        slot=annotated,
        free_slot=slot_id(p, 1, p.monday, "10:00"),
        booking=online.booking_id,
        tokens=tokens,
    )


def client_of(scene: Scene, role: str) -> tuple[Client, dict[str, str]]:
    if role not in scene.clients:
        client, headers = Client(), {}
        if role in SESSIONS:
            user = "admin" if role == "admin" else "empfang"
            assert client.login(username=user, password=PASSWORDS[user])
        elif role == "live_token_1":
            headers["HTTP_X_TERMIN360_LIVE"] = scene.tokens[role]
        elif role in scene.tokens:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {scene.tokens[role]}"
        scene.clients[role] = (client, headers)
    return scene.clients[role]


# --------------------------------------------------------------------------- the table


def _day(s: Scene) -> str:
    return str(s.practice.monday)


ROUTES: dict[str, Route] = {
    "health": read("/health", EVERYONE),
    "health/live": read("/health/live", EVERYONE),
    "health/ready": read("/health/ready", EVERYONE),
    "metrics": read("/metrics", set(), note="needs the metrics token, which no role has"),
    "i18n/setlang/": write("POST", "/i18n/setlang/", EVERYONE, lambda s: {"language": "en"}),
    r"^api/(?P<rest>.*)$": read("/api/nothing-here", set()),
    "api/v1/": read("/api/v1/", set(), note="no page at the API's root"),
    "api/v1/openapi.json": read("/api/v1/openapi.json", EVERYONE),
    "api/v1/docs": read("/api/v1/docs", EVERYONE),
    "api/v1/auth/token": write(
        "POST",
        "/api/v1/auth/token",
        EVERYONE,
        lambda s: {"username": "empfang", "password": PASSWORDS["empfang"]},
        json=True,
    ),
    "api/v1/auth/me": read("/api/v1/auth/me", STAFF),
    # ---- set-up: administrators only
    "api/v1/locations": read("/api/v1/locations", STAFF),
    "api/v1/locations POST": write(
        "POST", "/api/v1/locations", ADMIN, lambda s: {"name": "Karlsruhe"}, json=True
    ),
    "api/v1/calendars": read("/api/v1/calendars", STAFF),
    "api/v1/calendars POST": write(
        "POST",
        "/api/v1/calendars",
        ADMIN,
        lambda s: {"number": 7, "name": "Labor", "location_id": s.practice.location.pk},
        json=True,
    ),
    "api/v1/calendars/<number>": read("/api/v1/calendars/1", STAFF),
    "api/v1/calendars/<number>/columns": write(
        "POST",
        "/api/v1/calendars/1/columns",
        ADMIN,
        lambda s: {"number": 3, "name": "Dr. Neu"},
        json=True,
    ),
    "api/v1/calendars/<number>/columns/<column>/template": read(
        "/api/v1/calendars/1/columns/1/template", STAFF
    ),
    "api/v1/calendars/<number>/columns/<column>/template PUT": write(
        "PUT",
        "/api/v1/calendars/1/columns/1/template",
        ADMIN,
        lambda s: [{"weekday": 5, "start": "09:00", "end": "10:00", "slot_minutes": 15}],
    ),
    "api/v1/calendars/<number>/grid": write(
        "POST",
        "/api/v1/calendars/1/grid",
        ADMIN,
        lambda s: {
            "first_day": str(s.practice.monday + timedelta(days=14)),
            "last_day": str(s.practice.monday + timedelta(days=18)),
        },
        json=True,
    ),
    "api/v1/calendars/<number>/columns/<column>/slots": write(
        "POST",
        "/api/v1/calendars/1/columns/1/slots",
        ADMIN,
        lambda s: {"day": _day(s), "start": "13:00", "minutes": 15},
        json=True,
    ),
    # ---- the calendar: every member of staff
    "api/v1/calendars/<number>/days/<day>": read(
        lambda s: f"/api/v1/calendars/1/days/{_day(s)}", STAFF
    ),
    "api/v1/calendars/<number>/weeks/<day>": read(
        lambda s: f"/api/v1/calendars/1/weeks/{_day(s)}", STAFF
    ),
    "api/v1/calendars/<number>/version": read(
        lambda s: f"/api/v1/calendars/1/version?first_day={_day(s)}",
        STAFF | {"live_token_1"},
    ),
    "api/v1/calendars/<number>/version of another calendar": read(
        lambda s: f"/api/v1/calendars/{s.calendar_2}/version?first_day={_day(s)}",
        STAFF,
        note="the live token of calendar 1 does not open calendar 2",
    ),
    "api/v1/slots/<slot_id>": read(lambda s: f"/api/v1/slots/{s.slot}", STAFF),
    "api/v1/slots/<slot_id>/note": write(
        "PUT", lambda s: f"/api/v1/slots/{s.free_slot}/note", STAFF, lambda s: {"text": "Notiz"}
    ),
    "api/v1/slots/<slot_id>/annotation": write(
        "POST",
        lambda s: f"/api/v1/slots/{s.free_slot}/annotation",
        STAFF,
        lambda s: {"text": "Nur Notfälle"},
        json=True,
    ),
    "api/v1/slots/<slot_id>/annotation DELETE": write(
        "DELETE", lambda s: f"/api/v1/slots/{s.slot}/annotation", STAFF, lambda s: None
    ),
    "api/v1/appointments": write(
        "POST",
        "/api/v1/appointments",
        STAFF,
        lambda s: {"slot_id": s.free_slot, "text": "Neu"},
        json=True,
    ),
    "api/v1/additional-appointments": write(
        "POST",
        "/api/v1/additional-appointments",
        STAFF,
        lambda s: {"calendar": 1, "day": _day(s), "text": "Dazwischen"},
        json=True,
    ),
    "api/v1/calendars/<number>/additional/<day>": read(
        lambda s: f"/api/v1/calendars/1/additional/{_day(s)}", STAFF
    ),
    "api/v1/appointments/<appointment_id>": read(
        lambda s: f"/api/v1/appointments/{s.appointment}", STAFF
    ),
    "api/v1/appointments/<appointment_id> PATCH": write(
        "PATCH",
        lambda s: f"/api/v1/appointments/{s.appointment}",
        STAFF,
        lambda s: {"text": "Geändert"},
    ),
    "api/v1/appointments/<appointment_id> DELETE": write(
        "DELETE", lambda s: f"/api/v1/appointments/{s.appointment}", STAFF, lambda s: None
    ),
    "api/v1/appointments/<appointment_id>/extend": write(
        "POST", lambda s: f"/api/v1/appointments/{s.appointment}/extend", STAFF, lambda s: None
    ),
    "api/v1/appointments/<appointment_id>/shorten": write(
        "POST",
        lambda s: f"/api/v1/appointments/{s.appointment}/shorten",
        STAFF,
        lambda s: None,
        note="a one-slot appointment cannot be shortened: the owner gets 409",
    ),
    "api/v1/appointments/<appointment_id>/move": write(
        "POST",
        lambda s: f"/api/v1/appointments/{s.appointment}/move",
        STAFF,
        lambda s: {"slot_id": s.free_slot},
        json=True,
    ),
    "api/v1/appointments/<appointment_id>/history": read(
        lambda s: f"/api/v1/appointments/{s.appointment}/history", STAFF
    ),
    "api/v1/calendars/<number>/reservations": read(
        lambda s: f"/api/v1/calendars/1/reservations?first_day={_day(s)}", STAFF
    ),
    "api/v1/calendars/<number>/reservations POST": write(
        "POST",
        "/api/v1/calendars/1/reservations",
        STAFF,
        lambda s: {
            "columns": [2],
            "first_day": str(s.practice.monday + timedelta(days=2)),
            "last_day": str(s.practice.monday + timedelta(days=2)),
            "start": "10:00",
            "end": "11:00",
            "reason": "Fortbildung",
        },
        json=True,
    ),
    "api/v1/reservations/<reservation_id>": write(
        "DELETE", lambda s: f"/api/v1/reservations/{s.reservation}", STAFF, lambda s: None
    ),
    "api/v1/patients": read("/api/v1/patients?q=Schm", STAFF),
    "api/v1/patients POST": write(
        "POST",
        "/api/v1/patients",
        STAFF,
        lambda s: {
            "location_id": s.practice.location.pk,
            "last_name": "Neumann",
            "first_name": "Lea",
            "date_of_birth": "1990-01-02",
        },
        json=True,
    ),
    "api/v1/patients/<patient_id>": read(lambda s: f"/api/v1/patients/{s.patient}", STAFF),
    "api/v1/patients/<patient_id> PATCH": write(
        "PATCH", lambda s: f"/api/v1/patients/{s.patient}", STAFF, lambda s: {"phone": "0721 1"}
    ),
    # ---- pages (sessions only: an API token opens no page)
    "login/": read("/login/", EVERYONE),
    "logout/": write("POST", "/logout/", EVERYONE, lambda s: {}),
    "": read("/", SESSIONS),
    "calendars/": read("/calendars/?number=1", SESSIONS),
    "calendars/<int:number>/<isodate:day>/": read(lambda s: f"/calendars/1/{_day(s)}/", SESSIONS),
    "calendars/<int:number>/week/<isodate:day>/": read(
        lambda s: f"/calendars/1/week/{_day(s)}/", SESSIONS
    ),
    # ---- the connector's pages: reading for staff, changing for administrators
    "sync/": read("/sync/", SESSIONS),
    "sync/now/": write("POST", "/sync/now/", {"admin"}, lambda s: {}),
    "sync/settings/": read("/sync/settings/", {"admin"}),
    "sync/settings/ POST": write(
        "POST",
        "/sync/settings/",
        {"admin"},
        lambda s: {
            "portal_url": "https://portal.example.org",
            "api_key": "t360_" + "k" * 40,
            "check_timeout": "10",
            "offline": "on",
            "mappings-TOTAL_FORMS": "1",
            "mappings-INITIAL_FORMS": "0",
            "mappings-0-online_calendar_id": "5",
            "mappings-0-calendar_number": "1",
            "mappings-0-column_number": "1",
        },
    ),
    "sync/bookings/": read("/sync/bookings/", SESSIONS),
    "sync/bookings/<int:booking_id>/": read(lambda s: f"/sync/bookings/{s.booking}/", SESSIONS),
}

# The owner's request that changes no row: the language lives in the session, a token is
# in a skipped table, a logout ends a session; "sync now" without a portal only says so;
# shortening a one-slot appointment is refused (409) for the owner too.
NO_CHANGE_BY_OWNER = {
    "i18n/setlang/",
    "api/v1/auth/token",
    "logout/",
    "sync/now/",
    "api/v1/appointments/<appointment_id>/shorten",
}
OWNER_REFUSED = {"api/v1/appointments/<appointment_id>/shorten": 409}

# Tokens are issued by logging in; the sync's status row is created by the first page
# that shows the sync's state (the top bar of every page), whoever looks.
SKIP = {"practice.stafftoken", "practice.staffloginattempt", "connector.syncstate"}
VOLATILE = {"last_login", "last_used_at", "updated_at"}


def _rows() -> Rows:
    return rows(["practice", "connector"], SKIP, VOLATILE)


def test_every_route_of_the_practice_has_a_row() -> None:
    assert_every_route_has_a_row(ROUTES)


READS = [k for k, r in ROUTES.items() if not r.write]
WRITES = [k for k, r in ROUTES.items() if r.write]


@pytest.mark.parametrize("name", READS)
def test_a_read_is_answered_to_those_allowed_and_refused_to_the_rest(
    scene: Scene, name: str
) -> None:
    route = ROUTES[name]
    for role in ROLES:
        client, headers = client_of(scene, role)
        r = send(client, headers, route, scene)
        assert r.status_code < 500, (role, answer(r))
        if role in route.allowed:
            assert not refused(r), (role, "was refused", answer(r))
        else:
            assert refused(r), (role, "was let in", answer(r))


@pytest.mark.parametrize("name", WRITES)
def test_a_write_by_anyone_else_changes_nothing_and_the_owners_does(
    scene: Scene, name: str
) -> None:
    route = ROUTES[name]
    before = _rows()
    for role in ROLES:
        if role in route.allowed:
            continue
        client, headers = client_of(scene, role)
        r = send(client, headers, route, scene)
        assert r.status_code < 500, (role, answer(r))
        assert refused(r) or route.allowed == EVERYONE, (role, "was let in", answer(r))
        assert _rows() == before, (role, "changed something", answer(r))
    owner = sorted(route.allowed - {"anonymous"})[0]
    client, headers = client_of(scene, owner)
    r = send(client, headers, route, scene)
    expected = OWNER_REFUSED.get(name)
    if expected:
        assert r.status_code == expected, (owner, answer(r))
    else:
        assert r.status_code < 400, (owner, answer(r))
    if name not in NO_CHANGE_BY_OWNER:
        assert _rows() != before, (owner, "changed nothing", answer(r))
