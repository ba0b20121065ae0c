"""Practice administration pages (P1), under /praxis/."""

from django.urls import path

from termin360.portal.views import practice_admin as v

urlpatterns = [
    path("", v.dashboard, name="practice-dashboard"),
    path("registrieren/", v.signup, name="practice-signup"),
    path("standorte/", v.locations, name="practice-locations"),
    path("aerzte/neu/", v.doctor_add, name="practice-doctor-add"),
    path("aerzte/<int:doctor_id>/", v.doctor_edit, name="practice-doctor"),
    path("kalender/<int:calendar_id>/", v.calendar_page, name="practice-calendar"),
    path("kalender/<int:calendar_id>/regeln/", v.calendar_rules, name="practice-calendar-rules"),
    path(
        "kalender/<int:calendar_id>/sprechzeiten/",
        v.calendar_hours,
        name="practice-calendar-hours",
    ),
    path(
        "kalender/<int:calendar_id>/sprechzeiten/quelle/",
        v.calendar_hours_source,
        name="practice-calendar-hours-source",
    ),
    path(
        "kalender/<int:calendar_id>/leistungen/",
        v.visit_type_add,
        name="practice-visit-type-add",
    ),
    path(
        "kalender/<int:calendar_id>/leistungen/<int:visit_type_id>/angebot/",
        v.visit_type_active,
        name="practice-visit-type-active",
    ),
    path(
        "kalender/<int:calendar_id>/abwesenheiten/",
        v.absence_add,
        name="practice-absence-add",
    ),
    path(
        "kalender/<int:calendar_id>/abwesenheiten/<int:absence_id>/entfernen/",
        v.absence_remove,
        name="practice-absence-remove",
    ),
    path(
        "kalender/<int:calendar_id>/veroeffentlichen/",
        v.calendar_publish,
        name="practice-calendar-publish",
    ),
    path("termine/", v.booking_list, name="practice-bookings"),
    path("termine/<int:booking_id>/absagen/", v.booking_cancel, name="practice-booking-cancel"),
    path("api-schluessel/", v.api_keys, name="practice-api-keys"),
    path("api-schluessel/neu/", v.api_key_issue, name="practice-api-key-issue"),
    path(
        "api-schluessel/<int:key_id>/widerrufen/",
        v.api_key_revoke,
        name="practice-api-key-revoke",
    ),
    path("einstellungen/", v.settings_page, name="practice-settings"),
]
