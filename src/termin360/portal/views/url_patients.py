"""Patients' pages: search, doctor page, booking, my bookings (P2, P4)."""

from django.urls import path

from termin360.portal.views import patients

urlpatterns = [
    path("", patients.search, name="search"),
    path("arzt/<int:calendar_id>/", patients.doctor, name="doctor"),
    path("buchen/<int:calendar_id>/", patients.book, name="book"),
    path("meine-termine/", patients.my_bookings, name="my-bookings"),
    path(
        "meine-termine/<int:booking_id>/stornieren/",
        patients.cancel,
        name="cancel-booking",
    ),
]
