"""The staff login page, with the lock-out of ``services.login_limits``."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.utils import formats, timezone
from django.utils.translation import ngettext

from termin360.practice.services import login_limits


def client_ip(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR", ""))


def lock_message(lock: login_limits.Lock) -> str:
    minutes = max(1, -(-lock.seconds_left() // 60))
    return ngettext(
        "Too many failed attempts. For your protection, logging in is blocked for "
        "%(minutes)s more minute (until %(time)s).",
        "Too many failed attempts. For your protection, logging in is blocked for "
        "%(minutes)s more minutes (until %(time)s).",
        minutes,
    ) % {
        "minutes": minutes,
        "time": formats.time_format(timezone.localtime(lock.until), "TIME_FORMAT"),
    }


class StaffLoginView(auth_views.LoginView):
    """Django's login page; while the user name or the client IP is locked the password
    is not even checked (the right one does not get in either)."""

    template_name = "practice/login.html"
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        username = str(request.POST.get("username", ""))
        lock = login_limits.login_lock(username=username, ip=client_ip(request))
        if lock is not None:
            # unbound: a bound form would check the password as soon as the page asks
            # for its errors
            form = self.get_form_class()(request, initial={"username": username})
            context = self.get_context_data(form=form, lock_message=lock_message(lock))
            response = self.render_to_response(context, status=429)
            response["Retry-After"] = str(lock.seconds_left())
            return response
        return super().post(request, *args, **kwargs)

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        login_limits.login_succeeded(username=str(form.cleaned_data["username"]))
        return super().form_valid(form)

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        username = str(form.data.get("username", ""))
        if username and form.data.get("password"):  # a real try, not an empty form
            login_limits.login_failed(username=username, ip=client_ip(self.request))
        return super().form_invalid(form)
