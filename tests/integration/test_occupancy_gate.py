"""The occupancy gate: every change of what is occupied in a column tells the registered
listeners which (column id, day) pairs changed — once per change, inside its transaction,
so that a listener that raises (the connector's outbox, a collision found online) rolls
the change back. Changes that do not affect occupancy (notes, who an appointment is
for, the additional list on its own) call nobody."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from django.db import connection

from tests.conftest import Api, Practice, assert_error, booked, slot_id, slot_state

Pairs = frozenset[tuple[int, date]]


class Recorder:
    def __init__(self) -> None:
        self.calls: list[Pairs] = []
        self.in_transaction: list[bool] = []
        self.refuse = False

    def __call__(self, touched: Pairs) -> None:
        from termin360.core.errors import Conflict

        self.calls.append(touched)
        self.in_transaction.append(connection.in_atomic_block)
        if self.refuse:
            raise Conflict("Online booking 4711 holds this time.", code="online_booking")

    def take(self) -> list[Pairs]:
        calls, self.calls = self.calls, []
        return calls


@pytest.fixture
def gate(practice: Practice) -> Iterator[Recorder]:
    from termin360.practice.services.occupancy import (
        add_occupancy_listener,
        remove_occupancy_listener,
    )

    recorder = Recorder()
    add_occupancy_listener(recorder)
    try:
        yield recorder
    finally:
        remove_occupancy_listener(recorder)


def _col(practice: Practice, number: int) -> int:
    return int(practice.columns[number].pk)


def _day(practice: Practice, offset: int) -> date:
    return practice.monday + timedelta(days=offset)


def _pairs(practice: Practice, *items: tuple[int, int]) -> Pairs:
    return frozenset((_col(practice, c), _day(practice, d)) for c, d in items)


# --------------------------------------------------------------------------- appointments


def test_booking_extending_shortening_and_deleting_call_the_gate(
    api: Api, practice: Practice, gate: Recorder
) -> None:
    appt = booked(api, slot_id(practice, 2, _day(practice, 1), "09:00"))
    assert gate.take() == [_pairs(practice, (2, 1))]
    api.post(f"/appointments/{appt['id']}/extend")
    assert gate.take() == [_pairs(practice, (2, 1))]
    api.post(f"/appointments/{appt['id']}/shorten")
    assert gate.take() == [_pairs(practice, (2, 1))]
    api.delete(f"/appointments/{appt['id']}")
    assert gate.take() == [_pairs(practice, (2, 1))]
    assert all(gate.in_transaction)


def test_moves_report_the_day_left_and_the_day_entered(
    api: Api, practice: Practice, gate: Recorder
) -> None:
    appt = booked(api, slot_id(practice, 1, _day(practice, 0), "09:00"), slot_count=2)
    gate.take()
    api.post(
        f"/appointments/{appt['id']}/move",
        {"slot_id": slot_id(practice, 1, _day(practice, 0), "11:00")},
    )
    assert gate.take() == [_pairs(practice, (1, 0))]
    api.post(
        f"/appointments/{appt['id']}/move",
        {"slot_id": slot_id(practice, 2, _day(practice, 3), "08:00")},
    )
    assert gate.take() == [_pairs(practice, (1, 0), (2, 3))]
    api.post(f"/appointments/{appt['id']}/move", {"to_additional_list": True})
    assert gate.take() == [_pairs(practice, (2, 3))]
    api.post(
        f"/appointments/{appt['id']}/move",
        {"slot_id": slot_id(practice, 1, _day(practice, 8), "08:00")},
    )
    assert gate.take() == [_pairs(practice, (1, 8))]


def test_changes_without_effect_on_occupancy_call_nobody(
    api: Api, practice: Practice, gate: Recorder
) -> None:
    slot = slot_id(practice, 1, _day(practice, 0), "09:00")
    api.put(f"/slots/{slot}/note", {"text": "Rückruf"})
    api.put(f"/slots/{slot}/note", {"text": ""})
    extra = api.post(
        "/additional-appointments", {"calendar": 1, "day": str(practice.monday), "text": "Z"}
    ).json()
    api.patch(f"/appointments/{extra['id']}", {"reason": "Schmerzen"})
    api.delete(f"/appointments/{extra['id']}")
    assert gate.take() == []
    appt = booked(api, slot)
    gate.take()
    api.patch(f"/appointments/{appt['id']}", {"text": "Anderer Text"})
    api.post(f"/appointments/{appt['id']}/move", {"to_additional_list": True})
    gate.take()
    api.post(f"/appointments/{appt['id']}/move", {"to_additional_list": True})  # already there
    assert gate.take() == []


def test_refused_changes_call_nobody(api: Api, practice: Practice, gate: Recorder) -> None:
    slot = slot_id(practice, 1, _day(practice, 0), "09:00")
    booked(api, slot)
    gate.take()
    assert_error(api.post("/appointments", {"slot_id": slot, "text": "x"}), 409)
    assert gate.take() == []


# --------------------------------------------------------------------------- slots, reservations


def test_annotations_call_the_gate(api: Api, practice: Practice, gate: Recorder) -> None:
    slot = slot_id(practice, 2, _day(practice, 4), "10:00")
    api.post(f"/slots/{slot}/annotation", {"text": "zu"})
    assert gate.take() == [_pairs(practice, (2, 4))]
    api.delete(f"/slots/{slot}/annotation")
    assert gate.take() == [_pairs(practice, (2, 4))]


def test_reservations_call_the_gate_for_every_day_and_column(
    api: Api, practice: Practice, gate: Recorder
) -> None:
    r = api.post(
        "/calendars/1/reservations",
        {
            "columns": [1, 2],
            "first_day": str(_day(practice, 1)),
            "last_day": str(_day(practice, 3)),
            "start": "09:00",
            "end": "10:00",
            "reason": "Besprechung",
        },
    )
    assert r.status_code == 201
    expected = _pairs(practice, *((c, d) for c in (1, 2) for d in (1, 2, 3)))
    assert gate.take() == [expected]
    api.delete(f"/reservations/{r.json()['id']}")
    assert gate.take() == [expected]


# --------------------------------------------------------------------------- grid


def test_grid_generation_calls_the_gate_for_the_days_it_fills(
    admin_api: Api, practice: Practice, gate: Recorder
) -> None:
    first, last = _day(practice, 14), _day(practice, 20)
    admin_api.post(
        "/calendars/1/grid", {"first_day": str(first), "last_day": str(last), "columns": [2]}
    )
    assert gate.take() == [_pairs(practice, *((2, d) for d in range(14, 19)))]
    # nothing new: nobody is called
    admin_api.post(
        "/calendars/1/grid", {"first_day": str(first), "last_day": str(last), "columns": [2]}
    )
    assert gate.take() == []
    admin_api.post(
        "/calendars/1/columns/1/slots",
        {"day": str(_day(practice, 5)), "start": "10:00", "minutes": 30},
    )
    assert gate.take() == [_pairs(practice, (1, 5))]


def test_grid_rebuild_calls_the_gate_for_the_days_it_changes(
    admin_api: Api, api: Api, practice: Practice, gate: Recorder
) -> None:
    booked(api, slot_id(practice, 1, _day(practice, 2), "11:45"))
    gate.take()
    rules = [
        {"weekday": d, "start": "08:00", "end": "11:00" if d == 2 else "12:00", "slot_minutes": 15}
        for d in range(5)
    ]
    admin_api.put("/calendars/1/columns/1/template", rules)
    assert gate.take() == []  # a template alone changes nothing yet
    r = admin_api.post(
        "/calendars/1/grid",
        {
            "first_day": str(_day(practice, 0)),
            "last_day": str(_day(practice, 13)),
            "columns": [1],
            "rebuild": True,
        },
    )
    assert r.json()[0]["moved_to_additional_list"] == 1
    assert gate.take() == [_pairs(practice, (1, 2), (1, 9))]


# --------------------------------------------------------------------------- rollback


def _refusing(gate: Recorder) -> Recorder:
    gate.refuse = True
    gate.take()
    return gate


def test_a_listener_that_refuses_rolls_a_booking_back(
    api: Api, practice: Practice, gate: Recorder
) -> None:
    from termin360.practice.models import Appointment, AuditEntry

    _refusing(gate)
    slot = slot_id(practice, 1, _day(practice, 0), "09:00")
    r = api.post("/appointments", {"slot_id": slot, "text": "x", "slot_count": 2})
    body = assert_error(r, 409, "online_booking")
    assert "4711" in body["detail"]
    assert len(gate.take()) == 1
    assert slot_state(api, slot)["state"] == "free"
    assert not Appointment.objects.exists()
    assert not AuditEntry.objects.exists()


def test_a_listener_that_refuses_rolls_back_every_kind_of_change(
    admin_api: Api, api: Api, practice: Practice, gate: Recorder
) -> None:
    from termin360.practice.models import Appointment, Reservation, Slot

    appt = booked(api, slot_id(practice, 1, _day(practice, 0), "09:00"), slot_count=2)
    reservation = api.post(
        "/calendars/1/reservations",
        {
            "columns": [2],
            "first_day": str(_day(practice, 1)),
            "last_day": str(_day(practice, 1)),
            "start": "09:00",
            "end": "10:00",
            "reason": "OP",
        },
    ).json()
    free = slot_id(practice, 1, _day(practice, 0), "11:00")
    before_slots = list(Slot.objects.order_by("pk").values())
    before_appt = api.get(f"/appointments/{appt['id']}").json()
    _refusing(gate)

    attempts: list[tuple[str, str, Any]] = [
        ("delete", f"/appointments/{appt['id']}", None),
        ("post", f"/appointments/{appt['id']}/extend", {}),
        ("post", f"/appointments/{appt['id']}/shorten", {}),
        ("post", f"/appointments/{appt['id']}/move", {"slot_id": free}),
        ("post", f"/appointments/{appt['id']}/move", {"to_additional_list": True}),
        ("post", f"/slots/{free}/annotation", {"text": "zu"}),
        ("delete", f"/reservations/{reservation['id']}", None),
        (
            "post",
            "/calendars/1/reservations",
            {
                "columns": [1],
                "first_day": str(_day(practice, 2)),
                "last_day": str(_day(practice, 2)),
                "start": "08:00",
                "end": "09:00",
                "reason": "x",
            },
        ),
    ]
    for method, path, body in attempts:
        r = getattr(api, method)(path, body) if body is not None else getattr(api, method)(path)
        assert_error(r, 409, "online_booking")
    admin_attempts: list[tuple[str, Any]] = [
        (
            "/calendars/1/grid",
            {"first_day": str(_day(practice, 14)), "last_day": str(_day(practice, 15))},
        ),
        (
            "/calendars/1/grid",
            {
                "first_day": str(_day(practice, 0)),
                "last_day": str(_day(practice, 0)),
                "rebuild": True,
            },
        ),
        (
            "/calendars/1/columns/1/slots",
            {"day": str(_day(practice, 5)), "start": "10:00", "minutes": 30},
        ),
    ]
    admin_api.put(
        "/calendars/1/columns/1/template",
        [{"weekday": 0, "start": "10:00", "end": "12:00", "slot_minutes": 15}],
    )
    for path, body in admin_attempts:
        assert_error(admin_api.post(path, body), 409, "online_booking")
    assert len(gate.take()) == len(attempts) + len(admin_attempts)

    assert list(Slot.objects.order_by("pk").values()) == before_slots
    assert api.get(f"/appointments/{appt['id']}").json() == before_appt
    assert Appointment.objects.count() == 1
    assert list(Reservation.objects.values_list("pk", flat=True)) == [reservation["id"]]


def test_the_listener_sees_the_change_it_is_told_about(api: Api, practice: Practice) -> None:
    from termin360.practice.models import Slot
    from termin360.practice.services.occupancy import (
        add_occupancy_listener,
        remove_occupancy_listener,
    )

    seen: list[list[int | None]] = []

    def look(touched: Pairs) -> None:
        ((column_id, day),) = touched
        seen.append(
            list(
                Slot.objects.filter(column_id=column_id, day=day)
                .exclude(appointment=None)
                .values_list("appointment_id", flat=True)
            )
        )

    add_occupancy_listener(look)
    try:
        appt = booked(api, slot_id(practice, 1, practice.monday, "09:00"), slot_count=2)
    finally:
        remove_occupancy_listener(look)
    assert seen == [[appt["id"], appt["id"]]]


def test_a_listener_that_fails_unexpectedly_rolls_back_and_answers_json(
    api: Api, practice: Practice, gate: Recorder
) -> None:
    from termin360.practice.services.occupancy import (
        add_occupancy_listener,
        remove_occupancy_listener,
    )

    def broken(touched: Pairs) -> None:
        raise RuntimeError("outbox table missing")

    slot = slot_id(practice, 1, _day(practice, 0), "09:00")
    add_occupancy_listener(broken)
    try:
        r = api.post("/appointments", {"slot_id": slot, "text": "x"})
    finally:
        remove_occupancy_listener(broken)
    body = assert_error(r, 500, "server_error")
    assert "outbox" not in body["detail"]  # no internals in the answer
    assert slot_state(api, slot)["state"] == "free"


def test_a_change_rolled_back_calls_its_rollback_callbacks_and_a_saved_one_does_not(
    practice: Practice,
) -> None:
    from termin360.core.errors import Conflict
    from termin360.practice.services import occupancy

    told: list[str] = []
    refuse = {"now": False}

    def listener(touched: Pairs) -> None:
        occupancy.on_rollback(lambda: told.append("rolled back"))
        if refuse["now"]:
            raise Conflict("refused", code="test")

    occupancy.add_occupancy_listener(listener)
    try:
        with occupancy.occupancy_change() as change:
            change.touch(practice.columns[1].pk, practice.monday)
        assert told == []  # saved: nobody is told of a rollback
        refuse["now"] = True
        with pytest.raises(Conflict), occupancy.occupancy_change() as change:
            change.touch(practice.columns[1].pk, practice.monday)
        assert told == ["rolled back"]
        # A change saved inside an enclosing one that fails is undone with it.
        refuse["now"] = False
        with pytest.raises(RuntimeError), occupancy.occupancy_change() as outer:
            outer.lock(practice.columns[1])
            with occupancy.occupancy_change() as inner:
                inner.touch(practice.columns[1].pk, practice.monday)
            raise RuntimeError("the enclosing change fails")
        assert told == ["rolled back", "rolled back"]
    finally:
        occupancy.remove_occupancy_listener(listener)
    occupancy.on_rollback(lambda: told.append("outside any change"))  # ignored
    assert told == ["rolled back", "rolled back"]
