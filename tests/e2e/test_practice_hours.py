"""S14 end to end: an online calendar that takes its hours from the practice calendar.
Real portal over HTTPS, real practice database, the real job process: the portal offers
exactly the bookable slots of the mapped column, follows a grid edit, and a booking made
there always finds its slot(s) in the practice calendar."""

from __future__ import annotations

from datetime import time
from typing import Any

from termin360.practice.domain.grid import TemplateRule
from termin360.practice.services import setup
from tests.e2e.conftest import Sync, wait_until, weekday

FIFTEEN = [f"{h:02d}:{m:02d}" for h in range(8, 12) for m in (0, 15, 30, 45)]
TWENTY = [f"{h:02d}:{m:02d}" for h in range(8, 12) for m in (0, 20, 40)]


def hours_from_practice(s: Sync, calendar: int = 0) -> None:
    s.portal._seed(count=0, hours_from_practice=[s.calendar(calendar)["id"]])


def wait_offered(s: Sync, day: Any, expected: list[str], *, minutes: int = 15) -> None:
    wait_until(
        lambda: s.free_times(day, minutes=minutes) == expected,
        f"the portal offers exactly {expected} on {day}",
    )


def test_s14_the_portal_offers_the_practice_grid_follows_a_grid_edit_and_bookings_find_slots(
    make_sync: Any,
) -> None:
    s: Sync = make_sync(server=False)
    monday, tuesday = weekday(s.p, 0), weekday(s.p, 1)
    hours_from_practice(s)
    # Nothing sent yet: a calendar with hours from the practice offers nothing.
    assert s.free_times(monday) == []
    assert s.free_times(monday, calendar=1) == FIFTEEN  # typed hours, as before

    s.cli("push-existing", "1", "1")
    wait_offered(s, monday, FIFTEEN)
    assert s.free_times(tuesday) == FIFTEEN

    # The grid of column 1 becomes 20-minute slots, 08:00–12:00, from Monday to Friday.
    column = s.p.columns[1]
    setup.set_template(
        column=column,
        rules=[
            TemplateRule(weekday=d, start=time(8), end=time(12), slot_minutes=20) for d in range(5)
        ],
    )
    setup.rebuild_grid(column=column, first=monday, last=weekday(s.p, 4))
    wait_offered(s, monday, TWENTY)
    assert s.free_times(tuesday) == TWENTY
    assert s.free_times(monday, minutes=30) == [t for t in TWENTY if t != "11:40"]
    assert s.free_times(monday, calendar=1) == FIFTEEN

    # Bookings at the practice's times, one of 15 and one of 30 minutes (two slots).
    short = s.book_online(monday, "08:20")
    long = s.book_online(monday, "10:00", minutes=30, patient=1)
    for booking in (short, long):
        placed = s.wait_placed(booking["id"])
        assert placed.placement == "slot", placed.placement
        assert placed.appointment.column_id == column.pk
        assert not placed.appointment.flagged
    wait_until(s.busy_synced, "busy state sent")
    wait_offered(s, monday, [t for t in TWENTY if t not in {"08:20", "10:00", "10:20"}])
    # A time of the old 15-minute grid is not offered, so it cannot be booked.
    assert s.try_book(monday, "08:15").status_code in (400, 409, 422)
