"""The portal's metrics (see :mod:`termin360.deploy.metrics`).

Bookings made and refused are counted in the process that handled them (per process,
since it started). The mail queue, the bookings by status and the sync's backlog are
read from the database at scrape time, so they are right whichever process is asked.
No label holds patient data: refusal codes are the stable machine codes of
:mod:`termin360.core.errors`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import ParamSpec, TypeVar

from django.db.models import Case, Count, F, Max, Min, Value, When
from django.utils import timezone
from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from termin360.core.errors import ApplicationError
from termin360.portal.models import ApiKey, Booking, OutgoingEmail, Practice

P = ParamSpec("P")
T = TypeVar("T")

BOOKINGS_MADE = Counter(
    "termin360_portal_bookings_made", "Online bookings made through this process."
)
BOOKING_REFUSALS = Counter(
    "termin360_portal_booking_refusals",
    "Booking attempts refused in this process, by refusal code (slot_taken, not_bookable, …).",
    ["code"],
)


def counted_booking(book: Callable[P, T]) -> Callable[P, T]:
    """Count each call of ``book`` as made, or as refused with its error's code."""

    @functools.wraps(book)
    def counted(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            booking = book(*args, **kwargs)
        except ApplicationError as exc:
            BOOKING_REFUSALS.labels(code=exc.code).inc()
            raise
        BOOKINGS_MADE.inc()
        return booking

    return counted


def _age(now: datetime, instant: datetime | None) -> float | None:
    return None if instant is None else max((now - instant).total_seconds(), 0.0)


class PortalCollector(Collector):
    """Database gauges, read at each scrape."""

    def collect(self) -> Iterable[Metric]:
        now = timezone.now()
        yield from self._mail(now)
        yield from self._bookings()
        yield from self._sync(now)

    def _mail(self, now: datetime) -> Iterable[Metric]:
        # Imported here: the worker imports the services that import this module.
        from termin360.portal.worker import MAX_ATTEMPTS

        size = GaugeMetricFamily(
            "termin360_portal_mail_queue",
            "Unsent mails by status: queued (not tried yet), retrying, failed (given up).",
            labels=["status"],
        )
        oldest = GaugeMetricFamily(
            "termin360_portal_mail_queue_oldest_seconds",
            "Age of the oldest unsent mail by status (0 when there is none).",
            labels=["status"],
        )
        rows = (
            OutgoingEmail.objects.filter(sent_at__isnull=True)
            .annotate(
                state=Case(
                    When(attempts=0, then=Value("queued")),
                    When(attempts__lt=MAX_ATTEMPTS, then=Value("retrying")),
                    default=Value("failed"),
                )
            )
            .values("state")
            .annotate(n=Count("pk"), first=Min("created_at"))
        )
        found = {row["state"]: row for row in rows}
        for status in ("queued", "retrying", "failed"):
            row = found.get(status)
            size.add_metric([status], row["n"] if row else 0)
            oldest.add_metric([status], (_age(now, row["first"]) or 0.0) if row else 0.0)
        yield size
        yield oldest

    def _bookings(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(
            "termin360_portal_bookings", "Bookings in the database by status.", labels=["status"]
        )
        counts = dict(Booking.objects.values_list("status").annotate(n=Count("pk")))
        for status in Booking.Status.values:
            family.add_metric([status], counts.get(status, 0))
        yield family

    def _sync(self, now: datetime) -> Iterable[Metric]:
        # A booking the practice's calendar has not confirmed (P6) is what a lagging sync
        # leaves behind; the feed lag says how far a connector is behind in reading.
        with_connector = ApiKey.objects.filter(revoked_at__isnull=True).values("practice_id")
        lag = (
            Practice.objects.filter(pk__in=with_connector)
            .annotate(lag=F("feed_seq") - F("feed_read_seq"))
            .aggregate(worst=Max("lag"))["worst"]
        )
        yield GaugeMetricFamily(
            "termin360_portal_sync_feed_lag_events",
            "The most feed events any connected practice has not read yet.",
            value=max(0, lag or 0),
        )
        waiting = Booking.objects.filter(
            status=Booking.Status.ACTIVE,
            delivered_at__isnull=True,
            end__gt=now,
            calendar__doctor__practice_id__in=with_connector,
        ).aggregate(n=Count("pk"), first=Min("created_at"))
        yield GaugeMetricFamily(
            "termin360_portal_sync_undelivered_bookings",
            "Active future bookings of practices with a connector not yet in their calendar.",
            value=waiting["n"],
        )
        yield GaugeMetricFamily(
            "termin360_portal_sync_undelivered_oldest_seconds",
            "Age of the oldest of those bookings (0 when there is none).",
            value=_age(now, waiting["first"]) or 0.0,
        )
        keys = ApiKey.objects.filter(revoked_at__isnull=True).aggregate(
            n=Count("pk"), latest=Max("last_used_at")
        )
        yield GaugeMetricFamily(
            "termin360_portal_sync_active_keys", "Connector keys not revoked.", value=keys["n"]
        )
        last = _age(now, keys["latest"])
        if last is not None:
            yield GaugeMetricFamily(
                "termin360_portal_sync_last_contact_seconds",
                "Seconds since any connector last called the sync API (to a minute).",
                value=last,
            )
