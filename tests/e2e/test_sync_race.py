"""One time, one holder (S9, decision 009): an online booking on the portal and a booking
in the practice calendar for the same time of a mapped column, released together by one
barrier, against the real portal (HTTPS), the real practice server and the real job —
round after round. Whichever reaches the portal's practice lock first wins; the other is
refused cleanly. Never both.

Runs in both passes of scripts/test, so on SQLite and on PostgreSQL (both deployments)."""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx

from tests.conftest import ARTIFACTS, BACKEND, race
from tests.e2e.conftest import Sync, wait_until, weekday

ROUNDS = 200
SEED = 9
# Long enough that no check falls back to "saved unchecked" on a loaded CI machine: this
# test is about the claims, not the offline fallback (test_sync_faults has that).
CHECK_TIMEOUT = 5.0
ONLINE_HOLD_BACK = 0.15
TIMES = [f"{h:02d}:{m:02d}" for h in range(8, 12) for m in (0, 15, 30, 45)]


@dataclass(frozen=True)
class Round:
    calendar: int  # 0 or 1: online calendar A → column 1, B → column 2
    day: date
    at: str
    online: httpx.Response
    practice: httpx.Response


def _delayed(call: Any, seconds: float) -> Any:
    def run() -> httpx.Response:
        time.sleep(seconds)
        return call()

    return run


def _play(s: Sync, rng: random.Random) -> list[Round]:
    slots = [
        (cal, weekday(s.p, week * 7 + d), at)
        for week in (0, 1)
        for d in range(5)
        for cal in (0, 1)
        for at in TIMES
    ]
    rng.shuffle(slots)
    rounds = []
    for cal, day, at in slots[:ROUNDS]:
        online = lambda cal=cal, day=day, at=at: s.try_book(day, at, calendar=cal)  # noqa: E731
        local = lambda cal=cal, day=day, at=at: s.book_in_practice(cal + 1, day, at)  # noqa: E731
        # The practice's claim takes a few hops longer to reach the portal's lock than the
        # patient's booking: holding the booking back by up to ONLINE_HOLD_BACK makes
        # the arrival order vary, from clear wins to photo finishes, both ways.
        if rng.random() < 0.75:
            hold_back = rng.uniform(0, ONLINE_HOLD_BACK)
            online_answer, practice_answer = race([_delayed(online, hold_back), local])
        else:
            online_answer, practice_answer = race([online, _delayed(local, rng.uniform(0, 0.01))])
        rounds.append(Round(cal, day, at, online_answer, practice_answer))
    return rounds


def test_s9_online_and_practice_booking_of_one_time_together_never_both_confirmed(
    make_sync: Any,
) -> None:
    from termin360.connector.models import OnlineBooking
    from termin360.connector.services import config
    from termin360.practice.models import Appointment

    s: Sync = make_sync(job=False, server=False)
    config.save_config(portal_url=s.portal.url, check_timeout=CHECK_TIMEOUT)
    s.start_job(wait=False)
    s.start_server()
    s.wait_job()
    s.patient_token()  # log in before the first round, not inside it

    rounds = _play(s, random.Random(SEED))

    outcome = Counter((r.online.status_code == 201, r.practice.status_code == 201) for r in rounds)
    both = [r for r in rounds if r.online.status_code == 201 and r.practice.status_code == 201]
    assert not both, f"{len(both)} of {ROUNDS} rounds confirmed both: {both[:3]}"
    print(
        f"\nrace rounds: {ROUNDS}; online won {outcome[(True, False)]}, "
        f"practice won {outcome[(False, True)]}, neither {outcome[(False, False)]}, both 0"
    )

    # Each loser got a clean refusal.
    local_refusals: Counter[str] = Counter()
    for r in rounds:
        if r.online.status_code != 201:
            body = r.online.json()
            assert (r.online.status_code, body["code"]) == (409, "slot_taken"), body
            assert body["alternatives"], body  # with the next free times
        if r.practice.status_code != 201:
            body = r.practice.json()
            assert r.practice.status_code == 409, body
            local_refusals[body["code"]] += 1
            if body["code"] == "online_booking_holds_time":
                booking_id = r.online.json()["id"]
                assert str(booking_id) in body["detail"], body  # names the online booking
            else:  # the job had placed the booking already: the slot is taken here
                assert body["code"] == "slot_taken", body
                assert "vergeben: Online: Müller, Hans" in body["detail"], body
    summary = {
        "backend": BACKEND,
        "rounds": ROUNDS,
        "online_won": outcome[(True, False)],
        "practice_won": outcome[(False, True)],
        "neither": outcome[(False, False)],
        "both_confirmed": len(both),
        "practice_refusals": dict(local_refusals),
    }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"sync-race-{BACKEND}.json").write_text(json.dumps(summary, indent=2))
    print(f"practice refusals: {dict(local_refusals)}")
    # Every round had a winner: a refusal never came without someone holding the time.
    assert outcome[(False, False)] == 0, outcome

    # Afterwards every confirmed online booking sits in its slot — none in the additional
    # list because its time was given away — and every practice booking in its own.
    won_online = {r.online.json()["id"]: r for r in rounds if r.online.status_code == 201}
    wait_until(
        lambda: (
            OnlineBooking.objects.filter(booking_id__in=won_online, placement="slot").count()
            == len(won_online)
        ),
        "every online winner placed in its slot",
    )
    assert not OnlineBooking.objects.filter(placement="additional_list").exists()
    won_practice = [r.practice.json()["id"] for r in rounds if r.practice.status_code == 201]
    kept = Appointment.objects.filter(pk__in=won_practice, origin="practice", flagged=False)
    assert kept.count() == len(won_practice)
    # No check fell back to "saved unchecked": every round was decided by a claim.
    assert s.server is not None
    assert "S9 check skipped" not in s.server.log.read_text()
