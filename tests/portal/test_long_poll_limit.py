"""The long poll's share of a process (issue 13): at most ``long_poll_limit()`` polls wait
at once — one more answers at once — and the waiting ones hold no database connection,
only one shared LISTEN on PostgreSQL."""

from __future__ import annotations

import threading
import time as clock
from collections.abc import Iterator
from datetime import time

import pytest
from django.db import connection
from prometheus_client import REGISTRY

from termin360.portal.services import sync_feed
from tests.portal.conftest import World, build_world
from tests.portal.sync_support import book


@pytest.fixture
def limit_of_two() -> Iterator[None]:
    before = sync_feed.long_poll_limit()
    sync_feed.set_long_poll_limit(2)
    yield
    sync_feed.set_long_poll_limit(before)


def _waiters(world: World, count: int, seconds: float) -> tuple[list[threading.Thread], list[bool]]:
    woke: list[bool] = []

    def wait() -> None:
        try:
            woke.append(
                sync_feed.wait_for_events(practice_id=world.practice.pk, after=0, timeout=seconds)
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=wait) for _ in range(count)]
    for thread in threads:
        thread.start()
    deadline = clock.monotonic() + 5
    while sync_feed._limit.waiting < count and clock.monotonic() < deadline:
        clock.sleep(0.02)
    assert sync_feed._limit.waiting == count
    return threads, woke


def _answered_at_once() -> float:
    value = REGISTRY.get_sample_value("termin360_portal_sync_long_polls_answered_at_once_total")
    return float(value or 0)


def test_default_limit_leaves_a_quarter_of_the_threads_free() -> None:
    assert [sync_feed.default_long_poll_limit(t) for t in (1, 2, 4, 8, 16, 32, 64)] == [
        0, 1, 1, 4, 12, 24, 48,
    ]  # fmt: skip


def test_a_poll_beyond_the_limit_answers_at_once(
    transactional_db: None, limit_of_two: None
) -> None:
    world = build_world()
    threads, woke = _waiters(world, 2, seconds=10)
    at_once = _answered_at_once()
    started = clock.monotonic()
    assert not sync_feed.wait_for_events(practice_id=world.practice.pk, after=0, timeout=10)
    assert clock.monotonic() - started < 0.5
    assert _answered_at_once() == at_once + 1
    book(world, time(9))
    for thread in threads:
        thread.join(timeout=10)
    assert woke == [True, True]
    assert sync_feed._limit.waiting == 0
    # room again: a poll waits (and times out) instead of answering at once
    started = clock.monotonic()
    assert not sync_feed.wait_for_events(practice_id=world.practice.pk, after=1, timeout=0.5)
    assert clock.monotonic() - started >= 0.45


@pytest.mark.postgres_only
def test_waiting_polls_share_one_listen_and_hold_no_connection(
    transactional_db: None, limit_of_two: None
) -> None:
    """Two polls waiting: the database sees one LISTEN connection and no other from the
    waiting threads; when they have answered, none."""

    def backends() -> list[str]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT query FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
            )
            return [str(row[0]) for row in cursor.fetchall()]

    world = build_world()
    before = backends()
    threads, woke = _waiters(world, 2, seconds=10)
    clock.sleep(0.3)  # each has read the feed once and given its connection back
    during = backends()
    assert [q for q in during if q.startswith("LISTEN")] == ["LISTEN termin360_feed"]
    assert len(during) == len(before) + 1, (before, during)
    book(world, time(9))
    for thread in threads:
        thread.join(timeout=10)
    assert woke == [True, True]
    deadline = clock.monotonic() + 3  # the server ends a closed backend a moment later
    while [q for q in backends() if q.startswith("LISTEN")] and clock.monotonic() < deadline:
        clock.sleep(0.05)
    assert not [q for q in backends() if q.startswith("LISTEN")]
