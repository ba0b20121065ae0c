"""No slot is ever given out twice (issue point 5).

Two staff members book the same slot at the same moment against a real
``termin360 practice serve`` process — and against two processes on one database:
exactly one gets 201, the other a 409 ``slot_taken`` with a message in German.
Runs on both backends; the PostgreSQL pass is the one that matters in production.

The second half interleaves two changes of the same appointment or slot
deterministically: an occupancy listener holds the first change inside its
transaction while the second one starts, so the second has read the state from
before the first commits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import BACKEND, Practice, Server, build_practice, race, slot_id

ROUNDS = 20
MSGID = "This time is already taken."


def _german_slot_taken() -> str | None:
    """The German text of the 409, if the catalogue translates it already."""
    from django.utils import translation

    with translation.override("de"):
        text = translation.gettext(MSGID)
    return text if text != MSGID else None


def _staff_client(server: Server, username: str, password: str) -> httpx.Client:
    r = httpx.post(
        f"{server.url}/api/v1/auth/token",
        json={"username": username, "password": password},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    client = httpx.Client(
        base_url=f"{server.url}/api/v1",
        headers={"Authorization": f"Bearer {r.json()['token']}", "Accept-Language": "de"},
        timeout=60,
    )
    assert client.get("/auth/me").status_code == 200  # the connection is open before the race
    return client


def _one_winner(responses: list[httpx.Response], ok: int = 201) -> httpx.Response:
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [ok] + [409] * (len(responses) - 1), [
        (r.status_code, r.text) for r in responses
    ]
    german = _german_slot_taken()
    for loser in (r for r in responses if r.status_code == 409):
        body = loser.json()
        assert body["code"] == "slot_taken", body
        assert body["detail"].strip(), body
        if german is not None:
            assert body["detail"] == german
    return next(r for r in responses if r.status_code == ok)


def _holders(client: httpx.Client, day: date) -> dict[int, int | None]:
    """slot id → appointment id, for every slot of calendar 1 on ``day``, via the API."""
    r = client.get(f"/calendars/1/days/{day}")
    assert r.status_code == 200, r.text
    return {s["id"]: s["appointment_id"] for c in r.json()["columns"] for s in c["slots"]}


def _assert_no_server_error(*servers: Server) -> None:
    for server in servers:
        log = server.log.read_text(errors="replace")
        assert "Traceback" not in log, log
        assert "Internal Server Error" not in log, log


@pytest.fixture
def staff(practice_server: Server) -> Iterator[tuple[Practice, httpx.Client, httpx.Client]]:
    p = build_practice()
    a = _staff_client(practice_server, "empfang", "empfang-pass-123")
    b = _staff_client(practice_server, "empfang2", "empfang-pass-123")
    try:
        yield p, a, b
    finally:
        a.close()
        b.close()
        _assert_no_server_error(practice_server)


def _race_slots(p: Practice) -> list[tuple[int, date]]:
    """ROUNDS different slots: all of Monday's in column 1, the rest in column 2."""
    times = [f"{h:02d}:{m:02d}" for h in range(8, 12) for m in (0, 15, 30, 45)]
    slots = [(slot_id(p, 1, p.monday, t), p.monday) for t in times]
    tuesday = p.monday + timedelta(days=1)
    slots += [(slot_id(p, 2, tuesday, t), tuesday) for t in times]
    return slots[:ROUNDS]


# --------------------------------------------------------------------------- one slot, two staff


def test_two_staff_booking_the_same_slot_at_once_get_one_201_and_one_409(
    staff: tuple[Practice, httpx.Client, httpx.Client],
) -> None:
    from termin360.practice.models import Appointment

    p, a, b = staff
    winners: dict[int, int] = {}
    for slot, _day in _race_slots(p):
        responses = race(
            [
                lambda c=a, s=slot: c.post("/appointments", json={"slot_id": s, "text": "A"}),
                lambda c=b, s=slot: c.post("/appointments", json={"slot_id": s, "text": "B"}),
            ]
        )
        winners[slot] = _one_winner(responses).json()["id"]

    holders = {**_holders(a, p.monday), **_holders(a, p.monday + timedelta(days=1))}
    for slot, appointment in winners.items():
        assert holders[slot] == appointment
        assert a.get(f"/appointments/{appointment}").json()["slot_count"] == 1
    assert sum(1 for h in holders.values() if h is not None) == ROUNDS
    assert Appointment.objects.count() == ROUNDS


def test_two_overlapping_multi_slot_bookings_at_once_get_one_201_and_one_409(
    staff: tuple[Practice, httpx.Client, httpx.Client],
) -> None:
    p, a, b = staff
    starts = ["08:00", "08:45", "09:30", "10:15", "11:00"]
    for offset in range(2):  # Monday and Tuesday, both columns
        day = p.monday + timedelta(days=offset)
        for column in (1, 2):
            for at in starts:
                h, m = map(int, at.split(":"))
                later = f"{h + (m + 15) // 60:02d}:{(m + 15) % 60:02d}"
                first, second = slot_id(p, column, day, at), slot_id(p, column, day, later)
                responses = race(
                    [
                        lambda s=first: a.post(
                            "/appointments", json={"slot_id": s, "slot_count": 2, "text": "A"}
                        ),
                        lambda s=second: b.post(
                            "/appointments", json={"slot_id": s, "slot_count": 2, "text": "B"}
                        ),
                    ]
                )
                winner = _one_winner(responses).json()
                assert winner["slot_count"] == 2
    for offset in range(2):
        held = [h for h in _holders(a, p.monday + timedelta(days=offset)).values() if h]
        # every appointment holds exactly its two slots, nobody holds three
        assert sorted(held.count(x) for x in set(held)) == [2] * (len(starts) * 2)


def test_a_crowd_booking_one_slot_leaves_exactly_one_appointment(
    practice_server: Server,
) -> None:
    p = build_practice()
    clients = [
        _staff_client(practice_server, user, password)
        for user, password in (
            ("empfang", "empfang-pass-123"),
            ("empfang2", "empfang-pass-123"),
            ("admin", "admin-pass-123"),
        )
        for _ in range(2)  # two tokens each: two devices of one person
    ]
    try:
        for at in ("09:00", "10:00", "11:00"):
            slot = slot_id(p, 1, p.monday, at)
            responses = race(
                [
                    lambda c=c, s=slot: c.post("/appointments", json={"slot_id": s, "text": "x"})
                    for c in clients
                ]
            )
            winner = _one_winner(responses).json()
            assert _holders(clients[0], p.monday)[slot] == winner["id"]
    finally:
        for c in clients:
            c.close()
    _assert_no_server_error(practice_server)


def test_a_booking_racing_a_move_onto_the_same_slot_leaves_one_appointment(
    staff: tuple[Practice, httpx.Client, httpx.Client],
) -> None:
    p, a, b = staff
    tuesday = p.monday + timedelta(days=1)
    for at in ("08:00", "09:00", "10:00", "11:00"):
        mover = a.post(
            "/appointments", json={"slot_id": slot_id(p, 2, tuesday, at), "text": "M"}
        ).json()
        target = slot_id(p, 1, tuesday, at)
        booking, move = race(
            [
                lambda s=target: a.post("/appointments", json={"slot_id": s, "text": "A"}),
                lambda s=target, m=mover["id"]: b.post(
                    f"/appointments/{m}/move", json={"slot_id": s}
                ),
            ]
        )
        assert sorted([booking.status_code, move.status_code]) in ([201, 409], [200, 409])
        assert {booking.status_code, move.status_code} != {201, 200}
        holders = _holders(a, tuesday)
        if move.status_code == 200:
            assert holders[target] == mover["id"]
            assert holders[slot_id(p, 2, tuesday, at)] is None
        else:
            assert holders[target] == booking.json()["id"]
            assert holders[slot_id(p, 2, tuesday, at)] == mover["id"]


def test_a_booking_racing_an_annotation_never_ends_in_both(
    staff: tuple[Practice, httpx.Client, httpx.Client],
) -> None:
    p, a, b = staff
    wednesday = p.monday + timedelta(days=2)
    for at in ("08:00", "09:00", "10:00", "11:00"):
        slot = slot_id(p, 1, wednesday, at)
        booking, annotation = race(
            [
                lambda s=slot: a.post("/appointments", json={"slot_id": s, "text": "A"}),
                lambda s=slot: b.post(f"/slots/{s}/annotation", json={"text": "zu"}),
            ]
        )
        state = a.get(f"/slots/{slot}").json()
        if booking.status_code == 201:
            assert annotation.status_code == 409
            assert annotation.json()["code"] == "slot_has_appointment"
            assert state["state"] == "appointment"
        else:
            assert (booking.status_code, annotation.status_code) == (409, 200)
            assert state["state"] == "annotation"


# --------------------------------------------------------------------------- two processes


def test_two_server_processes_never_give_one_slot_twice(
    two_practice_servers: tuple[Server, Server],
) -> None:
    server_a, server_b = two_practice_servers
    p = build_practice()
    a = _staff_client(server_a, "empfang", "empfang-pass-123")
    b = _staff_client(server_b, "empfang2", "empfang-pass-123")
    try:
        winners = {}
        for slot, _day in _race_slots(p)[:10]:
            responses = race(
                [
                    lambda s=slot: a.post("/appointments", json={"slot_id": s, "text": "A"}),
                    lambda s=slot: b.post("/appointments", json={"slot_id": s, "text": "B"}),
                ]
            )
            winners[slot] = _one_winner(responses).json()["id"]
        holders = _holders(b, p.monday)
        for slot, appointment in winners.items():
            assert holders[slot] == appointment
    finally:
        a.close()
        b.close()
    _assert_no_server_error(server_a, server_b)


# --------------------------------------------------------------------------- interleavings


class HoldingGate:
    """An occupancy listener that keeps the thread named ``holder`` inside its transaction
    (columns locked, change not yet committed) until ``release`` is set."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.calls: list[tuple[str, frozenset[tuple[int, date]]]] = []

    def __call__(self, touched: frozenset[tuple[int, date]]) -> None:
        name = threading.current_thread().name
        self.calls.append((name, touched))
        if name == "holder":
            self.entered.set()
            assert self.release.wait(30)

    def touched_by(self, name: str) -> set[tuple[int, date]]:
        return {pair for who, pairs in self.calls if who == name for pair in pairs}


@pytest.fixture
def holding_gate(transactional_db: None) -> Iterator[HoldingGate]:
    import os

    from termin360.practice.services.occupancy import (
        add_occupancy_listener,
        remove_occupancy_listener,
    )

    if BACKEND == "sqlite" and not os.environ.get("TERMIN360_TEST_SQLITE_FILE"):
        pytest.skip("threads need a shared SQLite file (scripts/test sets one)")
    gate = HoldingGate()
    add_occupancy_listener(gate)
    try:
        yield gate
    finally:
        gate.release.set()
        remove_occupancy_listener(gate)


def _interleave(gate: HoldingGate, first: Callable[[], Any], second: Callable[[], Any]) -> Any:
    """``first`` runs until it is about to commit; then ``second`` starts (and reads the
    old state); then ``first`` commits. Returns what ``second`` returned or raised."""
    from django.db import connections

    outcome: dict[str, Any] = {}

    def run(name: str, fn: Callable[[], Any]) -> None:
        try:
            outcome[name] = fn()
        except BaseException as exc:
            outcome[name] = exc
        finally:
            connections.close_all()

    holder = threading.Thread(target=run, args=("holder", first), name="holder")
    holder.start()
    assert gate.entered.wait(30), outcome
    other = threading.Thread(target=run, args=("second", second), name="second")
    other.start()
    time.sleep(0.5)  # the second change reads now and queues behind the first one's locks
    gate.release.set()
    holder.join(60)
    other.join(60)
    assert not isinstance(outcome.get("holder"), BaseException), outcome
    return outcome.get("second")


@pytest.fixture
def placed(holding_gate: HoldingGate) -> tuple[Practice, int, int]:
    """A practice with an appointment on Monday 09:00 in column 1, and the slot of
    Tuesday 10:00 in column 2 it is about to be moved to."""
    from termin360.practice.services import appointments

    p = build_practice()
    appt = appointments.book_appointment(
        actor=None, slot_id=slot_id(p, 1, p.monday, "09:00"), text="Herr Fuchs"
    )
    holding_gate.calls.clear()
    return p, appt.pk, slot_id(p, 2, p.monday + timedelta(days=1), "10:00")


def _move(appointment_id: int, slot: int) -> Callable[[], Any]:
    from termin360.practice.services import appointments

    return lambda: appointments.move_appointment(
        actor=None, appointment_id=appointment_id, slot_id=slot
    )


def test_deleting_an_appointment_while_it_is_being_moved_frees_its_new_place(
    holding_gate: HoldingGate, placed: tuple[Practice, int, int]
) -> None:
    from termin360.practice.models import Appointment, Slot
    from termin360.practice.services import appointments

    p, appt, target = placed
    result = _interleave(
        holding_gate,
        _move(appt, target),
        lambda: appointments.delete_appointment(actor=None, appointment_id=appt),
    )
    assert not isinstance(result, BaseException), result
    assert not Appointment.objects.filter(pk=appt).exists()
    assert not Slot.objects.exclude(appointment=None).exists()
    # the day the appointment really left is reported (the online calendar frees it)
    tuesday = p.monday + timedelta(days=1)
    assert (p.columns[2].pk, tuesday) in holding_gate.touched_by("second")


def test_editing_an_appointment_while_it_is_being_moved_keeps_the_move(
    holding_gate: HoldingGate, placed: tuple[Practice, int, int]
) -> None:
    from termin360.practice.models import Appointment, Slot
    from termin360.practice.services import appointments

    p, appt, target = placed
    result = _interleave(
        holding_gate,
        _move(appt, target),
        lambda: appointments.update_appointment(
            actor=None, appointment_id=appt, reason="Befund besprechen"
        ),
    )
    assert not isinstance(result, BaseException), result
    row = Appointment.objects.get(pk=appt)
    slot = Slot.objects.get(pk=target)
    assert row.reason == "Befund besprechen"
    assert row.column_id == p.columns[2].pk
    assert row.day == p.monday + timedelta(days=1)
    assert (row.start, row.end) == (slot.start, slot.end)
    assert slot.appointment_id == appt


def test_extending_an_appointment_while_it_is_being_moved_extends_it_at_its_new_place(
    holding_gate: HoldingGate, placed: tuple[Practice, int, int]
) -> None:
    from termin360.practice.models import Slot
    from termin360.practice.services import appointments

    p, appt, target = placed
    result = _interleave(
        holding_gate,
        _move(appt, target),
        lambda: appointments.extend_appointment(actor=None, appointment_id=appt),
    )
    assert not isinstance(result, BaseException), result
    held = list(Slot.objects.filter(appointment_id=appt).values_list("column_id", flat=True))
    assert held == [p.columns[2].pk, p.columns[2].pk]


def test_moving_to_the_additional_list_while_being_moved_frees_the_new_place(
    holding_gate: HoldingGate, placed: tuple[Practice, int, int]
) -> None:
    from termin360.practice.models import Appointment, Slot
    from termin360.practice.services import appointments

    p, appt, target = placed
    result = _interleave(
        holding_gate,
        _move(appt, target),
        lambda: appointments.move_to_additional_list(actor=None, appointment_id=appt),
    )
    assert not isinstance(result, BaseException), result
    assert Appointment.objects.get(pk=appt).column_id is None
    assert not Slot.objects.exclude(appointment=None).exists()
    tuesday = p.monday + timedelta(days=1)
    assert (p.columns[2].pk, tuesday) in holding_gate.touched_by("second")


def test_a_note_written_while_the_slot_is_being_blocked_keeps_the_block(
    holding_gate: HoldingGate,
) -> None:
    from termin360.practice.models import Slot
    from termin360.practice.services import slots

    p = build_practice()
    slot = slot_id(p, 1, p.monday, "09:00")
    result = _interleave(
        holding_gate,
        lambda: slots.delete_free_slot(slot_id=slot, text="Fortbildung"),
        lambda: slots.set_note(slot_id=slot, text="Rückruf"),
    )
    assert not isinstance(result, BaseException), result
    row = Slot.objects.get(pk=slot)
    assert (row.annotated, row.annotation, row.note) == (True, "Fortbildung", "Rückruf")
