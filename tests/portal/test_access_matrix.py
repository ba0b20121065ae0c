"""Who may see and change what on the portal — every page and every API operation × every
role (issue 12, point 2), table-driven.

Two practices A and B, each with a published calendar, a patient with a booking and a
waiting-list entry, and an API key; A also has a revoked key. Every route of the portal's
URL conf must have a row in ``ROUTES`` (a test fails for a route without one, so a page
added later is covered). A row names the request (filled with practice A's objects) and
the roles that may make it:

- a *read* is made by every role: the allowed ones get their page or answer, the others
  are refused (401/403/404, or sent to a login page) — and a list that both A's and B's
  roles may read never shows the other side's patient;
- a *write* is made by every role that may not, and each refusal leaves the database
  exactly as it was; then by its owner, whose request must change something (so the
  refusals were refusals of a request that works).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from django.apps import apps
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
from tests.portal.conftest import ADMIN_PASSWORD, PATIENT_PASSWORD, World, build_world
from tests.portal.test_api_bookings import bookable, token_for

# --------------------------------------------------------------------------- the two sides


@dataclass
class Side:
    world: World
    booking: Any
    waiting: Any
    key: str
    key_id: int
    absence: Any


@dataclass
class Scene:
    a: Side
    b: Side
    pending: World  # signed up, not yet checked by the operator
    suspended: World  # checked, then suspended
    revoked_key: str
    offer_token: str
    confirm_token: str
    reset_path: str
    clients: dict[str, tuple[Client, dict[str, str]]] = field(default_factory=dict)


def _side(name: str, admin_email: str) -> Side:
    from termin360.portal.services import bookings, practices, waitlist

    world = build_world(name, admin_email)
    booking = bookings.book(
        patient=world.patient,
        calendar_id=world.calendar.pk,
        visit_type_id=world.checkup.pk,
        start=bookable(),
    )
    waiting = waitlist.join(patient=world.patient, booking_id=booking.pk, weekdays=[0, 1, 2, 3, 4])
    api_key, key = practices.issue_api_key(practice=world.practice, name="Connector")
    absence = practices.add_absence(
        calendar=world.calendar,
        first_day=date.today() + timedelta(days=20),
        last_day=date.today() + timedelta(days=21),
        reason="Urlaub",
    )
    return Side(world, booking, waiting, key, api_key.pk, absence)


ROLES = [
    "anonymous",
    "patient_a",
    "patient_b",
    "admin_a",
    "admin_b",
    "key_a",
    "key_b",
    "revoked_key_a",
    "admin_pending",
    "admin_suspended",
    "operator",
    "operator_without_second_factor",
]
PATIENTS = {"patient_a", "patient_b"}
ADMINS = {"admin_a", "admin_b", "admin_pending", "admin_suspended"}
OPERATORS = {"operator", "operator_without_second_factor"}
OPERATOR_PASSWORD = "operator-pass-123"
KEYS = {"key_a", "key_b"}
EVERYONE = set(ROLES)


@pytest.fixture
def scene(db: None, settings: Any) -> Scene:
    # Fast hashing: this test logs in eight roles for each of its ~100 cases.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    from termin360.portal.services import operators, patients, practices, verification, waitlist

    a, b = _side("Praxis A", "admin@a.de"), _side("Praxis B", "admin@b.de")
    pending = build_world("Praxis Wartend", "admin@wartend.de", approved=False)
    suspended = build_world("Praxis Gesperrt", "admin@gesperrt.de")
    verification.suspend(practice=suspended.practice, note="Praxisnummer unbekannt")
    for name in ("betrieb", "betrieb2"):
        operators.add_operator(
            username=name, email=f"{name}@t360.example", password=OPERATOR_PASSWORD
        )
    revoked, revoked_key = practices.issue_api_key(practice=a.world.practice, name="Alt")
    practices.revoke_api_key(practice=a.world.practice, key_id=revoked.pk)
    from django.utils import timezone

    from termin360.portal.models import WaitlistOffer

    free = _start(None, 2)  # a free time the worker could have offered
    offer = WaitlistOffer.objects.create(
        entry=a.waiting,
        start=free,
        end=free + timedelta(minutes=15),
        expires_at=timezone.now() + timedelta(hours=2),
    )
    user = a.world.patient.user
    reset = (
        f"/konto/passwort-neu/{urlsafe_base64_encode(force_bytes(user.pk))}/"
        f"{default_token_generator.make_token(user)}/"
    )
    scene = Scene(
        a=a,
        b=b,
        pending=pending,
        suspended=suspended,
        revoked_key=revoked_key,
        offer_token=waitlist.offer_token(offer),
        confirm_token=patients.confirmation_token(user),
        reset_path=reset,
    )
    return scene


def client_of(scene: Scene, role: str) -> tuple[Client, dict[str, str]]:
    """A client acting as ``role`` and the headers it sends (made once per scene)."""
    if role not in scene.clients:
        scene.clients[role] = _log_in(scene, role)
    return scene.clients[role]


def _log_in(scene: Scene, role: str) -> tuple[Client, dict[str, str]]:
    client = Client()
    headers: dict[str, str] = {}
    if role in ("patient_a", "patient_b"):
        side = scene.a if role.endswith("a") else scene.b
        email = side.world.patient.user.email
        assert client.login(username=email, password=PATIENT_PASSWORD)
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token_for(Client(), email)}"
    elif role in ("admin_a", "admin_b"):
        side = scene.a if role.endswith("a") else scene.b
        assert client.login(username=side.world.admin_email, password=ADMIN_PASSWORD)
    elif role == "key_a":
        headers["HTTP_AUTHORIZATION"] = f"Bearer {scene.a.key}"
    elif role == "key_b":
        headers["HTTP_AUTHORIZATION"] = f"Bearer {scene.b.key}"
    elif role == "revoked_key_a":
        headers["HTTP_AUTHORIZATION"] = f"Bearer {scene.revoked_key}"
    elif role in ("admin_pending", "admin_suspended"):
        world = scene.pending if role == "admin_pending" else scene.suspended
        assert client.login(username=world.admin_email, password=ADMIN_PASSWORD)
    elif role == "operator":
        from django_otp.oath import totp
        from django_otp.plugins.otp_totp.models import TOTPDevice

        device = TOTPDevice.objects.get(user__username="betrieb")
        code = totp(device.bin_key, device.step, device.t0, device.digits, device.drift)
        r = client.post(
            "/backoffice/login/",
            {"username": "betrieb", "password": OPERATOR_PASSWORD, "otp_token": f"{code:06d}"},
        )
        assert r.status_code == 302, r.content
    elif role == "operator_without_second_factor":
        assert client.login(username="betrieb2", password=OPERATOR_PASSWORD)
    return client, headers


# --------------------------------------------------------------------------- the table


def _start(scene: Scene | None, days: int = 8) -> datetime:
    return bookable() + timedelta(days=days)


def _busy_day(scene: Scene) -> dict[str, Any]:
    day = bookable().date()
    return {
        "days": [
            {
                "online_calendar_id": scene.a.world.calendar.pk,
                "day": str(day),
                "intervals": [
                    {
                        "start": bookable().replace(hour=10).isoformat(),
                        "end": bookable().replace(hour=11).isoformat(),
                    }
                ],
                "revision": 7,
            }
        ]
    }


def _claim(scene: Scene) -> dict[str, Any]:
    return {
        "claim_id": "claim-matrix-1",
        "after_seq": 0,
        "days": [
            {
                "online_calendar_id": scene.a.world.calendar.pk,
                "day": str(bookable().date()),
                "intervals": [
                    {
                        "start": bookable().replace(hour=11).isoformat(),
                        "end": bookable().replace(hour=11, minute=15).isoformat(),
                    }
                ],
            }
        ],
    }


def _move_body(scene: Scene) -> dict[str, Any]:
    start = _start(scene)
    return {"start": start.isoformat(), "end": (start + timedelta(minutes=15)).isoformat()}


def _a_cal(scene: Scene) -> int:
    return int(scene.a.world.calendar.pk)


ROUTES: dict[str, Route] = {
    # operations: liveness is public, readiness says only ok/not ok, metrics need a token
    "health": read("/health", EVERYONE),
    "health/live": read("/health/live", EVERYONE),
    "health/ready": read("/health/ready", EVERYONE),
    "metrics": read("/metrics", set(), note="needs the metrics token, which no role has"),
    "i18n/setlang/": write("POST", "/i18n/setlang/", EVERYONE, lambda s: {"language": "en"}),
    r"^api/(?P<rest>.*)$": read("/api/nothing-here", set()),
    # ---- the patient API
    "api/v1/openapi.json": read("/api/v1/openapi.json", EVERYONE),
    "api/v1/docs": read("/api/v1/docs", EVERYONE),
    "api/v1/": read("/api/v1/", set(), note="no page at the API's root"),
    "api/v1/auth/token": write(
        "POST",
        "/api/v1/auth/token",
        EVERYONE,
        lambda s: {"email": s.a.world.patient.user.email, "password": PATIENT_PASSWORD},
        json=True,
        note="anyone with the password",
    ),
    "api/v1/search": read("/api/v1/search?specialty=Allgemeinmedizin", EVERYONE),
    "api/v1/specialties": read("/api/v1/specialties", EVERYONE),
    "api/v1/calendars/<calendar_id>": read(lambda s: f"/api/v1/calendars/{_a_cal(s)}", EVERYONE),
    "api/v1/calendars/<calendar_id>/slots": read(
        lambda s: f"/api/v1/calendars/{_a_cal(s)}/slots", EVERYONE
    ),
    "api/v1/calendars/<calendar_id> of a pending practice": read(
        lambda s: f"/api/v1/calendars/{s.pending.calendar.pk}", set()
    ),
    "api/v1/calendars/<calendar_id>/slots of a suspended practice": read(
        lambda s: f"/api/v1/calendars/{s.suspended.calendar.pk}/slots", set()
    ),
    "api/v1/bookings on a pending practice's calendar": write(
        "POST",
        "/api/v1/bookings",
        set(),
        lambda s: {
            "calendar_id": s.pending.calendar.pk,
            "visit_type_id": s.pending.checkup.pk,
            "start": _start(s, 1).isoformat(),
        },
        json=True,
    ),
    "api/v1/me/bookings": read("/api/v1/me/bookings", PATIENTS, own_only=True),
    "api/v1/bookings/<booking_id>": read(
        lambda s: f"/api/v1/bookings/{s.a.booking.pk}", {"patient_a"}
    ),
    "api/v1/bookings/<booking_id> DELETE": write(
        "DELETE", lambda s: f"/api/v1/bookings/{s.a.booking.pk}", {"patient_a"}, lambda s: None
    ),
    "api/v1/bookings": write(
        "POST",
        "/api/v1/bookings",
        PATIENTS,
        lambda s: {
            "calendar_id": _a_cal(s),
            "visit_type_id": s.a.world.checkup.pk,
            "start": _start(s, 1).isoformat(),
        },
        json=True,
    ),
    "api/v1/bookings/<booking_id>/move": write(
        "POST",
        lambda s: f"/api/v1/bookings/{s.a.booking.pk}/move",
        {"patient_a"},
        lambda s: {"start": _start(s).isoformat()},
        json=True,
    ),
    # ---- the sync API (API keys only)
    "api/v1/sync/openapi.json": read("/api/v1/sync/openapi.json", EVERYONE),
    "api/v1/sync/docs": read("/api/v1/sync/docs", EVERYONE),
    "api/v1/sync/": read("/api/v1/sync/", set(), note="no page at the API's root"),
    "api/v1/sync/calendars": read("/api/v1/sync/calendars", KEYS, own_only=True),
    "api/v1/sync/events": read("/api/v1/sync/events?after=0", KEYS, own_only=True),
    "api/v1/sync/busy": write("PUT", "/api/v1/sync/busy", {"key_a"}, _busy_day, json=True),
    "api/v1/sync/claims": write("POST", "/api/v1/sync/claims", {"key_a"}, _claim, json=True),
    "api/v1/sync/claims/<claim_id>/release": write(
        "POST",
        "/api/v1/sync/claims/claim-matrix-0/release",
        {"key_a"},
        lambda s: None,
        note="the scene holds claim-matrix-0 of practice A",
    ),
    "api/v1/sync/bookings/<booking_id>/cancel": write(
        "POST",
        lambda s: f"/api/v1/sync/bookings/{s.a.booking.pk}/cancel",
        {"key_a"},
        lambda s: {"reason": "Praxis geschlossen"},
        json=True,
    ),
    "api/v1/sync/bookings/<booking_id>/move": write(
        "POST",
        lambda s: f"/api/v1/sync/bookings/{s.a.booking.pk}/move",
        {"key_a"},
        _move_body,
        json=True,
    ),
    "api/v1/sync/receipts": write(
        "POST",
        "/api/v1/sync/receipts",
        {"key_a"},
        lambda s: {"receipts": [{"booking_id": s.a.booking.pk, "placement": "slot"}]},
        json=True,
    ),
    # ---- patient pages
    "": read("/", EVERYONE),
    "arzt/<int:calendar_id>/": read(lambda s: f"/arzt/{_a_cal(s)}/", EVERYONE),
    "arzt/<int:calendar_id>/ of a pending practice": read(
        lambda s: f"/arzt/{s.pending.calendar.pk}/", set(), note="not even its own admin"
    ),
    "arzt/<int:calendar_id>/ of a suspended practice": read(
        lambda s: f"/arzt/{s.suspended.calendar.pk}/", set()
    ),
    "buchen/<int:calendar_id>/": read(
        lambda s: (
            f"/buchen/{_a_cal(s)}/?visit_type={s.a.world.checkup.pk}&start="
            + _start(s, 1).isoformat().replace("+", "%2B")
        ),
        PATIENTS,
        blank=ADMINS | OPERATORS,
        note="the booking form is for patients; a practice admin is told so; others log in",
    ),
    "meine-termine/": read("/meine-termine/", PATIENTS, blank=ADMINS | OPERATORS, own_only=True),
    "meine-termine/<int:booking_id>/stornieren/": write(
        "POST",
        lambda s: f"/meine-termine/{s.a.booking.pk}/stornieren/",
        {"patient_a"},
        lambda s: {},
    ),
    "meine-termine/<int:booking_id>/verschieben/": write(
        "POST",
        lambda s: f"/meine-termine/{s.a.booking.pk}/verschieben/",
        {"patient_a"},
        lambda s: {"start": _start(s).isoformat()},
    ),
    "warteliste/": read("/warteliste/", PATIENTS, own_only=True),
    "warteliste/eintragen/": write(
        "POST",
        "/warteliste/eintragen/",
        PATIENTS,
        lambda s: {
            "calendar": _a_cal(s),
            "visit_type": s.a.world.first_visit.pk,
            "weekdays": ["0", "1"],
            "day_part": "any",
            "before": str(date.today() + timedelta(days=14)),
        },
    ),
    "warteliste/angebot/<str:token>/": read(
        lambda s: f"/warteliste/angebot/{s.offer_token}/",
        {"patient_a"},
        note="the offer is patient A's: anyone else is refused, even with the link",
    ),
    # ---- accounts
    "konto/registrieren/": read("/konto/registrieren/", EVERYONE),
    "konto/registriert/": read("/konto/registriert/", EVERYONE),
    "konto/bestaetigen/<str:token>/": read(
        lambda s: f"/konto/bestaetigen/{s.confirm_token}/",
        EVERYONE,
        note="the mailed link is the credential",
    ),
    "konto/bestaetigen/": read("/konto/bestaetigen/", PATIENTS),
    "konto/anmelden/": read("/konto/anmelden/", EVERYONE),
    "konto/abmelden/": write("POST", "/konto/abmelden/", EVERYONE, lambda s: {}),
    "konto/passwort-vergessen/": read("/konto/passwort-vergessen/", EVERYONE),
    "konto/passwort-neu/<uidb64>/<token>/": read(
        lambda s: s.reset_path, EVERYONE, note="the mailed link is the credential"
    ),
    "konto/meine-daten/": read("/konto/meine-daten/", PATIENTS, own_only=True),
    "konto/meine-daten/export.json": read(
        "/konto/meine-daten/export.json", PATIENTS, own_only=True
    ),
    "konto/konto-loeschen/": write(
        "POST", "/konto/konto-loeschen/", PATIENTS, lambda s: {"password": PATIENT_PASSWORD}
    ),
    # ---- the practice's pages on the portal
    "praxis/": read("/praxis/", ADMINS, own_only=True),
    "praxis/registrieren/": read("/praxis/registrieren/", EVERYONE),
    "praxis/standorte/": read("/praxis/standorte/", ADMINS, own_only=True),
    "praxis/aerzte/neu/": read("/praxis/aerzte/neu/", ADMINS),
    "praxis/aerzte/<int:doctor_id>/": read(
        lambda s: f"/praxis/aerzte/{s.a.world.doctor.pk}/", {"admin_a"}
    ),
    "praxis/kalender/<int:calendar_id>/": read(
        lambda s: f"/praxis/kalender/{_a_cal(s)}/", {"admin_a"}
    ),
    "praxis/kalender/<int:calendar_id>/regeln/": write(
        "POST",
        lambda s: f"/praxis/kalender/{_a_cal(s)}/regeln/",
        {"admin_a"},
        lambda s: {
            "slot_minutes": 20,
            "horizon_days": 30,
            "lead_minutes": 90,
            "cancel_deadline_hours": 12,
        },
    ),
    "praxis/kalender/<int:calendar_id>/sprechzeiten/": write(
        "POST",
        lambda s: f"/praxis/kalender/{_a_cal(s)}/sprechzeiten/",
        {"admin_a"},
        lambda s: {
            "hours-TOTAL_FORMS": "1",
            "hours-INITIAL_FORMS": "0",
            "hours-0-weekday": "5",
            "hours-0-start": "09:00",
            "hours-0-end": "11:00",
        },
    ),
    "praxis/kalender/<int:calendar_id>/sprechzeiten/quelle/": write(
        "POST",
        lambda s: f"/praxis/kalender/{_a_cal(s)}/sprechzeiten/quelle/",
        {"admin_a"},
        lambda s: {"hours_source": "practice"},
    ),
    "praxis/kalender/<int:calendar_id>/leistungen/": write(
        "POST",
        lambda s: f"/praxis/kalender/{_a_cal(s)}/leistungen/",
        {"admin_a"},
        lambda s: {
            "name": "Impfung",
            "duration_minutes": 15,
            "new_patients": "on",
            "existing_patients": "on",
            "insurances": ["gkv", "pkv", "self"],
        },
    ),
    "praxis/kalender/<int:calendar_id>/leistungen/<int:visit_type_id>/angebot/": write(
        "POST",
        lambda s: f"/praxis/kalender/{_a_cal(s)}/leistungen/{s.a.world.first_visit.pk}/angebot/",
        {"admin_a"},
        lambda s: {"active": "0"},
    ),
    "praxis/kalender/<int:calendar_id>/abwesenheiten/": write(
        "POST",
        lambda s: f"/praxis/kalender/{_a_cal(s)}/abwesenheiten/",
        {"admin_a"},
        lambda s: {
            "first_day": str(date.today() + timedelta(days=40)),
            "last_day": str(date.today() + timedelta(days=41)),
            "reason": "Fortbildung",
        },
    ),
    "praxis/kalender/<int:calendar_id>/abwesenheiten/<int:absence_id>/entfernen/": write(
        "POST",
        lambda s: f"/praxis/kalender/{_a_cal(s)}/abwesenheiten/{s.a.absence.pk}/entfernen/",
        {"admin_a"},
        lambda s: {},
    ),
    "praxis/kalender/<int:calendar_id>/veroeffentlichen/": write(
        "POST",
        lambda s: f"/praxis/kalender/{_a_cal(s)}/veroeffentlichen/",
        {"admin_a"},
        lambda s: {"published": "0"},
    ),
    "praxis/termine/": read("/praxis/termine/", ADMINS, own_only=True),
    "praxis/termine/<int:booking_id>/absagen/": write(
        "POST",
        lambda s: f"/praxis/termine/{s.a.booking.pk}/absagen/",
        {"admin_a"},
        lambda s: {"reason": "Praxis geschlossen"},
    ),
    "praxis/api-schluessel/": read("/praxis/api-schluessel/", ADMINS),
    "praxis/api-schluessel/neu/": write(
        "POST", "/praxis/api-schluessel/neu/", ADMINS, lambda s: {"name": "Zweiter"}
    ),
    "praxis/api-schluessel/<int:key_id>/widerrufen/": write(
        "POST",
        lambda s: f"/praxis/api-schluessel/{s.a.key_id}/widerrufen/",
        {"admin_a"},
        lambda s: {},
    ),
    "praxis/einstellungen/": write(
        "POST",
        "/praxis/einstellungen/",
        ADMINS,
        lambda s: {"name": "Praxis Neu", "email": "neu@a.de", "phone": "", "reminder_hours": 12},
    ),
}

# Routes of other parts that carry their own access tests (listed so that a new route of
# the portal cannot slip past this table unnoticed).
ELSEWHERE = {
    "backoffice/": "tests/portal/test_backoffice.py: operators with a second factor only",
}
ROUTES["backoffice/"] = read("/backoffice/", {"operator"})
ROUTES["backoffice/portal/practice/"] = read("/backoffice/portal/practice/", {"operator"})


# --------------------------------------------------------------------------- the checks


def test_every_route_of_the_portal_has_a_row() -> None:
    assert_every_route_has_a_row(ROUTES, ELSEWHERE)


SKIP = {
    "portal.loginattempt",
    "portal.apikey",
    "portal.outgoingemail",
    "portal.syncrequest",
}
VOLATILE = {"last_login", "last_used_at", "updated_at"}


def _rows() -> Rows:
    out = rows(["portal"], SKIP, VOLATILE)
    # API keys: only whether each is revoked matters here (last use is written on use)
    ApiKey = apps.get_model("portal", "ApiKey")
    out["portal.apikey"] = list(ApiKey.objects.order_by("pk").values_list("pk", "revoked_at"))
    return out


def _practice_of(scene: Scene, role: str) -> int | None:
    if role in ("key_b", "admin_b"):
        return int(scene.b.world.practice.pk)
    if role in ("admin_pending", "admin_suspended"):
        world = scene.pending if role == "admin_pending" else scene.suspended
        return int(world.practice.pk)
    return None


def _snapshot(mine: int | None = None, before: Rows | None = None) -> Rows:
    """The rows (now, or ``before``); with ``mine``, the claims of that practice left out
    (a connector's own claim records, e.g. the tombstone of a claim id it released, are
    its own business)."""
    found = _rows() if before is None else before
    if mine is None:
        return found
    Claim = apps.get_model("portal", "Claim")
    own = set(Claim.objects.filter(practice_id=mine).values_list("pk", flat=True))
    return found | {"portal.claim": [r for r in found["portal.claim"] if r[0] not in own]}


def _send(scene: Scene, role: str, route: Route) -> Any:
    client, headers = client_of(scene, role)
    return send(client, headers, route, scene)


def _other_side(scene: Scene, role: str) -> Side | None:
    """Whose data ``role`` must never see: B's for A's roles, A's for everyone else's."""
    if role.endswith("_a"):
        return scene.b
    if role.endswith(("_b", "_pending", "_suspended")):
        return scene.a
    return None


HIDDEN = ("Praxis Wartend", "Praxis Gesperrt")  # not public: pending, suspended


READS = [k for k, r in ROUTES.items() if not r.write]
WRITES = [k for k, r in ROUTES.items() if r.write]


@pytest.mark.parametrize("name", READS)
def test_a_read_is_answered_to_those_allowed_and_refused_to_the_rest(
    scene: Scene, name: str
) -> None:
    route = ROUTES[name]
    for role in ROLES:
        r = _send(scene, role, route)
        assert r.status_code < 500, (role, answer(r))
        if role in route.blank:
            assert r.status_code < 400, (role, answer(r))
            text = r.content.decode(errors="replace")
            for side in (scene.a, scene.b):
                assert side.world.patient.user.email not in text, (role, "sees a patient")
        elif role in route.allowed:
            assert not refused(r), (role, "was refused", answer(r))
            if "anonymous" in route.allowed:  # a public answer: no practice that is not public
                text = r.content.decode(errors="replace")
                assert not any(name in text for name in HIDDEN), (role, answer(r))
            other = _other_side(scene, role)
            if route.own_only and other is not None:
                text = r.content.decode(errors="replace")
                patient = other.world.patient
                for secret in (patient.user.email, other.world.practice.name):
                    assert secret not in text, (role, "sees the other side's", secret)
        else:
            assert refused(r), (role, "was let in", answer(r))


@pytest.mark.parametrize("name", WRITES)
def test_a_write_by_anyone_else_changes_nothing_and_the_owners_does(
    scene: Scene, name: str
) -> None:
    route = ROUTES[name]
    if name == "api/v1/sync/claims/<claim_id>/release":
        _hold_claim(scene)
    before = _rows()
    for role in ROLES:
        if role in route.allowed:
            continue
        mine = _practice_of(scene, role)
        earlier = _rows()
        r = _send(scene, role, route)
        assert r.status_code < 500, (role, answer(r))
        assert _snapshot(mine) == _snapshot(mine, earlier), (role, "changed", answer(r))
    owners = sorted(route.allowed - {"anonymous"}) or sorted(route.allowed)
    if not owners:
        return  # nobody may: e.g. booking a calendar that is not public
    owner = owners[0]
    r = _send(scene, owner, route)
    assert r.status_code < 400 or r.status_code == 302, (owner, answer(r))
    if name not in NO_CHANGE_BY_OWNER:
        assert _rows() != before, (owner, "changed nothing", answer(r))


# Owner writes that change no row of the portal's models: the language is kept in the
# session, a token login, a logout and a new API key's row are not part of the snapshot.
NO_CHANGE_BY_OWNER = {
    "i18n/setlang/",
    "api/v1/auth/token",
    "konto/abmelden/",
    "api/v1/sync/receipts",
}


def _hold_claim(scene: Scene) -> None:
    client, headers = client_of(scene, "key_a")
    import json

    body = _claim(scene) | {"claim_id": "claim-matrix-0"}
    r = client.post(
        "/api/v1/sync/claims", json.dumps(body), content_type="application/json", **headers
    )
    assert r.status_code == 200 and r.json()["ok"], r.content
