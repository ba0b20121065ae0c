"""P10: the portal operator's back office (``/backoffice/``): Django's admin, configured
for the job.

Only operators get in (``services.operators.is_operator``: staff, neither practice admin
nor patient) and only with a verified TOTP device (django-otp's ``OTPAdminSite``).
Everything is read-only; what an operator can do are the actions below, each written
to the admin's log (``LogEntry``), which the back office shows as "Protokoll". What the
operator sees is what the task needs: no password, no birth date or insurance, no mail
bodies (they may name a visit), no booking reasons.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.models import LogEntry
from django.db.models import Count, Max, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django_otp import devices_for_user
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite

from termin360.core.errors import ApplicationError
from termin360.portal.models import (
    ApiKey,
    Doctor,
    LoginAttempt,
    OutgoingEmail,
    PatientProfile,
    Practice,
    PracticeSync,
)
from termin360.portal.services import operators, practices, ratelimit, verification
from termin360.portal.worker import MAX_ATTEMPTS


class OperatorLoginForm(OTPAdminAuthenticationForm):  # type: ignore[misc]
    """Password and TOTP code in one step: an operator has one device (``add-operator``),
    so the form need not ask which one."""

    def clean_otp(self, user: Any) -> None:
        if user is not None and not self.cleaned_data.get("otp_device"):
            devices = list(devices_for_user(user, confirmed=True))
            if len(devices) == 1:
                self.cleaned_data["otp_device"] = devices[0].persistent_id
        super().clean_otp(user)


class BackOffice(OTPAdminSite):  # type: ignore[misc]  # django-otp has no types
    site_header = gettext_lazy("termin360 back office")
    site_title = gettext_lazy("termin360 back office")
    index_title = gettext_lazy("Operator's tasks")
    site_url = None  # no "view site" link: the back office is not a way into the portal
    enable_nav_sidebar = False
    login_form = OperatorLoginForm

    def has_permission(self, request: HttpRequest) -> bool:
        return bool(super().has_permission(request)) and operators.is_operator(request.user)


backoffice = BackOffice(name="backoffice")


class OperatorAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Read-only for operators (the site lets nobody else in); changes only by actions."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return True

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def audit(self, request: HttpRequest, obj: Any, message: str) -> None:
        """The action's entry in the admin log (the back office's audit log)."""
        self.log_change(request, obj, message)


class ReadOnlyInline(admin.TabularInline):  # type: ignore[type-arg]
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True


def confirm_step(
    modeladmin: OperatorAdmin,
    request: HttpRequest,
    queryset: QuerySet[Any],
    *,
    title: str,
    question: str,
    text_label: str,
    text_required: bool,
    run: Callable[[Any, str], str],
) -> HttpResponse | None:
    """An action that asks first: a page naming the objects with a text field (note or
    reason); on "confirm", ``run(obj, text)`` for each object and an audit entry with
    the message it returns."""
    text = request.POST.get("text", "").strip()
    if request.POST.get("confirmed") == "1" and (text or not text_required):
        done = 0
        for obj in queryset:
            try:
                message = run(obj, text)
            except ApplicationError as exc:
                modeladmin.message_user(request, f"{obj}: {exc.message}", messages.ERROR)
                continue
            modeladmin.audit(request, obj, message)
            done += 1
        if done:
            modeladmin.message_user(request, _("Done for %(n)d.") % {"n": done})
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "question": question,
        "text_label": text_label,
        "text": text,
        "missing": request.POST.get("confirmed") == "1",
        "objects": list(queryset),
        "action": request.POST.get("action", ""),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "opts": modeladmin.model._meta,
    }
    return TemplateResponse(request, "admin/portal/confirm_action.html", context)


# --------------------------------------------------------------------------- practices


class DoctorInline(ReadOnlyInline):
    model = Doctor
    verbose_name = gettext_lazy("online calendar")
    verbose_name_plural = gettext_lazy("online calendars")
    fields = readonly_fields = (
        "doctor",
        "field",
        "place",
        "calendar_id",
        "published",
        "public",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Doctor]:
        return super().get_queryset(request).select_related("calendar", "location", "practice")

    @admin.display(description=gettext_lazy("doctor"))
    def doctor(self, obj: Doctor) -> str:
        return obj.display_name

    @admin.display(description=gettext_lazy("specialty"))
    def field(self, obj: Doctor) -> str:
        return str(obj.specialty)

    @admin.display(description=gettext_lazy("location"))
    def place(self, obj: Doctor) -> str:
        return str(obj.location.name)

    @admin.display(description=gettext_lazy("calendar id"))
    def calendar_id(self, obj: Doctor) -> int:
        return int(obj.calendar.pk)

    @admin.display(description=gettext_lazy("published by the practice"), boolean=True)
    def published(self, obj: Doctor) -> bool:
        return bool(obj.calendar.published)

    @admin.display(description=gettext_lazy("public now"), boolean=True)
    def public(self, obj: Doctor) -> bool:
        return bool(obj.calendar.is_public)


class ApiKeyInline(ReadOnlyInline):
    model = ApiKey
    verbose_name = gettext_lazy("API key")
    verbose_name_plural = gettext_lazy("API keys")
    fields = readonly_fields = ("name", "prefix", "created_at", "last_used_at", "revoked_at")


@admin.register(Practice, site=backoffice)
class PracticeBackOffice(OperatorAdmin):
    list_display = ["name", "status", "created_at", "calendar_count", "public_count", "places"]
    list_filter = ["status"]
    search_fields = ["name", "email", "locations__city", "locations__postcode"]
    ordering = ["-created_at"]
    fields = readonly_fields = (
        "name",
        "email",
        "phone",
        "places",
        "status",
        "status_note",
        "approved_at",
        "approved_by",
        "suspended_at",
        "suspended_by",
        "created_at",
        "api_key_list",
    )
    inlines = [DoctorInline, ApiKeyInline]
    actions = ["approve", "suspend", "cancel_future_bookings"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Practice]:
        qs: QuerySet[Practice] = super().get_queryset(request)
        return qs.annotate(
            n_calendars=Count("doctors__calendar", distinct=True),
            n_public=Count(
                "doctors__calendar",
                filter=Q(doctors__calendar__published=True, status=Practice.Status.APPROVED),
                distinct=True,
            ),
        ).prefetch_related("locations")

    @admin.display(description=gettext_lazy("online calendars"), ordering="n_calendars")
    def calendar_count(self, obj: Practice) -> int:
        return int(getattr(obj, "n_calendars", 0))

    @admin.display(description=gettext_lazy("public now"), ordering="n_public")
    def public_count(self, obj: Practice) -> int:
        return int(getattr(obj, "n_public", 0))

    @admin.display(description=gettext_lazy("locations"))
    def places(self, obj: Practice) -> str:
        return "; ".join(
            f"{loc.name}, {loc.street} {loc.postcode} {loc.city}".replace(" ,", ",")
            for loc in obj.locations.all()
        )

    @admin.display(description=gettext_lazy("API keys"))
    def api_key_list(self, obj: Practice) -> str:
        url = reverse("backoffice:portal_apikey_changelist") + f"?practice__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, _("Show and revoke keys"))

    @admin.action(description=gettext_lazy("Approve (calendars go public)"))
    def approve(self, request: HttpRequest, queryset: QuerySet[Practice]) -> None:
        for practice in queryset:
            verification.approve(practice=practice, by=request.user)  # type: ignore[arg-type]
            self.audit(request, practice, _("Approved."))
        self.message_user(request, _("Approved: %(n)d.") % {"n": len(queryset)})

    @admin.action(description=gettext_lazy("Suspend (calendars go offline) …"))
    def suspend(self, request: HttpRequest, queryset: QuerySet[Practice]) -> HttpResponse | None:
        def run(practice: Practice, note: str) -> str:
            verification.suspend(practice=practice, by=request.user, note=note)  # type: ignore[arg-type]
            return _("Suspended: %(note)s") % {"note": note}

        return confirm_step(
            self,
            request,
            queryset,
            title=_("Suspend practices"),
            question=_("Their calendars go offline at once. Bookings stay; patients are not told."),
            text_label=_("Why (kept as the note; not shown to patients)"),
            text_required=True,
            run=run,
        )

    @admin.action(description=gettext_lazy("Cancel future bookings (patients are told) …"))
    def cancel_future_bookings(
        self, request: HttpRequest, queryset: QuerySet[Practice]
    ) -> HttpResponse | None:
        def run(practice: Practice, reason: str) -> str:
            cancelled = verification.cancel_future_bookings(practice=practice, reason=reason)
            return _("Cancelled %(n)d future bookings: %(reason)s") % {
                "n": len(cancelled),
                "reason": reason,
            }

        return confirm_step(
            self,
            request,
            queryset,
            title=_("Cancel the future bookings of suspended practices"),
            question=_(
                "Each patient gets the practice's cancellation mail with this reason; the "
                "practice calendar is told through the sync."
            ),
            text_label=_("Reason for the patients"),
            text_required=True,
            run=run,
        )


@admin.register(ApiKey, site=backoffice)
class ApiKeyBackOffice(OperatorAdmin):
    list_display = fields = readonly_fields = (
        "practice",
        "name",
        "prefix",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    list_select_related = ["practice"]
    search_fields = ["practice__name", "prefix", "name"]

    actions = ["revoke"]

    @admin.action(description=gettext_lazy("Revoke (the connector is refused from now on)"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for key in queryset.filter(revoked_at__isnull=True):
            practices.revoke_api_key(practice=key.practice, key_id=key.pk)
            self.audit(request, key, _("Revoked."))
        self.message_user(request, _("The selected keys are revoked."))


# --------------------------------------------------------------------------- patients


@admin.register(PatientProfile, site=backoffice)
class PatientBackOffice(OperatorAdmin):
    list_display = ["last_name", "first_name", "email", "confirmed", "booking_count", "failures"]
    search_fields = ["last_name", "first_name", "user__email"]
    ordering = ["last_name", "first_name"]
    fields = readonly_fields = (
        "last_name",
        "first_name",
        "email",
        "email_confirmed_at",
        "created_at",
        "booking_count",
    )
    actions = ["resend_confirmation", "unlock"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[PatientProfile]:
        qs: QuerySet[PatientProfile] = super().get_queryset(request)
        return qs.select_related("user").annotate(n_bookings=Count("bookings"))

    @admin.display(description=gettext_lazy("e-mail address"), ordering="user__email")
    def email(self, obj: PatientProfile) -> str:
        return str(obj.user.email)

    @admin.display(description=gettext_lazy("confirmed"), boolean=True)
    def confirmed(self, obj: PatientProfile) -> bool:
        return obj.email_confirmed_at is not None

    @admin.display(description=gettext_lazy("bookings"), ordering="n_bookings")
    def booking_count(self, obj: PatientProfile) -> int:
        return int(getattr(obj, "n_bookings", 0))

    @admin.display(description=gettext_lazy("failed logins"))
    def failures(self, obj: PatientProfile) -> int:
        since = timezone.now() - 2 * ratelimit.WINDOW
        k = ratelimit.key("email", obj.user.email)
        return LoginAttempt.objects.filter(key=k, at__gt=since).count()

    @admin.action(description=gettext_lazy("Send the confirmation mail again"))
    def resend_confirmation(self, request: HttpRequest, queryset: QuerySet[PatientProfile]) -> None:
        sent = 0
        for patient in queryset:
            if operators.resend_confirmation(patient):
                self.audit(request, patient, _("Confirmation mail queued again."))
                sent += 1
        self.message_user(
            request,
            ngettext(
                "%(n)d confirmation mail queued (confirmed addresses get none).",
                "%(n)d confirmation mails queued (confirmed addresses get none).",
                sent,
            )
            % {"n": sent},
        )

    @admin.action(description=gettext_lazy("Unlock the login (after failed attempts)"))
    def unlock(self, request: HttpRequest, queryset: QuerySet[PatientProfile]) -> None:
        for patient in queryset:
            forgotten = operators.unlock_login(patient)
            self.audit(
                request, patient, _("Login unlocked (%(n)d failures forgotten).") % {"n": forgotten}
            )
        self.message_user(request, _("The selected logins are unlocked."))


# --------------------------------------------------------------------------- mails


class MailState(admin.SimpleListFilter):
    title = gettext_lazy("state")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("waiting", _("waiting")), ("given_up", _("given up")), ("sent", _("sent"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        unsent = queryset.filter(sent_at__isnull=True)
        match self.value():
            case "waiting":
                return unsent.filter(attempts__lt=MAX_ATTEMPTS)
            case "given_up":
                return unsent.filter(attempts__gte=MAX_ATTEMPTS)
            case "sent":
                return queryset.filter(sent_at__isnull=False)
        return queryset


@admin.register(OutgoingEmail, site=backoffice)
class MailBackOffice(OperatorAdmin):
    list_display = fields = readonly_fields = (
        "kind",
        "recipient_domain",
        "state",
        "attempts",
        "last_error",
        "created_at",
        "next_attempt_at",
        "sent_at",
    )
    list_filter = [MailState, "kind"]
    ordering = ["-created_at"]

    actions = ["resend"]

    @admin.display(description=gettext_lazy("recipient's domain"))
    def recipient_domain(self, obj: OutgoingEmail) -> str:
        return "…@" + obj.to.rpartition("@")[2]

    @admin.display(description=gettext_lazy("state"))
    def state(self, obj: OutgoingEmail) -> str:
        if obj.sent_at is not None:
            return _("sent")
        return _("given up") if obj.attempts >= MAX_ATTEMPTS else _("waiting")

    @admin.action(description=gettext_lazy("Send again"))
    def resend(self, request: HttpRequest, queryset: QuerySet[OutgoingEmail]) -> None:
        for outgoing in queryset:
            again = operators.requeue_mail(outgoing)
            message = (
                _("Queued again.")
                if again.pk == outgoing.pk
                else _("Queued again as mail %(id)d.") % {"id": again.pk}
            )
            self.audit(request, outgoing, message)
        self.message_user(request, _("The selected mails are queued again."))


# --------------------------------------------------------------------------- sync


@admin.register(PracticeSync, site=backoffice)
class SyncBackOffice(OperatorAdmin):
    list_display = fields = readonly_fields = (
        "name",
        "status",
        "last_contact",
        "feed_seq",
        "feed_read_seq",
        "busy_age",
        "active_keys",
    )
    search_fields = ["name"]
    ordering = ["name"]

    actions = None

    def get_queryset(self, request: HttpRequest) -> QuerySet[Practice]:
        qs: QuerySet[Practice] = super().get_queryset(request)
        return qs.annotate(
            contact=Max("api_keys__last_used_at"),
            n_keys=Count("api_keys", filter=Q(api_keys__revoked_at__isnull=True)),
        )

    @admin.display(description=gettext_lazy("last contact of the connector"), ordering="contact")
    def last_contact(self, obj: Practice) -> Any:
        return getattr(obj, "contact", None) or "–"

    @admin.display(description=gettext_lazy("busy state received"), ordering="busy_received_at")
    def busy_age(self, obj: Practice) -> str:
        if obj.busy_received_at is None:
            return _("never")
        minutes = int((timezone.now() - obj.busy_received_at).total_seconds() // 60)
        return _("%(m)d minutes ago") % {"m": minutes}

    @admin.display(description=gettext_lazy("active API keys"), ordering="n_keys")
    def active_keys(self, obj: Practice) -> int:
        return int(getattr(obj, "n_keys", 0))


# --------------------------------------------------------------------------- audit log


@admin.register(LogEntry, site=backoffice)
class AuditLog(OperatorAdmin):
    list_display = fields = readonly_fields = (
        "action_time",
        "user",
        "content_type",
        "object_repr",
        "change_message",
    )
    search_fields = ["object_repr", "change_message", "user__username"]
    ordering = ["-action_time"]

    actions = None
