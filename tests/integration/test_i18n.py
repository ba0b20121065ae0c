"""German is the default language; English is available; the catalogue is complete and
the compiled ``.mo`` files match their ``.po`` sources (they are committed, since a fresh
machine may have no gettext tools)."""

from __future__ import annotations

import gettext
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Api, Practice

LOCALE = Path(__file__).resolve().parents[2] / "src" / "termin360" / "locale"


@dataclass
class Entry:
    fuzzy: bool
    context: str | None
    msgid: str
    plural: str | None
    msgstrs: list[str]


def _unquote(lines: list[str]) -> str:
    """The concatenated, unescaped string of a keyword line and its continuation lines."""
    raw = "".join(line[line.index('"') + 1 : line.rindex('"')] for line in lines)
    escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
    return re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), m.group(0)), raw)


def _entries(lang: str) -> list[Entry]:
    """Entries of a PO file (header left out), plural forms and contexts included."""
    text = (LOCALE / lang / "LC_MESSAGES" / "django.po").read_text(encoding="utf-8")
    out = []
    for block in text.split("\n\n"):
        lines = [ln for ln in block.splitlines() if ln and not ln.startswith("#~")]
        fields: dict[str, list[str]] = {}
        key = None
        for line in lines:
            if line.startswith("#"):
                continue
            if line.startswith('"'):
                assert key is not None
                fields[key].append(line)
                continue
            key = line.split(" ", 1)[0]
            fields[key] = [line]
        if "msgid" not in fields:
            continue
        msgid = _unquote(fields["msgid"])
        if not msgid:
            continue  # the header
        strs = [_unquote(v) for k, v in sorted(fields.items()) if k.startswith("msgstr")]
        out.append(
            Entry(
                fuzzy=any(ln.startswith("#,") and "fuzzy" in ln for ln in lines),
                context=_unquote(fields["msgctxt"]) if "msgctxt" in fields else None,
                msgid=msgid,
                plural=_unquote(fields["msgid_plural"]) if "msgid_plural" in fields else None,
                msgstrs=strs,
            )
        )
    return out


def test_german_catalogue_translates_every_message_and_has_no_fuzzy_entries() -> None:
    entries = _entries("de")
    assert len(entries) > 40
    assert [e.msgid for e in entries if e.fuzzy] == []
    assert [e.msgid for e in entries if not all(e.msgstrs)] == []


def test_compiled_german_catalogue_matches_its_source() -> None:
    with (LOCALE / "de" / "LC_MESSAGES" / "django.mo").open("rb") as fh:
        compiled = gettext.GNUTranslations(fh)
    stale = []
    for e in _entries("de"):
        if e.plural is not None:
            got = [
                compiled.npgettext(e.context, e.msgid, e.plural, n)
                if e.context
                else compiled.ngettext(e.msgid, e.plural, n)
                for n in (1, 2)
            ]
        elif e.context is not None:
            got = [compiled.pgettext(e.context, e.msgid)]
        else:
            got = [compiled.gettext(e.msgid)]
        if got != e.msgstrs:
            stale.append(e.msgid)
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


def _msgids(po: Path) -> set[str]:
    text = re.sub(r'"\n"', "", po.read_text(encoding="utf-8"))
    return {m for m in re.findall(r'^msgid "(.*)"$', text, re.M) if m}


@pytest.mark.sqlite_only
def test_every_translatable_text_in_the_code_is_in_the_german_catalogue(tmp_path: Path) -> None:
    if shutil.which("xgettext") is None:
        pytest.skip("GNU gettext (xgettext) is not installed: apt-get install gettext")
    tree = tmp_path / "termin360"
    shutil.copytree(LOCALE.parent, tree, ignore=shutil.ignore_patterns("__pycache__", "var"))
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="termin360.deploy.practice.settings",
        TERMIN360_DATA_DIR=str(tmp_path / "data"),
    )
    subprocess.run(
        [sys.executable, "-m", "django", "makemessages", "-l", "de", "--no-obsolete"],
        cwd=tree,
        env=env,
        check=True,
        capture_output=True,
    )
    extracted = _msgids(tree / "locale" / "de" / "LC_MESSAGES" / "django.po")
    committed = _msgids(LOCALE / "de" / "LC_MESSAGES" / "django.po")
    assert sorted(extracted - committed) == [], "run makemessages and translate the new texts"


def test_pages_are_german_even_for_an_english_browser(client: Any) -> None:
    page = client.get("/login/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert page.status_code == 200
    assert 'lang="de"' in page.content.decode()


def test_pages_follow_the_language_the_user_chose(client: Any) -> None:
    client.post("/i18n/setlang/", {"language": "en", "next": "/login/"})
    page = client.get("/login/", HTTP_ACCEPT_LANGUAGE="de")
    assert 'lang="en"' in page.content.decode()
