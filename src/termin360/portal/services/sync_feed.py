"""Reading the change feed for the connector: one page of events after its cursor, and
the long poll's wait for the next event (decision 008).

Waiting: on PostgreSQL **one** connection per process ``LISTEN``s on ``termin360_feed``
(``feed.append_event`` notifies with the practice id at commit) for every long poll the
process holds, and wakes the ones waiting for that practice — so a booking made in any
app process wakes the waiting request at once. After each wake-up the practice's
``feed_seq`` is read again, so a notification that is lost costs nothing but a query.
The listener opens with the first waiting poll and closes with the last. On SQLite (one
machine, one file) the wait reads ``Practice.feed_seq`` every 0.1 s.

A waiting request holds a server thread but no database connection: Django's own is
given back (to the pool, decision 020) while it waits. So that long polls cannot take
every thread of a process, at most ``long_poll_limit()`` wait at once; a poll beyond
that answers at once with what there is (usually nothing) and the connector asks again
after a short pause (``connector.job``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from prometheus_client import Counter, Gauge

from termin360.portal.models import ChangeEvent, Practice
from termin360.portal.services.feed import FEED_CHANNEL
from termin360.protocol import MAX_FEED_WAIT_SECONDS
from termin360.protocol.messages import MAX_FEED_PAGE, BookingEvent, FeedPage

log = logging.getLogger(__name__)

POLL_SECONDS = 0.1
# A waiting poll reads the feed again at least this often, whatever the listener says.
RECHECK_SECONDS = 5.0
CONNECT_TIMEOUT_SECONDS = 5.0
# Without a configured limit (tests, a server that did not set one): this many at once.
DEFAULT_LONG_POLL_LIMIT = 8

# Set when the server shuts down: waiting requests answer at once (an empty page) instead
# of holding the shutdown for up to 25 s.
_shutting_down = threading.Event()

LONG_POLLS_WAITING = Gauge(
    "termin360_portal_sync_long_polls_waiting",
    "Change-feed long polls waiting in this process now.",
)
LONG_POLLS_AT_ONCE = Counter(
    "termin360_portal_sync_long_polls_answered_at_once",
    "Change-feed long polls this process answered at once because as many as its limit "
    "(TERMIN360_LONG_POLL_MAX) were waiting already.",
)


def stop_waiting() -> None:
    """Release every long poll of this process (called when the server stops)."""
    _shutting_down.set()
    _listener.wake_all()


# --------------------------------------------------------------------------- the limit


class _Limit:
    """How many long polls may wait at once in this process (a counter, not a semaphore:
    the limit can be set after requests have begun, e.g. in a forked worker)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.waiting = 0
        self._lock = threading.Lock()

    def enter(self) -> bool:
        with self._lock:
            if self.waiting >= self.limit:
                return False
            self.waiting += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self.waiting -= 1


_limit = _Limit(DEFAULT_LONG_POLL_LIMIT)


def set_long_poll_limit(limit: int) -> None:
    """At most ``limit`` long polls wait at once in this process (``serve``); 0: none
    waits, every poll answers at once."""
    _limit.limit = max(0, limit)


def long_poll_limit() -> int:
    return _limit.limit


def default_long_poll_limit(threads: int) -> int:
    """All threads but a quarter of them (at least 4) may wait in a long poll; the rest
    stay free for pages, bookings and the connector's other calls. Always one thread
    free: with a single thread no poll waits."""
    return min(threads - 1, max(1, threads - max(4, threads // 4)))


# --------------------------------------------------------------------------- the page


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


def _release_connection() -> None:
    """Give Django's connection back while waiting (to the pool, or closed): Django opens
    one again for the next query."""
    if not connection.in_atomic_block:
        connection.close()


# --------------------------------------------------------------------------- the wait


def wait_for_events(*, practice_id: int, after: int, timeout: float) -> bool:
    """Wait until the practice's feed holds an event after ``after``, at most ``timeout``
    seconds; ``True`` if it does. ``False`` at once when this process has as many long
    polls waiting as it allows, or is stopping."""
    timeout = max(0.0, min(timeout, float(MAX_FEED_WAIT_SECONDS)))
    if _shutting_down.is_set():
        return False
    if not _limit.enter():
        LONG_POLLS_AT_ONCE.inc()
        return False
    LONG_POLLS_WAITING.inc()
    try:
        deadline = time.monotonic() + timeout
        if connection.vendor == "postgresql":
            try:
                return _wait_listening(practice_id, after, deadline)
            except Exception as exc:  # the listener is a convenience; polling still works
                log.warning("feed listener failed (%s); polling instead", exc.__class__.__name__)
        return _wait_polling(practice_id, after, deadline)
    finally:
        LONG_POLLS_WAITING.dec()
        _limit.leave()


def _wait_polling(practice_id: int, after: int, deadline: float) -> bool:
    release = connection.vendor != "sqlite"  # a server connection is not held idle
    while True:
        if _feed_seq(practice_id) > after:
            return True
        if release:
            _release_connection()
        remaining = deadline - time.monotonic()
        if remaining <= 0 or _shutting_down.is_set():
            return False
        time.sleep(min(POLL_SECONDS * (5 if release else 1), remaining))


def _wait_listening(practice_id: int, after: int, deadline: float) -> bool:
    while True:
        waiter = _listener.subscribe(practice_id)  # LISTEN is active when it returns
        try:
            while True:
                waiter.event.clear()
                # Read after LISTEN: an event committed before it is seen here, one
                # committed after it is notified — nothing falls between the two.
                if _feed_seq(practice_id) > after:
                    return True
                _release_connection()
                remaining = deadline - time.monotonic()
                if remaining <= 0 or _shutting_down.is_set():
                    return False
                waiter.event.wait(min(remaining, RECHECK_SECONDS))
                if waiter.listener.failed:
                    break  # listen again (a new connection), then read again
        finally:
            _listener.unsubscribe(waiter)


# --------------------------------------------------------------------------- the listener


@dataclass(eq=False)
class _Waiter:
    practice_id: int
    listener: _Listening
    event: threading.Event = field(default_factory=threading.Event)


class _Listening:
    """One LISTEN connection and the thread that reads its notifications."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params
        self.waiters: set[_Waiter] = set()
        self.ready = threading.Event()
        self.failed = False
        self.stopping = False
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._pipe_lock = threading.Lock()
        self._pipe_open = True
        self.thread = threading.Thread(target=self._run, name="feed-listener", daemon=True)

    def wake(self) -> None:
        """Interrupt the thread's wait (it then looks at ``stopping``)."""
        with self._pipe_lock:  # never write to a closed descriptor's number: reused
            if self._pipe_open:
                # full: the thread has wake-ups to read already
                with contextlib.suppress(BlockingIOError):
                    os.write(self._wake_w, b"x")

    def _close_pipe(self) -> None:
        with self._pipe_lock:
            self._pipe_open = False
            os.close(self._wake_r)
            os.close(self._wake_w)

    def _run(self) -> None:
        import psycopg

        try:
            with psycopg.connect(**self.params) as conn:
                conn.execute(f"LISTEN {FEED_CHANNEL}")
                self.ready.set()
                while not self.stopping:
                    readable, _, _ = select.select([conn.fileno(), self._wake_r], [], [], 1.0)
                    if self._wake_r in readable:
                        os.read(self._wake_r, 4096)
                    if conn.fileno() in readable:
                        for note in conn.notifies(timeout=0):
                            _listener.notify(self, note.payload)
        except Exception as exc:
            if not self.stopping:
                log.warning("feed listener ended (%s)", exc.__class__.__name__)
            self.failed = True
        finally:
            self.failed = self.failed or not self.ready.is_set()
            self.ready.set()  # nobody waits for a LISTEN that will not come
            _listener.ended(self)
            self._close_pipe()


class _Listener:
    """The process's feed listener, shared by its long polls."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: _Listening | None = None

    def subscribe(self, practice_id: int) -> _Waiter:
        with self._lock:
            listening = self._current
            if listening is None or listening.failed or listening.stopping:
                params: dict[str, Any] = dict(connection.get_connection_params())
                params["autocommit"] = True
                params.setdefault("connect_timeout", int(CONNECT_TIMEOUT_SECONDS))
                listening = self._current = _Listening(params)
                listening.thread.start()
            waiter = _Waiter(practice_id, listening)
            listening.waiters.add(waiter)
        if not listening.ready.wait(CONNECT_TIMEOUT_SECONDS * 2) or listening.failed:
            self.unsubscribe(waiter)
            raise ConnectionError("the feed listener could not LISTEN")
        return waiter

    def unsubscribe(self, waiter: _Waiter) -> None:
        listening = waiter.listener
        with self._lock:
            listening.waiters.discard(waiter)
            last = not listening.waiters
            if last:
                listening.stopping = True
                if self._current is listening:
                    self._current = None
        if last:
            listening.wake()
            # Closed before the answer goes out: no LISTEN connection outlives its polls.
            if listening.thread is not threading.current_thread():
                listening.thread.join(timeout=2)

    def notify(self, listening: _Listening, payload: str) -> None:
        with self._lock:
            for waiter in listening.waiters:
                if str(waiter.practice_id) == payload:
                    waiter.event.set()

    def ended(self, listening: _Listening) -> None:
        """The listener's connection is gone: its waiters read again and listen anew."""
        with self._lock:
            if self._current is listening:
                self._current = None
            for waiter in listening.waiters:
                waiter.event.set()

    def wake_all(self) -> None:
        with self._lock:
            listening = self._current
            if listening is not None:
                for waiter in listening.waiters:
                    waiter.event.set()


_listener = _Listener()
