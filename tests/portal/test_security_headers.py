"""Every page of the portal (patients, practice administration, back office) carries the
Content-Security-Policy and the other security headers (decision 016).

The pages are read from the URL conf, so a page added later is in this test; ``PAGES``
says who opens it and with which values, and the back office's model pages are opened
with an object of each registered model. A page missing there fails the test: add how it
is reached.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time
from typing import Any

import pytest
from django.test import Client

from tests.portal.conftest import World, make_patient
from tests.portal.test_api_bookings import bookable
from tests.security_headers import Route, page_routes, security_header_problems

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Fetch:
    # anonymous, just_registered (the browser that registered), patient, unconfirmed
    # (a patient before the mailed link), practice_admin, operator (with its second factor)
    who: str
    path: str  # with the {ids} of ``Ids``
    status: frozenset[int]
    follow: bool = False  # a page reached through a redirect (the password-reset link)


def fetch(who: str, path: str, *status: int, follow: bool = False) -> Fetch:
    return Fetch(who, path, frozenset(status), follow)


# GET only: a form target that takes POST alone answers its 405 page.
PAGES: dict[str, Fetch] = {
    "health": fetch("anonymous", "/health", 200),
    "health/live": fetch("anonymous", "/health/live", 200),
    "health/ready": fetch("anonymous", "/health/ready", 200, 503),
    "metrics": fetch("anonymous", "/metrics", 200, 401, 403, 404),
    "api/v1/sync/docs": fetch("anonymous", "/api/v1/sync/docs", 200),
    "api/v1/docs": fetch("anonymous", "/api/v1/docs", 200),
    "i18n/setlang/": fetch("anonymous", "/i18n/setlang/", 302),
    # patients
    "": fetch("anonymous", "/", 200),
    "arzt/<int:calendar_id>/": fetch("anonymous", "/arzt/{calendar}/", 200),
    "buchen/<int:calendar_id>/": fetch("patient", "{book_url}", 200),
    "meine-termine/": fetch("patient", "/meine-termine/", 200),
    "meine-termine/<int:booking_id>/stornieren/": fetch(
        "patient", "/meine-termine/{booking}/stornieren/", 200
    ),
    "meine-termine/<int:booking_id>/verschieben/": fetch(
        "patient", "/meine-termine/{booking}/verschieben/", 200
    ),
    "warteliste/": fetch("patient", "/warteliste/", 200),
    "warteliste/eintragen/": fetch(
        "patient", "/warteliste/eintragen/?calendar={calendar}&visit_type={visit_type}", 200
    ),
    # an offer is made by the waiting-list round; a stale link shows its own page
    "warteliste/angebot/<str:token>/": fetch("patient", "/warteliste/angebot/veraltet/", 404),
    # accounts
    "konto/registrieren/": fetch("anonymous", "/konto/registrieren/", 200),
    "konto/registriert/": fetch("just_registered", "/konto/registriert/", 200),
    "konto/bestaetigen/<str:token>/": fetch(
        "anonymous", "/konto/bestaetigen/{confirm_token}/", 200, follow=True
    ),
    "konto/bestaetigen/": fetch("unconfirmed", "/konto/bestaetigen/", 200),
    "konto/anmelden/": fetch("anonymous", "/konto/anmelden/", 200),
    "konto/abmelden/": fetch("patient", "/konto/abmelden/", 405),
    "konto/passwort-vergessen/": fetch("anonymous", "/konto/passwort-vergessen/", 200),
    "konto/passwort-neu/<uidb64>/<token>/": fetch(
        "anonymous", "/konto/passwort-neu/{reset_uid}/{reset_token}/", 200, follow=True
    ),
    "konto/meine-daten/": fetch("patient", "/konto/meine-daten/", 200),
    "konto/meine-daten/export.json": fetch("patient", "/konto/meine-daten/export.json", 200),
    "konto/konto-loeschen/": fetch("patient", "/konto/konto-loeschen/", 200),
    # practice administration
    "praxis/": fetch("practice_admin", "/praxis/", 200),
    "praxis/registrieren/": fetch("anonymous", "/praxis/registrieren/", 200),
    "praxis/standorte/": fetch("practice_admin", "/praxis/standorte/", 200),
    "praxis/aerzte/neu/": fetch("practice_admin", "/praxis/aerzte/neu/", 200),
    "praxis/aerzte/<int:doctor_id>/": fetch("practice_admin", "/praxis/aerzte/{doctor}/", 200),
    "praxis/kalender/<int:calendar_id>/": fetch(
        "practice_admin", "/praxis/kalender/{calendar}/", 200
    ),
    "praxis/kalender/<int:calendar_id>/regeln/": fetch(
        "practice_admin", "/praxis/kalender/{calendar}/regeln/", 405
    ),
    "praxis/kalender/<int:calendar_id>/sprechzeiten/": fetch(
        "practice_admin", "/praxis/kalender/{calendar}/sprechzeiten/", 405
    ),
    "praxis/kalender/<int:calendar_id>/sprechzeiten/quelle/": fetch(
        "practice_admin", "/praxis/kalender/{calendar}/sprechzeiten/quelle/", 405
    ),
    "praxis/kalender/<int:calendar_id>/leistungen/": fetch(
        "practice_admin", "/praxis/kalender/{calendar}/leistungen/", 405
    ),
    "praxis/kalender/<int:calendar_id>/leistungen/<int:visit_type_id>/angebot/": fetch(
        "practice_admin", "/praxis/kalender/{calendar}/leistungen/{visit_type}/angebot/", 405
    ),
    "praxis/kalender/<int:calendar_id>/abwesenheiten/": fetch(
        "practice_admin", "/praxis/kalender/{calendar}/abwesenheiten/", 405
    ),
    "praxis/kalender/<int:calendar_id>/abwesenheiten/<int:absence_id>/entfernen/": fetch(
        "practice_admin", "/praxis/kalender/{calendar}/abwesenheiten/1/entfernen/", 405
    ),
    "praxis/kalender/<int:calendar_id>/veroeffentlichen/": fetch(
        "practice_admin", "/praxis/kalender/{calendar}/veroeffentlichen/", 405
    ),
    "praxis/termine/": fetch("practice_admin", "/praxis/termine/", 200),
    "praxis/termine/<int:booking_id>/absagen/": fetch(
        "practice_admin", "/praxis/termine/{booking}/absagen/", 200
    ),
    "praxis/api-schluessel/": fetch("practice_admin", "/praxis/api-schluessel/", 200),
    "praxis/api-schluessel/neu/": fetch("practice_admin", "/praxis/api-schluessel/neu/", 405),
    "praxis/api-schluessel/<int:key_id>/widerrufen/": fetch(
        "practice_admin", "/praxis/api-schluessel/{api_key}/widerrufen/", 405
    ),
    "praxis/einstellungen/": fetch("practice_admin", "/praxis/einstellungen/", 200),
    # the back office's own pages (its model pages: ``BACKOFFICE_MODEL_PAGES``)
    "backoffice/": fetch("operator", "/backoffice/", 200),
    "backoffice/login/": fetch("anonymous", "/backoffice/login/", 200),
    "backoffice/logout/": fetch("operator", "/backoffice/logout/", 405),
    "backoffice/password_change/": fetch("operator", "/backoffice/password_change/", 200),
    "backoffice/password_change/done/": fetch("operator", "/backoffice/password_change/done/", 200),
    "backoffice/autocomplete/": fetch("operator", "/backoffice/autocomplete/", 403),
    "backoffice/jsi18n/": fetch("operator", "/backoffice/jsi18n/", 200),
    "backoffice/r/<path:content_type_id>/<path:object_id>/": fetch(
        "operator", "/backoffice/r/{practice_type}/{practice}/", 404
    ),
    "backoffice/^(?P<app_label>portal|admin)/$": fetch("operator", "/backoffice/portal/", 200),
    "backoffice/(?P<url>.*)$": fetch("operator", "/backoffice/gibt-es-nicht/", 404),
}

# A page of a model in the back office: its list, add, change, history, delete, and the
# bare object URL that leads on to its change page. Add and delete are refused (403)
# where the back office changes only by its actions.
BACKOFFICE_MODEL_PAGE = re.compile(
    r"^backoffice/(?P<app>\w+)/(?P<model>\w+)/(?:(?P<object><path:object_id>/)(?P<view>\w+/)?|(?P<list>add/)?)$"
)
BACKOFFICE_STATUS = {
    "": frozenset({200}),
    "add/": frozenset({200, 403}),
    "change/": frozenset({200}),
    "history/": frozenset({200}),
    "delete/": frozenset({200, 403}),
    "object": frozenset({302}),
}

ROUTES = page_routes()


@dataclass
class Ids:
    world: World
    operator: Any
    unconfirmed: Any
    values: dict[str, Any]


@pytest.fixture
def ids(world: World) -> Ids:
    """What the pages with parameters need: a booking, a key, an unconfirmed patient,
    an operator with a TOTP device, a mail and an audit entry for the back office."""
    from django.contrib.admin.models import CHANGE, LogEntry
    from django.contrib.auth.tokens import default_token_generator
    from django.contrib.contenttypes.models import ContentType
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    from termin360.portal.services import bookings, operators, patients, practices
    from termin360.portal.views.patients import book_url

    booking = bookings.book(
        patient=world.patient,
        calendar_id=world.calendar.pk,
        visit_type_id=world.checkup.pk,
        start=bookable(),
    )
    key, _secret = practices.issue_api_key(practice=world.practice, name="Empfang")
    unconfirmed = make_patient("neu@example.org", confirmed=False)
    patients.send_confirmation(unconfirmed)  # a mail in the queue
    operator = operators.add_operator(
        username="betrieb", email="betrieb@termin360.invalid", password="betrieb-pass-123"
    )
    practice_type = ContentType.objects.get_for_model(world.practice)
    LogEntry.objects.create(
        user=operator.user,
        content_type=practice_type,
        object_id=str(world.practice.pk),
        object_repr=str(world.practice),
        action_flag=CHANGE,
        change_message="geprüft",
    )
    user = world.patient.user
    values = {
        "calendar": world.calendar.pk,
        "doctor": world.doctor.pk,
        "visit_type": world.checkup.pk,
        "booking": booking.pk,
        "api_key": key.pk,
        "book_url": book_url(world.calendar.pk, bookable(time(10)), world.checkup.pk),
        "confirm_token": patients.confirmation_token(unconfirmed.user),
        "reset_uid": urlsafe_base64_encode(force_bytes(user.pk)),
        "reset_token": default_token_generator.make_token(user),
        "practice_type": practice_type.pk,
        "practice": world.practice.pk,
    }
    return Ids(world, operator, unconfirmed, values)


def client_of(who: str, ids: Ids) -> Client:
    from django_otp import DEVICE_ID_SESSION_KEY

    from termin360.portal.models import PracticeAdmin
    from termin360.portal.views.accounts import REGISTERED_EMAIL

    client = Client()
    if who == "patient":
        client.force_login(ids.world.patient.user)
    elif who == "unconfirmed":
        client.force_login(ids.unconfirmed.user)
    elif who == "just_registered":
        session = client.session
        session[REGISTERED_EMAIL] = ids.unconfirmed.user.email
        session.save()
    elif who == "practice_admin":
        client.force_login(PracticeAdmin.objects.get(practice=ids.world.practice).user)
    elif who == "operator":
        client.force_login(ids.operator.user)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = ids.operator.device.persistent_id
        session.save()
    return client


def how_to_open(route: Route) -> Fetch | None:
    if route.route in PAGES:
        return PAGES[route.route]
    model_page = BACKOFFICE_MODEL_PAGE.match(route.route)
    if model_page is None:
        return None
    from django.apps import apps

    base = f"/backoffice/{model_page['app']}/{model_page['model']}/"
    if not model_page["object"]:
        return fetch(
            "operator",
            base + (model_page["list"] or ""),
            *BACKOFFICE_STATUS[model_page["list"] or ""],
        )
    model = apps.get_model(model_page["app"], model_page["model"])
    first = model._default_manager.order_by("pk").first()
    assert first is not None, f"no {model.__name__} for the back office's {route.route!r}"
    view = model_page["view"] or ""
    return fetch("operator", f"{base}{first.pk}/{view}", *BACKOFFICE_STATUS[view or "object"])


@pytest.mark.parametrize("route", ROUTES, ids=[r.route or "/" for r in ROUTES])
def test_every_page_carries_the_security_headers(route: Route, ids: Ids) -> None:
    how = how_to_open(route)
    assert how is not None, (
        f"nobody opens the page {route.route!r} ({route.name}) here: add to PAGES who opens "
        "it and with which values"
    )
    path = how.path.format(**ids.values)
    response = client_of(how.who, ids).get(path, follow=how.follow)
    assert response.status_code in how.status, (path, response.status_code)
    assert security_header_problems(response) == [], path


def test_every_entry_of_the_table_is_a_page_of_the_url_conf() -> None:
    assert sorted(set(PAGES) - {r.route for r in ROUTES}) == []


@pytest.mark.parametrize("path", ["/gibt-es-nicht/", "/arzt/987654/"])
def test_error_pages_carry_the_security_headers(path: str) -> None:
    response = Client().get(path)
    assert response.status_code == 404
    assert security_header_problems(response) == []
