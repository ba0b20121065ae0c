from django.http import HttpRequest, JsonResponse
from django.urls import include, path, re_path
from django.utils.translation import gettext as _

from termin360.connector.services import health as connector_health
from termin360.connector.services.metrics import ConnectorCollector
from termin360.deploy import health, metrics
from termin360.practice.api import api


def api_not_found(request: HttpRequest, rest: str = "") -> JsonResponse:
    """Unknown paths under /api/ answer in JSON like the API itself, not with an HTML page."""
    return JsonResponse(
        {"code": "not_found", "detail": _("There is no such API path.")}, status=404
    )


urlpatterns = [
    # liveness (/health is the practice app's own), readiness, metrics: docs/operations.md
    path("health/live", health.live),
    path("health/ready", health.ready_view(connector_health.READY_CHECKS)),
    path("metrics", metrics.metrics_view([ConnectorCollector()])),
    path("api/v1/", api.urls),
    re_path(r"^api/(?P<rest>.*)$", api_not_found),
    path("i18n/", include("django.conf.urls.i18n")),
    path("sync/", include("termin360.connector.urls")),
    path("", include("termin360.practice.urls")),
]
