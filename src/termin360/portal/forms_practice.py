"""Forms of the practice pages (P1). They check the shape of the input; the rules
(overlaps, limits, what publishing needs) stay in ``services`` and come back as
``ApplicationError`` messages, which the views attach to the form."""

from __future__ import annotations

from datetime import time
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from termin360.portal.models import Insurance, Location, Practice

WEEKDAYS = [
    (0, _("Monday")),
    (1, _("Tuesday")),
    (2, _("Wednesday")),
    (3, _("Thursday")),
    (4, _("Friday")),
    (5, _("Saturday")),
    (6, _("Sunday")),
]


class SignupForm(forms.Form):
    name = forms.CharField(label=_("Name of the practice"), max_length=150)
    email = forms.EmailField(
        label=_("Contact e-mail of the practice"),
        help_text=_("Alerts go here, e.g. about bookings that did not reach your calendar."),
    )
    admin_email = forms.EmailField(label=_("Your e-mail address (for logging in)"))
    password = forms.CharField(
        label=_("Password"), widget=forms.PasswordInput, min_length=8, strip=False
    )
    password_again = forms.CharField(
        label=_("Password (again)"), widget=forms.PasswordInput, strip=False
    )

    def clean(self) -> dict[str, Any] | None:
        data = super().clean() or {}
        if data.get("password") and data.get("password") != data.get("password_again"):
            self.add_error("password_again", _("The two passwords differ."))
        return data


class LocationForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    street = forms.CharField(label=_("Street and number"), max_length=120, required=False)
    postcode = forms.RegexField(
        label=_("Postcode"),
        regex=r"^\d{4,5}$",
        error_messages={"invalid": _("Enter a postcode of 4 or 5 digits.")},
    )
    city = forms.CharField(label=_("City"), max_length=80)


class LocationChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name} ({obj.postcode} {obj.city})"


class DoctorForm(forms.Form):
    title = forms.CharField(
        label=_("Title"), max_length=40, required=False, help_text=_("e.g. Dr. med.")
    )
    first_name = forms.CharField(label=_("First name"), max_length=100)
    last_name = forms.CharField(label=_("Last name"), max_length=100)
    specialty = forms.CharField(label=_("Specialty"), max_length=80)
    languages = forms.CharField(
        label=_("Languages"),
        max_length=200,
        initial="de",
        help_text=_("Language codes separated by commas, e.g. de, en, tr"),
    )
    location = LocationChoiceField(
        label=_("Location"), queryset=Location.objects.none(), empty_label=None
    )

    def __init__(self, *args: Any, practice: Practice, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["location"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = practice.locations.order_by("name")


class CalendarRulesForm(forms.Form):
    slot_minutes = forms.IntegerField(label=_("Slot length (minutes)"), min_value=5, max_value=240)
    horizon_days = forms.IntegerField(
        label=_("Booking horizon (days ahead)"), min_value=1, max_value=365
    )
    lead_minutes = forms.IntegerField(
        label=_("Minimum lead time (minutes)"),
        min_value=0,
        max_value=60 * 24 * 14,
        help_text=_("How long before an appointment online booking closes."),
    )
    cancel_deadline_hours = forms.IntegerField(
        label=_("Cancellation deadline (hours)"),
        min_value=0,
        max_value=24 * 14,
        help_text=_("Patients can cancel or move online up to this many hours before."),
    )
    default_visit_type = forms.TypedChoiceField(
        label=_("Visit type shown first"),
        coerce=int,
        required=False,
        empty_value=None,
        help_text=_(
            "What patients see first on the doctor page (only types open to new and "
            "existing patients). Empty: the first such type."
        ),
    )
    waitlist_enabled = forms.BooleanField(
        label=_("Waiting list: patients may ask to be told of an earlier time"),
        required=False,
        initial=True,
    )

    def __init__(self, *args: Any, visit_types: list[Any] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["default_visit_type"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [
            ("", "—"),
            *(
                (vt.pk, vt.name)
                for vt in visit_types or []
                if vt.active and vt.new_patients and vt.existing_patients
            ),
        ]


class HoursRowForm(forms.Form):
    """One line of the weekly hours: a weekday and a range; an empty line is skipped."""

    weekday = forms.TypedChoiceField(
        label=_("Weekday"),
        choices=[("", "—"), *WEEKDAYS],
        coerce=int,
        required=False,
        empty_value=None,
    )
    start = forms.TimeField(
        label=_("From"), required=False, widget=forms.TimeInput(attrs={"type": "time"})
    )
    end = forms.TimeField(
        label=_("To"), required=False, widget=forms.TimeInput(attrs={"type": "time"})
    )

    def clean(self) -> dict[str, Any] | None:
        data = super().clean() or {}
        given = [data.get(k) is not None for k in ("weekday", "start", "end")]
        if any(given) and not all(given):
            raise forms.ValidationError(_("Fill in weekday, from and to — or leave all empty."))
        start, end = data.get("start"), data.get("end")
        if start is not None and end is not None and end <= start:
            self.add_error("end", _("The end must lie after the start."))
        return data

    def row(self) -> tuple[int, time, time] | None:
        data = self.cleaned_data
        if data.get("weekday") is None:
            return None
        return data["weekday"], data["start"], data["end"]


HoursFormSet = forms.formset_factory(HoursRowForm, extra=3, max_num=70, validate_max=True)


class VisitTypeForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    duration_minutes = forms.IntegerField(label=_("Duration (minutes)"), min_value=5, max_value=480)
    new_patients = forms.BooleanField(label=_("New patients"), required=False, initial=True)
    existing_patients = forms.BooleanField(
        label=_("Existing patients"), required=False, initial=True
    )
    insurances = forms.MultipleChoiceField(
        label=_("Insurance types"),
        choices=Insurance.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[c for c, _label in Insurance.choices],
        error_messages={"required": _("Choose at least one insurance type.")},
    )

    def clean(self) -> dict[str, Any] | None:
        data = super().clean() or {}
        if not (data.get("new_patients") or data.get("existing_patients")):
            raise forms.ValidationError(_("Allow new or existing patients (or both)."))
        return data


class AbsenceForm(forms.Form):
    first_day = forms.DateField(
        label=_("First day"), widget=forms.DateInput(attrs={"type": "date"})
    )
    last_day = forms.DateField(label=_("Last day"), widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(
        label=_("Reason"), max_length=200, required=False, help_text=_("e.g. holidays")
    )

    def clean(self) -> dict[str, Any] | None:
        data = super().clean() or {}
        first, last = data.get("first_day"), data.get("last_day")
        if first and last and last < first:
            self.add_error("last_day", _("The last day lies before the first."))
        return data


class CancelBookingForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason (the patient is told)"),
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("Please give the patient a reason.")},
    )


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label=_("Name of the key"),
        max_length=100,
        help_text=_("e.g. the computer the connector runs on"),
    )


class PracticeSettingsForm(forms.Form):
    name = forms.CharField(label=_("Name of the practice"), max_length=150)
    email = forms.EmailField(label=_("Contact e-mail of the practice"))
    phone = forms.RegexField(
        label=_("Phone of the practice"),
        regex=r"^\+?[0-9 ()/.\-]{5,40}$",
        required=False,
        help_text=_("Patients see it with every booking and in every e-mail."),
        error_messages={"invalid": _("Please enter a phone number, e.g. 07251 123456.")},
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
    )
    reminder_hours = forms.IntegerField(
        label=_("Reminder (hours before the appointment)"),
        min_value=1,
        max_value=24 * 7,
        help_text=_("Patients get a reminder e-mail this many hours before their appointment."),
    )
