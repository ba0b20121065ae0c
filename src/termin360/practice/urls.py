from datetime import date

from django.contrib.auth import views as auth_views
from django.urls import path, register_converter

from termin360.practice import views
from termin360.practice.login import StaffLoginView

FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2199, 12, 31)


class IsoDateConverter:
    """``2026-03-30`` in a path, as a ``date`` (anything else is a 404)."""

    regex = r"\d{4}-\d{2}-\d{2}"

    def to_python(self, value: str) -> date:
        day = date.fromisoformat(value)
        # the days a calendar can hold (as the API); beyond, "the next day" would overflow
        if not FIRST_DAY <= day <= LAST_DAY:
            raise ValueError(value)
        return day

    def to_url(self, value: date | str) -> str:
        return value.isoformat() if isinstance(value, date) else value


register_converter(IsoDateConverter, "isodate")

app_name = "practice"

urlpatterns = [
    path("login/", StaffLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.home, name="home"),
    path("calendars/", views.go, name="go"),
    path("calendars/<int:number>/<isodate:day>/", views.day_page, name="day"),
    path("calendars/<int:number>/week/<isodate:day>/", views.week_page, name="week"),
    path("health", views.health, name="health"),
]
