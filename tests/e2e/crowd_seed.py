"""Add a crowd of confirmed patients to the e2e portal and print their e-mail addresses as
JSON (P8's race: every patient needs an account of their own).

Run with the portal's settings, in its own process, like ``portal_seed``::

    PORTAL_DATABASE_URL=… python -m tests.e2e.crowd_seed 50
"""

from __future__ import annotations

import json
import secrets
import sys
from datetime import date


def crowd(count: int) -> list[str]:
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import User
    from django.utils import timezone

    from termin360.portal.models import PatientProfile
    from tests.e2e.portal_seed import PATIENT_PASSWORD

    tag = secrets.token_hex(4)
    hashed = make_password(PATIENT_PASSWORD)  # one hash for all: the cost is per hash
    emails = [f"crowd-{tag}-{i}@example.org" for i in range(count)]
    User.objects.bulk_create(User(username=e, email=e, password=hashed) for e in emails)
    users = User.objects.filter(username__in=emails).order_by("pk")
    PatientProfile.objects.bulk_create(
        PatientProfile(
            user=u,
            last_name=f"Läufer{i}",
            first_name="Eva",
            date_of_birth=date(1990, 1, 1),
            phone="0721 1",
            insurance="gkv",
            email_confirmed_at=timezone.now(),
        )
        for i, u in enumerate(users)
    )
    return [u.email for u in users]


def main() -> None:
    from django.conf import settings

    from termin360.cli.django_setup import setup

    setup("portal")
    settings.PASSWORD_HASHERS = ["tests.e2e.portal_seed.QuickArgon2PasswordHasher"]
    print(json.dumps(crowd(int(sys.argv[1]))))


if __name__ == "__main__":
    main()
