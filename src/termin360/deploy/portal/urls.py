from django.http import HttpRequest, JsonResponse
from django.urls import include, path, re_path
from django.utils.translation import gettext as _

from termin360.deploy import health, metrics
from termin360.portal.admin import backoffice
from termin360.portal.api import api
from termin360.portal.api.sync import sync_api
from termin360.portal.services import health as portal_health
from termin360.portal.services.metrics import PortalCollector


def api_not_found(request: HttpRequest, rest: str = "") -> JsonResponse:
    return JsonResponse(
        {"code": "not_found", "detail": _("There is no such API path.")}, status=404
    )


urlpatterns = [
    # liveness (also /health, as before), readiness, metrics: docs/operations.md
    path("health", health.live),
    path("health/live", health.live),
    path("health/ready", health.ready_view(portal_health.READY_CHECKS)),
    path("metrics", metrics.metrics_view([PortalCollector()])),
    path("api/v1/sync/", sync_api.urls),
    path("api/v1/", api.urls),
    re_path(r"^api/(?P<rest>.*)$", api_not_found),
    path("i18n/", include("django.conf.urls.i18n")),
    path("backoffice/", backoffice.urls),
    path("", include("termin360.portal.urls")),
]
