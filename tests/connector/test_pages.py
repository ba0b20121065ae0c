"""The connector in the practice web UI (S1, S3, S4): who may see what, the TMEX L list
and Info, the settings form, and flagged online appointments in the calendar."""

from __future__ import annotations

import re
from datetime import date, timedelta
from html import unescape
from typing import Any

import pytest
from django.utils import timezone

from tests.conftest import Practice, free_port
from tests.connector import pages_seed as seed
from tests.connector.pages_seed import at, de

pytestmark = pytest.mark.django_db

PAGES = ["/sync/", "/sync/settings/", "/sync/bookings/", "/sync/bookings/7/"]


def logged_in(client: Any, username: str) -> Any:
    password = "admin-pass-123" if username == "admin" else "empfang-pass-123"
    assert client.login(username=username, password=password)
    return client


def text_of(response: Any) -> str:
    """The page's text without tags, entities decoded, spaces collapsed."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def notice(response: Any, level: str) -> str:
    """The text of the page's message of ``level`` (success, error)."""
    html = response.content.decode()
    found = re.search(rf'<p class="notice notice--{level}"[^>]*>(.*?)</p>', html)
    assert found is not None, f"no {level} message on the page"
    return unescape(found.group(1))


def table_rows(response: Any, table_id: str) -> list[list[str]]:
    html = response.content.decode()
    table = re.search(rf'<table[^>]*id="{table_id}".*?</table>', html, flags=re.S)
    assert table is not None, f"no table #{table_id}"
    body = re.search(r"<tbody>(.*?)</tbody>", table.group(0), flags=re.S)
    assert body is not None
    rows = re.findall(r"<tr\b.*?</tr>", body.group(1), flags=re.S)
    return [
        [
            re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", cell))).strip()
            for cell in re.findall(r"<td\b.*?</td>", row, flags=re.S)
        ]
        for row in rows
    ]


# --------------------------------------------------------------------------- access


@pytest.mark.parametrize("path", PAGES)
def test_pages_send_an_anonymous_visitor_to_the_login(
    client: Any, practice: Practice, path: str
) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith(f"/login/?next={path}")


def test_settings_and_sync_now_are_refused_to_staff_who_are_not_admins(
    client: Any, practice: Practice
) -> None:
    logged_in(client, "empfang")
    for response in (client.get("/sync/settings/"), client.post("/sync/now/")):
        assert response.status_code == 403
        assert de("Only an administrator of the practice may do this.") in text_of(response)
    # nothing the receptionist posts reaches the settings
    response = client.post("/sync/settings/", {"portal_url": "https://evil.example"})
    assert response.status_code == 403
    from termin360.connector.models import SyncConfig

    assert not SyncConfig.objects.exists()


def test_s3_staff_see_the_state_and_the_nav_link_without_admin_buttons(
    client: Any, practice: Practice
) -> None:
    logged_in(client, "empfang")
    response = client.get("/sync/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'href="/sync/"' in page and "status-dot--off" in page
    assert de("Online sync") in text_of(response)
    assert "/sync/now/" not in page  # no "sync now" for a receptionist
    assert de("not set up") in text_of(response)


def test_s3_state_page_shows_job_errors_pending_work_and_mappings(
    client: Any, practice: Practice
) -> None:
    from termin360.connector.models import OutboxEntry, SyncConfig, SyncState

    SyncConfig.objects.create(pk=1, portal_url="https://portal.example", api_key="t360_abcdef123")
    m = seed.mapping(practice.columns[2], online_calendar_id=42)
    OutboxEntry.objects.create(mapping=m, day=practice.monday)
    error_at = at(practice.monday, "07:05")
    SyncState.objects.create(
        pk=1,
        last_success_at=error_at - timedelta(hours=1),
        last_error="Das Portal antwortet nicht.",
        last_error_at=error_at,
    )
    logged_in(client, "admin")
    response = client.get("/sync/")
    text = text_of(response)
    assert "https://portal.example" in text
    assert "t360_a…" in text and "t360_abcdef123" not in response.content.decode()
    assert f"{practice.monday:%d.%m.%Y} 07:05: Das Portal antwortet nicht." in text
    assert "status-dot--error" in response.content.decode()
    assert table_rows(response, "mapping-table") == [
        ["42", de("— (after the first sync)"), "1 Allgemeinmedizin", "2 Dr. Keller"]
    ]
    assert re.search(r'class="badge badge--count">1<', response.content.decode())
    assert "/sync/now/" in response.content.decode()


# --------------------------------------------------------------------------- TMEX L and Info


def test_s4_list_is_sorted_by_appointment_time_with_the_cancellation_date_last(
    client: Any, practice: Practice
) -> None:
    day = practice.monday
    m = seed.mapping(practice.columns[1])
    placed = seed.online_appointment_in_slot(practice, 1, at(day, "09:00"))
    seed.booking(30, at(day, "09:00"), mapping=m, appointment=placed, placement="slot")
    cancelled_at = at(day - timedelta(days=3), "18:40")
    seed.booking(
        10,
        at(day, "10:30"),
        mapping=m,
        placement="slot",
        status="cancelled",
        cancelled_at=cancelled_at,
    )
    seed.booking(20, at(day, "08:15"), online_calendar_id=999, last_name="Öztürk")
    logged_in(client, "empfang")
    rows = table_rows(client.get("/sync/bookings/"), "bookings")

    assert [r[0] for r in rows] == ["20", "30", "10"]
    assert rows[0][1:5] == [f"{day:%d.%m.%Y}", "08:15–08:30", "Öztürk, Lea", "Erstgespräch"]
    assert rows[0][5] == de("not assigned")
    assert rows[1][5] == de("Calendar %(calendar)s, column %(column)s") % {
        "calendar": "1 Allgemeinmedizin",
        "column": "1 Dr. Berger",
    }
    assert rows[1][6] == de("booked") and rows[1][7] == ""
    assert rows[2][6] == de("cancelled")
    assert rows[2][-1] == f"{cancelled_at:%d.%m.%Y} 18:40"


def test_s4_list_only_upcoming_leaves_out_past_bookings(client: Any, practice: Practice) -> None:
    now = timezone.now()
    seed.booking(1, now - timedelta(days=2))
    seed.booking(2, now + timedelta(days=2))
    logged_in(client, "empfang")
    everything = table_rows(client.get("/sync/bookings/"), "bookings")
    upcoming = table_rows(client.get("/sync/bookings/?upcoming=1"), "bookings")
    assert [r[0] for r in everything] == ["1", "2"]
    assert [r[0] for r in upcoming] == ["2"]


def test_s4_info_shows_where_the_booking_sits_and_links_that_day(
    client: Any, practice: Practice
) -> None:
    from termin360.practice.services.patients import create_patient

    day = practice.monday
    lea = create_patient(
        location_id=practice.location.pk,
        last_name="Sommer",
        first_name="Lea",
        date_of_birth=date(1990, 5, 17),
    )
    appt = seed.online_appointment_in_slot(practice, 2, at(day, "11:00"), patient=lea)
    seed.booking(
        77,
        at(day, "11:00"),
        mapping=seed.mapping(practice.columns[2], online_name="Dr. Keller online"),
        appointment=appt,
        placement="slot",
        match="linked",
        reason="Rückenschmerzen",
        receipt_sent_at=at(day - timedelta(days=1), "12:01"),
        practice_change_error="Zeit online vergeben",
    )
    logged_in(client, "empfang")
    response = client.get("/sync/bookings/77/")
    assert response.status_code == 200
    text = text_of(response)
    where = de("Calendar %(calendar)s, column %(column)s") % {
        "calendar": "1 Allgemeinmedizin",
        "column": "2 Dr. Keller",
    }
    assert where in text
    assert f'href="/calendars/1/{day.isoformat()}/"' in response.content.decode()
    assert f"{de('linked to the patient record')}: Sommer, Lea (17.05.1990)" in text
    assert f"{day:%d.%m.%Y} 11:00–11:15" in text
    assert "501 Dr. Keller online" in text
    assert "Rückenschmerzen" in text and "Zeit online vergeben" in text
    assert f"{day - timedelta(days=1):%d.%m.%Y} 12:01" in text


def test_s4_info_of_a_flagged_additional_booking_names_the_reason(
    client: Any, practice: Practice
) -> None:
    day = practice.monday
    appt = seed.flagged_additional(practice, day, at(day, "09:30"), "slot_taken")
    seed.booking(
        5, at(day, "09:30"), mapping=seed.mapping(practice.columns[1]),
        appointment=appt, placement="additional_list",
    )  # fmt: skip
    logged_in(client, "empfang")
    text = text_of(client.get("/sync/bookings/5/"))
    assert de("Additional list of calendar %(calendar)s") % {"calendar": "1 Allgemeinmedizin"} in (
        text
    )
    assert de("time was taken") in text
    assert de("not yet") in text  # no receipt yet


def test_info_of_an_unknown_booking_is_not_found(client: Any, practice: Practice) -> None:
    logged_in(client, "empfang")
    assert client.get("/sync/bookings/404404/").status_code == 404


# --------------------------------------------------------------------------- S1 settings


@pytest.fixture
def checking_portal(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The portal the settings page asks before saving (S1): online calendars 42 and 43
    belong to the key's practice; ``fail_with`` makes it refuse or stay silent."""
    from termin360.connector.services import config_check
    from tests.connector.fake_portal import FakePortal

    portal = FakePortal(calendar_names={42: "Dr. Berger online", 43: "Dr. Keller online"})
    monkeypatch.setattr(config_check, "check_client_factory", lambda *_a, **_k: portal)
    return portal


def settings_post(**fields: Any) -> dict[str, Any]:
    rows = fields.pop("rows", [])
    data: dict[str, Any] = {
        "portal_url": "https://portal.example.de",
        "api_key": "t360_secret_key_1",
        "tls_name": "",
        "ca_bundle": "",
        "client_cert": "",
        "client_key": "",
        "check_timeout": "1.5",
        "mappings-TOTAL_FORMS": str(len(rows)),
        "mappings-INITIAL_FORMS": "0",
        "mappings-MIN_NUM_FORMS": "0",
        "mappings-MAX_NUM_FORMS": "200",
    }
    for i, row in enumerate(rows):
        for name, value in zip(
            ("online_calendar_id", "calendar_number", "column_number"), row, strict=True
        ):
            data[f"mappings-{i}-{name}"] = str(value)
    data.update(fields)
    return data


def test_s1_settings_are_saved_with_their_mapping_and_the_portals_names(
    client: Any, practice: Practice, checking_portal: Any
) -> None:
    from termin360.connector.models import Mapping, SyncConfig

    logged_in(client, "admin")
    response = client.post("/sync/settings/", settings_post(rows=[(42, 1, 2), ("", "", "")]))
    assert response.status_code == 302 and response["Location"] == "/sync/"
    assert checking_portal.calls == ["calendars"]  # asked before saving

    config = SyncConfig.objects.get()
    assert (config.portal_url, config.api_key) == ("https://portal.example.de", "t360_secret_key_1")
    assert config.practice_name == "Praxis Dr. Berger"
    assert [(m.online_calendar_id, m.column_id) for m in Mapping.objects.all()] == [
        (42, practice.columns[2].pk)
    ]
    status = client.get("/sync/")
    assert de("The settings have been saved.") in text_of(status)
    assert table_rows(status, "mapping-table")[0][:2] == ["42", "Dr. Berger online"]
    assert "Dr. Berger online" in text_of(client.get("/sync/settings/"))  # beside its row


def test_s1_settings_with_a_refused_key_or_another_practices_calendar_save_nothing(
    client: Any, practice: Practice, checking_portal: Any
) -> None:
    from termin360.connector.models import Mapping, SyncConfig
    from termin360.connector.portal_client import AuthFailure

    logged_in(client, "admin")
    response = client.post("/sync/settings/", settings_post(rows=[(42, 1, 1), (77, 1, 2)]))
    assert response.status_code == 200
    text = text_of(response)
    assert "77" in text and "Praxis Dr. Berger" in text and de("Nothing has been saved.") in text
    assert 'name="mappings-1-online_calendar_id" value="77"' in response.content.decode()
    checking_portal.fail_with = AuthFailure("abgelehnt", code="auth")
    response = client.post("/sync/settings/", settings_post(rows=[(42, 1, 1)]))
    refused = de(
        "The portal does not accept this API key (unknown or revoked). Nothing has been saved."
    )
    assert refused in text_of(response)
    assert not SyncConfig.objects.exists() and not Mapping.objects.exists()


def test_s1_settings_with_an_unreachable_portal_say_how_to_save_anyway(
    client: Any, practice: Practice, checking_portal: Any
) -> None:
    from termin360.connector.models import Mapping, SyncConfig
    from termin360.connector.portal_client import PortalUnreachable

    checking_portal.fail_with = PortalUnreachable("Portal nicht erreichbar.", code="unreachable")
    logged_in(client, "admin")
    response = client.post("/sync/settings/", settings_post(rows=[(42, 1, 1)]))
    text = text_of(response)
    assert "Portal nicht erreichbar." in text
    assert de("Save without checking with the portal") in text
    assert not SyncConfig.objects.exists()
    response = client.post("/sync/settings/", settings_post(rows=[(42, 1, 1)], offline="on"))
    assert response.status_code == 302
    assert SyncConfig.objects.get().practice_name == ""  # not asked, so no names yet
    assert Mapping.objects.get().online_name == ""


def test_s1_settings_page_never_shows_the_stored_key_and_an_empty_key_keeps_it(
    client: Any, practice: Practice, checking_portal: Any
) -> None:
    from termin360.connector.models import SyncConfig

    logged_in(client, "admin")
    client.post("/sync/settings/", settings_post(rows=[(42, 1, 2)]))
    page = client.get("/sync/settings/").content.decode()
    assert "t360_secret_key_1" not in page and "t360_s…" in page
    assert 'value="42"' in page  # the mapping is offered for editing

    response = client.post(
        "/sync/settings/",
        settings_post(api_key="", portal_url="https://neu.example.de", rows=[(42, 1, 2)]),
    )
    assert response.status_code == 302
    config = SyncConfig.objects.get()
    assert (config.portal_url, config.api_key) == ("https://neu.example.de", "t360_secret_key_1")


def test_s1_a_service_error_is_shown_in_german_and_keeps_every_input(
    client: Any, practice: Practice
) -> None:
    from termin360.connector.models import Mapping, SyncConfig

    logged_in(client, "admin")
    response = client.post(
        "/sync/settings/",
        settings_post(rows=[(42, 1, 1), (43, 1, 1)], check_timeout="2.5"),
    )
    assert response.status_code == 200
    text = text_of(response)
    assert de("Column %(col)s of calendar %(cal)s is mapped twice.") % {"cal": 1, "col": 1} in text
    assert de("Nothing has been saved.") in text
    page = response.content.decode()
    for kept in (
        'value="https://portal.example.de"',
        'value="t360_secret_key_1"',
        'value="2.5"',
        'name="mappings-0-online_calendar_id" value="42"',
        'name="mappings-1-online_calendar_id" value="43"',
    ):
        assert kept in page, kept
    assert not SyncConfig.objects.exists() and not Mapping.objects.exists()


def test_s1_an_unknown_column_is_refused_and_nothing_is_saved(
    client: Any, practice: Practice
) -> None:
    from termin360.connector.models import Mapping, SyncConfig

    logged_in(client, "admin")
    response = client.post("/sync/settings/", settings_post(rows=[(42, 1, 9)]))
    assert response.status_code == 200
    assert 'id="settings-errors"' in response.content.decode()
    assert not SyncConfig.objects.exists() and not Mapping.objects.exists()


def test_s1_a_half_filled_mapping_row_is_refused_with_the_row_kept(
    client: Any, practice: Practice
) -> None:
    from termin360.connector.models import SyncConfig

    logged_in(client, "admin")
    response = client.post("/sync/settings/", settings_post(rows=[(42, "", 2)]))
    assert response.status_code == 200
    assert de("Fill in all three numbers of the row, or none to leave it out.") in text_of(response)
    assert 'name="mappings-0-column_number" value="2"' in response.content.decode()
    assert not SyncConfig.objects.exists()


def test_s1_a_missing_tls_file_is_refused_with_the_services_message(
    client: Any, practice: Practice
) -> None:
    logged_in(client, "admin")
    response = client.post(
        "/sync/settings/", settings_post(tls_name="betty24", ca_bundle="/nicht/da.pem")
    )
    assert response.status_code == 200
    assert "/nicht/da.pem" in text_of(response)  # in the message and in the kept input
    assert 'value="betty24"' in response.content.decode()


def test_s2_sync_now_without_settings_shows_the_reason(client: Any, practice: Practice) -> None:
    logged_in(client, "admin")
    response = client.post("/sync/now/", follow=True)
    assert response.redirect_chain == [("/sync/", 302)]
    assert "termin360 sync config" in text_of(response)
    assert "notice--error" in response.content.decode()


def test_s2_sync_now_with_an_unreachable_portal_shows_the_portal_message(
    client: Any, practice: Practice
) -> None:
    from termin360.connector.models import SyncConfig, SyncState

    SyncConfig.objects.create(pk=1, portal_url=f"http://127.0.0.1:{free_port()}", api_key="k")
    logged_in(client, "admin")
    response = client.post("/sync/now/", follow=True)
    error = SyncState.objects.get().last_error
    assert error and notice(response, "error") == error


def test_s2_sync_now_places_a_booking_and_shows_the_online_names(
    client: Any, practice: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    from termin360.connector.models import SyncConfig
    from termin360.connector.services import config
    from tests.connector.fake_portal import FakePortal

    portal = FakePortal()
    portal.book(101, at(practice.monday, "09:00"), last_name="Sommer", first_name="Lea")
    SyncConfig.objects.create(pk=1, portal_url="https://portal.example", api_key="k")
    seed.mapping(practice.columns[1], online_calendar_id=101)
    monkeypatch.setattr(config, "client_from_config", lambda **kw: portal)
    logged_in(client, "admin")

    response = client.post("/sync/now/", follow=True)
    done = de("Sync done: %(to_practice)s changes from the portal, %(to_portal)s to the portal.")
    pattern = re.escape(done % {"to_practice": 1, "to_portal": "NUMBER"})
    assert re.fullmatch(pattern.replace("NUMBER", r"\d+"), notice(response, "success"))
    text = text_of(response)
    assert "Praxis Dr. Berger" in text
    assert table_rows(response, "mapping-table")[0][:2] == ["101", "Dr. Berger online"]
    rows = table_rows(client.get("/sync/bookings/"), "bookings")
    assert [r[0] for r in rows] == ["1"] and "1 Dr. Berger" in rows[0][5]


# --------------------------------------------------------------------------- calendar


def test_s5_flagged_online_appointment_shows_its_reason_in_day_view_and_on_the_state_page(
    client: Any, practice: Practice
) -> None:
    day = practice.monday
    appt = seed.flagged_additional(practice, day, at(day, "09:30"), "slot_taken")
    seed.booking(
        5, at(day, "09:30"), mapping=seed.mapping(practice.columns[1]),
        appointment=appt, placement="additional_list",
    )  # fmt: skip
    logged_in(client, "empfang")
    day_view = client.get(f"/calendars/1/{day.isoformat()}/")
    additional = day_view.content.decode().split('id="additional-list"')[1].split("</aside>")[0]
    assert de("time was taken") in additional
    assert "badge--online" in additional and "slot_taken" not in additional

    rows = table_rows(client.get("/sync/"), "conflicts")
    assert rows == [
        [
            f"{day:%d.%m.%Y} 09:30",
            "Sommer, Lea",
            de("Additional list of calendar %(calendar)s") % {"calendar": "1 Allgemeinmedizin"},
            f"⚑ {de('time was taken')}",
            "5",
        ]
    ]


def test_online_appointment_in_a_slot_is_marked_online_linked_and_flagged_in_the_grid(
    client: Any, practice: Practice
) -> None:
    from termin360.practice.models import Appointment
    from termin360.practice.services.patients import create_patient

    day = practice.monday
    lea = create_patient(
        location_id=practice.location.pk,
        last_name="Sommer",
        first_name="Lea",
        date_of_birth=date(1990, 5, 17),
    )
    appt = seed.online_appointment_in_slot(practice, 1, at(day, "08:00"), patient=lea)
    Appointment.objects.filter(pk=appt.pk).update(flagged=True, flag_reason="online_move_refused")
    logged_in(client, "empfang")
    page = client.get(f"/calendars/1/{day.isoformat()}/").content.decode()
    pattern = rf'<div class="appt[^"]*"[^>]*data-appointment-id="{appt.pk}".*?</div>'
    item = re.search(pattern, page, re.S)
    assert item is not None
    html = unescape(item.group(0))
    assert "appt--online" in html and "is-flagged" in html and "badge--online" in html
    assert de("move refused online") in html
    assert de("linked to the patient record") in html
    assert de("online booking") in html  # in the accessible label
