"""Set-up without guesswork (issue 11): the portal shows each online calendar's id and a
ready-to-copy ``termin360 sync config`` line — with the new key right after issuing it."""

from __future__ import annotations

import html
import re
import shlex
from typing import Any

from django.urls import reverse

from tests.portal.conftest import ADMIN_PASSWORD, World


def _line(page: str) -> str:
    found = re.search(r'<textarea id="config-line"[^>]*>([^<]*)</textarea>', page)
    assert found is not None, page
    return html.unescape(found.group(1))


def _maps(line: str) -> dict[int, str]:
    words = shlex.split(line)
    maps = [words[i + 1] for i, w in enumerate(words) if w == "--map"]
    return {int(m.split("=")[0]): m.split("=")[1] for m in maps}


def test_the_key_page_shows_ids_and_a_copyable_line(client: Any, world: World) -> None:
    from termin360.portal.services import practices

    other = practices.add_doctor(
        practice=world.practice,
        location_id=world.location.pk,
        title="Dr.",
        first_name="Jonas",
        last_name="Keller",
        specialty="Allgemeinmedizin",
    )
    assert client.login(username=world.admin_email, password=ADMIN_PASSWORD)
    page = client.get(reverse("portal:practice-api-keys")).content.decode()
    line = _line(page)
    words = shlex.split(line)
    assert words[:3] == ["termin360", "sync", "config"]
    assert words[words.index("--portal-url") + 1].startswith("http")
    assert words[words.index("--api-key") + 1] == "<API-Schlüssel>"  # not shown again
    assert _maps(line) == {world.calendar.pk: "1/1", other.calendar.pk: "1/2"}
    for cal in (world.calendar, other.calendar):
        assert f"<td><code>{cal.pk}</code></td>" in page
    dashboard = client.get(reverse("portal:practice-dashboard")).content.decode()
    assert f"<td><code>{world.calendar.pk}</code></td>" in dashboard

    issued = client.post(reverse("portal:practice-api-key-issue"), {"name": "Empfang"})
    assert issued["Cache-Control"] == "no-store"
    body = issued.content.decode()
    key = re.search(r'id="new-key"[^>]*value="([^"]+)"', body)
    assert key is not None
    line = _line(body)
    assert shlex.split(line)[shlex.split(line).index("--api-key") + 1] == key.group(1)
    assert practices.practice_for_key(key.group(1)) == world.practice  # the key in it works


def test_another_practices_calendars_are_not_in_the_line(client: Any, world: World) -> None:
    from tests.portal.conftest import build_world

    other = build_world(name="Praxis Zweit", admin_email="admin@zweit.de")
    assert client.login(username=world.admin_email, password=ADMIN_PASSWORD)
    line = _line(client.get(reverse("portal:practice-api-keys")).content.decode())
    assert other.calendar.pk not in _maps(line)
    assert list(_maps(line)) == [world.calendar.pk]
