"""Reading the change feed for the connector: one page of events after its cursor, and
the long poll's wait for the next event (decision 008).

Waiting: on PostgreSQL a dedicated connection ``LISTEN``s on ``termin360_feed``
(``feed.append_event`` notifies with the practice id at commit), so a booking made in any
app process wakes the waiting request at once; after each wake-up the practice's
``feed_seq`` is read again, so a notification that is lost or meant for another practice
costs nothing but a query. On SQLite (one machine, one file) the wait reads
``Practice.feed_seq`` every 0.1 s. A waiting request holds one server thread and — on
PostgreSQL — only its listening connection: Django's own is closed while it waits.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.db import connection

from termin360.portal.models import ChangeEvent, Practice
from termin360.portal.services.feed import FEED_CHANNEL
from termin360.protocol import MAX_FEED_WAIT_SECONDS
from termin360.protocol.messages import MAX_FEED_PAGE, BookingEvent, FeedPage

log = logging.getLogger(__name__)

POLL_SECONDS = 0.1
# Set when the server shuts down: waiting requests answer at once (an empty page) instead
# of holding the shutdown for up to 25 s.
_shutting_down = threading.Event()


def stop_waiting() -> None:
    """Release every long poll of this process (called when the server stops)."""
    _shutting_down.set()


def feed_page(*, practice_id: int, after: int, limit: int = MAX_FEED_PAGE) -> FeedPage:
    """Events with ``seq > after``, oldest first, at most ``limit``; ``more`` says whether
    the feed holds further events after this page."""
    limit = max(1, min(limit, MAX_FEED_PAGE))
    last_seq = _feed_seq(practice_id)
    rows = list(
        ChangeEvent.objects.filter(practice_id=practice_id, seq__gt=after, seq__lte=last_seq)
        .order_by("seq")
        .values("seq", "kind", "created_at", "payload")[: limit + 1]
    )
    events = [
        BookingEvent.model_validate(
            {"seq": r["seq"], "kind": r["kind"], "at": r["created_at"], "booking": r["payload"]}
        )
        for r in rows[:limit]
    ]
    return FeedPage(events=events, last_seq=last_seq, more=len(rows) > limit)


def connector_read(*, practice_id: int, after: int) -> None:
    """The connector asked for the events after ``after``: it has those up to ``after``.
    Written only when the position moves forward (and never past the feed's end: a
    cursor from another portal is not a position here), so a long poll writes nothing."""
    Practice.objects.filter(pk=practice_id, feed_read_seq__lt=after, feed_seq__gte=after).update(
        feed_read_seq=after
    )


def _feed_seq(practice_id: int) -> int:
    seq = Practice.objects.filter(pk=practice_id).values_list("feed_seq", flat=True).first()
    return int(seq or 0)


def wait_for_events(*, practice_id: int, after: int, timeout: float) -> bool:
    """Wait until the practice's feed holds an event after ``after``, at most ``timeout``
    seconds; ``True`` if it does."""
    timeout = max(0.0, min(timeout, float(MAX_FEED_WAIT_SECONDS)))
    deadline = time.monotonic() + timeout
    if connection.vendor == "postgresql":
        try:
            return _wait_listening(practice_id, after, deadline)
        except Exception as exc:  # the listener is a convenience; polling still works
            log.warning("feed listener failed (%s); polling instead", exc.__class__.__name__)
    return _wait_polling(practice_id, after, deadline)


def _wait_polling(practice_id: int, after: int, deadline: float) -> bool:
    while True:
        if _feed_seq(practice_id) > after:
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0 or _shutting_down.is_set():
            return False
        time.sleep(min(POLL_SECONDS, remaining))


def _wait_listening(practice_id: int, after: int, deadline: float) -> bool:
    import psycopg

    params: dict[str, Any] = dict(connection.get_connection_params())
    params["autocommit"] = True
    params.setdefault("connect_timeout", 5)
    if not connection.in_atomic_block:
        # Django reopens it for the page query after the wait; meanwhile it is not idle-held.
        connection.close()
    table = Practice._meta.db_table
    wanted = str(practice_id)
    with psycopg.connect(**params) as listener:
        listener.execute(f"LISTEN {FEED_CHANNEL}")
        while True:
            # Read after LISTEN: an event committed before it is seen here, one committed
            # after it is notified — nothing falls between the two.
            row = listener.execute(
                f"SELECT feed_seq FROM {table} WHERE id = %s",  # noqa: S608 - our own table
                [practice_id],
            ).fetchone()
            if row is not None and int(row[0]) > after:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0 or _shutting_down.is_set():
                return False
            for note in listener.notifies(timeout=min(remaining, 0.5)):
                if note.payload == wanted:
                    break
