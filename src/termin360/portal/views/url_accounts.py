"""Accounts: register, confirm e-mail, log in/out, reset password, export, delete (P3, P7)."""

from django.urls import path

from termin360.portal.views import accounts

urlpatterns = [
    path("registrieren/", accounts.register, name="register"),
    path("registriert/", accounts.registered, name="registered"),
    path("bestaetigen/<str:token>/", accounts.confirm, name="confirm"),
    path("bestaetigen/", accounts.resend_confirmation, name="resend-confirmation"),
    path("anmelden/", accounts.login_view, name="login"),
    path("abmelden/", accounts.LogoutView.as_view(), name="logout"),
    path("passwort-vergessen/", accounts.password_reset, name="password-reset"),
    path(
        "passwort-neu/<uidb64>/<token>/",
        accounts.PasswordResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
    path("meine-daten/", accounts.my_data, name="my-data"),
    path("meine-daten/export.json", accounts.export, name="export"),
    path("konto-loeschen/", accounts.delete_account, name="delete-account"),
]
