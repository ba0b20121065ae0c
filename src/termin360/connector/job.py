"""The background sync job (``termin360 sync job run``; DURIA: TMEX +J), one process.

Two loops in threads, each with its own portal client and its own database connection:

* the **feed thread** long-polls the portal's change feed after the stored cursor,
  applies each page (the cursor moves in the same transaction, S13) and sends the
  delivery receipts (P6);
* the **relay thread** ticks every 0.25 s: outbox → portal (S8), the practice's
  changes of online bookings (S10), online bookings waiting for a mapping;
* the calling thread keeps the lease (heartbeat), reads the stop request and ends the
  job — never waiting on the portal, whose every call has a deadline anyway.

A job holds ``SyncState.job_pid`` / ``job_heartbeat_at`` as a *lease*: it is taken and
renewed by conditional UPDATEs, so two jobs (two ``practice serve`` on one database, or
``job on`` while one runs) never work at the same time; a job killed hard loses it once
its heartbeat is ``HEARTBEAT_STALE_SECONDS`` old.

Failures are normal: each loop backs off on its own (1, 2, 4 … 60 s, ±20 % jitter),
writes the German reason to ``SyncState.last_error`` and carries on; nothing here ends
the process except the stop event, a stop request or a lost lease. The log holds
counts, codes and exception classes — never patient data.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import socket
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import DatabaseError, connection, connections
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from termin360.connector.models import SyncConfig, SyncState
from termin360.connector.portal_client import PortalError
from termin360.connector.selectors import HEARTBEAT_STALE_SECONDS, job_process_gone, sync_state
from termin360.core.errors import ApplicationError, Conflict
from termin360.protocol import MAX_FEED_WAIT_SECONDS

log = logging.getLogger("termin360.connector.job")

TICK_SECONDS = 0.25
# The heartbeat is written at most this often (the stop request is read every tick):
# well inside HEARTBEAT_STALE_SECONDS, without a write four times a second.
HEARTBEAT_EVERY_SECONDS = 1.0
# A quiet relay records its success this often, so `job status` shows it is alive.
SUCCESS_EVERY_SECONDS = 30.0
# How long the end of the job waits for the relay to finish its step.
STOP_GRACE_SECONDS = 1.0
# An empty feed page that comes back sooner than this although the job asked to wait is
# an answer at once (the portal's long-poll limit, docs/deploy.md): the next poll waits.
EARLY_ANSWER_SECONDS = 0.5
EARLY_ANSWER_PAUSE_SECONDS = 1.0


class JobAlreadyRunning(Conflict):
    code = "sync_job_running"


# --------------------------------------------------------------------------- backoff


class Backoff:
    """1, 2, 4 … ``ceiling`` seconds, each ±``jitter`` (so many practices that lost the
    portal at once do not come back in step); ``reset()`` after a success."""

    def __init__(
        self,
        *,
        base: float = 1.0,
        ceiling: float = 60.0,
        jitter: float = 0.2,
        rng: random.Random | None = None,
    ) -> None:
        self.base, self.ceiling, self.jitter = base, ceiling, jitter
        self.failures = 0
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security

    def next_delay(self) -> float:
        plain = min(self.ceiling, self.base * float(2**self.failures))
        self.failures += 1
        return plain * self._rng.uniform(1 - self.jitter, 1 + self.jitter)

    def reset(self) -> None:
        self.failures = 0


# --------------------------------------------------------------------------- lease


def this_host() -> str:
    return socket.gethostname()[:200]


def take_lease(*, pid: int, host: str, now: datetime | None = None) -> None:
    """Become the running job, or raise ``JobAlreadyRunning`` if another job's heartbeat
    is fresh. One conditional UPDATE: of two jobs starting together exactly one wins."""
    now = now or timezone.now()
    state = sync_state()  # the row exists from here on
    stale_before = now - timedelta(seconds=HEARTBEAT_STALE_SECONDS)
    free = (
        Q(job_pid__isnull=True)
        | Q(job_heartbeat_at__isnull=True)
        | Q(job_heartbeat_at__lt=stale_before)
    )
    if job_process_gone(state):
        # The previous job on this machine was killed: take over at once, but only from
        # exactly that job (another one may have won the race meanwhile).
        free |= Q(job_pid=state.job_pid, job_host=state.job_host)
    taken = SyncState.objects.filter(free, pk=1).update(
        job_pid=pid,
        job_host=host,
        job_started_at=now,
        job_heartbeat_at=now,
        stop_requested=False,
    )
    if taken != 1:
        state = sync_state()
        raise JobAlreadyRunning(
            _("The sync already runs (process %(pid)s on %(host)s).")
            % {"pid": state.job_pid, "host": state.job_host or "?"}
        )


def renew_lease(*, pid: int, host: str, now: datetime | None = None) -> bool:
    """Write the heartbeat; False if the lease is no longer ours (taken over after our
    heartbeat went stale, e.g. the machine slept) — then this job must stop."""
    updated = SyncState.objects.filter(pk=1, job_pid=pid, job_host=host).update(
        job_heartbeat_at=now or timezone.now()
    )
    return updated == 1


def stop_requested() -> bool:
    return bool(SyncState.objects.filter(pk=1, stop_requested=True).exists())


def release_lease(*, pid: int, host: str) -> None:
    """Give the lease up. A ``job stop`` request stays recorded: it tells the supervisor in
    ``practice serve`` not to start the next job; the next job to start clears it."""
    SyncState.objects.filter(pk=1, job_pid=pid, job_host=host).update(
        job_pid=None, job_heartbeat_at=None
    )


def set_autostart(on: bool) -> None:
    """TMEX +J / -J: whether ``practice serve`` starts the job. Does not touch a running job."""
    sync_state()
    SyncState.objects.filter(pk=1).update(autostart=on)


def request_stop() -> None:
    """``job stop``: the running job sees this within a tick and exits."""
    sync_state()
    SyncState.objects.filter(pk=1).update(stop_requested=True)


def config_version() -> datetime | None:
    """Changes whenever ``sync config`` saves: the loops then build new clients."""
    return SyncConfig.objects.filter(pk=1).values_list("updated_at", flat=True).first()


# --------------------------------------------------------------------------- steps


@dataclass
class JobSteps:
    """What the job does, as callables: the connector's services by default
    (``default_steps``); a test may swap one to make it fail."""

    make_client: Callable[[], Any]
    refresh_names: Callable[[Any], Any]
    apply_page: Callable[[Any, int], Any]
    send_receipts: Callable[[Any], int]
    relay_once: Callable[[Any], int]
    send_practice_changes: Callable[[Any], int]
    place_unplaced: Callable[[], int]
    record_success: Callable[[], None]
    record_error: Callable[[str], None]


def default_steps() -> JobSteps:
    from termin360.connector.services import (
        config,
        consumer,
        outbox,
        practice_changes,
        receipts,
        rounds,
        state,
    )

    return JobSteps(
        make_client=config.client_from_config,
        refresh_names=rounds.refresh_names,
        apply_page=consumer.apply_page,
        send_receipts=receipts.send_receipts,
        relay_once=outbox.relay_once,
        send_practice_changes=practice_changes.send_practice_changes,
        place_unplaced=consumer.place_unplaced,
        record_success=state.record_success,
        record_error=state.record_error,
    )


def describe(exc: BaseException) -> str:
    """The reason stored in ``last_error`` (German for users; no patient data)."""
    if isinstance(exc, PortalError | ApplicationError):
        return str(exc.message)[:500]
    if isinstance(exc, DatabaseError):
        return f"Datenbankfehler ({type(exc).__name__}); neuer Versuch folgt."
    return f"Interner Fehler ({type(exc).__name__}); Einzelheiten im Protokoll des Abgleichs."


class _Loop:
    """What both loops share: a client that follows the configuration, and what to do
    after a failure (record it, back off, drop a broken connection and client)."""

    def __init__(self, name: str, steps: JobSteps, stop: threading.Event) -> None:
        self.name, self.steps, self.stop = name, steps, stop
        self.backoff = Backoff()
        self._client: Any = None
        self._version: datetime | None = None
        self.failing = False

    def client(self) -> Any:
        version = config_version()
        if self._client is None or version != self._version:
            self.drop_client()
            self._client = self.steps.make_client()
            self._version = version
        return self._client

    def drop_client(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):  # closing a broken client must not fail
                self._client.close()
        self._client = None

    def failed(self, exc: BaseException) -> float:
        """Record the failure and return how long to wait before the next attempt."""
        self.failing = True
        code = getattr(exc, "code", "")
        if isinstance(exc, PortalError | ApplicationError | DatabaseError):
            log.warning("sync %s: %s %s", self.name, type(exc).__name__, code)
        else:
            # Frames only: an exception's message might quote data.
            frames = "".join(traceback.format_tb(exc.__traceback__))
            log.error("sync %s: unexpected %s\n%s", self.name, type(exc).__name__, frames)
        if isinstance(exc, DatabaseError):
            connection.close()  # reopened on next use
        if isinstance(exc, PortalError):
            self.drop_client()
        try:
            self.steps.record_error(describe(exc))
        except Exception:  # the database itself may be the problem
            connection.close()
        return self.backoff.next_delay()

    def succeeded(self) -> None:
        self.backoff.reset()
        self.failing = False
        self.steps.record_success()


# --------------------------------------------------------------------------- the loops


def _feed_loop(steps: JobSteps, stop: threading.Event, wait: float) -> None:
    loop = _Loop("feed", steps, stop)
    names_known = False
    first = True
    try:
        while not stop.is_set():
            try:
                client = loop.client()
                if not names_known:
                    steps.refresh_names(client)  # S1: names shown by `sync config`
                    names_known = True
                after = sync_state().cursor
                asked = time.monotonic()
                page = client.events(after=after, wait=wait)
                answered_at_once = time.monotonic() - asked < EARLY_ANSWER_SECONDS
                if stop.is_set():
                    break  # the relay loop may already have released the lease
                if page.events or page.last_seq < after:
                    steps.apply_page(page, after)
                    log.info("sync feed: %d event(s) applied", len(page.events))
                steps.send_receipts(client)
                if page.events or loop.failing or first:
                    loop.succeeded()
                    first = False
                if wait > EARLY_ANSWER_SECONDS and answered_at_once and not page.events:
                    # Nothing new, yet no wait either: the portal process has as many long
                    # polls waiting as it allows, or is stopping. Asking again at once
                    # would spin; a moment later a waiting place is likely free.
                    stop.wait(EARLY_ANSWER_PAUSE_SECONDS)
            except Exception as exc:  # the job never crashes
                stop.wait(loop.failed(exc))
    finally:
        loop.drop_client()
        connections.close_all()


def _relay_loop(steps: JobSteps, stop: threading.Event, tick: float) -> None:
    loop = _Loop("relay", steps, stop)
    last_success = float("-inf")  # the first good round shows in `job status` at once
    next_relay = 0.0
    try:
        while not stop.is_set():
            now = time.monotonic()
            if now >= next_relay:
                try:
                    client = loop.client()
                    done = steps.relay_once(client)
                    done += steps.send_practice_changes(client)
                    done += steps.place_unplaced()
                    if done:
                        log.info("sync relay: %d change(s)", done)
                    if done or loop.failing or now - last_success >= SUCCESS_EVERY_SECONDS:
                        loop.succeeded()
                        last_success = now
                except Exception as exc:  # the job never crashes
                    next_relay = time.monotonic() + loop.failed(exc)
            stop.wait(tick)
    finally:
        loop.drop_client()
        connections.close_all()


def run_job(
    stop: threading.Event,
    *,
    steps: JobSteps | None = None,
    feed_wait: float = MAX_FEED_WAIT_SECONDS,
    tick: float = TICK_SECONDS,
    parent_pid: int | None = None,
    on_started: Callable[[], None] | None = None,
) -> None:
    """Run until ``stop`` is set, a stop is requested (``job stop``), the lease is lost,
    or ``parent_pid`` (the ``practice serve`` that started us) is gone.

    The calling thread only keeps the lease (heartbeat) and watches for the end; the
    feed and the relay each run in a daemon thread, so a call to the portal that takes
    up to its deadline never delays the heartbeat or the end: on ``stop`` the loops get
    a moment to finish their step, then they are abandoned (whatever they had not
    committed rolls back with the process; S13).

    Raises ``JobAlreadyRunning`` before doing anything if another job holds the lease."""
    steps = steps or default_steps()
    pid, host = os.getpid(), this_host()
    take_lease(pid=pid, host=host)
    log.info("sync job started (pid %d)", pid)
    threads = [
        threading.Thread(
            target=_feed_loop, args=(steps, stop, feed_wait), name="sync-feed", daemon=True
        ),
        threading.Thread(
            target=_relay_loop, args=(steps, stop, tick), name="sync-relay", daemon=True
        ),
    ]
    last_beat = time.monotonic()
    try:
        for thread in threads:
            thread.start()
        if on_started is not None:
            on_started()
        while not stop.is_set():
            now = time.monotonic()
            try:
                if now - last_beat >= HEARTBEAT_EVERY_SECONDS:
                    if not renew_lease(pid=pid, host=host):
                        log.warning("sync job: lease lost, stopping")
                        break
                    last_beat = now
                if stop_requested():
                    log.info("sync job: stop requested")
                    break
            except DatabaseError:
                connection.close()  # no backoff for the heartbeat: it is cheap and vital
            if parent_pid is not None and os.getppid() != parent_pid:
                log.warning("sync job: parent process gone, stopping")
                break
            stop.wait(tick)
    finally:
        stop.set()
        # The relay finishes its tick unless it waits on the portal; the feed thread may
        # sit in its long poll: neither holds the end up for longer than this.
        if threads[1].is_alive():
            threads[1].join(timeout=STOP_GRACE_SECONDS)
        try:
            release_lease(pid=pid, host=host)
        except DatabaseError:
            connection.close()
            try:
                release_lease(pid=pid, host=host)
            except DatabaseError:
                log.error("sync job: could not release the lease; it goes stale")
        log.info("sync job stopped (pid %d)", pid)
