"""C6 through the API: patient records per location — create, edit, search."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.conftest import Api, Practice, assert_error


def _create(api: Api, location_id: int, last: str, first: str, born: str, **extra: Any) -> Any:
    body = {
        "location_id": location_id,
        "last_name": last,
        "first_name": first,
        "date_of_birth": born,
        **extra,
    }
    return api.post("/patients", body)


@pytest.fixture
def people(api: Api, practice: Practice) -> dict[str, dict[str, Any]]:
    loc = practice.location.pk
    out = {}
    for key, last, first, born in (
        ("hans", "Müller", "Hans", "1961-04-12"),
        ("grete", "Müller-Lüdenscheidt", "Grete", "1975-09-30"),
        ("peter", "Mueller", "Peter", "1961-04-12"),
        ("ines", "Schäfer", "Inés", "1990-02-01"),
        ("klaus", "Straßer", "Klaus", "2001-12-24"),
    ):
        r = _create(api, loc, last, first, born)
        assert r.status_code == 201, r.content
        out[key] = r.json()
    return out


def _search(api: Api, query: str) -> list[int]:
    r = api.get(f"/patients?{query}")
    assert r.status_code == 200, r.content
    return [p["id"] for p in r.json()]


def test_creating_a_patient(api: Api, practice: Practice) -> None:
    r = _create(
        api,
        practice.location.pk,
        "  Özdemir ",
        "Ayşe",
        "1985-07-01",
        phone="07251 12345",
        city="Bruchsal",
        insurance="pkv",
    )
    assert r.status_code == 201, r.content
    p = r.json()
    assert p["last_name"] == "Özdemir"
    assert p["first_name"] == "Ayşe"
    assert p["date_of_birth"] == "1985-07-01"
    assert p["insurance"] == "pkv"
    assert p["location_id"] == practice.location.pk
    assert api.get(f"/patients/{p['id']}").json() == p


def test_editing_a_patient(api: Api, people: dict[str, dict[str, Any]]) -> None:
    hans = people["hans"]
    r = api.patch(f"/patients/{hans['id']}", {"phone": "0176 555", "last_name": "Müller-Thurgau"})
    assert r.status_code == 200, r.content
    assert r.json()["phone"] == "0176 555"
    assert r.json()["last_name"] == "Müller-Thurgau"
    assert r.json()["first_name"] == "Hans"
    assert r.json()["date_of_birth"] == "1961-04-12"
    # the search follows the new name
    assert hans["id"] in _search(api, "q=thurgau")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=muller", {"hans", "grete"}),
        ("q=MÜLLER", {"hans", "grete"}),
        ("q=Mül han", {"hans"}),
        ("q=Müller, Hans", {"hans"}),
        ("q=hans müller", {"hans"}),
        ("q=mueller", {"peter"}),
        ("q=ines", {"ines"}),
        ("q=schafer", {"ines"}),
        ("q=strasser", {"klaus"}),
        ("q=ludenscheidt", {"grete"}),
        ("q=xyz", set()),
        ("date_of_birth=1961-04-12", {"hans", "peter"}),
        ("q=mu&date_of_birth=1961-04-12", {"hans", "peter"}),
        ("q=mul&date_of_birth=1961-04-12", {"hans"}),
    ],
)
def test_searching_patients_by_name_parts_and_birth_date(
    api: Api, people: dict[str, dict[str, Any]], query: str, expected: set[str]
) -> None:
    ids = {p["id"]: key for key, p in people.items()}
    assert {ids[i] for i in _search(api, query)} == expected


def test_search_results_are_sorted_and_limited(api: Api, people: dict[str, dict[str, Any]]) -> None:
    names = [p["last_name"] for p in api.get("/patients?q=m").json()]
    assert names == ["Mueller", "Müller", "Müller-Lüdenscheidt"]
    assert len(api.get("/patients?limit=2").json()) == 2
    assert_error(api.get("/patients?limit=0"), 422)
    assert_error(api.get("/patients?date_of_birth=gestern"), 422)


def test_patients_are_scoped_to_their_location(
    admin_api: Api, api: Api, practice: Practice, people: dict[str, dict[str, Any]]
) -> None:
    other = admin_api.post("/locations", {"name": "Karlsruhe"}).json()
    twin = _create(api, other["id"], "Müller", "Hans", "1961-04-12").json()
    here = _search(api, f"q=müller hans&location_id={practice.location.pk}")
    there = _search(api, f"q=müller hans&location_id={other['id']}")
    assert here == [people["hans"]["id"]]
    assert there == [twin["id"]]
    assert set(_search(api, "q=müller hans")) == {twin["id"], people["hans"]["id"]}


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"date_of_birth": str(date.today() + timedelta(days=1))}, "birth_in_future"),
        ({"date_of_birth": "1850-01-01"}, "birth_too_early"),
        ({"last_name": ""}, None),
        ({"first_name": "   "}, "name_missing"),
        ({"insurance": "aok"}, None),
        ({"date_of_birth": "12.04.1961"}, None),
        ({"last_name": "x" * 101}, None),
    ],
)
def test_invalid_patient_data_is_refused_with_422(
    api: Api,
    practice: Practice,
    people: dict[str, dict[str, Any]],
    change: dict[str, Any],
    code: Any,
) -> None:
    body = {
        "location_id": practice.location.pk,
        "last_name": "Neu",
        "first_name": "Nina",
        "date_of_birth": "2000-01-01",
        **change,
    }
    assert_error(api.post("/patients", body), 422, code)
    hans = people["hans"]
    assert_error(api.patch(f"/patients/{hans['id']}", change), 422, code)
    assert api.get(f"/patients/{hans['id']}").json() == hans


def test_missing_patient_fields_are_refused_with_422(api: Api, practice: Practice) -> None:
    body = {"location_id": practice.location.pk, "last_name": "Neu", "first_name": "Nina"}
    assert_error(api.post("/patients", body), 422, "invalid")
    assert_error(api.post("/patients", {"last_name": "Neu"}), 422, "invalid")


def test_unknown_patients_and_locations_are_404(api: Api, practice: Practice) -> None:
    assert_error(api.get("/patients/999999"), 404, "not_found")
    assert_error(api.patch("/patients/999999", {"phone": "1"}), 404, "not_found")
    assert_error(_create(api, 999999, "Neu", "Nina", "2000-01-01"), 404, "not_found")
