"""Login rate limiting (P3): 5 failures per e-mail address or 20 per client IP within
15 minutes lock that key for 15 minutes, across all server processes (the counter is a
database table). Time passes by ageing the stored rows — no sleeps."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from django.db.models import F
from django.test import Client
from django.urls import reverse

from tests.portal.conftest import PATIENT_PASSWORD, World, make_patient


def german(msgid: str) -> str:
    from django.utils import translation

    with translation.override("de"):
        text = translation.gettext(msgid)
    assert text != msgid, f"no German translation of {msgid!r}"
    return text


LOCKED = (
    "Too many failed attempts. For your protection, logging in is blocked "
    "until %(time)s. You can reset your password in the meantime."
)


def attempt(client: Client, email: str, password: str, ip: str = "203.0.113.7") -> Any:
    return client.post(
        reverse("portal:login"), {"email": email, "password": password}, REMOTE_ADDR=ip
    )


def age_attempts(minutes: float) -> None:
    from termin360.portal.models import LoginAttempt

    LoginAttempt.objects.update(at=F("at") - timedelta(minutes=minutes))


def test_the_sixth_attempt_is_refused_even_with_the_right_password(
    client: Client, world: World
) -> None:
    email = world.patient.user.email
    for _ in range(5):
        r = attempt(client, email, "falsch")
        assert r.status_code == 400
    r = attempt(client, email, PATIENT_PASSWORD)
    assert r.status_code == 429
    assert german(LOCKED).split("%(time)s")[0] in r.content.decode()
    assert "_auth_user_id" not in client.session
    # Another spelling of the same address is the same key.
    assert attempt(client, email.upper(), PATIENT_PASSWORD).status_code == 429
    # From another IP too: the lock is on the address.
    assert attempt(client, email, PATIENT_PASSWORD, ip="198.51.100.1").status_code == 429


def test_the_lock_ends_after_15_minutes_and_refused_attempts_do_not_extend_it(
    client: Client, world: World
) -> None:
    email = world.patient.user.email
    for _ in range(5):
        attempt(client, email, "falsch")
    age_attempts(10)
    assert attempt(client, email, PATIENT_PASSWORD).status_code == 429
    age_attempts(4.9)
    assert attempt(client, email, PATIENT_PASSWORD).status_code == 429
    age_attempts(0.2)
    assert attempt(client, email, PATIENT_PASSWORD).status_code == 302


def test_failures_spread_over_more_than_15_minutes_do_not_lock(
    client: Client, world: World
) -> None:
    email = world.patient.user.email
    attempt(client, email, "falsch")
    age_attempts(16)
    for _ in range(4):
        attempt(client, email, "falsch")
    assert attempt(client, email, PATIENT_PASSWORD).status_code == 302


def test_a_successful_login_clears_the_address_counter(client: Client, world: World) -> None:
    email = world.patient.user.email
    for _ in range(4):
        attempt(client, email, "falsch")
    assert attempt(client, email, PATIENT_PASSWORD).status_code == 302
    client.post(reverse("portal:logout"))
    for _ in range(4):
        assert attempt(client, email, "falsch").status_code == 400
    assert attempt(client, email, PATIENT_PASSWORD).status_code == 302


def test_the_ip_limit_counts_all_addresses(client: Client, world: World) -> None:
    other = make_patient("andere@example.org")
    # 19 failures from one IP, spread over 5 addresses (at most 4 each: none is locked).
    for i in range(19):
        assert attempt(client, f"probe{i % 5}@example.org", "falsch").status_code == 400
    # Below the IP limit another address from that IP still gets in ...
    assert attempt(client, other.user.email, PATIENT_PASSWORD).status_code == 302
    client.post(reverse("portal:logout"))
    # ... the 20th failure locks the IP for every address ...
    assert attempt(client, "probe4@example.org", "falsch").status_code == 400
    assert attempt(client, other.user.email, PATIENT_PASSWORD).status_code == 429
    # ... but not the same address from another IP.
    assert attempt(client, other.user.email, PATIENT_PASSWORD, ip="192.0.2.9").status_code == 302


def test_another_address_from_the_same_ip_is_allowed_below_the_ip_limit(
    client: Client, world: World
) -> None:
    for _ in range(5):
        attempt(client, "opfer@example.org", "falsch")
    assert attempt(client, "opfer@example.org", "falsch").status_code == 429
    r = attempt(client, world.patient.user.email, PATIENT_PASSWORD)
    assert r.status_code == 302


def test_keys_are_stored_hashed(client: Client, world: World) -> None:
    from termin360.portal.models import LoginAttempt

    email = world.patient.user.email
    attempt(client, email, "falsch", ip="203.0.113.7")
    keys = list(LoginAttempt.objects.values_list("key", flat=True))
    assert sorted(k.split(":")[0] for k in keys) == ["email", "ip"]
    for k in keys:
        digest = k.split(":")[1]
        assert len(digest) == 64 and int(digest, 16) >= 0
        assert email not in k and "203.0.113.7" not in k
        # Keyed: not the plain SHA-256 anyone could compute for every IPv4 address.
        assert digest != hashlib.sha256(b"203.0.113.7").hexdigest()


def test_old_rows_are_cleaned_up(client: Client, world: World) -> None:
    from termin360.portal.models import LoginAttempt

    attempt(client, "a@example.org", "falsch")
    age_attempts(31)
    attempt(client, "b@example.org", "falsch")
    assert LoginAttempt.objects.count() == 2  # the two new rows only
