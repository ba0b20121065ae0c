"""The connector's tables, in the practice database: configuration (S1), sync state
(S3, S13), the outbox (S8), the last known busy state per (online calendar, day),
and every online booking received (S4, TMEX L)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from termin360.practice.models import Appointment, Column


class TlsProfile(models.Model):
    """A named TLS set-up (DURIA: the SSL configuration "betty24"): the CA bundle that
    vouches for the portal, optionally a client certificate for the connector."""

    name = models.CharField(_("Name"), max_length=60, unique=True)
    ca_bundle = models.CharField(_("CA-Zertifikate (PEM-Datei)"), max_length=500, blank=True)
    client_cert = models.CharField(_("Client-Zertifikat (PEM-Datei)"), max_length=500, blank=True)
    client_key = models.CharField(_("Schlüssel des Client-Zertifikats"), max_length=500, blank=True)

    def __str__(self) -> str:
        return self.name


class SyncConfig(models.Model):
    """The connector's settings (TMEX P). One row (pk 1).

    The API key is kept as given: the connector has to send it. It lives only in the
    practice's own database and is never shown in full again (``key_hint``)."""

    portal_url = models.URLField(_("Portal-Adresse"), max_length=300)
    api_key = models.CharField(max_length=200)
    tls_profile = models.ForeignKey(
        TlsProfile, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # How long a practice action in a mapped column waits for the S9 check.
    check_timeout_seconds = models.FloatField(default=1.5)
    # The portal's name of the practice, known after the first successful contact.
    practice_name = models.CharField(max_length=150, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    @property
    def key_hint(self) -> str:
        return f"{self.api_key[:6]}…" if self.api_key else ""


class Mapping(models.Model):
    """Online calendar → (practice calendar number, column number)."""

    online_calendar_id = models.PositiveBigIntegerField(unique=True)
    column = models.OneToOneField(Column, on_delete=models.PROTECT, related_name="online_mapping")
    # The online calendar's name, set after the first successful contact (S1).
    online_name = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["online_calendar_id"]


class SyncState(models.Model):
    """Where the sync stands. One row (pk 1); the cursor moves in the same transaction
    as the effect of the events it covers (S13)."""

    cursor = models.BigIntegerField(default=0)
    autostart = models.BooleanField(default=False)
    stop_requested = models.BooleanField(default=False)
    job_pid = models.PositiveIntegerField(null=True, blank=True)
    job_host = models.CharField(max_length=200, blank=True)
    job_started_at = models.DateTimeField(null=True, blank=True)
    job_heartbeat_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)


class BusyState(models.Model):
    """What the practice calendar holds of one mapped column on one day, as last computed
    in a practice transaction: ``[[start, end], …]`` (UTC, ISO 8601, merged), and the
    day's bookable slots. The relay sends both; the S9 check compares against the busy
    intervals to see which time is newly claimed."""

    mapping = models.ForeignKey(Mapping, on_delete=models.CASCADE, related_name="busy_states")
    day = models.DateField()
    intervals = models.JSONField(default=list)
    # Grows with every change (``busy.next_revision``: at least the clock in µs, so a
    # mapping made anew still counts up); the portal ignores a day older than its own.
    revision = models.BigIntegerField(default=0)
    # S14: the column's bookable slots that day (every slot that is not an annotation),
    # ``[[start, end], …]`` like ``intervals`` but one pair per slot, sent with them.
    # ``None``: not computed yet (a state stored before) — sent as "not sent".
    bookable = models.JSONField(null=True, default=None)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["mapping", "day"], name="busy_state_unique")]


class OutboxEntry(models.Model):
    """(Online calendar, day) whose busy state the portal still has to get. Coalesces:
    one row per pair however many changes; ``version`` grows with each change so the
    relay deletes a row only if nothing changed while it was sending."""

    mapping = models.ForeignKey(Mapping, on_delete=models.CASCADE, related_name="outbox")
    day = models.DateField()
    version = models.PositiveIntegerField(default=1)
    # The S9 claims whose actions changed this day since it was last sent: the busy state
    # sent next includes them, so the portal ends their holds (``settles``).
    claims = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["mapping", "day"], name="outbox_unique")]


class OnlineBooking(models.Model):
    """An online booking as the connector received it (TMEX L / Info), with where it
    landed in the practice calendar."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("gebucht")
        CANCELLED = "cancelled", _("storniert")

    class Placement(models.TextChoices):
        SLOT = "slot", _("im Termin")
        ADDITIONAL = "additional_list", _("Zusatzliste")
        NONE = "", _("nicht eingetragen")

    class Match(models.TextChoices):
        LINKED = "linked", _("Patient zugeordnet")
        FREE_TEXT = "free_text", _("Freitext")
        AMBIGUOUS = "ambiguous", _("mehrdeutig")

    booking_id = models.BigIntegerField(unique=True)
    online_calendar_id = models.PositiveBigIntegerField()
    mapping = models.ForeignKey(
        Mapping, null=True, blank=True, on_delete=models.SET_NULL, related_name="bookings"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    start = models.DateTimeField()  # as the portal has it now (UTC)
    end = models.DateTimeField()
    visit_type = models.CharField(max_length=120, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    last_name = models.CharField(max_length=100)
    first_name = models.CharField(max_length=100)
    date_of_birth = models.DateField(null=True, blank=True)
    email = models.CharField(max_length=254, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    insurance = models.CharField(max_length=4, blank=True)
    booked_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.CharField(max_length=10, blank=True)
    appointment = models.OneToOneField(
        Appointment,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="online_booking",
    )
    placement = models.CharField(max_length=20, choices=Placement.choices, blank=True)
    # The appointment's time when the connector placed it, or when the portal last took
    # the practice's change of it (S10): an appointment at another time since is a change
    # to send. (It may differ from the booking's own: a 15-minute booking on a 30-minute
    # slot holds the whole slot.)
    placed_start = models.DateTimeField(null=True, blank=True)
    placed_end = models.DateTimeField(null=True, blank=True)
    match = models.CharField(max_length=10, choices=Match.choices, blank=True)
    last_seq = models.BigIntegerField(default=0)
    received_at = models.DateTimeField(auto_now_add=True)
    receipt_sent_at = models.DateTimeField(null=True, blank=True)
    # S10: the practice deleted or moved the appointment. If the portal refused a move
    # (the new time is taken online), the refused start and end and the portal's message,
    # so the same move is not sent again and the staff see why.
    refused_start = models.DateTimeField(null=True, blank=True)
    refused_end = models.DateTimeField(null=True, blank=True)
    practice_change_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["start", "booking_id"]
        indexes = [models.Index(fields=["status", "start"])]
