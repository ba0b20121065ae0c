"""S9: a staff action in a mapped column is checked with the portal before it is saved."""

from __future__ import annotations

from typing import Any

import pytest

from termin360.connector.models import OnlineBooking, SyncConfig, SyncState
from termin360.connector.portal_client import AuthFailure, PortalTimeout, Refused
from termin360.connector.services import claims, config
from termin360.connector.services.claims import OnlineBookingHoldsTime
from termin360.core.errors import Conflict
from termin360.practice.models import Appointment
from termin360.practice.services import appointments, slots
from tests.conftest import Api, assert_error
from tests.connector.conftest import CAL_A, Connected
from tests.connector.helpers import online, pull, slot_at


def staff_books(c: Connected, offset: int, clock: str, column: int = 1) -> Appointment:
    return appointments.book_appointment(
        actor=None, slot_id=slot_at(c, column, offset, clock).pk, text="Praxis"
    )


def test_s9_staff_action_on_time_of_unseen_online_booking_is_refused_and_booking_pulled_in(
    connected_committed: Connected,
) -> None:
    c = connected_committed
    b = c.portal.book(CAL_A, c.at(0, "09:00"), last_name="Schäfer", first_name="Jana")
    with pytest.raises(OnlineBookingHoldsTime) as err:
        staff_books(c, 0, "09:00")
    assert err.value.code == "online_booking_holds_time" and err.value.status == 409
    message = err.value.message
    assert "Schäfer, Jana" in message and f"{c.day(0):%d.%m.%Y} 09:00" in message
    assert str(b.booking_id) in message
    # the staff's appointment is gone, the online booking sits in its slot (pulled in)
    ob = online(b.booking_id)
    assert ob.placement == OnlineBooking.Placement.SLOT and ob.appointment is not None
    assert ob.appointment.origin == Appointment.Origin.ONLINE
    assert slot_at(c, 1, 0, "09:00").appointment_id == ob.appointment.pk
    assert Appointment.objects.count() == 1
    # the cursor did not move; the feed brings the booking later and changes nothing
    assert SyncState.objects.get(pk=1).cursor == 0
    assert pull(c.portal).changed == 0 and Appointment.objects.count() == 1


def test_s9_booking_pulled_in_already_does_not_refuse_the_next_action(
    connected_committed: Connected,
) -> None:
    c = connected_committed
    config.set_mappings([])
    staff_books(c, 0, "09:00")  # before the column was connected: the portal never knew
    config.set_mappings([(CAL_A, 1, 1)])
    b = c.portal.book(CAL_A, c.at(0, "09:00"))
    with pytest.raises(OnlineBookingHoldsTime):
        staff_books(c, 0, "11:00")  # the day's whole busy time is new to the portal
    ob = online(b.booking_id)
    assert ob.appointment is not None and ob.appointment.flag_reason == "slot_taken"
    # the collision is in the calendar now (additional list): the staff may go on
    staff_books(c, 0, "11:00")
    assert SyncState.objects.get(pk=1).cursor == 0
    assert Appointment.objects.count() == 3


def test_s9_refusal_reaches_the_staff_as_a_409_with_the_message(
    connected: Connected, api: Api
) -> None:
    c = connected
    c.portal.book(CAL_A, c.at(1, "10:00"), last_name="Weber", first_name="Ute")
    response = api.post(
        "/appointments", {"slot_id": slot_at(c, 1, 1, "10:00").pk, "text": "Kontrolle"}
    )
    body = assert_error(response, 409, "online_booking_holds_time")
    assert "Weber, Ute" in body["detail"]
    assert Appointment.objects.count() == 0


def test_s9_time_of_a_booking_already_seen_is_not_refused(connected: Connected) -> None:
    c = connected
    c.portal.book(CAL_A, c.at(0, "09:00"))
    pull(c.portal)
    appt = online(1).appointment
    assert appt is not None
    # the staff moves the online appointment away and books the time for someone else:
    # the portal knows the connector has seen the booking (S10 takes care of it)
    appointments.move_appointment(
        actor=None, appointment_id=appt.pk, slot_id=slot_at(c, 1, 0, "10:00").pk
    )
    staff_books(c, 0, "09:00")
    assert c.portal.calls.count("claim") == 2
    assert Appointment.objects.count() == 2


def test_s9_only_newly_claimed_staff_time_is_checked(connected: Connected) -> None:
    c = connected
    c.portal.book(CAL_A, c.at(0, "09:00"))
    pull(c.portal)  # origin "sync": no check
    assert "claim" not in c.portal.calls
    appt = staff_books(c, 0, "11:00")
    assert c.portal.calls.count("claim") == 1
    appointments.delete_appointment(actor=None, appointment_id=appt.pk)  # frees time
    slots.set_note(slot_id=slot_at(c, 1, 0, "11:30").pk, text="Notiz")  # no occupancy
    assert c.portal.calls.count("claim") == 1


def test_s9_no_check_before_the_connector_is_configured(connected: Connected) -> None:
    c = connected
    SyncConfig.objects.all().delete()
    c.portal.book(CAL_A, c.at(0, "09:00"))
    staff_books(c, 0, "09:00")
    assert "claim" not in c.portal.calls


def test_s9_portal_unreachable_saves_the_action_and_the_collision_lands_in_additional_list(
    connected: Connected, django_capture_on_commit_callbacks: Any
) -> None:
    c = connected
    b = c.portal.book(CAL_A, c.at(2, "08:00"))
    c.portal.fail_with = PortalTimeout("Portal antwortet nicht rechtzeitig.", code="timeout")
    with django_capture_on_commit_callbacks(execute=True):
        staff = staff_books(c, 2, "08:00")
    assert slot_at(c, 1, 2, "08:00").appointment_id == staff.pk
    assert "antwortet nicht rechtzeitig" in SyncState.objects.get(pk=1).last_error
    c.portal.fail_with = None
    pull(c.portal)
    appt = online(b.booking_id).appointment
    assert appt is not None and appt.in_additional_list and appt.flag_reason == "slot_taken"
    assert slot_at(c, 1, 2, "08:00").appointment_id == staff.pk


def test_s9_rejected_api_key_lets_the_action_through_and_records_the_error(
    connected: Connected, django_capture_on_commit_callbacks: Any
) -> None:
    c = connected
    c.portal.fail_with = AuthFailure("Das Portal lehnt den API-Schlüssel ab.", code="auth")
    with django_capture_on_commit_callbacks(execute=True):
        staff_books(c, 0, "09:00")
    assert Appointment.objects.count() == 1
    assert "API-Schlüssel" in SyncState.objects.get(pk=1).last_error


def test_s9_client_is_kept_between_checks_and_rebuilt_after_a_config_change(
    connected: Connected, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = connected
    built: list[Any] = []

    def factory(cfg: SyncConfig) -> Any:
        built.append(cfg.portal_url)
        return c.portal

    monkeypatch.setattr(claims, "client_factory", factory)
    claims.reset_client()
    staff_books(c, 0, "08:00")
    staff_books(c, 0, "08:15")
    assert built == ["https://portal.example.de"]
    config.save_config(portal_url="https://portal2.example.de")
    staff_books(c, 0, "08:30")
    assert built == ["https://portal.example.de", "https://portal2.example.de"]


# --------------------------------------------------------------------------- holds (decision 009)


def test_s9_a_granted_claim_holds_the_time_and_the_next_busy_state_settles_it(
    connected: Connected,
) -> None:
    from termin360.connector.models import OutboxEntry
    from termin360.connector.services import outbox

    c = connected
    c.portal.strict = True
    staff_books(c, 0, "09:00")
    [claim_id] = list(c.portal.holds)
    assert c.portal.active_holds() == [(CAL_A, c.day(0), c.at(0, "09:00"), c.at(0, "09:15"))]
    # an online booking arriving now is refused: the time is held
    with pytest.raises(Refused) as refused:
        c.portal.book(CAL_A, c.at(0, "09:00"))
    assert refused.value.code == "slot_taken"
    [entry] = OutboxEntry.objects.all()
    assert entry.claims == [claim_id]
    outbox.relay_once(c.portal)
    [sent] = c.portal.busy_batches[-1].days
    assert sent.settles == [claim_id] and sent.revision > 0
    assert c.portal.active_holds() == []  # the busy state blocks the time now
    assert c.portal.held(CAL_A, c.at(0, "09:00"), c.at(0, "09:15"))


def test_s9_a_claim_whose_action_is_rolled_back_is_released(
    connected_committed: Connected, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import transaction

    from tests.connector.sync_model import SyncExecutor

    monkeypatch.setattr(claims, "_executor", SyncExecutor())  # the release, at once
    c = connected_committed
    slot = slot_at(c, 1, 0, "09:00")
    with pytest.raises(RuntimeError), transaction.atomic():
        appointments.book_appointment(actor=None, slot_id=slot.pk, text="Praxis")
        raise RuntimeError("the request failed after the booking")
    # the booking's gate committed inside the outer block, which then rolled back: the
    # lease ends that hold; a change that fails in its own gate is released at once
    c.portal.holds.clear()

    def fail(_touched: object) -> None:
        raise RuntimeError("another listener failed")

    from termin360.practice.services import occupancy

    occupancy.add_occupancy_listener(fail)
    try:
        with pytest.raises(RuntimeError):
            staff_books(c, 0, "09:30")
    finally:
        occupancy.remove_occupancy_listener(fail)
    assert "release_claim" in c.portal.calls
    assert c.portal.active_holds() == []
    assert Appointment.objects.count() == 0


def test_s9_a_refusal_naming_only_a_booking_pulled_in_already_asks_again_and_holds(
    connected_committed: Connected,
) -> None:
    c = connected_committed
    config.set_mappings([])
    staff_books(c, 0, "09:00")  # before the column was connected: the portal never knew
    config.set_mappings([(CAL_A, 1, 1)])
    b = c.portal.book(CAL_A, c.at(0, "09:00"))
    with pytest.raises(OnlineBookingHoldsTime):
        staff_books(c, 0, "11:00")  # pulls the booking in (to the additional list)
    staff_books(c, 0, "11:00")
    claims_sent = c.portal.calls.count("claim")
    # refused; then refused naming only the known booking, and asked again with it as known
    assert claims_sent == 3
    assert any(day[2] == c.at(0, "11:00") for day in c.portal.active_holds())
    assert online(b.booking_id).appointment is not None


def test_a_slot_taken_by_a_placed_online_booking_is_refused_naming_it(connected: Connected) -> None:
    c = connected
    c.portal.book(CAL_A, c.at(0, "09:00"), last_name="Sommer", first_name="Lea")
    pull(c.portal)
    with pytest.raises(Conflict) as err:
        staff_books(c, 0, "09:00")
    assert err.value.code == "slot_taken"
    assert err.value.message == "Diese Zeit ist bereits vergeben: Online: Sommer, Lea (17.05.1980)."
    staff_books(c, 0, "09:15")  # next to it: fine
    with pytest.raises(Conflict) as err:
        staff_books(c, 0, "09:15")
    assert err.value.message == "Dieser Termin ist bereits vergeben."  # a staff appointment


def test_a_slot_taken_by_an_online_booking_linked_to_a_patient_names_the_patient(
    connected: Connected,
) -> None:
    from datetime import date

    from termin360.practice.services import patients

    c = connected
    patients.create_patient(
        location_id=c.practice.location.pk,
        last_name="Sommer",
        first_name="Lea",
        date_of_birth=date(1990, 1, 2),
    )
    c.portal.book(
        CAL_A,
        c.at(0, "10:00"),
        last_name="Sommer",
        first_name="Lea",
        date_of_birth=date(1990, 1, 2),
    )
    pull(c.portal)
    with pytest.raises(Conflict) as err:
        staff_books(c, 0, "10:00")
    assert err.value.message == "Diese Zeit ist bereits online gebucht: Sommer, Lea."
