"""P6: a booking shows whether it reached the practice calendar; one that does not within
the set time alerts the practice by e-mail, once (portal worker process)."""

from __future__ import annotations

import re
from typing import Any

from tests.e2e.conftest import MAIL_WAIT, Sync, mail_text, wait_until, weekday


def delivered(s: Sync, booking_id: int) -> bool:
    mine = {b["id"]: b for b in s.my_bookings()}
    return bool(mine[booking_id]["delivered"])


def test_p6_booking_shows_delivered_once_placed_in_the_practice_calendar(make_sync: Any) -> None:
    s: Sync = make_sync(server=False, job=False)
    booking = s.book_online(weekday(s.p, 0), "09:00")
    assert booking["delivered"] is False
    assert delivered(s, booking["id"]) is False

    s.start_job()
    s.wait_placed(booking["id"])
    wait_until(lambda: delivered(s, booking["id"]), "the portal shows the booking delivered")
    assert s.portal_booking(booking["id"])["delivered"] is True


def test_p6_undelivered_booking_alerts_the_practice_once(make_sync: Any) -> None:
    s: Sync = make_sync(server=False, job=False)  # no job: nothing gets delivered
    practice_mail = s.seed["practice_email"]
    first = s.book_online(weekday(s.p, 0), "09:00")

    def alerts(booking_id: int) -> list[Any]:
        pattern = re.compile(rf"sync info\s+{booking_id}\b")
        return [m for m in s.portal.mails_to(practice_mail) if pattern.search(mail_text(m))]

    log = s.tmp / "worker.log"
    s._log(log)
    # 0.01 minutes: alert after 0.6 s without delivery.
    with s.portal.worker(log, TERMIN360_UNDELIVERED_ALERT_MINUTES="0.01"):
        wait_until(
            lambda: alerts(first["id"]), "the practice is alerted about the booking", MAIL_WAIT
        )
        # A second booking's alert comes rounds later; by then the first would have been
        # repeated if the worker alerted more than once.
        second = s.book_online(weekday(s.p, 0), "10:00")
        wait_until(
            lambda: alerts(second["id"]), "the practice is alerted about the second", MAIL_WAIT
        )
    assert len(alerts(first["id"])) == 1
    assert len(alerts(second["id"])) == 1
    assert str(first["id"]) in str(alerts(first["id"])[0]["subject"])
