"""Benchmark of live day views (C8, decision 014): the practice API with no views open and
with 30 open views polling, against a real ``termin360 practice serve`` (default threads).

    python -m benchmarks.live_views [--backend sqlite|postgres] [--runs 200] [--views 30]

Loads the demo practice into a fresh database (as ``benchmarks.practice_calendar``) and
measures the same API operations over HTTP with a staff token — first with no view open,
then while a separate process keeps ``--views`` day views open. Each simulated view does
exactly what the page script does: logged in with a session cookie, it asks
``GET /api/v1/calendars/N/version`` one second after its previous answer, and when the
number changed it fetches its page again. The views look at different days of the three
calendars; the first one shows the day the API benchmark writes to, so it re-fetches its
page about once a second. Prints median, p95 and min–max per operation for both, and the
ratio of the medians (target ≤ 1.5). Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import date, timedelta

import httpx

from benchmarks.practice_calendar import (
    STAFF,
    _percentile,
    measure_api,
    next_monday,
    practice_server,
    staff_token,
)

POLL_SECONDS = 1.0  # the page's ``live.every``


# --------------------------------------------------------------------------- the open views


def _log_in(client: httpx.Client) -> None:
    """Through the login form, as the browser does (session cookie, CSRF token)."""
    form = client.get("/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
    assert token, "no CSRF token on the login page"
    r = client.post(
        "/login/",
        data={"username": STAFF[0], "password": STAFF[1], "csrfmiddlewaretoken": token.group(1)},
        headers={"Referer": f"{client.base_url}login/"},
    )
    assert r.status_code == 302, f"login refused ({r.status_code})"


def _view(base: str, calendar: int, day: date, stop: threading.Event, stats: list[int]) -> None:
    """One open day view: poll the version, re-fetch the page when it changed."""
    with httpx.Client(base_url=base, timeout=30, follow_redirects=False) as client:
        _log_in(client)
        page = f"/calendars/{calendar}/{day}/"
        loaded = client.get(page)
        loaded.raise_for_status()
        # As the page script: the live token from the page's config instead of the session.
        token = re.search(r'"token": "([^"]+)"', loaded.text)
        headers = {"X-Termin360-Live": token.group(1)} if token else {}
        query = {"first_day": str(day), "last_day": str(day)}
        version_url = f"/api/v1/calendars/{calendar}/version"
        shown = client.get(version_url, params=query, headers=headers).json()
        stats[2] += 1  # ready
        while not stop.wait(POLL_SECONDS):
            answer = client.get(version_url, params=query, headers=headers)
            stats[0] += 1
            if answer.json()["version"] != shown["version"]:
                client.get(page).raise_for_status()
                shown = answer.json()
                stats[1] += 1


def run_views(base: str, count: int, first_day: date) -> None:
    """The process of the open views: prints ``ready`` once all poll, then on SIGTERM the
    number of polls and page fetches."""
    stop = threading.Event()
    stats = [0, 0, 0]  # polls, page fetches, views ready (ints: += is atomic enough here)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threads = []
    for i in range(count):
        # three calendars, a Monday each; only view 0 shows the day the API writes to
        day, calendar = first_day + timedelta(days=7 * (i // 3)), i % 3 + 1
        thread = threading.Thread(target=_view, args=(base, calendar, day, stop, stats))
        thread.start()
        threads.append(thread)
    while stats[2] < count and any(t.is_alive() for t in threads):
        time.sleep(0.1)
    print("ready", flush=True)
    started = time.monotonic()
    while not stop.is_set():
        stop.wait(0.2)
    for thread in threads:
        thread.join(timeout=10)
    seconds = time.monotonic() - started
    print(f"polls {stats[0]} fetches {stats[1]} seconds {seconds:.1f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--views", type=int, default=30)
    parser.add_argument("--views-only", nargs=2, metavar=("URL", "DAY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.views_only:
        run_views(args.views_only[0], args.views, date.fromisoformat(args.views_only[1]))
        return

    views: subprocess.Popen[str] | None = None
    with practice_server(args.backend, prefix="t360-bench-live-") as site:
        base = f"{site}/api/v1"
        token = staff_token(base)
        day = next_monday()
        print("API with no views open …", flush=True)
        quiet = measure_api(base, token, day, args.runs)
        print(f"opening {args.views} live views in another process …", flush=True)
        try:
            views = subprocess.Popen(
                [
                    *(sys.executable, "-m", "benchmarks.live_views", "--views", str(args.views)),
                    *("--views-only", site, str(day)),
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            assert views.stdout is not None
            if views.stdout.readline().strip() != "ready":
                raise SystemExit("the views did not start")
            time.sleep(2 * POLL_SECONDS)  # every view has polled at least once
            print(f"API with {args.views} views open …", flush=True)
            busy = measure_api(base, token, day, args.runs)
            views.send_signal(signal.SIGTERM)
            polled = views.stdout.read().strip()
            views.wait(timeout=30)
            views = None
        finally:
            if views is not None:  # something failed while they ran
                views.kill()

    print(
        f"\nlive views, {args.backend}, practice serve with default threads, "
        f"{args.runs} runs each (ms, over HTTP)"
    )
    print(f"views process: {polled}")
    head = f"{'operation':<24}{'views':>6}{'median':>9}{'p95':>9}{'min':>9}{'max':>9}{'ratio':>8}"
    print(head)
    for name, none in quiet.items():
        with_views = busy[name]
        ratio = statistics.median(with_views) / statistics.median(none)
        for label, samples, extra in ((0, none, ""), (args.views, with_views, f"{ratio:>8.2f}")):
            print(
                f"{name if label == 0 else '':<24}{label:>6}{statistics.median(samples):>9.1f}"
                f"{_percentile(samples, 0.95):>9.1f}{min(samples):>9.1f}{max(samples):>9.1f}"
                f"{extra}"
            )


if __name__ == "__main__":
    main()
