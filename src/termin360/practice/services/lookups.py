"""Fetching rows by id for the services, turning a missing row into ``NotFound``."""

from __future__ import annotations

from django.utils.translation import gettext as _

from termin360.core.errors import NotFound
from termin360.practice.models import Appointment, Calendar, Column, Location, Patient, Slot


def calendar_by_number(number: int) -> Calendar:
    try:
        return Calendar.objects.select_related("location").get(number=number)
    except Calendar.DoesNotExist:
        raise NotFound(_("There is no calendar number %(n)s.") % {"n": number}) from None


def column_by_number(calendar: Calendar, number: int) -> Column:
    try:
        return Column.objects.select_related("calendar__location").get(
            calendar=calendar, number=number
        )
    except Column.DoesNotExist:
        raise NotFound(
            _("Calendar %(cal)s has no column %(col)s.") % {"cal": calendar.number, "col": number}
        ) from None


def location_by_id(location_id: int) -> Location:
    try:
        return Location.objects.get(pk=location_id)
    except Location.DoesNotExist:
        raise NotFound(_("There is no location with id %(id)s.") % {"id": location_id}) from None


def slot_by_id(slot_id: int) -> Slot:
    try:
        return Slot.objects.select_related("column__calendar__location").get(pk=slot_id)
    except Slot.DoesNotExist:
        raise NotFound(_("There is no slot with id %(id)s.") % {"id": slot_id}) from None


def appointment_by_id(appointment_id: int) -> Appointment:
    try:
        return Appointment.objects.select_related("calendar__location", "column", "patient").get(
            pk=appointment_id
        )
    except Appointment.DoesNotExist:
        raise NotFound(
            _("There is no appointment with id %(id)s.") % {"id": appointment_id}
        ) from None


def patient_by_id(patient_id: int) -> Patient:
    try:
        return Patient.objects.select_related("location").get(pk=patient_id)
    except Patient.DoesNotExist:
        raise NotFound(_("There is no patient with id %(id)s.") % {"id": patient_id}) from None
