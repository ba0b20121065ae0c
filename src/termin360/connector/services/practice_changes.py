"""S10: the practice deleted, moved, extended or shortened an online booking's appointment
— the portal must cancel or move the booking (to the appointment's new start and end)
and tell the patient.

Not sent from inside the practice transaction (the staff must not wait for the portal
nor fail because of it): the relay finds these bookings afterwards
(``selectors.pending_practice_changes``). The idempotency keys name the change
(``cancel-<id>``, ``move-<id>-<start>``), so a change sent twice acts once.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from termin360.connector.models import OnlineBooking
from termin360.connector.portal_client import PortalApi, Refused
from termin360.connector.selectors import pending_practice_changes
from termin360.practice.models import Appointment
from termin360.practice.services import view_versions
from termin360.protocol.messages import BookingState, PracticeCancel, PracticeMove

logger = logging.getLogger(__name__)

# Sent to the portal, which tells the patient: in the patient's language (German).
CANCEL_REASON = "Termin von der Praxis abgesagt"
MOVE_REFUSED_FLAG = "online_move_refused"


def _store_state(
    ob: OnlineBooking, state: BookingState, appointment: Appointment | None = None
) -> None:
    """The portal's answer is the booking after our change: feed events up to its
    ``seq`` (the echo of this change, or of an earlier one) bring nothing newer; the
    ``appointment`` as it is now is what the portal agreed to."""
    ob.last_seq = max(ob.last_seq, state.seq)
    if appointment is not None:
        ob.placed_start, ob.placed_end = appointment.start, appointment.end
    ob.status = state.status
    ob.start, ob.end = state.start, state.end
    if state.status == "cancelled":
        ob.cancelled_at = state.cancelled_at or timezone.now()
        ob.cancelled_by = (state.cancelled_by or "practice")[:10]
    ob.refused_start = ob.refused_end = None
    ob.practice_change_error = ""
    ob.save()


def _cancel(client: PortalApi, ob: OnlineBooking) -> bool:
    try:
        state = client.cancel_booking(
            ob.booking_id, PracticeCancel(reason=CANCEL_REASON), f"cancel-{ob.booking_id}"
        )
    except Refused as exc:
        # The portal cannot cancel it (unknown there, or already over): nothing more the
        # connector can do — keep the reason, and stop sending it again and again.
        logger.warning("practice cancel of online booking %s refused: %s", ob.booking_id, exc.code)
        ob.status = OnlineBooking.Status.CANCELLED
        ob.cancelled_at = ob.cancelled_at or timezone.now()
        ob.cancelled_by = "practice"
        ob.practice_change_error = exc.message[:300]
        ob.save()
        return False
    _store_state(ob, state)
    return True


def _move(client: PortalApi, ob: OnlineBooking, appt: Appointment) -> bool:
    assert appt.start is not None and appt.end is not None
    # The key names the whole change: a shortened appointment at the same start is
    # another change than the move before it.
    key = f"move-{ob.booking_id}-{appt.start.isoformat()}-{appt.end.isoformat()}"
    try:
        state = client.move_booking(
            ob.booking_id, PracticeMove(start=appt.start, end=appt.end), key
        )
    except Refused as exc:
        # Typically the new time is taken online. The practice keeps its appointment where
        # the staff put it, flagged, and this move is not sent again (``refused_start``).
        logger.warning("practice move of online booking %s refused: %s", ob.booking_id, exc.code)
        with transaction.atomic():
            ob.refused_start, ob.refused_end = appt.start, appt.end
            ob.practice_change_error = exc.message[:300]
            ob.save(update_fields=["refused_start", "refused_end", "practice_change_error"])
            if exc.status == 409:
                Appointment.objects.filter(pk=appt.pk).update(
                    flagged=True, flag_reason=MOVE_REFUSED_FLAG
                )
                view_versions.appointment_changed(appt)  # open views show the flag (C8)
        return False
    _store_state(ob, state, appt)
    return True


def send_practice_changes(client: PortalApi) -> int:
    """Send every pending cancel or move; returns how many the portal carried out.
    Other portal errors (unreachable, …) are raised: the round reports them and the
    change stays pending."""
    done = 0
    for ob in list(pending_practice_changes()):
        appt = ob.appointment
        if appt is None:
            done += _cancel(client, ob)
        elif appt.start is not None:
            done += _move(client, ob, appt)
    return done
