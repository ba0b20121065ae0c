"""S1: the connector's configuration (TMEX P) and its refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
import trustme

from termin360.connector.models import Mapping, OutboxEntry, SyncConfig
from termin360.connector.portal_client import PortalClient
from termin360.connector.services import config
from termin360.core.errors import InvalidInput, NotFound
from termin360.practice.services import appointments, setup
from tests.conftest import Practice
from tests.connector.conftest import CAL_A, CAL_B, Connected
from tests.connector.helpers import slot_at


def test_s1_config_needs_an_http_url_and_an_api_key_on_first_save(practice: Practice) -> None:
    for url in ("portal.example.de", "ftp://portal.example.de", "https://", ""):
        with pytest.raises(InvalidInput) as err:
            config.save_config(portal_url=url, api_key="k")
        assert err.value.code == "portal_url_invalid"
    with pytest.raises(InvalidInput) as err:
        config.save_config(portal_url="https://portal.example.de")
    assert err.value.code == "api_key_missing"
    with pytest.raises(InvalidInput):
        config.save_config(portal_url="https://portal.example.de", api_key="   ")
    assert not SyncConfig.objects.exists()


def test_s1_later_saves_keep_the_key_and_can_change_url_and_timeout(practice: Practice) -> None:
    config.save_config(portal_url="https://portal.example.de/", api_key=" secret-key ")
    saved = config.save_config(portal_url="http://127.0.0.1:8001", check_timeout=0.5)
    assert saved.api_key == "secret-key" and saved.portal_url == "http://127.0.0.1:8001"
    assert saved.check_timeout_seconds == 0.5
    assert SyncConfig.objects.count() == 1
    with pytest.raises(InvalidInput) as err:
        config.save_config(portal_url="http://127.0.0.1:8001", check_timeout=120)
    assert err.value.code == "check_timeout_invalid"


def test_s1_tls_profile_files_must_exist_and_be_pem(practice: Practice, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as err:
        config.save_tls_profile(name="betty24", ca_bundle=str(tmp_path / "missing.pem"))
    assert err.value.code == "tls_file_missing"
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    with pytest.raises(InvalidInput) as err:
        config.save_tls_profile(name="betty24", ca_bundle=str(junk))
    assert err.value.code == "tls_file_invalid"
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    cert = ca.issue_cert("praxis.example.de")
    cert_file, key_file = tmp_path / "client.pem", tmp_path / "client.key"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    with pytest.raises(InvalidInput) as err:
        config.save_tls_profile(name="betty24", client_key=str(key_file))
    assert err.value.code == "tls_client_cert_missing"
    profile = config.save_tls_profile(
        name="betty24", ca_bundle=str(ca_file), client_cert=str(cert_file), client_key=str(key_file)
    )
    saved = config.save_config(
        portal_url="https://portal.example.de", api_key="k", tls_profile="betty24"
    )
    assert saved.tls_profile == profile
    with pytest.raises(NotFound):
        config.save_config(portal_url="https://portal.example.de", tls_profile="andere")
    assert config.save_config(portal_url="https://p.example.de", tls_profile="").tls_profile is None


def test_s1_mappings_refuse_unknown_calendar_or_column(practice: Practice) -> None:
    with pytest.raises(NotFound):
        config.set_mappings([(CAL_A, 9, 1)])
    with pytest.raises(NotFound):
        config.set_mappings([(CAL_A, 1, 9)])
    assert not Mapping.objects.exists()


def test_s1_mappings_refuse_a_column_or_online_calendar_mapped_twice(practice: Practice) -> None:
    with pytest.raises(InvalidInput) as err:
        config.set_mappings([(CAL_A, 1, 1), (CAL_B, 1, 1)])
    assert err.value.code == "column_twice"
    with pytest.raises(InvalidInput) as err:
        config.set_mappings([(CAL_A, 1, 1), (CAL_A, 1, 2)])
    assert err.value.code == "online_calendar_twice"
    assert not Mapping.objects.exists()


def test_s1_mappings_refuse_a_calendar_whose_columns_span_locations(practice: Practice) -> None:
    other = setup.create_location(name="Karlsruhe")
    setup.create_column(
        calendar=practice.calendar, number=3, name="Dr. Auswärts", location_id=other.pk
    )
    with pytest.raises(InvalidInput) as err:
        config.set_mappings([(CAL_A, 1, 1)])
    assert err.value.code == "calendar_spans_locations"


def test_s1_replacing_mappings_keeps_unchanged_rows_and_drops_the_rest(
    connected: Connected,
) -> None:
    c = connected
    kept = Mapping.objects.get(online_calendar_id=CAL_A)
    kept.online_name = "Dr. Berger online"
    kept.save()
    appointments.book_appointment(actor=None, slot_id=slot_at(c, 2, 0, "09:00").pk, text="X")
    assert OutboxEntry.objects.filter(mapping__online_calendar_id=CAL_B).exists()
    result = config.set_mappings([(CAL_A, 1, 1), (103, 1, 2)])
    assert [m.online_calendar_id for m in result] == [CAL_A, 103]
    again = Mapping.objects.get(online_calendar_id=CAL_A)
    assert again.pk == kept.pk and again.online_name == "Dr. Berger online"
    assert not OutboxEntry.objects.filter(mapping__online_calendar_id=CAL_B).exists()
    assert config.set_mappings([]) == [] and not Mapping.objects.exists()


def test_client_from_config_needs_a_configuration(practice: Practice) -> None:
    with pytest.raises(config.NotConfigured) as err:
        config.client_from_config()
    assert "termin360 sync config" in err.value.message
    config.save_config(portal_url="http://127.0.0.1:9", api_key="k")
    client = config.client_from_config()
    try:
        assert isinstance(client, PortalClient) and client.base_url == "http://127.0.0.1:9"
    finally:
        client.close()
