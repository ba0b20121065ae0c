"""The S1 settings form (TMEX P) of the practice web UI. The forms only check the shape
of the input; the rules (which columns may be mapped, which URL is valid) are the
services' (``connector.services.config``), whose errors the page shows beside the form."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

MAX_MAPPING_ROWS = 200


class SettingsForm(forms.Form):
    portal_url = forms.CharField(label=_("Portal address"), max_length=300)
    # Write-only: an empty field keeps the stored key. What was just typed is shown again
    # after an error (so nothing is lost), never the stored key.
    api_key = forms.CharField(
        label=_("API key"),
        max_length=200,
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=True, attrs={"autocomplete": "off"}),
    )
    tls_name = forms.CharField(label=_("TLS profile name"), max_length=60, required=False)
    ca_bundle = forms.CharField(
        label=_("CA certificates (PEM file)"), max_length=500, required=False
    )
    client_cert = forms.CharField(
        label=_("Client certificate (PEM file, optional)"), max_length=500, required=False
    )
    client_key = forms.CharField(
        label=_("Key of the client certificate (optional)"), max_length=500, required=False
    )
    check_timeout = forms.FloatField(
        label=_("Check timeout (seconds)"), min_value=0.1, max_value=30, required=False
    )
    # The settings are checked with the portal before they are saved; when it cannot be
    # reached, this saves them anyway.
    offline = forms.BooleanField(label=_("Save without checking with the portal"), required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        tls_paths = any(data.get(k) for k in ("ca_bundle", "client_cert", "client_key"))
        if tls_paths and not data.get("tls_name"):
            self.add_error("tls_name", _("Give the TLS profile a name."))
        return data


class MappingForm(forms.Form):
    """One row: online calendar → (practice calendar number, column number). An empty
    row is ignored; a row marked for removal is left out."""

    online_calendar_id = forms.IntegerField(label=_("Online calendar"), min_value=1, required=False)
    calendar_number = forms.IntegerField(label=_("Calendar number"), min_value=1, required=False)
    column_number = forms.IntegerField(label=_("Column number"), min_value=1, required=False)

    FIELDS = ("online_calendar_id", "calendar_number", "column_number")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        given = [data.get(name) is not None for name in self.FIELDS]
        if any(given) and not all(given):
            raise forms.ValidationError(
                _("Fill in all three numbers of the row, or none to leave it out.")
            )
        return data

    def entry(self) -> tuple[int, int, int] | None:
        data = self.cleaned_data
        if data.get("DELETE") or data.get("online_calendar_id") is None:
            return None
        return (data["online_calendar_id"], data["calendar_number"], data["column_number"])


MappingFormSet = forms.formset_factory(
    MappingForm, extra=3, can_delete=True, max_num=MAX_MAPPING_ROWS, absolute_max=MAX_MAPPING_ROWS
)
