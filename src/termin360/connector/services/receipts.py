"""Delivery receipts (P6): tell the portal which bookings reached the practice calendar,
so the patient's booking shows "delivered" and the undelivered alert stays quiet."""

from __future__ import annotations

from typing import cast

from django.utils import timezone

from termin360.connector.models import OnlineBooking
from termin360.connector.portal_client import PortalApi, new_idempotency_key
from termin360.connector.selectors import pending_receipts
from termin360.protocol.messages import MAX_FEED_PAGE, Placement, Receipt, Receipts


def send_receipts(client: PortalApi) -> int:
    """Send every pending receipt (in batches); returns how many were sent. A receipt is
    marked sent only after the portal took it; sending one twice is harmless."""
    sent = 0
    while True:
        batch = list(pending_receipts().order_by("id")[:MAX_FEED_PAGE])
        if not batch:
            return sent
        body = Receipts(
            receipts=[
                Receipt(booking_id=ob.booking_id, placement=cast(Placement, ob.placement))
                for ob in batch
            ]
        )
        client.receipts(body, new_idempotency_key())
        OnlineBooking.objects.filter(pk__in=[ob.pk for ob in batch]).update(
            receipt_sent_at=timezone.now()
        )
        sent += len(batch)
