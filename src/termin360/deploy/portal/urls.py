from django.http import HttpRequest, JsonResponse
from django.urls import include, path, re_path
from django.utils.translation import gettext as _

from termin360.portal.api import api
from termin360.portal.api.sync import sync_api


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok", "role": "portal"})


def api_not_found(request: HttpRequest, rest: str = "") -> JsonResponse:
    return JsonResponse(
        {"code": "not_found", "detail": _("There is no such API path.")}, status=404
    )


urlpatterns = [
    path("health", health),
    path("api/v1/sync/", sync_api.urls),
    path("api/v1/", api.urls),
    re_path(r"^api/(?P<rest>.*)$", api_not_found),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("termin360.portal.urls")),
]
