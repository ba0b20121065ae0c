"""German first: pages are German unless the user picked another language.

Django's ``LocaleMiddleware`` follows the browser's ``Accept-Language``; a
receptionist's browser set to English would then get English pages although
German is the product's default (SPEC). For pages, only an explicit choice (the
language switch, stored in a cookie) counts. API clients still choose with
``Accept-Language``, as HTTP intends.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

API_PREFIX = "/api/"


class GermanFirstMiddleware:
    """Runs before ``LocaleMiddleware`` and hides the browser's language from it on pages."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIX):
            request.META.pop("HTTP_ACCEPT_LANGUAGE", None)
        return self.get_response(request)
