"""S14, the connector's half: the bookable slots of a mapped column go to the portal with
the day's busy state — after a grid edit, an annotation and ``push-existing``."""

from __future__ import annotations

from datetime import time

from termin360.connector.models import BusyState, OutboxEntry
from termin360.connector.services import outbox
from termin360.connector.services.push_existing import push_existing
from termin360.practice.domain.grid import TemplateRule
from termin360.practice.services import appointments, setup, slots
from tests.connector.conftest import BERLIN, CAL_A, CAL_B, Connected
from tests.connector.helpers import slot_at

MORNING = [f"{h:02d}:{m:02d}" for h in range(8, 12) for m in (0, 15, 30, 45)]


def bookable(c: Connected, calendar: int, offset: int) -> list[str]:
    """The bookable slots the portal got for that day, as local "HH:MM-HH:MM"."""
    return [
        f"{r.start.astimezone(BERLIN):%H:%M}-{r.end.astimezone(BERLIN):%H:%M}"
        for r in c.portal.bookable[(calendar, c.day(offset))]
    ]


def starts(c: Connected, calendar: int, offset: int) -> list[str]:
    return [pair.split("-")[0] for pair in bookable(c, calendar, offset)]


def test_s14_a_grid_edit_in_a_mapped_column_sends_the_new_slots_of_each_touched_day(
    connected: Connected,
) -> None:
    c = connected
    column = c.practice.columns[1]
    setup.set_template(
        column=column,
        rules=[
            TemplateRule(weekday=d, start=time(8), end=time(11), slot_minutes=30) for d in range(5)
        ],
    )
    setup.rebuild_grid(column=column, first=c.day(0), last=c.day(1))
    assert set(OutboxEntry.objects.values_list("mapping__online_calendar_id", "day")) == {
        (CAL_A, c.day(0)),
        (CAL_A, c.day(1)),
    }
    assert outbox.relay_all(c.portal) == 2
    for offset in (0, 1):
        assert bookable(c, CAL_A, offset) == [
            "08:00-08:30",
            "08:30-09:00",
            "09:00-09:30",
            "09:30-10:00",
            "10:00-10:30",
            "10:30-11:00",
        ]
        assert c.portal.busy_of(CAL_A, c.day(offset)) == []
    assert (CAL_A, c.day(2)) not in c.portal.bookable  # not touched
    assert (CAL_B, c.day(0)) not in c.portal.bookable  # another column


def test_s14_a_slot_added_by_hand_reaches_the_portal_though_no_busy_time_changed(
    connected: Connected,
) -> None:
    c = connected
    setup.add_slot(column=c.practice.columns[2], day=c.day(3), at=time(18), minutes=20)
    assert outbox.relay_all(c.portal) == 1
    assert starts(c, CAL_B, 3) == [*MORNING, "18:00"]
    assert bookable(c, CAL_B, 3)[-1] == "18:00-18:20"
    # The grid as it is: a second round with no change sends nothing.
    setup.generate_grid(column=c.practice.columns[2], first=c.day(3), last=c.day(3))
    assert outbox.pending_count() == 0


def test_s14_noted_and_occupied_slots_count_as_bookable_annotated_ones_do_not(
    connected: Connected,
) -> None:
    c = connected
    slots.set_note(slot_id=slot_at(c, 1, 2, "09:00").pk, text="nur Kontrollen")
    appointments.book_appointment(actor=None, slot_id=slot_at(c, 1, 2, "09:30").pk, text="Praxis")
    slots.delete_free_slot(slot_id=slot_at(c, 1, 2, "10:00").pk, text="Visite")
    outbox.relay_all(c.portal)
    assert starts(c, CAL_A, 2) == [t for t in MORNING if t != "10:00"]
    assert c.portal.busy_of(CAL_A, c.day(2)) == [
        (c.at(2, "09:30"), c.at(2, "09:45")),
        (c.at(2, "10:00"), c.at(2, "10:15")),
    ]

    slots.remove_annotation(slot_id=slot_at(c, 1, 2, "10:00").pk)
    outbox.relay_all(c.portal)
    assert starts(c, CAL_A, 2) == MORNING
    assert c.portal.busy_of(CAL_A, c.day(2)) == [(c.at(2, "09:30"), c.at(2, "09:45"))]


def test_s14_push_existing_sends_the_grid_of_every_day_from_today(connected: Connected) -> None:
    c = connected
    result = push_existing(1, 2)
    assert result.days == 10
    assert outbox.relay_all(c.portal) == 10
    for offset in (0, 1, 2, 3, 4, 7, 8, 9, 10, 11):
        assert starts(c, CAL_B, offset) == MORNING
    assert all(day.bookable is not None for batch in c.portal.busy_batches for day in batch.days)


def test_s14_a_state_stored_before_the_grid_was_kept_is_sent_without_it(
    connected: Connected,
) -> None:
    """A connector updated in place: its stored states have no grid yet. The portal must
    keep what it had for them rather than take "no slots"."""
    c = connected
    appointments.book_appointment(actor=None, slot_id=slot_at(c, 1, 4, "08:00").pk, text="Alt")
    outbox.relay_all(c.portal)
    BusyState.objects.update(bookable=None)
    mapping = BusyState.objects.get().mapping
    outbox.bump_outbox(mapping, [c.day(4)])
    outbox.relay_all(c.portal)
    assert c.portal.busy_batches[-1].days[0].bookable is None
    assert starts(c, CAL_A, 4) == MORNING  # what the first round sent, kept
    # The next change in that day computes the grid again.
    appointments.book_appointment(actor=None, slot_id=slot_at(c, 1, 4, "08:15").pk, text="Neu")
    assert BusyState.objects.get().bookable is not None
