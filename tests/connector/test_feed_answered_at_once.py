"""The job's feed loop when the portal answers a long poll at once with nothing (its
process has as many polls waiting as it allows, or it is stopping): the loop pauses
before it asks again instead of spinning — and does not pause when the portal waited."""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field

import pytest

from termin360.connector import job
from termin360.connector.services import state
from termin360.protocol.messages import CalendarInfo, CalendarList, FeedPage


@dataclass
class Portal:
    """An empty feed that answers after ``delay`` whatever the job asks to wait."""

    delay: float
    polls: list[float] = field(default_factory=list)

    def calendars(self) -> CalendarList:
        info = CalendarInfo(
            id=7, name="Dr. Berger", doctor="Dr. Anna Berger", time_zone="Europe/Berlin",
            slot_minutes=15, published=True,
        )  # fmt: skip
        return CalendarList(practice="Praxis Dr. Berger", calendars=[info])

    def events(self, after: int, wait: float = 0) -> FeedPage:
        self.polls.append(time.monotonic())
        time.sleep(self.delay)
        return FeedPage(events=[], last_seq=after)

    def close(self) -> None:
        pass


def _steps(portal: Portal) -> job.JobSteps:
    return job.JobSteps(
        make_client=lambda: portal,
        refresh_names=lambda client: client.calendars(),
        apply_page=lambda page, after: None,
        send_receipts=lambda client: 0,
        relay_once=lambda client: 0,
        send_practice_changes=lambda client: 0,
        place_unplaced=lambda: 0,
        record_success=state.record_success,
        record_error=state.record_error,
    )


def _polls_in(portal: Portal, seconds: float) -> list[float]:
    stop = threading.Event()
    loop = threading.Thread(target=job._feed_loop, args=(_steps(portal), stop, 25.0))
    loop.start()
    time.sleep(seconds)
    stop.set()
    loop.join(timeout=10)
    assert not loop.is_alive()
    return portal.polls


@pytest.mark.parametrize("delay", [0.0, 0.05])
def test_an_empty_answer_at_once_is_followed_by_a_pause(
    transactional_db: None, delay: float
) -> None:
    polls = _polls_in(Portal(delay=delay), 2.5)
    assert 2 <= len(polls) <= 4, len(polls)  # without the pause: hundreds
    gaps = [b - a for a, b in itertools.pairwise(polls)]
    assert min(gaps) >= job.EARLY_ANSWER_PAUSE_SECONDS * 0.9, gaps


def test_an_answer_after_a_wait_is_followed_by_the_next_poll_at_once(
    transactional_db: None,
) -> None:
    polls = _polls_in(Portal(delay=0.6), 2.5)
    gaps = [b - a for a, b in itertools.pairwise(polls)]
    assert len(polls) >= 3, polls
    assert max(gaps) < 0.6 + 0.3, gaps  # the portal's 0.6 s, no pause on top
