"""The sync as a state machine for Hypothesis: the real practice calendar and connector (on
the test database) against the in-memory portal of ``fake_portal`` — the portal's rules
of bookings, holds, busy revisions and the change feed — with a faulty network between.

Both sides act in any order: patients book, cancel and move online; the practice books,
deletes, moves, extends and shortens appointments, annotates slots, reserves ranges and
edits its grid; the connector's steps (read the feed, apply it, send receipts, relay busy
state, send the practice's changes) run interleaved with faults: a lost request, a lost
response (the portal acted, the answer never came), a duplicated delivery, a delayed one
(delivered later, in any order), a crash of the connector between any two steps, a
restart of the portal (what is in flight is lost), long partitions, and time passing
(holds run out).

Checked after every step (``check_*`` invariants):

- one holder per time: an online booking confirmed while the practice holds that time
  with its own (non-online) occupancy, or a practice action that claimed time held by
  an online booking the practice did not know — either only where the claim had no
  definite answer (the offline fallback) or its hold ran out before its busy state came;
- every online booking the connector placed sits in exactly one place.

And after healing and quiescence (``converged``): both sides agree — the portal's busy
time of each mapped calendar day is what the column holds, no hold is left, every active
online booking sits in the practice calendar exactly once and every cancelled one is gone.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from termin360.core.errors import ApplicationError
from termin360.core.intervals import Interval, merge, subtract
from termin360.protocol.messages import CLAIM_LEASE_SECONDS
from tests.connector.sync_model_world import (
    BERLIN,
    CAL_A,
    CAL_B,
    STATS,
    FaultyNetwork,
    SyncExecutor,
    World,
    at,
    build_world,
    busy_snapshot,
    calendar_of,
    overlaps,
    reset_world,
    set_template,
)

FAULTS = ("lost_request", "lost_response", "duplicate", "delay")
# Mostly a healthy network: a fault in four calls of ten.
fault_of = st.sampled_from((None, None, None, None, None, None, *FAULTS))
CLOCKS = [f"{h:02d}:{m:02d}" for h in (8, 9, 10) for m in (0, 15, 30, 45)][:10]  # 08:00–10:15


def _intervals(pairs: Any) -> list[Interval]:
    return merge([Interval(p.start, p.end) for p in pairs])


__all__ = ["STATS", "SyncExecutor", "SyncModel", "SyncModelSecondHalf", "build_world"]


# --------------------------------------------------------------------------- the machine


class SyncModel(RuleBasedStateMachine):
    """One example: an empty practice and portal, then steps. ``world`` is set by the test."""

    world: World

    def __init__(self) -> None:
        super().__init__()
        from termin360.connector.services import claims
        from tests.connector.fake_portal import FakePortal

        reset_world(self.world)
        self.now = datetime(2026, 12, 1, 12, tzinfo=UTC)
        self.portal = FakePortal(strict=True, clock=lambda: self.now)
        self.net = FaultyNetwork(self.portal)
        claims.reset_client()
        SyncModel.current = self
        self.fetched: Any = None
        # Time the practice occupied without a definite answer to its claim, or whose hold
        # ran out before its busy state came: where two holders may meet (per calendar).
        self.excused: dict[int, list[Interval]] = {CAL_A: [], CAL_B: []}
        self.template = {1: "A", 2: "A"}
        self.dirty = True  # the practice database changed since the last invariant check
        STATS["examples"] += 1

    current: SyncModel | None = None

    def teardown(self) -> None:
        self.converged()

    # ----------------------------------------------------------------- helpers

    def step(self, name: str, *, practice_changes: bool = True) -> None:
        STATS["steps"] += 1
        STATS[f"step:{name}"] += 1
        self.dirty = self.dirty or practice_changes

    def active_bookings(self) -> list[Any]:
        return sorted(
            (b for b in self.portal.bookings.values() if b.status == "active"),
            key=lambda b: b.booking_id,
        )

    def appointments(self) -> list[Any]:
        from termin360.practice.models import Appointment

        return list(Appointment.objects.order_by("pk"))

    def any_appointment(self) -> bool:
        from termin360.practice.models import Appointment

        return Appointment.objects.exists()

    def slot(self, column_number: int, day: date, clock: str) -> Any:
        from termin360.practice.models import Slot

        return Slot.objects.filter(
            column=self.world.columns[column_number], start=at(day, clock)
        ).first()

    def excuse(self, calendar: int, intervals: list[Interval]) -> None:
        self.excused[calendar] = merge([*self.excused[calendar], *intervals])

    def is_excused(self, calendar: int, intervals: list[Interval]) -> bool:
        return not subtract(intervals, self.excused[calendar])

    def check_booking_confirmed(self, booking: Any) -> None:
        """One holder: the portal confirmed ``booking`` — the practice must not hold that
        time with its own occupancy, unless that occupancy was saved without a definite
        answer from the portal (or its hold ran out)."""
        column = 1 if booking.online_calendar_id == CAL_A else 2
        day = booking.start.astimezone(BERLIN).date()
        own = busy_snapshot(self.world)[(column, day)][1]
        held = overlaps(own, booking.start, booking.end)
        clipped = [Interval(max(iv.start, booking.start), min(iv.end, booking.end)) for iv in held]
        assert self.is_excused(booking.online_calendar_id, clipped), (
            f"two holders: online booking {booking.booking_id} confirmed at {booking.start} "
            f"while the practice holds {clipped} (excused: {self.excused})"
        )

    def staff_action(self, name: str, fault: str | None, action: Callable[[], Any]) -> None:
        """Run a practice action; check the time it newly claimed was not held by an online
        booking the practice could not know of (unless the claim had no definite answer)."""
        from termin360.connector.models import OnlineBooking

        self.step(name)
        before = busy_snapshot(self.world)
        self.net.next_fault = fault
        unchecked = self.net.partitioned or fault in ("lost_request", "lost_response", "delay")
        try:
            action()
        except ApplicationError as exc:
            STATS[f"refused:{exc.code}"] += 1
            self.net.next_fault = None
            return
        self.net.next_fault = None
        known = {
            ob.booking_id: (ob.start, ob.end)
            for ob in OnlineBooking.objects.filter(status="active")
        }
        after = busy_snapshot(self.world)
        for (c, d), (old, _own) in before.items():
            claimed = subtract(after[(c, d)][0], old)
            if not claimed:
                continue
            cal = calendar_of(c)
            if unchecked:
                STATS["unchecked_actions"] += 1
                self.excuse(cal, claimed)
                continue
            for b in self.active_bookings():
                if b.online_calendar_id != cal or not overlaps(claimed, b.start, b.end):
                    continue
                assert known.get(b.booking_id) == (b.start, b.end), (
                    f"two holders: the practice claimed {claimed} in {cal} over online booking "
                    f"{b.booking_id} ({b.start}) it did not know"
                )

    # ----------------------------------------------------------------- patients (portal)

    @rule(
        column=st.sampled_from((1, 2)),
        day=st.integers(0, 1),
        clock=st.sampled_from(CLOCKS),
        minutes=st.sampled_from((15, 15, 30)),
    )
    def patient_books(self, column: int, day: int, clock: str, minutes: int) -> None:
        from termin360.connector.portal_client import Refused

        self.step("patient_books", practice_changes=False)
        try:
            booking = self.portal.book(
                calendar_of(column), at(self.world.days[day], clock), minutes
            )
        except (ValueError, Refused):
            STATS["online_refused"] += 1
            return
        STATS["online_booked"] += 1
        self.check_booking_confirmed(booking)

    @precondition(lambda self: self.active_bookings())
    @rule(pick=st.integers(0, 10**6))
    def patient_cancels(self, pick: int) -> None:
        self.step("patient_cancels", practice_changes=False)
        bookings = self.active_bookings()
        self.portal.cancel(bookings[pick % len(bookings)].booking_id)

    @precondition(lambda self: self.active_bookings())
    @rule(pick=st.integers(0, 10**6), day=st.integers(0, 1), clock=st.sampled_from(CLOCKS))
    def patient_moves(self, pick: int, day: int, clock: str) -> None:
        from termin360.connector.portal_client import Refused

        self.step("patient_moves", practice_changes=False)
        bookings = self.active_bookings()
        booking = bookings[pick % len(bookings)]
        start = at(self.world.days[day], clock)
        try:
            moved = self.portal.move(
                booking.booking_id, start, start + (booking.end - booking.start), by_patient=True
            )
        except Refused:
            STATS["online_move_refused"] += 1
            return
        self.check_booking_confirmed(moved)

    # ----------------------------------------------------------------- the practice

    @rule(
        column=st.sampled_from((1, 2)),
        day=st.integers(0, 1),
        clock=st.sampled_from(CLOCKS),
        slots=st.sampled_from((1, 1, 2)),
        fault=fault_of,
    )
    def staff_books(self, column: int, day: int, clock: str, slots: int, fault: str | None) -> None:
        from termin360.practice.services import appointments

        slot = self.slot(column, self.world.days[day], clock)
        if slot is None:
            return
        self.staff_action(
            "staff_books",
            fault,
            lambda: appointments.book_appointment(
                actor=None, slot_id=slot.pk, slot_count=slots, text="Praxis"
            ),
        )

    @precondition(lambda self: self.any_appointment())
    @rule(pick=st.integers(0, 10**6))
    def staff_deletes(self, pick: int) -> None:
        from termin360.practice.services import appointments

        appts = self.appointments()
        appt = appts[pick % len(appts)]
        self.staff_action(
            "staff_deletes",
            None,
            lambda: appointments.delete_appointment(actor=None, appointment_id=appt.pk),
        )

    @precondition(lambda self: self.any_appointment())
    @rule(
        pick=st.integers(0, 10**6),
        column=st.sampled_from((1, 2)),
        day=st.integers(0, 1),
        clock=st.sampled_from(CLOCKS),
        fault=fault_of,
    )
    def staff_moves(self, pick: int, column: int, day: int, clock: str, fault: str | None) -> None:
        from termin360.practice.services import appointments

        appts = self.appointments()
        appt = appts[pick % len(appts)]
        slot = self.slot(column, self.world.days[day], clock)
        if slot is None:
            return
        self.staff_action(
            "staff_moves",
            fault,
            lambda: appointments.move_appointment(
                actor=None, appointment_id=appt.pk, slot_id=slot.pk
            ),
        )

    @precondition(lambda self: self.any_appointment())
    @rule(pick=st.integers(0, 10**6), longer=st.booleans(), fault=fault_of)
    def staff_extends_or_shortens(self, pick: int, longer: bool, fault: str | None) -> None:
        from termin360.practice.services import appointments

        appts = self.appointments()
        appt = appts[pick % len(appts)]
        change = appointments.extend_appointment if longer else appointments.shorten_appointment
        self.staff_action(
            "staff_extends" if longer else "staff_shortens",
            fault,
            lambda: change(actor=None, appointment_id=appt.pk),
        )

    @rule(
        column=st.sampled_from((1, 2)),
        day=st.integers(0, 1),
        clock=st.sampled_from(CLOCKS),
        block=st.booleans(),
        fault=fault_of,
    )
    def staff_annotates(
        self, column: int, day: int, clock: str, block: bool, fault: str | None
    ) -> None:
        from termin360.practice.services import slots

        slot = self.slot(column, self.world.days[day], clock)
        if slot is None:
            return
        if block:
            self.staff_action(
                "staff_annotates", fault, lambda: slots.delete_free_slot(slot_id=slot.pk, text="Zu")
            )
        else:
            self.staff_action(
                "staff_removes_annotation", fault, lambda: slots.remove_annotation(slot_id=slot.pk)
            )

    @rule(
        columns=st.sampled_from(([1], [2], [1, 2])),
        days=st.sampled_from(((0, 0), (1, 1), (0, 1))),
        start=st.sampled_from(CLOCKS),
        length=st.sampled_from((15, 30, 60)),
        fault=fault_of,
    )
    def staff_reserves(
        self, columns: list[int], days: tuple[int, int], start: str, length: int, fault: str | None
    ) -> None:
        from termin360.practice.models import Calendar
        from termin360.practice.services import reservations

        begin = time.fromisoformat(start)
        end = (datetime.combine(date.today(), begin) + timedelta(minutes=length)).time()
        self.staff_action(
            "staff_reserves",
            fault,
            lambda: reservations.create_reservation(
                actor=None,
                calendar=Calendar.objects.get(number=1),
                column_numbers=columns,
                first_day=self.world.days[days[0]],
                last_day=self.world.days[days[1]],
                start=begin,
                end=end,
                reason="Fortbildung",
            ),
        )

    @precondition(lambda self: self.any_reservation())
    @rule(pick=st.integers(0, 10**6))
    def staff_deletes_reservation(self, pick: int) -> None:
        from termin360.practice.services import reservations

        found = self.reservations()
        self.staff_action(
            "staff_deletes_reservation",
            None,
            lambda: reservations.delete_reservation(reservation_id=found[pick % len(found)]),
        )

    def any_reservation(self) -> bool:
        from termin360.practice.models import Reservation

        return Reservation.objects.exists()

    def reservations(self) -> list[int]:
        from termin360.practice.models import Reservation

        return list(Reservation.objects.order_by("pk").values_list("pk", flat=True))

    @rule(column=st.sampled_from((1, 2)))
    def grid_edit(self, column: int) -> None:
        """Jahrgang bearbeiten: the column's template changes and its grid is rebuilt."""
        from termin360.practice.services import setup

        self.step("grid_edit")
        self.template[column] = "B" if self.template[column] == "A" else "A"
        col = self.world.columns[column]
        set_template(self.world, col, self.template[column])
        setup.rebuild_grid(column=col, first=self.world.days[0], last=self.world.days[-1])

    # ----------------------------------------------------------------- the connector

    @rule(fault=fault_of)
    def fetch_feed(self, fault: str | None) -> None:
        from termin360.connector.portal_client import PortalError
        from termin360.connector.selectors import sync_state

        self.step("fetch_feed", practice_changes=False)
        self.net.next_fault = fault
        after = sync_state().cursor
        with contextlib.suppress(PortalError):
            self.fetched = (self.net.events(after=after), after)

    @precondition(lambda self: self.fetched is not None)
    @rule()
    def apply_feed(self) -> None:
        from termin360.connector.services import consumer

        self.step("apply_feed")
        (page, after), self.fetched = self.fetched, None
        consumer.apply_page(page, after)

    @rule(fault=fault_of)
    def job_round(self, fault: str | None) -> None:
        """One turn of the job's loops: read and apply the feed, receipts, the practice's
        changes, the busy state — the first call with ``fault``, as in production a
        failure ends the turn."""
        from termin360.connector.portal_client import PortalError
        from termin360.connector.selectors import sync_state
        from termin360.connector.services import consumer, outbox, practice_changes, receipts

        self.step("job_round")
        self.net.next_fault = fault
        with contextlib.suppress(PortalError):
            after = sync_state().cursor
            consumer.apply_page(self.net.events(after=after), after)
            receipts.send_receipts(self.net)
            practice_changes.send_practice_changes(self.net)
            outbox.relay_once(self.net, include_waiting=True)
        self.net.next_fault = None

    @rule(fault=fault_of)
    def send_receipts(self, fault: str | None) -> None:
        self.connector_step("send_receipts", fault, "receipts")

    @rule(fault=fault_of)
    def relay(self, fault: str | None) -> None:
        self.connector_step("relay", fault, "relay")

    @rule(fault=fault_of)
    def send_practice_changes(self, fault: str | None) -> None:
        self.connector_step("send_practice_changes", fault, "practice_changes")

    def connector_step(self, name: str, fault: str | None, which: str) -> None:
        from termin360.connector.portal_client import PortalError
        from termin360.connector.services import outbox, practice_changes, receipts

        self.step(name)
        steps: dict[str, Callable[[Any], Any]] = {
            "receipts": receipts.send_receipts,
            "relay": lambda net: outbox.relay_once(net, include_waiting=True),
            "practice_changes": practice_changes.send_practice_changes,
        }
        self.net.next_fault = fault
        with contextlib.suppress(PortalError):
            steps[which](self.net)
        self.net.next_fault = None

    @rule()
    def connector_crashes(self) -> None:
        """The job dies between two steps: what it held in memory is gone."""
        from termin360.connector.services import claims

        self.step("connector_crashes")
        self.fetched = None
        claims.reset_client()

    @precondition(lambda self: self.net.delayed)
    @rule(pick=st.integers(0, 10**6))
    def deliver_delayed(self, pick: int) -> None:
        """A request held up on the network reaches the portal now (its answer is lost)."""
        self.step("deliver_delayed")
        apply = self.net.delayed.pop(pick % len(self.net.delayed))
        with contextlib.suppress(Exception):
            apply()

    @rule()
    def portal_restarts(self) -> None:
        """What was in flight is lost; what the portal committed stays."""
        self.step("portal_restarts", practice_changes=False)
        self.net.delayed.clear()

    @rule(on=st.booleans())
    def partition(self, on: bool) -> None:
        self.step("partition" if on else "heal", practice_changes=False)
        self.net.partitioned = on

    @rule(seconds=st.sampled_from((5, 30, CLAIM_LEASE_SECONDS + 1)))
    def time_passes(self, seconds: int) -> None:
        self.step("time_passes", practice_changes=False)
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        for expires, ranges in self.portal.holds.values():
            if expires <= self.now and ranges:
                STATS["holds_lapsed"] += 1
                for cal, _day, s, e in ranges:
                    self.excuse(cal, [Interval(s, e)])

    # ----------------------------------------------------------------- invariants

    @invariant()
    def every_placement_in_exactly_one_place(self) -> None:
        """Each online booking the connector placed is one appointment, in its slots or in
        the additional list (never both, never two), until the portal cancels it; one the
        practice deleted has none while its cancellation is on the way (S10)."""
        from django.db.models import Count

        from termin360.connector.models import OnlineBooking
        from termin360.practice.models import Appointment

        if not self.dirty:
            return
        self.dirty = False
        rows = OnlineBooking.objects.values_list(
            "booking_id", "status", "appointment_id", "appointment__column_id"
        ).annotate(slots=Count("appointment__slots"))
        for booking_id, status, appointment_id, column_id, slots in rows:
            if status == "cancelled":
                assert appointment_id is None, f"cancelled booking {booking_id} still placed"
            elif appointment_id is not None and column_id is None:
                assert slots == 0, f"booking {booking_id}: additional list and slot"
            elif appointment_id is not None:
                assert slots >= 1, f"booking {booking_id}: in a column, no slot"
        orphans = Appointment.objects.filter(origin="online", online_booking__isnull=True)
        assert not orphans.exists(), f"online appointments without their booking: {list(orphans)}"

    # ----------------------------------------------------------------- quiescence

    def converged(self) -> None:
        """Heal, deliver what was delayed, let the connector run until nothing moves, let
        every lease run out — then both sides must agree."""
        from termin360.connector.models import OnlineBooking, OutboxEntry
        from termin360.connector.selectors import pending_practice_changes, sync_state
        from termin360.connector.services import consumer, outbox, practice_changes, receipts
        from termin360.connector.services.outbox import busy_of_column_day

        self.net.partitioned, self.net.next_fault = False, None
        for apply in self.net.delayed:
            with contextlib.suppress(Exception):
                apply()
        self.net.delayed.clear()
        for _round in range(20):
            after = sync_state().cursor
            page = self.net.events(after=after)
            consumer.apply_page(page, after)
            receipts.send_receipts(self.net)
            practice_changes.send_practice_changes(self.net)
            outbox.relay_all(self.net)
            quiet = (
                not page.events
                and not OutboxEntry.objects.exists()
                and not pending_practice_changes().exists()
                and sync_state().cursor == len(self.portal.feed)
            )
            if quiet:
                break
        else:
            raise AssertionError("the sync did not come to rest within 20 rounds")
        self.advance(CLAIM_LEASE_SECONDS + 1)
        assert not self.portal.active_holds(), self.portal.active_holds()
        snapshot = busy_snapshot(self.world)
        for column in (1, 2):
            cal = calendar_of(column)
            for day in self.world.days:
                online = _intervals(self.portal.busy.get((cal, day), []))
                practice = snapshot[(column, day)][0]
                assert online == practice == busy_of_column_day(self.world.columns[column], day), (
                    f"busy time of {cal} on {day} differs: portal {online}, practice {practice}"
                )
        for booking in self.portal.bookings.values():
            ob = (
                OnlineBooking.objects.select_related("appointment")
                .filter(booking_id=booking.booking_id)
                .first()
            )
            assert ob is not None, f"booking {booking.booking_id} never reached the practice"
            if booking.status == "cancelled":
                assert ob.status == "cancelled" and ob.appointment_id is None, booking.booking_id
                continue
            assert ob.status == "active" and ob.appointment is not None, booking.booking_id
            assert (ob.start, ob.end) == (booking.start, booking.end), booking.booking_id
            appt = ob.appointment
            if ob.refused_start is not None:
                # The practice moved it and the portal refused the move: the appointment
                # stays where the staff put it, flagged for them.
                assert appt.flagged, booking.booking_id
            else:
                # It covers the booking's time: exactly, or the whole of a longer slot.
                assert appt.start <= booking.start and booking.end <= appt.end, (
                    f"booking {booking.booking_id} {booking.start}–{booking.end} sits at "
                    f"{appt.start}–{appt.end}"
                )
        STATS["converged"] += 1


class SyncModelSecondHalf(SyncModel):
    """The same model under another name: Hypothesis derives a derandomized run's examples
    from the machine, so this one explores other examples than ``SyncModel`` — the CI
    profile runs both halves, side by side on the two test workers."""
