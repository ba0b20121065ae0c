"""A deadline on every call to the portal, end to end (decision 010): between the
connector and the real portal a TCP proxy (``faultproxy``) goes silent or drips, and
``sync now``, the job and the practice server each end their call by its deadline with a
clear error, keep going when the portal comes back, and stop at once on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import Portal, Sync, wait_until, weekday
from tests.e2e.faultproxy import FaultProxy, fault_proxy

# The bound for `sync now` against a portal that does not answer properly.
SYNC_NOW_BOUND = 45.0


@pytest.fixture
def proxy(portal: Portal) -> Iterator[FaultProxy]:
    port = urlsplit(portal.url).port
    assert port is not None
    with fault_proxy(port) as p:
        yield p


def sync_now(s: Sync) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.monotonic()
    done = s.cli("now", check=False)
    return time.monotonic() - start, done


def status(s: Sync) -> dict[str, Any]:
    return dict(s.cli_json("job", "status"))


@pytest.mark.parametrize("fault", ["silent", "drip"])
def test_sync_now_against_a_portal_that_hangs_or_drips_ends_with_one_clear_line(
    make_sync: Any, proxy: FaultProxy, fault: str
) -> None:
    s: Sync = make_sync(configure=False, server=False, job=False)
    s.configure(url=proxy.url)
    proxy.set_mode(fault, interval=3.0)
    took, done = sync_now(s)
    assert took < SYNC_NOW_BOUND, took
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith("Abgleich fehlgeschlagen:"), lines
    # A portal that keeps silent: no answer in time. One that drips its bytes (here the
    # TLS handshake): the connection is never set up in time.
    assert "antwortet nicht rechtzeitig" in lines[0] or "Verbindungsaufbau" in lines[0], lines
    # `job status --json` (for monitoring) and the practice UI show the same reason.
    assert status(s)["last_error"] in lines[0]
    proxy.set_mode("pass")
    took, done = sync_now(s)
    assert done.returncode == 0, done.stderr


def test_the_job_reports_a_silent_portal_within_its_deadline_and_goes_on_when_it_is_back(
    make_sync: Any, proxy: FaultProxy
) -> None:
    s: Sync = make_sync(configure=False, server=False, job=False)
    s.configure(url=proxy.url)
    s.start_server()
    s.start_job()
    monday = weekday(s.p, 0)
    booked = s.book_online(monday, "09:00")
    s.wait_placed(booked["id"])
    job_pid = s.state().job_pid

    proxy.set_mode("silent")
    started = time.monotonic()
    # The practice books while the portal keeps silent: the S9 claim gives up after the
    # check timeout and the appointment is saved (the offline fallback) …
    r = s.book_in_practice(1, monday, "10:00")
    assert r.status_code == 201, r.text
    assert time.monotonic() - started < 1.5 + 2.0

    # … and the job's next call, the busy state, ends by its deadline with the error: on
    # a new connection the TLS handshake gets no answer, on a kept one the request.
    def reported() -> str:
        error = str(status(s)["last_error"] or "")
        timed_out = "Verbindungsaufbau" in error or "PUT /busy" in error
        return error if "Portal" in error and timed_out else ""

    wait_until(reported, "the job reports the silent portal", timeout=20 + 10)
    assert time.monotonic() - started < 20 + 10
    assert s.state().job_pid == job_pid  # the same job, still running

    proxy.set_mode("pass")
    s.wait_free(monday, {"10:00"}, free=False)  # the busy state got through
    again = s.book_online(monday, "11:00")
    s.wait_placed(again["id"])
    assert s.state().job_pid == job_pid


def test_sigterm_ends_the_job_at_once_while_its_call_to_the_portal_hangs(
    make_sync: Any, proxy: FaultProxy
) -> None:
    from termin360.connector.models import Mapping
    from termin360.connector.services.outbox import bump_outbox

    s: Sync = make_sync(configure=False, server=False, job=False)
    s.configure(url=proxy.url)
    s.start_job()
    proxy.set_mode("silent")
    time.sleep(0.5)
    bump_outbox(Mapping.objects.order_by("pk").first(), [weekday(s.p, 0)])  # work to send
    wait_until(lambda: proxy.connections >= 2, "the relay is waiting on the portal")
    time.sleep(1.0)
    job = s.job
    assert job is not None and job.poll() is None
    start = time.monotonic()
    job.send_signal(signal.SIGTERM)
    job.wait(timeout=15)
    assert time.monotonic() - start < 3.0, time.monotonic() - start
    s.job = None
    assert s.state().job_pid is None  # the lease was given back


def test_practice_serve_answers_a_booking_by_the_check_timeout_while_the_portal_hangs(
    make_sync: Any, proxy: FaultProxy
) -> None:
    """Every staff action in a mapped column waits at most the check timeout (S9)."""
    s: Sync = make_sync(configure=False, server=False, job=False)
    s.configure(url=proxy.url)
    s.cli("config", "--check-timeout", "0.5")
    s.start_server()
    proxy.set_mode("drip", interval=0.2)
    took = []
    for clock in ("08:00", "08:15", "08:30"):
        start = time.monotonic()
        assert s.book_in_practice(1, weekday(s.p, 1), clock).status_code == 201
        took.append(time.monotonic() - start)
    assert max(took) < 0.5 + 1.0, took
    assert "übersprungen" in s.state().last_error
