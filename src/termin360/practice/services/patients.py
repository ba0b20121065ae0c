"""Patient records (C6): per location, identified by last name, first name, date of birth."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from termin360.core.errors import InvalidInput
from termin360.core.names import normalize_name
from termin360.practice.models import Patient
from termin360.practice.services import view_versions
from termin360.practice.services.lookups import location_by_id, patient_by_id

EDITABLE = (
    "last_name",
    "first_name",
    "date_of_birth",
    "phone",
    "email",
    "street",
    "postcode",
    "city",
    "insurance",
)


def _validate(patient: Patient) -> None:
    if not patient.last_name.strip() or not patient.first_name.strip():
        raise InvalidInput(_("Last name and first name are required."), code="name_missing")
    if patient.date_of_birth > date.today():
        raise InvalidInput(_("The date of birth lies in the future."), code="birth_in_future")
    if patient.date_of_birth.year < 1900:
        raise InvalidInput(_("The date of birth is before 1900."), code="birth_too_early")
    if patient.insurance not in Patient.Insurance.values:
        raise InvalidInput(_("Unknown insurance type."), code="insurance")
    patient.last_name = patient.last_name.strip()
    patient.first_name = patient.first_name.strip()
    patient.search_name = (
        f"{normalize_name(patient.last_name)} {normalize_name(patient.first_name)}"
    )


def create_patient(*, location_id: int, **fields: Any) -> Patient:
    location = location_by_id(location_id)
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise InvalidInput(_("Unknown fields: %(f)s") % {"f": ", ".join(sorted(unknown))})
    patient = Patient(location=location, **fields)
    _validate(patient)
    patient.save()
    # the views show linked patients by name
    view_versions.patient_renamed(patient.pk)
    return patient


@transaction.atomic
def update_patient(*, patient_id: int, **fields: Any) -> Patient:
    patient = patient_by_id(patient_id)
    for name, value in fields.items():
        if name not in EDITABLE:
            raise InvalidInput(_("Unknown fields: %(f)s") % {"f": name})
        if value is not None:
            setattr(patient, name, value)
    _validate(patient)
    patient.save()
    # the views show linked patients by name
    view_versions.patient_renamed(patient.pk)
    return patient
