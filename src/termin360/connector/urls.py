"""The connector's pages in the practice web UI, mounted at ``/sync/``."""

from django.urls import path

from termin360.connector import views

app_name = "connector"

urlpatterns = [
    path("", views.status_page, name="status"),
    path("now/", views.sync_now, name="sync_now"),
    path("settings/", views.settings_page, name="settings"),
    path("bookings/", views.bookings_page, name="bookings"),
    path("bookings/<int:booking_id>/", views.booking_page, name="booking"),
]
