"""Tables of the portal. Models hold data; rules live in ``domain/``, writes in ``services/``."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from termin360.core.timezones import DEFAULT_ZONE


class Insurance(models.TextChoices):
    GKV = "gkv", _("statutory (GKV)")
    PKV = "pkv", _("private (PKV)")
    SELF = "self", _("self-pay")


class Practice(models.Model):
    """A practice (or shared practice) with its admins, locations, doctors and change feed.

    P10: a new practice is *pending* until the portal's operator has checked it (practice
    number, address) and approved it; only an approved practice's published calendars are
    public (``OnlineCalendar.objects.public()``). A suspended one is offline again."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending verification")
        APPROVED = "approved", _("approved")
        SUSPENDED = "suspended", _("suspended")

    name = models.CharField(_("name"), max_length=150)
    email = models.EmailField(
        _("e-mail address"), help_text="where alerts go (undelivered bookings, cancellations)"
    )
    # Shown to patients with every booking and in every mail (P4, P5): the way to reach
    # the practice once the online deadline has passed.
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    time_zone = models.CharField(max_length=64, default=DEFAULT_ZONE)
    reminder_hours = models.PositiveSmallIntegerField(default=24)
    # Last sequence number handed out in this practice's change feed; bumped under a row lock.
    feed_seq = models.BigIntegerField(_("feed position"), default=0)
    # How far the practice's connector has read the feed (the ``after`` of its newest
    # ``GET /events``): ``feed_seq - feed_read_seq`` is the sync's lag in events.
    feed_read_seq = models.BigIntegerField(_("read by the connector"), default=0)
    # When the connector last sent busy state (S8), for the back office's sync view.
    busy_received_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("approved by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    suspended_at = models.DateTimeField(_("suspended at"), null=True, blank=True)
    suspended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("suspended by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # The operator's note on the check (what was verified, why suspended); never shown
    # to patients.
    status_note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("practice")
        verbose_name_plural = _("practices")

    def __str__(self) -> str:
        return self.name

    @property
    def is_approved(self) -> bool:
        return self.status == self.Status.APPROVED


class PracticeSync(Practice):
    """The practices seen from their connectors: the back office's sync list (P10)."""

    class Meta:
        proxy = True
        verbose_name = _("sync of a practice")
        verbose_name_plural = _("sync")


class PracticeAdmin(models.Model):
    """A login that administers a practice."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="practice_admin"
    )
    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="admins")


class Location(models.Model):
    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="locations")
    name = models.CharField(max_length=120)
    street = models.CharField(max_length=120, blank=True)
    postcode = models.CharField(max_length=10, db_index=True)
    city = models.CharField(max_length=80, db_index=True)
    # normalize_name(city) for search
    city_key = models.CharField(max_length=80, db_index=True, editable=False, default="")


class Doctor(models.Model):
    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="doctors")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="doctors")
    title = models.CharField(max_length=40, blank=True)  # "Dr. med."
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    specialty = models.CharField(max_length=80, db_index=True)
    languages = models.CharField(max_length=200, default="de")  # comma-separated ISO codes
    # normalize_name("title first last specialty") for search by name
    search_key = models.CharField(max_length=400, db_index=True, editable=False, default="")

    @property
    def display_name(self) -> str:
        return " ".join(p for p in (self.title, self.first_name, self.last_name) if p)


class OnlineCalendarQuerySet(models.QuerySet["OnlineCalendar"]):
    def public(self) -> OnlineCalendarQuerySet:
        """The calendars patients may find and book (P10): published by the practice, and
        the practice approved by the operator. The one definition; see ``is_public``."""
        return self.filter(published=True, doctor__practice__status=Practice.Status.APPROVED)


class OnlineCalendar(models.Model):
    """One online calendar per doctor: when and what can be booked."""

    doctor = models.OneToOneField(Doctor, on_delete=models.CASCADE, related_name="calendar")
    name = models.CharField(max_length=150)
    slot_minutes = models.PositiveSmallIntegerField(default=15)
    horizon_days = models.PositiveSmallIntegerField(default=84)
    lead_minutes = models.PositiveIntegerField(default=120)
    cancel_deadline_hours = models.PositiveSmallIntegerField(default=24)
    published = models.BooleanField(default=False, db_index=True)
    # What the doctor page shows first (if the patient may book it); empty: the first
    # type open to everyone.
    default_visit_type = models.ForeignKey(
        "VisitType", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # P9: patients may ask to be told of an earlier time.
    waitlist_enabled = models.BooleanField(default=True)

    class HoursSource(models.TextChoices):
        PORTAL = "portal", _("the weekly hours typed here")
        PRACTICE = "practice", _("the slot grid of the practice calendar")

    # S14: where the bookable times come from. "practice": exactly the bookable slots the
    # connector sent per day (``PracticeSlots``); the weekly hours then do not count.
    hours_source = models.CharField(
        max_length=10, choices=HoursSource.choices, default=HoursSource.PORTAL
    )

    objects = OnlineCalendarQuerySet.as_manager()

    @property
    def hours_from_practice(self) -> bool:
        return self.hours_source == self.HoursSource.PRACTICE

    @property
    def is_public(self) -> bool:
        """What ``OnlineCalendar.objects.public()`` selects, for a calendar at hand."""
        return self.published and self.doctor.practice.is_approved


class WeeklyHours(models.Model):
    calendar = models.ForeignKey(OnlineCalendar, on_delete=models.CASCADE, related_name="hours")
    weekday = models.PositiveSmallIntegerField()
    start = models.TimeField()
    end = models.TimeField()

    class Meta:
        ordering = ["weekday", "start"]


class VisitType(models.Model):
    calendar = models.ForeignKey(
        OnlineCalendar, on_delete=models.CASCADE, related_name="visit_types"
    )
    name = models.CharField(max_length=120)
    duration_minutes = models.PositiveSmallIntegerField()
    new_patients = models.BooleanField(default=True)
    existing_patients = models.BooleanField(default=True)
    insurances = models.CharField(max_length=20, default="gkv,pkv,self")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["duration_minutes", "name"]

    def allows(self, insurance: str) -> bool:
        return insurance in self.insurances.split(",")


class Absence(models.Model):
    """Holidays and absences: whole local days on which nothing can be booked."""

    calendar = models.ForeignKey(OnlineCalendar, on_delete=models.CASCADE, related_name="absences")
    first_day = models.DateField()
    last_day = models.DateField()
    reason = models.CharField(max_length=200, blank=True)


class BusyInterval(models.Model):
    """Time the practice calendar holds (pushed by the connector per calendar and day,
    as a whole: the set for a day replaces the previous set)."""

    calendar = models.ForeignKey(OnlineCalendar, on_delete=models.CASCADE, related_name="busy")
    day = models.DateField()
    start = models.DateTimeField()
    end = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["calendar", "start"])]


class PracticeSlots(models.Model):
    """S14: the bookable slots of the mapped practice column on one (online calendar, local
    day), ``[[start, end], …]`` in UTC ISO 8601 — sent by the connector with the day's busy
    state (same revision), replaced as a whole. No row: the practice never sent that day."""

    calendar = models.ForeignKey(
        OnlineCalendar, on_delete=models.CASCADE, related_name="practice_slots"
    )
    day = models.DateField()
    slots = models.JSONField(default=list)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["calendar", "day"], name="practice_slots_unique")
        ]


class Claim(models.Model):
    """S9: a practice action that claimed time through the connector (decision 009).

    While ``ended_at`` is empty and ``expires_at`` lies ahead, its ``Hold`` rows keep that
    time from online bookings. It ends when the busy state naming it arrives for each of
    its days, when the practice releases it (the action was not saved), or at
    ``expires_at``. An ended claim stays a day as a tombstone, so a delayed copy of the
    claim request cannot hold the time again."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=64)  # the connector's claim id
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["practice", "key"], name="claim_unique")]
        indexes = [models.Index(fields=["practice", "expires_at"])]


class Hold(models.Model):
    """Time of one online calendar on one local day that a ``Claim`` holds."""

    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="holds")
    calendar = models.ForeignKey(OnlineCalendar, on_delete=models.CASCADE, related_name="holds")
    day = models.DateField()
    start = models.DateTimeField()
    end = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["calendar", "start"])]


class BusyRevision(models.Model):
    """The revision of the busy state the portal has for one (online calendar, day): a
    state with a lower revision arriving later (a delayed or repeated request) is older
    than what is here and is ignored."""

    calendar = models.ForeignKey(OnlineCalendar, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    revision = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["calendar", "day"], name="busy_revision_unique")
        ]


class PatientProfile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="patient"
    )
    last_name = models.CharField(_("last name"), max_length=100)
    first_name = models.CharField(_("first name"), max_length=100)
    date_of_birth = models.DateField()
    phone = models.CharField(max_length=40)
    insurance = models.CharField(max_length=4, choices=Insurance.choices)
    email_confirmed_at = models.DateTimeField(_("e-mail confirmed at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("patient")
        verbose_name_plural = _("patients")

    def __str__(self) -> str:
        # Also the name of the patient's entries in the back office's audit log: an id,
        # not the name, so the log holds no more patient data than needed.
        return f"#{self.pk}"


class Booking(models.Model):
    """An online booking. No two *active* bookings of one calendar overlap: PostgreSQL
    refuses it with an exclusion constraint (migration 0002); on SQLite every write
    transaction is serialized (BEGIN IMMEDIATE) and the service checks under it."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("booked")
        CANCELLED = "cancelled", _("cancelled")

    class CancelledBy(models.TextChoices):
        PATIENT = "patient", _("patient")
        PRACTICE = "practice", _("practice")

    calendar = models.ForeignKey(OnlineCalendar, on_delete=models.PROTECT, related_name="bookings")
    patient = models.ForeignKey(
        PatientProfile, null=True, blank=True, on_delete=models.SET_NULL, related_name="bookings"
    )
    visit_type = models.ForeignKey(VisitType, on_delete=models.PROTECT, related_name="+")
    start = models.DateTimeField()
    end = models.DateTimeField()
    reason = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    # What the practice needs to place the booking (SPEC S6), kept even if the
    # account is deleted later (until the booking itself is gone).
    patient_last_name = models.CharField(max_length=100)
    patient_first_name = models.CharField(max_length=100)
    patient_date_of_birth = models.DateField(null=True)
    patient_email = models.EmailField(blank=True)
    patient_phone = models.CharField(max_length=40, blank=True)
    patient_insurance = models.CharField(max_length=4, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.CharField(max_length=10, choices=CancelledBy.choices, blank=True)
    cancel_reason = models.CharField(max_length=300, blank=True)
    reminder_sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)  # P6, set by the sync API
    # P6: when the practice was told that this booking had not reached its calendar
    # (once per booking; set by the worker in the transaction that queues the mail).
    undelivered_alert_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["start"]
        indexes = [models.Index(fields=["calendar", "status", "start"])]


class ChangeEvent(models.Model):
    """The practice's change feed: every booking change, numbered without gaps per practice."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="events")
    seq = models.BigIntegerField()
    booking = models.ForeignKey(Booking, null=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=20)  # booked / cancelled / moved
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["practice", "seq"]
        constraints = [models.UniqueConstraint(fields=["practice", "seq"], name="event_seq_unique")]


class ApiKey(models.Model):
    """A connector's key. Shown once; only its SHA-256 is kept."""

    practice = models.ForeignKey(
        Practice, verbose_name=_("practice"), on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("beginning"), max_length=12)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"


class IdempotentRequest(models.Model):
    """The answer to a connector's write, kept under its ``Idempotency-Key`` for 24 hours:
    a repeated request (a retry after a lost answer) gets the same answer and no second
    effect."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=100)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=300)
    status = models.PositiveSmallIntegerField()
    response = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["practice", "key"], name="idempotent_request_unique")
        ]


class OutgoingEmail(models.Model):
    """An e-mail queued in the transaction of the change it reports; the worker sends it.

    A booking's mails are queued unrendered: ``pending`` then holds what the text needs
    as of the change (template, booking, times, calendar-file sequence), and the worker
    renders subject, body and ``.ics`` before it sends (``mail.render_pending``) — so the
    change's transaction, which holds the practice lock, does not wait for templates."""

    to = models.EmailField()
    subject = models.CharField(max_length=200)
    body = models.TextField()
    ics = models.TextField(blank=True)  # an RFC 5545 attachment, if any
    pending = models.JSONField(null=True, blank=True)  # not rendered yet: what to render
    kind = models.CharField(_("kind"), max_length=40)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True, db_index=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)

    class Meta:
        verbose_name = _("e-mail")
        verbose_name_plural = _("e-mails")

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"


class LoginAttempt(models.Model):
    """Failed logins, for rate limiting across all server processes."""

    key = models.CharField(max_length=200, db_index=True)  # "email:…" or "ip:…" (hashed)
    at = models.DateTimeField(auto_now_add=True, db_index=True)


class WaitlistEntry(models.Model):
    """P9: a patient asks to be told of free time of one online calendar and visit type
    starting before ``before`` — earlier than their ``booking`` (which an offer then
    moves), or any time before a date. Optionally only on some weekdays or at some time
    of day. Ends (``ended_at``) when the patient leaves the list, takes an offer, or the
    booking is cancelled or passed."""

    class DayPart(models.TextChoices):
        ANY = "any", _("any time of day")
        MORNING = "morning", _("mornings (before 12:00)")
        AFTERNOON = "afternoon", _("afternoons (from 12:00)")

    patient = models.ForeignKey(PatientProfile, on_delete=models.CASCADE, related_name="waits")
    calendar = models.ForeignKey(OnlineCalendar, on_delete=models.CASCADE, related_name="waits")
    visit_type = models.ForeignKey(VisitType, on_delete=models.CASCADE, related_name="+")
    booking = models.ForeignKey(
        Booking, null=True, blank=True, on_delete=models.CASCADE, related_name="waits"
    )
    before = models.DateTimeField()
    weekdays = models.CharField(max_length=20, blank=True)  # "0,2,4"; empty: every day
    day_part = models.CharField(max_length=10, choices=DayPart.choices, default=DayPart.ANY)
    created_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_reason = models.CharField(max_length=20, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["calendar", "ended_at"])]


class WaitlistOffer(models.Model):
    """A free time offered to one waiting patient by e-mail, valid until ``expires_at``;
    taken in one step through the mailed link (first come, first served: the booking
    service decides). One offer per entry and start: a time is never offered to the same
    patient twice."""

    entry = models.ForeignKey(WaitlistEntry, on_delete=models.CASCADE, related_name="offers")
    start = models.DateTimeField()
    end = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    taken_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["entry", "start"], name="waitlist_offer_once")
        ]
        indexes = [models.Index(fields=["expires_at"])]
