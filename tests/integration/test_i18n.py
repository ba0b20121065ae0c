"""German is the default language; English is available; the catalogue is complete and
the compiled ``.mo`` files match their ``.po`` sources (they are committed, since a fresh
machine may have no gettext tools)."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest

from tests.conftest import Api, Practice

LOCALE = Path(__file__).resolve().parents[2] / "src" / "termin360" / "locale"
ENTRY = re.compile(r'(#, fuzzy\n)?msgid "(.*?)"\nmsgstr "(.*?)"\n', re.S)


def _entries(lang: str) -> list[tuple[bool, str, str]]:
    text = (LOCALE / lang / "LC_MESSAGES" / "django.po").read_text(encoding="utf-8")
    # Join continued lines ("…"\n"…") so each msgid/msgstr is one string.
    text = re.sub(r'"\n"', "", text)
    return [(bool(f), i, s) for f, i, s in ENTRY.findall(text) if i]


def _unescape(s: str) -> str:
    return s.encode().decode("unicode_escape").encode("latin-1").decode("utf-8")


def test_german_catalogue_translates_every_message_and_has_no_fuzzy_entries() -> None:
    entries = _entries("de")
    assert len(entries) > 40
    assert [i for f, i, _ in entries if f] == []
    assert [i for _, i, s in entries if not s] == []


def test_compiled_german_catalogue_matches_its_source() -> None:
    with (LOCALE / "de" / "LC_MESSAGES" / "django.mo").open("rb") as fh:
        compiled = gettext.GNUTranslations(fh)
    stale = [i for _, i, s in _entries("de") if compiled.gettext(_unescape(i)) != _unescape(s)]
    assert stale == [], "run: cd src/termin360 && django-admin compilemessages"


@pytest.mark.parametrize(
    ("language", "expected"),
    [("de", "Dieser Termin ist bereits vergeben."), ("en", "This time is already taken.")],
)
def test_api_errors_speak_the_requested_language(
    api: Api, practice: Practice, language: str, expected: str
) -> None:
    day = api.get(f"/calendars/1/days/{practice.monday}").json()
    slot_id = day["columns"][0]["slots"][0]["id"]
    assert api.post("/appointments", {"slot_id": slot_id, "text": "Erster"}).status_code == 201
    api.headers["HTTP_ACCEPT_LANGUAGE"] = language
    refused = api.post("/appointments", {"slot_id": slot_id, "text": "Zweiter"})
    assert refused.status_code == 409
    assert refused.json()["detail"] == expected


def test_german_is_the_default_without_accept_language(api: Api, practice: Practice) -> None:
    r = api.get("/calendars/99")
    assert r.status_code == 404
    assert r.json()["detail"] == "Es gibt keinen Terminkalender Nummer 99."
