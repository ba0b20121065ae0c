"""Patient accounts through Django's test client (P3): register, confirm the address by the
mailed link, log in and out, reset the password."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any
from unittest import mock
from urllib.parse import urlencode, urlsplit

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse

from tests.portal.conftest import PATIENT_PASSWORD, World, make_patient

NEW_PASSWORD = "sonnen-blume-42"
FUTURE_BIRTH = "The date of birth cannot be in the future."


def german(msgid: str) -> str:
    from django.utils import translation

    with translation.override("de"):
        text = translation.gettext(msgid)
    assert text != msgid, f"no German translation of {msgid!r}"
    return text


def text(response: Any) -> str:
    return str(response.content.decode())


def main_part(response: Any) -> str:
    """The page's main content (the header holds a per-response CSRF token)."""
    page = text(response)
    return page[page.index('<main id="main"') : page.index("</main>")]


def registration(**changes: Any) -> dict[str, Any]:
    data = {
        "last_name": "Schmidt",
        "first_name": "Lena",
        "date_of_birth": "1990-03-14",
        "email": "Lena.Schmidt@Example.org",
        "phone": "+49 721 555-123",
        "insurance": "gkv",
        "password": NEW_PASSWORD,
        "consent": "on",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def mailed_link(kind: str, to: str) -> str:
    """The path of the link in the newest queued mail of ``kind`` to ``to``."""
    from django.conf import settings

    from termin360.portal.models import OutgoingEmail

    mail = OutgoingEmail.objects.filter(kind=kind, to=to).order_by("-pk").first()
    assert mail is not None, f"no {kind} mail to {to}"
    base = settings.PORTAL_BASE_URL.rstrip("/")
    found = re.findall(re.escape(base) + r"(/\S+)", mail.body)
    assert found, mail.body
    return str(found[0])


# --------------------------------------------------------------------------- register


def test_register_creates_an_unconfirmed_patient_and_queues_the_confirmation_link(
    client: Client, db: None
) -> None:
    from termin360.portal.models import OutgoingEmail, PatientProfile

    r = client.post(reverse("portal:register"), registration())
    assert r.status_code == 302
    assert r["Location"] == reverse("portal:registered")
    patient = PatientProfile.objects.select_related("user").get()
    assert patient.user.username == patient.user.email == "lena.schmidt@example.org"
    assert (patient.last_name, patient.first_name) == ("Schmidt", "Lena")
    assert patient.date_of_birth == date(1990, 3, 14)
    assert (patient.phone, patient.insurance) == ("+49 721 555-123", "gkv")
    assert patient.email_confirmed_at is None
    assert patient.user.password.startswith("argon2")
    assert OutgoingEmail.objects.filter(kind="confirm_email").count() == 1

    # Not logged in (a known address gets the same answer, see below); the page asks to
    # confirm and offers a new link.
    page = client.get(r["Location"])
    assert page.status_code == 200
    assert "_auth_user_id" not in client.session
    assert "lena.schmidt@example.org" in text(page)
    assert german("Send the link again") in text(page)
    again = client.post(reverse("portal:resend-confirmation"))
    assert again.status_code == 302
    assert OutgoingEmail.objects.filter(kind="confirm_email").count() == 2

    path = mailed_link("confirm_email", "lena.schmidt@example.org")
    assert path.startswith("/konto/bestaetigen/")
    r = Client().get(path)  # opened in another browser, not logged in
    assert r.status_code == 200
    assert german("Your e-mail address is confirmed") in text(r)
    patient.refresh_from_db()
    first = patient.email_confirmed_at
    assert first is not None

    # Confirming twice is harmless.
    assert client.get(path).status_code == 200
    patient.refresh_from_db()
    assert patient.email_confirmed_at == first


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"last_name": "  "}, "last_name", "This field is required."),
        ({"email": "lena@"}, "email", None),
        ({"date_of_birth": "31.02.1990"}, "date_of_birth", None),
        (
            {"date_of_birth": "2999-01-01"},
            "date_of_birth",
            "The date of birth cannot be in the future.",
        ),
        ({"phone": "call me"}, "phone", "Please enter a phone number, e.g. 0721 123456."),
        ({"insurance": "aok"}, "insurance", None),
        ({"password": "passwort"}, "password", None),
        ({"password": "kurz1"}, "password", None),
        ({"consent": None}, "consent", "Please agree to continue."),
    ],
)
def test_bad_input_shows_the_form_again_with_the_error_and_the_values(
    client: Client, db: None, changes: dict[str, Any], field: str, message: str | None
) -> None:
    from django.contrib.auth.models import User

    data = registration(**changes)
    r = client.post(reverse("portal:register"), data)
    assert r.status_code == 400
    form = r.context["form"]
    assert list(form.errors) == [field], form.errors
    if message:
        assert german(message) in text(r)
    page = text(r)
    assert 'class="errorlist' in page
    # Nothing typed is lost, except the password.
    for kept in ("last_name", "first_name", "phone"):
        if kept not in changes:
            assert f'value="{data[kept]}"' in page
    assert NEW_PASSWORD not in page
    assert not User.objects.exists()


def test_german_errors_of_django_itself(client: Client, db: None) -> None:
    r = client.post(reverse("portal:register"), registration(first_name=""))
    assert "Dieses Feld ist zwingend erforderlich." in text(r)
    r = client.post(reverse("portal:register"), registration(password="passwort"))
    assert "Dieses Passwort ist zu üblich." in text(r)


def test_a_known_email_gets_the_same_answer_and_its_owner_a_mail(
    client: Client, world: World
) -> None:
    """No enumeration: registering with a known address (in any case) answers exactly like
    a new one; no second account, and the owner is told by mail."""
    from termin360.portal.models import OutgoingEmail, PatientProfile

    taken = world.patient.user.email
    r = client.post(reverse("portal:register"), registration(email=taken.upper()))
    assert r.status_code == 302
    assert r["Location"] == reverse("portal:registered")
    known_page = text(client.get(r["Location"]))
    assert PatientProfile.objects.count() == 1
    assert not OutgoingEmail.objects.filter(kind="confirm_email").exists()
    told = OutgoingEmail.objects.get(kind="registration_attempt")
    assert told.to == taken
    assert reverse("portal:password-reset") in told.body
    assert reverse("portal:login") in told.body
    # "Send the link again" answers the same too, and sends nothing.
    assert client.post(reverse("portal:resend-confirmation")).status_code == 302
    assert not OutgoingEmail.objects.filter(kind="confirm_email").exists()

    fresh = Client()
    r = fresh.post(reverse("portal:register"), registration(email="neu@example.org"))
    assert r.status_code == 302 and r["Location"] == reverse("portal:registered")
    new_page = text(fresh.get(r["Location"]))

    def same(page: str, email: str) -> str:
        return re.sub(r'value="[A-Za-z0-9]{64}"', "TOKEN", page.replace(email, "X"))

    assert same(known_page, taken) == same(new_page, "neu@example.org")


def test_the_confirmation_link_opened_where_one_registered_logs_in_and_leads_to_the_slot(
    client: Client, world: World
) -> None:
    """P3 with P4: the chosen slot (``next``) travels from login to registration into the
    mailed link; confirming in the same browser logs in and lands on that booking page."""
    book = f"/buchen/{world.calendar.pk}/?start=2030-01-07T09%3A00%3A00%2B01%3A00&visit_type=1"
    login_page = client.get(reverse("portal:login"), {"next": book})
    assert f'href="{reverse("portal:register")}?next=' in text(login_page)
    form = client.get(reverse("portal:register"), {"next": book})
    assert f'name="next" value="{book.replace("&", "&amp;")}"' in text(form)
    r = client.post(reverse("portal:register") + "?" + urlencode({"next": book}), registration())
    assert r["Location"] == reverse("portal:registered")
    path = mailed_link("confirm_email", "lena.schmidt@example.org")
    r = client.get(path)
    assert r.status_code == 302 and r["Location"] == book
    assert client.session.get("_auth_user_id")

    # In another browser: confirmed, then asked to log in, then on to the slot.
    other = Client()
    r = other.get(path)
    assert r.status_code == 302
    assert r["Location"] == reverse("portal:login") + "?" + urlencode({"next": book})
    assert "_auth_user_id" not in other.session


def test_a_next_off_the_site_is_dropped(client: Client, world: World) -> None:
    client.post(reverse("portal:register") + "?next=https://evil.example/x", registration())
    path = mailed_link("confirm_email", "lena.schmidt@example.org")
    r = client.get(path)
    assert r.status_code == 200  # the "confirmed" page, no redirect anywhere


def test_an_unconfirmed_patient_cannot_book(client: Client, world: World) -> None:
    from termin360.core.errors import PermissionDenied
    from termin360.portal.models import PatientProfile
    from termin360.portal.services import availability, bookings

    client.post(reverse("portal:register"), registration())
    patient = PatientProfile.objects.get(user__username="lena.schmidt@example.org")
    slot = availability.upcoming_free(world.calendar, 15, after=_in_days(3))[0]
    with pytest.raises(PermissionDenied) as exc:
        bookings.book(
            patient=patient,
            calendar_id=world.calendar.pk,
            visit_type_id=world.checkup.pk,
            start=slot.start,
        )
    assert exc.value.code == "unconfirmed"

    client.get(mailed_link("confirm_email", "lena.schmidt@example.org"))
    patient.refresh_from_db()
    booking = bookings.book(
        patient=patient,
        calendar_id=world.calendar.pk,
        visit_type_id=world.checkup.pk,
        start=slot.start,
    )
    assert booking.patient_email == "lena.schmidt@example.org"


def _in_days(days: int) -> Any:
    from django.utils import timezone

    return timezone.now() + timedelta(days=days)


# --------------------------------------------------------------------------- confirmation links


def test_an_expired_link_offers_a_new_one_that_works(client: Client, db: None) -> None:
    from termin360.portal.models import OutgoingEmail, PatientProfile
    from termin360.portal.services import patients

    patient = make_patient("alt@example.org", confirmed=False)
    # A link made 3 days and a minute ago (the signer's clock, not a sleep).
    made = signing.time.time() - patients.CONFIRM_MAX_AGE.total_seconds() - 60
    with mock.patch("django.core.signing.time.time", return_value=made):
        old = patients.confirmation_token(patient.user)
    r = client.get(reverse("portal:confirm", args=[old]))
    assert r.status_code == 400
    assert german("This confirmation link has expired.") in text(r)
    assert german("Send the link again") in text(r)
    assert PatientProfile.objects.get().email_confirmed_at is None

    # "Send again" works from that page without logging in: the old link proves the address.
    r = client.post(reverse("portal:resend-confirmation"), {"token": old})
    assert r.status_code == 200
    assert OutgoingEmail.objects.filter(kind="confirm_email", to="alt@example.org").count() == 1
    assert client.get(mailed_link("confirm_email", "alt@example.org")).status_code == 200
    assert PatientProfile.objects.get().email_confirmed_at is not None


@pytest.mark.parametrize("token", ["garbage", "eyJ1IjoxfQ:1tAAAA:forged-signature"])
def test_a_forged_link_is_refused_clearly(client: Client, world: World, token: str) -> None:
    r = client.get(reverse("portal:confirm", args=[token]))
    assert r.status_code == 400
    assert german("This confirmation link is not valid.") in text(r)
    assert german("Log in") in text(r)


def test_a_link_for_a_changed_address_is_refused(client: Client, db: None) -> None:
    from termin360.portal.services import patients

    patient = make_patient("erst@example.org", confirmed=False)
    token = patients.confirmation_token(patient.user)
    patient.user.email = patient.user.username = "neu@example.org"
    patient.user.save()
    assert client.get(reverse("portal:confirm", args=[token])).status_code == 400


def test_login_of_an_unconfirmed_patient_shows_the_hint_and_resend_works(
    client: Client, db: None
) -> None:
    from termin360.portal.models import OutgoingEmail

    make_patient("offen@example.org", confirmed=False)
    r = client.post(
        reverse("portal:login"),
        {"email": "offen@example.org", "password": PATIENT_PASSWORD},
        follow=True,
    )
    assert r.status_code == 200
    hints = [str(m) for m in r.context["messages"]]
    hint = german(
        "Please confirm your e-mail address with the link we sent you; "
        "only then can you book. No mail? Request a new link under “My data”."
    )
    assert hint in hints
    r = client.post(reverse("portal:resend-confirmation"), follow=True)
    assert r.status_code == 200
    assert OutgoingEmail.objects.filter(kind="confirm_email", to="offen@example.org").count() == 1
    assert client.get(mailed_link("confirm_email", "offen@example.org")).status_code == 200


def test_resend_needs_a_login(client: Client, db: None) -> None:
    r = client.post(reverse("portal:resend-confirmation"))
    assert r.status_code == 302
    assert urlsplit(r["Location"]).path == reverse("portal:login")


# --------------------------------------------------------------------------- log in / out


def test_login_with_any_case_of_the_address_then_logout(client: Client, world: World) -> None:
    email = world.patient.user.email
    r = client.post(
        reverse("portal:login"),
        {"email": email.upper(), "password": PATIENT_PASSWORD, "next": "/konto/meine-daten/"},
    )
    assert r.status_code == 302
    assert r["Location"] == "/konto/meine-daten/"
    assert client.get(reverse("portal:my-data")).status_code == 200

    assert client.get(reverse("portal:logout")).status_code == 405  # GET does not log out
    r = client.post(reverse("portal:logout"))
    assert r.status_code == 302
    assert client.get(reverse("portal:my-data")).status_code == 302


def test_login_ignores_a_next_url_on_another_host(client: Client, world: World) -> None:
    r = client.post(
        reverse("portal:login"),
        {
            "email": world.patient.user.email,
            "password": PATIENT_PASSWORD,
            "next": "https://evil.example/",
        },
    )
    assert r.status_code == 302
    assert r["Location"] == reverse("portal:my-bookings")


def test_a_practice_admin_lands_on_the_practice_dashboard(client: Client, world: World) -> None:
    from tests.portal.conftest import ADMIN_PASSWORD

    r = client.post(
        reverse("portal:login"), {"email": world.admin_email, "password": ADMIN_PASSWORD}
    )
    assert r.status_code == 302
    assert r["Location"] == reverse("portal:practice-dashboard")


def test_a_wrong_password_says_so_in_german(client: Client, world: World) -> None:
    r = client.post(
        reverse("portal:login"), {"email": world.patient.user.email, "password": "falsch-123"}
    )
    assert r.status_code == 400
    assert german("The e-mail address or the password is not correct.") in text(r)
    assert f'value="{world.patient.user.email}"' in text(r)


# --------------------------------------------------------------------------- password reset


def test_password_reset_flow(client: Client, world: World) -> None:
    from django.contrib.auth import authenticate

    from termin360.portal.models import OutgoingEmail

    email = world.patient.user.email
    r = Client().post(reverse("portal:password-reset"), {"email": email.upper()})
    assert r.status_code == 200
    answer_known = main_part(r).replace(email.upper(), "ADDRESS")
    path = mailed_link("password_reset", email)
    assert path.startswith("/konto/passwort-neu/")

    r = client.get(path)  # Django moves the token into the session and redirects
    assert r.status_code == 302
    form_url = r["Location"]
    r = client.get(form_url)
    assert r.status_code == 200 and r.context["validlink"]

    r = client.post(form_url, {"new_password1": "kurz", "new_password2": "kurz"})
    assert r.status_code == 200 and r.context["form"].errors
    r = client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert r.status_code == 302
    assert r["Location"] == reverse("portal:login")
    assert authenticate(username=email, password=NEW_PASSWORD) is not None
    assert authenticate(username=email, password=PATIENT_PASSWORD) is None

    # The link works once.
    r = Client().get(path, follow=True)
    assert not r.context["validlink"]
    assert german("Request a new link") in text(r)

    # No account enumeration: an unknown address gets the same page, and no mail.
    before = OutgoingEmail.objects.count()
    r = Client().post(reverse("portal:password-reset"), {"email": "NIEMAND@EXAMPLE.ORG"})
    assert r.status_code == 200
    assert main_part(r).replace("NIEMAND@EXAMPLE.ORG", "ADDRESS") == answer_known
    assert OutgoingEmail.objects.count() == before


def test_reset_mails_to_one_address_are_limited(client: Client, world: World) -> None:
    from termin360.portal.models import OutgoingEmail

    email = world.patient.user.email
    for _ in range(6):
        assert client.post(reverse("portal:password-reset"), {"email": email}).status_code == 200
    assert OutgoingEmail.objects.filter(kind="password_reset", to=email).count() == 3


def test_a_reset_confirms_the_address_and_lifts_the_login_lock(client: Client, db: None) -> None:
    from termin360.portal.models import PatientProfile

    make_patient("gesperrt@example.org", confirmed=False)
    for _ in range(5):
        client.post(reverse("portal:login"), {"email": "gesperrt@example.org", "password": "x"})
    client.post(reverse("portal:password-reset"), {"email": "gesperrt@example.org"})
    form_url = client.get(mailed_link("password_reset", "gesperrt@example.org"))["Location"]
    client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert PatientProfile.objects.get().email_confirmed_at is not None
    r = client.post(
        reverse("portal:login"), {"email": "gesperrt@example.org", "password": NEW_PASSWORD}
    )
    assert r.status_code == 302
