"""Account pages: register, confirm the address, log in (rate-limited), reset the password,
"Meine Daten" with export and account deletion (P3, P7). Pages validate input with
forms and leave every write to ``services.patients`` / ``services.ratelimit``."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse, reverse_lazy
from django.utils import formats, timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from termin360.core.errors import ApplicationError
from termin360.portal.models import Insurance, PatientProfile, PracticeAdmin
from termin360.portal.services import patients, ratelimit

PHONE = re.compile(r"^\+?[0-9 ()/.\-]{5,40}$")


# --------------------------------------------------------------------------- forms


class RegisterForm(forms.Form):
    last_name = forms.CharField(
        label=gettext_lazy("Last name"),
        max_length=100,
        widget=forms.TextInput(attrs={"autocomplete": "family-name"}),
    )
    first_name = forms.CharField(
        label=gettext_lazy("First name"),
        max_length=100,
        widget=forms.TextInput(attrs={"autocomplete": "given-name"}),
    )
    date_of_birth = forms.DateField(
        label=gettext_lazy("Date of birth"),
        widget=forms.DateInput(attrs={"type": "date", "autocomplete": "bday"}, format="%Y-%m-%d"),
    )
    email = forms.EmailField(
        label=gettext_lazy("E-mail address"),
        help_text=gettext_lazy("You log in with it; we send the confirmation link there."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    phone = forms.CharField(
        label=gettext_lazy("Phone"),
        max_length=40,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
    )
    insurance = forms.ChoiceField(
        label=gettext_lazy("Insurance"), choices=Insurance.choices, widget=forms.RadioSelect
    )
    password = forms.CharField(
        label=gettext_lazy("Password"),
        help_text=gettext_lazy("At least 8 characters, not a common password."),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    consent = forms.BooleanField(
        label=gettext_lazy(
            "I agree that termin360 stores my data and passes it to the practices "
            "I book with, in order to arrange my appointments."
        ),
        error_messages={"required": gettext_lazy("Please agree to continue.")},
    )

    def clean_last_name(self) -> str:
        return _not_blank(self.cleaned_data["last_name"])

    def clean_first_name(self) -> str:
        return _not_blank(self.cleaned_data["first_name"])

    def clean_email(self) -> str:
        return patients.normalize_email(self.cleaned_data["email"])

    def clean_phone(self) -> str:
        phone = str(self.cleaned_data["phone"]).strip()
        if not PHONE.match(phone) or sum(c.isdigit() for c in phone) < 5:
            raise ValidationError(_("Please enter a phone number, e.g. 0721 123456."))
        return phone

    def clean_date_of_birth(self) -> date:
        born: date = self.cleaned_data["date_of_birth"]
        today = timezone.localdate()
        if born > today:
            raise ValidationError(_("The date of birth cannot be in the future."))
        if born.year < today.year - 130:
            raise ValidationError(_("Please check the date of birth."))
        return born

    def clean(self) -> dict[str, Any] | None:
        data = super().clean() or {}
        password = data.get("password")
        if password:
            probe = User(
                username=data.get("email", ""),
                email=data.get("email", ""),
                first_name=data.get("first_name", ""),
                last_name=data.get("last_name", ""),
            )
            try:
                validate_password(password, probe)
            except ValidationError as exc:
                self.add_error("password", exc)
        return data


def _not_blank(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValidationError(_("This field is required."))
    return value


class LoginForm(forms.Form):
    email = forms.CharField(
        label=gettext_lazy("E-mail address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = forms.CharField(
        label=gettext_lazy("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class ResetRequestForm(forms.Form):
    email = forms.EmailField(
        label=gettext_lazy("E-mail address"),
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )


class DeleteAccountForm(forms.Form):
    password = forms.CharField(
        label=gettext_lazy("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self) -> str:
        password: str = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise ValidationError(_("The password is not correct."))
        return password


# --------------------------------------------------------------------------- helpers


def _client_ip(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def _safe_next(request: HttpRequest, wanted: str | None = None) -> str:
    """``next`` of the request (or ``wanted``) if it is a path on this site, else ""."""
    if wanted is None:
        wanted = request.POST.get("next") or request.GET.get("next") or ""
    if (
        wanted
        and wanted.startswith("/")
        and url_has_allowed_host_and_scheme(
            wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return wanted[:500]
    return ""


def _next_url(request: HttpRequest, user: User) -> str:
    wanted = _safe_next(request)
    if wanted:
        return wanted
    if PracticeAdmin.objects.filter(user=user).exists():
        return reverse("portal:practice-dashboard")
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _patient(request: HttpRequest) -> PatientProfile:
    patient = None
    if request.user.is_authenticated:
        patient = PatientProfile.objects.filter(user=request.user).select_related("user").first()
    if patient is None:
        raise Http404(_("This page is for patients."))
    return patient


def _unconfirmed_hint(request: HttpRequest) -> None:
    messages.warning(
        request,
        _(
            "Please confirm your e-mail address with the link we sent you; "
            "only then can you book. No mail? Request a new link under “My data”."
        ),
    )


# --------------------------------------------------------------------------- registration


# The session of the browser that registered remembers whom (0: an address known
# already), so the confirmation link opened there logs the new patient in, and "send the
# link again" works before any login — the same for both, so neither says which it was.
REGISTERED = "termin360_registered"
REGISTERED_EMAIL = "termin360_registered_email"


def register(request: HttpRequest) -> HttpResponse:
    """P3. The same answer whether or not the address has an account (the owner of a known
    address is told by mail); ``next`` (the slot the patient chose) travels in the link."""
    form = RegisterForm(request.POST or None)
    next_path = _safe_next(request)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            patient = patients.register_patient(
                email=data["email"],
                password=data["password"],
                last_name=data["last_name"],
                first_name=data["first_name"],
                date_of_birth=data["date_of_birth"],
                phone=data["phone"],
                insurance=data["insurance"],
                next_path=next_path,
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            request.session[REGISTERED] = patient.user_id if patient else 0
            request.session[REGISTERED_EMAIL] = data["email"]
            return redirect("portal:registered")
    status = 400 if form.is_bound else 200
    return render(
        request,
        "portal/accounts/register.html",
        {"form": form, "next": next_path},
        status=status,
    )


def registered(request: HttpRequest) -> HttpResponse:
    """After registering: "we have sent you a link" (for a known address too)."""
    email = request.session.get(REGISTERED_EMAIL)
    if email is None:
        return redirect("portal:register")
    return render(request, "portal/accounts/registered.html", {"email": email})


def confirm(request: HttpRequest, token: str) -> HttpResponse:
    try:
        patient = patients.confirm_email(token=token)
    except patients.LinkExpired as exc:
        return render(
            request,
            "portal/accounts/confirm_failed.html",
            {"message": exc.message, "token": token, "expired": True},
            status=400,
        )
    except patients.LinkInvalid as exc:
        return render(
            request,
            "portal/accounts/confirm_failed.html",
            {"message": exc.message, "expired": False},
            status=400,
        )
    if not request.user.is_authenticated and request.session.get(REGISTERED) == patient.user_id:
        # Opened in the browser that registered: it knows the password, the link proves
        # the mailbox.
        login(request, patient.user, backend="django.contrib.auth.backends.ModelBackend")
    request.session.pop(REGISTERED, None)
    next_path = _safe_next(request, patients.next_path_of(token))
    if next_path:
        messages.success(request, _("Thank you, your e-mail address is confirmed."))
        if request.user.is_authenticated:
            return redirect(next_path)
        messages.info(request, _("Please log in; then you continue with your appointment."))
        return redirect(f"{reverse('portal:login')}?{urlencode({'next': next_path})}")
    return render(request, "portal/accounts/confirmed.html", {"patient": patient})


def resend_confirmation(request: HttpRequest) -> HttpResponse:
    """GET (logged in): "please confirm" page. POST: a new link, for the logged-in patient
    or for the holder of an authentic but expired link (``token``)."""
    patient: PatientProfile | None = None
    if request.method == "POST" and request.POST.get("token"):
        try:
            patient = patients.patient_of_expired_token(request.POST["token"])
        except ApplicationError as exc:
            return render(
                request,
                "portal/accounts/confirm_failed.html",
                {"message": exc.message, "expired": False},
                status=400,
            )
    elif request.user.is_authenticated:
        patient = _patient(request)
    elif request.method == "POST" and REGISTERED in request.session:
        # Right after registering, before any login (see ``register``).
        registered_id = request.session[REGISTERED]
        found = PatientProfile.objects.filter(user_id=registered_id).select_related("user")
        if registered_id and (known := found.first()) is not None:
            patients.send_confirmation(known)
        messages.success(request, _("If the address is right, a new link is on its way."))
        return redirect("portal:registered")
    else:
        return redirect(f"{reverse('portal:login')}?next={reverse('portal:resend-confirmation')}")
    if request.method == "POST":
        patients.send_confirmation(patient)
        if patient.email_confirmed_at is None:
            messages.success(
                request,
                _("We have sent a new confirmation link to %(email)s.")
                % {"email": patient.user.email},
            )
        if not request.user.is_authenticated:
            return render(request, "portal/accounts/confirm_sent.html", {"patient": patient})
        return redirect("portal:resend-confirmation")
    return render(request, "portal/accounts/confirm_pending.html", {"patient": patient})


# --------------------------------------------------------------------------- log in / out


def login_view(request: HttpRequest) -> HttpResponse:
    form = LoginForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        email = patients.normalize_email(form.cleaned_data["email"])
        ip = _client_ip(request)
        lock = ratelimit.login_lock(email=email, ip=ip)
        if lock is not None:
            until = timezone.localtime(lock.until)
            form.add_error(
                None,
                _(
                    "Too many failed attempts. For your protection, logging in is blocked "
                    "until %(time)s. You can reset your password in the meantime."
                )
                % {"time": formats.time_format(until, "TIME_FORMAT")},
            )
            status = 429
        else:
            known = patients.user_for_login(email)
            user = authenticate(
                request,
                username=known.username if known else email,
                password=form.cleaned_data["password"],
            )
            if user is None:
                ratelimit.login_failed(email=email, ip=ip)
                form.add_error(None, _("The e-mail address or the password is not correct."))
                status = 400
            else:
                ratelimit.login_succeeded(email=email)
                login(request, user)
                profile = PatientProfile.objects.filter(user=user).first()
                if profile is not None and profile.email_confirmed_at is None:
                    _unconfirmed_hint(request)
                return redirect(_next_url(request, user))
    elif form.is_bound:
        status = 400
    return render(
        request,
        "portal/accounts/login.html",
        {"form": form, "next": request.POST.get("next") or request.GET.get("next", "")},
        status=status,
    )


class LogoutView(auth_views.LogoutView):
    """POST only (Django): a link or an image in a mail cannot log anyone out."""


# --------------------------------------------------------------------------- password reset


def password_reset(request: HttpRequest) -> HttpResponse:
    form = ResetRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        patients.request_password_reset(email=form.cleaned_data["email"])
        # The same answer whether or not the address has an account.
        return render(
            request,
            "portal/accounts/password_reset_sent.html",
            {"email": form.cleaned_data["email"]},
        )
    status = 400 if form.is_bound else 200
    return render(request, "portal/accounts/password_reset.html", {"form": form}, status=status)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Django's view (one-time token of ``PasswordResetTokenGenerator``; the token leaves
    the URL before the form is shown) with our pages."""

    template_name = "portal/accounts/password_reset_confirm.html"
    form_class = SetPasswordForm
    success_url = reverse_lazy("portal:login")

    def form_valid(self, form: SetPasswordForm) -> HttpResponse:  # type: ignore[type-arg]
        response = super().form_valid(form)
        patients.password_was_reset(form.user)
        messages.success(self.request, _("Your new password is set. Please log in."))
        return response


# --------------------------------------------------------------------------- my data (P7)


@login_required
def my_data(request: HttpRequest) -> HttpResponse:
    patient = _patient(request)
    return render(
        request,
        "portal/accounts/my_data.html",
        {"patient": patient, "delete_form": DeleteAccountForm(user=patient.user)},
    )


@login_required
def export(request: HttpRequest) -> HttpResponse:
    patient = _patient(request)
    body = json.dumps(patients.export_data(patient), ensure_ascii=False, indent=2)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="termin360-meine-daten.json"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
def delete_account(request: HttpRequest) -> HttpResponse:
    patient = _patient(request)
    form = DeleteAccountForm(request.POST or None, user=patient.user)
    if request.method == "POST" and form.is_valid():
        cancelled = patients.delete_account(user=patient.user)
        logout(request)
        return render(request, "portal/accounts/deleted.html", {"cancelled": cancelled})
    status = 400 if form.is_bound else 200
    return render(
        request,
        "portal/accounts/delete_account.html",
        {"patient": patient, "form": form},
        status=status,
    )
