"""The connector's metrics (see :mod:`termin360.deploy.metrics`), read from the
practice database at scrape time: the outbox (busy times the portal still has to get),
receipts not yet sent, and the time since the last successful sync."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from termin360.connector import selectors
from termin360.connector.models import OutboxEntry, SyncState
from termin360.connector.services.health import connector_configured


class ConnectorCollector(Collector):
    def collect(self) -> Iterable[Metric]:
        now = timezone.now()
        configured = connector_configured()
        yield GaugeMetricFamily(
            "termin360_connector_configured",
            "1 if this practice has a connector set up.",
            value=1 if configured else 0,
        )
        outbox = OutboxEntry.objects.aggregate(n=Count("pk"), first=Min("created_at"))
        yield GaugeMetricFamily(
            "termin360_connector_outbox_entries",
            "(Online calendar, day) pairs whose busy times the portal has not got yet.",
            value=outbox["n"],
        )
        first = outbox["first"]
        yield GaugeMetricFamily(
            "termin360_connector_outbox_oldest_seconds",
            "Age of the oldest outbox entry (0 when the outbox is empty).",
            value=0.0 if first is None else max((now - first).total_seconds(), 0.0),
        )
        yield GaugeMetricFamily(
            "termin360_connector_pending_receipts",
            "Placed online bookings whose delivery receipt has not reached the portal.",
            value=selectors.pending_receipts().count(),
        )
        state = SyncState.objects.filter(pk=1).first()
        if state is not None and state.last_success_at is not None:
            yield GaugeMetricFamily(
                "termin360_connector_last_success_seconds",
                "Seconds since the last successful sync round.",
                value=max((now - state.last_success_at).total_seconds(), 0.0),
            )
