"""The connector's link to the portal (S1 TLS profiles): what the practice's IT person sees
when the certificate is not trusted, the API key is wrong or the portal cannot be reached
— one clear German line from ``termin360 sync now``, no traceback, nothing applied, and
the reason in ``sync job status`` — and a profile with a client certificate."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import free_port
from tests.e2e.conftest import TLS_PROFILE, Sync, weekday


def refused(done: subprocess.CompletedProcess[str], fragment: str) -> str:
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "Traceback" not in output, output
    assert fragment in output, (fragment, output)
    return output


def test_s1_untrusted_certificate_wrong_key_and_unreachable_portal_are_clear_errors(
    make_sync: Any,
) -> None:
    s: Sync = make_sync(job=False, server=False)
    from termin360.connector.models import OnlineBooking
    from termin360.connector.services import config

    booking = s.book_online(weekday(s.p, 0), "09:00")
    key = s.seed["api_key"]

    # No CA bundle: the machine's CAs do not vouch for the portal's certificate.
    config.save_config(portal_url=s.portal.url, api_key=key, tls_profile="")
    refused(s.cli("now", check=False), "TLS-Fehler")

    # A key the portal does not know.
    config.save_config(
        portal_url=s.portal.url, api_key="t360k_" + "x" * 40, tls_profile=TLS_PROFILE
    )
    refused(s.cli("now", check=False), "lehnt den API-Schlüssel ab")

    # Nothing listens at that address.
    dead = f"https://127.0.0.1:{free_port()}"
    config.save_config(portal_url=dead, api_key=key)
    refused(s.cli("now", check=False), "nicht erreichbar")
    status = s.cli_json("job", "status", "--json")
    assert "nicht erreichbar" in status["last_error"], status
    assert not OnlineBooking.objects.filter(booking_id=booking["id"]).exists()

    # Put right, the same command brings the booking in.
    config.save_config(portal_url=s.portal.url, api_key=key)
    s.cli("now")
    assert s.placed(booking["id"]) is not None


def test_s1_tls_profile_with_client_certificate_connects_and_a_broken_key_is_refused(
    make_sync: Any, tmp_path: Path
) -> None:
    import trustme

    s: Sync = make_sync(job=False, server=False)
    ca = trustme.CA(organization_name="Praxis client CA")
    cert = ca.issue_cert("praxis-berger.example")
    cert_file, key_file = tmp_path / "client.pem", tmp_path / "client.key"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    ca_bundle = str(s.portal.tls.ca_bundle)

    s.cli(
        *("tls", "mit-client"),
        *("--ca-bundle", ca_bundle, "--client-cert", str(cert_file), "--client-key", str(key_file)),
    )
    s.cli("config", "--tls-profile", "mit-client")
    s.cli("now")  # exits 0 only if the round reached the portal
    status = s.cli_json("job", "status", "--json")
    assert status["last_success_at"] and not status["last_error"], status

    broken = tmp_path / "broken.key"
    broken.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    refused(
        s.cli(
            *("tls", "kaputt"),
            *("--ca-bundle", ca_bundle, "--client-cert", str(cert_file)),
            *("--client-key", str(broken)),
            check=False,
        ),
        "TLS-Profil",
    )
