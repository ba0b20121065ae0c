"""Response headers Django and django-csp do not set: a ``Permissions-Policy``.

The other security headers come from libraries (decision 016): ``Content-Security-Policy``
from django-csp; ``X-Content-Type-Options``, ``Referrer-Policy`` and
``Cross-Origin-Opener-Policy`` from Django's ``SecurityMiddleware``; ``X-Frame-Options``
from ``XFrameOptionsMiddleware``.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

# No page of either role uses a camera, a microphone, the location, payments or devices;
# a script that slipped in gets none of them either.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "camera",
        "microphone",
        "geolocation",
        "payment",
        "usb",
        "serial",
        "display-capture",
    )
)


class PermissionsPolicyMiddleware:
    """Adds ``Permissions-Policy`` to every response that has none yet."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response
