"""Tables of the practice calendar. Models hold data only; rules live in
``domain/`` and every write goes through ``services/``."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from termin360.core.timezones import DEFAULT_ZONE


class Location(models.Model):
    """A practice location (Praxisstand). Patients and calendars belong to one."""

    name = models.CharField(_("Name"), max_length=120, unique=True)
    address = models.CharField(_("Adresse"), max_length=250, blank=True)
    time_zone = models.CharField(max_length=64, default=DEFAULT_ZONE)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Calendar(models.Model):
    """A practice calendar (Terminkalender), identified by its number (TKnr)."""

    number = models.PositiveIntegerField(_("Nummer"), unique=True)
    name = models.CharField(_("Name"), max_length=120)
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="calendars")

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return f"{self.number} {self.name}"


class Column(models.Model):
    """A column (Spalte) of a calendar: one row of slots per day, usually one doctor or room."""

    calendar = models.ForeignKey(Calendar, on_delete=models.CASCADE, related_name="columns")
    number = models.PositiveIntegerField(_("Nummer"))
    name = models.CharField(_("Name"), max_length=120)
    # In a shared practice a column may belong to a doctor of another location than its
    # calendar; empty means the calendar's location. (The connector refuses to map a
    # column of a calendar whose columns span locations, as DURIA does.)
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["calendar__number", "number"]
        constraints = [
            models.UniqueConstraint(fields=["calendar", "number"], name="column_number_unique")
        ]

    def __str__(self) -> str:
        return f"{self.calendar.number}/{self.number} {self.name}"


class TemplateRule(models.Model):
    """One line of a column's weekly template: weekday, from, to, slot length."""

    column = models.ForeignKey(Column, on_delete=models.CASCADE, related_name="template_rules")
    weekday = models.PositiveSmallIntegerField()  # 0 = Monday
    start = models.TimeField()
    end = models.TimeField()
    slot_minutes = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["weekday", "start"]


class Patient(models.Model):
    """A patient record of one location; identified by last name, first name, date of birth."""

    class Insurance(models.TextChoices):
        GKV = "gkv", _("gesetzlich (GKV)")
        PKV = "pkv", _("privat (PKV)")
        SELF = "self", _("Selbstzahler")

    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="patients")
    last_name = models.CharField(_("Nachname"), max_length=100)
    first_name = models.CharField(_("Vorname"), max_length=100)
    date_of_birth = models.DateField(_("Geburtsdatum"))
    phone = models.CharField(_("Telefon"), max_length=40, blank=True)
    email = models.EmailField(_("E-Mail"), blank=True)
    street = models.CharField(_("Straße"), max_length=120, blank=True)
    postcode = models.CharField(_("PLZ"), max_length=10, blank=True)
    city = models.CharField(_("Ort"), max_length=80, blank=True)
    insurance = models.CharField(max_length=4, choices=Insurance.choices, default=Insurance.GKV)
    # normalize_name(last) + " " + normalize_name(first): for search and S6 matching.
    search_name = models.CharField(max_length=210, editable=False, db_index=True)

    class Meta:
        ordering = ["last_name", "first_name", "date_of_birth"]
        indexes = [models.Index(fields=["location", "date_of_birth"])]

    def __str__(self) -> str:
        return f"{self.last_name}, {self.first_name} ({self.date_of_birth:%d.%m.%Y})"


class Appointment(models.Model):
    """An appointment (Terminvergabe): on one or more consecutive slots of a column,
    or — with no column — in the calendar's additional list (Zusatzliste) for ``day``.

    ``start``/``end`` mirror the held slots (kept by the services) so that lists
    and the connector can query by time; for an additional appointment they are
    the wished-for time, if any.
    """

    class Origin(models.TextChoices):
        PRACTICE = "practice", _("Praxis")
        ONLINE = "online", _("Online")

    calendar = models.ForeignKey(Calendar, on_delete=models.PROTECT, related_name="appointments")
    column = models.ForeignKey(
        Column, null=True, blank=True, on_delete=models.PROTECT, related_name="appointments"
    )
    day = models.DateField()
    start = models.DateTimeField(null=True, blank=True)
    end = models.DateTimeField(null=True, blank=True)
    patient = models.ForeignKey(
        Patient, null=True, blank=True, on_delete=models.PROTECT, related_name="appointments"
    )
    text = models.CharField(_("Text"), max_length=200, blank=True)
    reason = models.CharField(_("Anlass"), max_length=200, blank=True)
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.PRACTICE)
    flagged = models.BooleanField(default=False)
    flag_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["day", "start", "id"]
        indexes = [
            models.Index(fields=["calendar", "day"]),
            models.Index(fields=["column", "start"]),
        ]

    @property
    def in_additional_list(self) -> bool:
        return self.column_id is None


class Slot(models.Model):
    """One slot of a column's grid. Its state follows from the fields
    (see ``domain/slots.py``): appointment, annotated, note."""

    column = models.ForeignKey(Column, on_delete=models.CASCADE, related_name="slots")
    day = models.DateField()  # local day in the calendar's zone
    start = models.DateTimeField()  # UTC
    end = models.DateTimeField()  # UTC
    note = models.CharField(max_length=200, blank=True)
    annotated = models.BooleanField(default=False)
    annotation = models.CharField(max_length=200, blank=True)
    appointment = models.ForeignKey(
        Appointment, null=True, blank=True, on_delete=models.SET_NULL, related_name="slots"
    )

    class Meta:
        ordering = ["start"]
        constraints = [
            models.UniqueConstraint(fields=["column", "start"], name="slot_start_unique")
        ]
        indexes = [models.Index(fields=["column", "day"])]


class Reservation(models.Model):
    """A reservation (Reservierung) blocking a time range on several days and columns."""

    calendar = models.ForeignKey(Calendar, on_delete=models.CASCADE, related_name="reservations")
    columns = models.ManyToManyField(Column, related_name="reservations")
    first_day = models.DateField()
    last_day = models.DateField()
    start = models.TimeField()
    end = models.TimeField()
    reason = models.CharField(_("Grund"), max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["first_day", "start"]


class AuditEntry(models.Model):
    """Who changed which appointment when. Kept when the appointment is deleted."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=150)
    action = models.CharField(max_length=40)
    appointment_id = models.BigIntegerField(db_index=True)
    calendar_number = models.PositiveIntegerField()
    summary = models.CharField(max_length=300)

    class Meta:
        ordering = ["-at", "-id"]


class StaffToken(models.Model):
    """An API token of a staff member; only its SHA-256 is stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)


class ViewVersion(models.Model):
    """A counter per (calendar, day), raised in the transaction of every change to what
    the day and week views of that day show. Open views poll it (C8): one indexed read
    instead of the whole view. A missing row is version 0."""

    calendar = models.ForeignKey(Calendar, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    version = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["calendar", "day"], name="view_version_unique")
        ]


class StaffLoginAttempt(models.Model):
    """A failed staff login (page or API token), for the lock-out shared by all server
    processes. ``key`` is ``"user:…"`` or ``"ip:…"`` with an HMAC, never the raw value."""

    key = models.CharField(max_length=200, db_index=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)
