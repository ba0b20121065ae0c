"""Patients' pages: search, doctor page, booking, my bookings, rescheduling, waiting list
(P2, P4, P8, P9)."""

from django.urls import path

from termin360.portal.views import patients, reschedule, waitlist

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
    path(
        "meine-termine/<int:booking_id>/verschieben/",
        reschedule.reschedule_booking,
        name="reschedule",
    ),
    path("warteliste/", waitlist.my_waitlist, name="waitlist"),
    path("warteliste/eintragen/", waitlist.join, name="waitlist-join"),
    path("warteliste/angebot/<str:token>/", waitlist.offer, name="waitlist-offer"),
]
