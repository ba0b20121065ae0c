"""Prometheus metrics: the request latency of this process, and what the role's
collectors read from the database at scrape time, on ``/metrics``.

The endpoint exists only when ``TERMIN360_METRICS_TOKEN`` is set (otherwise 404) and
answers only a request with ``Authorization: Bearer <token>`` (compared in constant
time). Counters and the latency histogram count what *this* process served since it
started; values read from the database (queue sizes, ages) are the same whichever
process is scraped. Labels hold route patterns (``calendars/<int:number>/…``), never a
path with ids, and no patient data.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable, Iterable, Sequence

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import REGISTRY, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

# Up to a minute: the connector's long poll of the change feed waits up to 25 s.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
KNOWN_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

REQUEST_LATENCY = Histogram(
    "termin360_http_request_duration_seconds",
    "Time from request to response in this process, by route pattern and status class.",
    ["role", "method", "route", "status"],
    buckets=LATENCY_BUCKETS,
)


def route_of(request: HttpRequest) -> str:
    """The URL pattern that answered, as a path (``/api/v1/bookings/<booking_id>``, ``/``
    for the start page), the view's name for a regular expression, or ``unmatched`` — a
    404 before any view, whose path is whatever the client sent and so no label."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    route = match.route
    if route is None or "^" in route:  # a regular expression: the view names it better
        return str(match.view_name or "unmatched")
    return "/" + str(route)


class RequestMetricsMiddleware:
    """Times every request; first in ``MIDDLEWARE`` so the time covers the others."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.role = str(getattr(settings, "ROLE", ""))

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        method = request.method if request.method in KNOWN_METHODS else "other"
        REQUEST_LATENCY.labels(
            role=self.role,
            method=method,
            route=route_of(request),
            status=f"{response.status_code // 100}xx",
        ).observe(time.perf_counter() - started)
        return response


class _Scrape:
    """This process's registry and the role's database collectors, read as one. A
    collector whose database read fails leaves out its families and sets
    ``termin360_database_metrics_up`` to 0, so a scrape still shows the latency."""

    def __init__(self, collectors: Sequence[Collector]) -> None:
        self.collectors = collectors

    def collect(self) -> Iterable[Metric]:
        yield from REGISTRY.collect()
        up = 1
        for collector in self.collectors:
            try:
                families = list(collector.collect())
            except Exception as exc:
                log.warning("metrics collector failed: %s", type(exc).__name__)
                up = 0
                continue
            yield from families
        yield GaugeMetricFamily(
            "termin360_database_metrics_up",
            "1 if the values read from the database at this scrape are complete.",
            value=up,
        )


def _authorised(request: HttpRequest, token: str) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


def metrics_view(collectors: Sequence[Collector]) -> Callable[[HttpRequest], HttpResponse]:
    """The ``/metrics`` view with the role's database collectors."""
    scrape = _Scrape(collectors)

    @never_cache
    @require_safe
    def metrics(request: HttpRequest) -> HttpResponse:
        token = str(getattr(settings, "METRICS_TOKEN", ""))
        if not token:
            raise Http404("metrics are switched off")
        if not _authorised(request, token):
            response = HttpResponse("unauthorised\n", status=401, content_type="text/plain")
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
        return HttpResponse(generate_latest(scrape), content_type=CONTENT_TYPE_LATEST)

    return metrics
