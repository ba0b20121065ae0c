"""The waiting list for an earlier time (P9) on a real database: joining, the worker's
offer round, the mailed link that books or moves in one step, refusals, expiry."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from termin360.core.errors import ApplicationError, Conflict, InvalidInput, NotFound
from termin360.core.errors import PermissionDenied as Forbidden
from termin360.portal.models import (
    Booking,
    BusyInterval,
    OutgoingEmail,
    WaitlistEntry,
    WaitlistOffer,
)
from termin360.portal.services import bookings, waitlist
from tests.portal.conftest import World, build_world, make_patient
from tests.portal.smtp import SmtpServer
from tests.portal.test_worker import (  # noqa: F401  (fixtures)
    _eventually,
    smtp_server,
    smtp_settings,
    worker_thread,
)

BERLIN = ZoneInfo("Europe/Berlin")
LINK = re.compile(r"https?://\S+/warteliste/angebot/\S+/")


@dataclass
class Waiting:
    """Three patients have booked the first three times of day ``day`` (08:00, 08:15,
    08:30); nothing before is bookable. ``b`` and ``c`` want earlier times, in that
    order."""

    world: World
    day: datetime  # 08:00 local on a weekday at least three days ahead
    a: Any
    b: Any
    c: Any
    booking_a: Booking
    booking_b: Booking
    booking_c: Booking
    entry_b: WaitlistEntry
    entry_c: WaitlistEntry

    @property
    def first(self) -> datetime:
        return self.booking_a.start


def weekday_at_eight(days_ahead: int = 3) -> datetime:
    day = timezone.now().astimezone(BERLIN).date() + timedelta(days=days_ahead)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, time(8), tzinfo=BERLIN)


def block_until(world: World, until: datetime) -> None:
    """The practice calendar is full until ``until`` (busy time pushed by the connector)."""
    now = timezone.now()
    BusyInterval.objects.create(
        calendar=world.calendar,
        day=now.astimezone(BERLIN).date(),
        start=now - timedelta(hours=1),
        end=until,
    )


def setup_waiting(world: World) -> Waiting:
    day = weekday_at_eight()
    block_until(world, day)
    a = world.patient
    b = make_patient(f"b-{world.practice.pk}@example.org", last="Becker", first="Berta")
    c = make_patient(f"c-{world.practice.pk}@example.org", last="Cramer", first="Carl")
    booked = [
        bookings.book(
            patient=p,
            calendar_id=world.calendar.pk,
            visit_type_id=world.checkup.pk,
            start=day + timedelta(minutes=15 * i),
        )
        for i, p in enumerate((a, b, c))
    ]
    entry_b = waitlist.join(patient=b, booking_id=booked[1].pk)
    entry_c = waitlist.join(patient=c, booking_id=booked[2].pk)
    return Waiting(world, day, a, b, c, booked[0], booked[1], booked[2], entry_b, entry_c)


def offers_of(entry: WaitlistEntry) -> list[WaitlistOffer]:
    return list(WaitlistOffer.objects.filter(entry=entry).order_by("pk"))


def token_of(offer: WaitlistOffer) -> str:
    return waitlist.offer_token(offer)


def offer_path(offer: WaitlistOffer) -> str:
    return reverse("portal:waitlist-offer", args=[token_of(offer)])


def expire(offer: WaitlistOffer) -> None:
    WaitlistOffer.objects.filter(pk=offer.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )


@pytest.fixture
def waiting(world: World) -> Waiting:
    return setup_waiting(world)


# --------------------------------------------------------------------------- offers


def test_nothing_is_offered_while_no_earlier_time_is_free(waiting: Waiting) -> None:
    assert waitlist.offer_round() == 0
    assert not WaitlistOffer.objects.exists()


def test_cancelled_time_is_offered_to_the_first_waiting_patient_by_mail(
    waiting: Waiting,
) -> None:
    practice = waiting.world.practice
    practice.phone = "07251 123-45"
    practice.save(update_fields=["phone"])
    bookings.cancel_by_patient(patient=waiting.a, booking_id=waiting.booking_a.pk)

    assert waitlist.offer_round() == 1
    (offer,) = offers_of(waiting.entry_b)
    assert (offer.start, offer.end) == (waiting.first, waiting.first + timedelta(minutes=15))
    now = timezone.now()
    assert now < offer.expires_at <= now + waitlist.OFFER_LIFETIME
    assert offers_of(waiting.entry_c) == []  # the time is promised to b meanwhile
    (sent,) = OutgoingEmail.objects.filter(kind="waitlist_offer")
    assert sent.to == waiting.b.user.email
    link = LINK.search(sent.body)
    assert link is not None
    token = urlsplit(link.group(0)).path.rstrip("/").rsplit("/", 1)[1]  # signed with a time
    assert waitlist.offer_of(waiting.b, token).pk == offer.pk
    assert practice.name in sent.body and "Dr. Anna Berger" in sent.body
    assert "07251 123-45" in sent.body
    assert reverse("portal:waitlist") in sent.body
    # The next round changes nothing: the offer is live.
    assert waitlist.offer_round() == 0


def test_following_the_link_moves_the_booking_in_one_step(client: Any, waiting: Waiting) -> None:
    bookings.cancel_by_patient(patient=waiting.a, booking_id=waiting.booking_a.pk)
    waitlist.offer_round()
    (offer,) = offers_of(waiting.entry_b)
    client.force_login(waiting.b.user)

    page = client.get(offer_path(offer))
    assert page.status_code == 200
    assert 'type="submit"' in page.content.decode()
    response = client.post(offer_path(offer))

    assert response.status_code == 302 and response["Location"] == reverse("portal:my-bookings")
    waiting.booking_b.refresh_from_db()
    assert waiting.booking_b.start == waiting.first
    assert waiting.booking_b.status == Booking.Status.ACTIVE
    assert Booking.objects.filter(patient=waiting.b).count() == 1
    waiting.entry_b.refresh_from_db()
    assert waiting.entry_b.ended_reason == waitlist.Ended.TOOK_OFFER
    offer.refresh_from_db()
    assert offer.taken_at is not None
    assert OutgoingEmail.objects.filter(kind="booking_moved", to=waiting.b.user.email).exists()
    # The freed 08:15 goes to c, who waits for anything earlier than 08:30.
    assert waitlist.offer_round() == 1
    (for_c,) = offers_of(waiting.entry_c)
    assert for_c.start == waiting.booking_b.start + timedelta(minutes=15)
    # A second click is refused cleanly.
    again = client.post(offer_path(offer))
    assert again.status_code == 410 and 'data-code="offer_used"' in again.content.decode()


def test_an_expired_offer_passes_the_time_to_the_next_and_never_back(waiting: Waiting) -> None:
    bookings.cancel_by_patient(patient=waiting.a, booking_id=waiting.booking_a.pk)
    waitlist.offer_round()
    (to_b,) = offers_of(waiting.entry_b)
    expire(to_b)

    assert waitlist.offer_round() == 1
    (to_c,) = offers_of(waiting.entry_c)
    assert to_c.start == to_b.start
    expire(to_c)
    for _ in range(3):
        assert waitlist.offer_round() == 0
    # Each entry was offered the time once, and only once.
    assert [o.start for o in offers_of(waiting.entry_b)] == [waiting.first]
    assert [o.start for o in offers_of(waiting.entry_c)] == [waiting.first]
    with pytest.raises(waitlist.OfferGone) as refused:
        waitlist.take_offer(patient=waiting.b, token=token_of(to_b))
    assert refused.value.code == "offer_expired"


def test_a_patient_with_an_old_offer_for_a_time_someone_took_is_refused(
    client: Any, waiting: Waiting
) -> None:
    bookings.cancel_by_patient(patient=waiting.a, booking_id=waiting.booking_a.pk)
    waitlist.offer_round()
    (to_b,) = offers_of(waiting.entry_b)
    expire(to_b)
    waitlist.offer_round()
    (to_c,) = offers_of(waiting.entry_c)
    moved = waitlist.take_offer(patient=waiting.c, token=token_of(to_c))
    assert moved.pk == waiting.booking_c.pk and moved.start == waiting.first

    client.force_login(waiting.b.user)
    for response in (client.get(offer_path(to_b)), client.post(offer_path(to_b))):
        assert response.status_code == 410
        assert 'data-code="offer_expired"' in response.content.decode()
    waiting.booking_b.refresh_from_db()
    assert waiting.booking_b.start == waiting.first + timedelta(minutes=15)
    assert Booking.objects.filter(start=waiting.first, status="active").count() == 1


def test_someone_faster_on_the_doctor_page_makes_the_offer_refused_not_double_booked(
    client: Any, waiting: Waiting
) -> None:
    bookings.cancel_by_patient(patient=waiting.a, booking_id=waiting.booking_a.pk)
    waitlist.offer_round()
    (to_b,) = offers_of(waiting.entry_b)
    bookings.book(
        patient=waiting.a,
        calendar_id=waiting.world.calendar.pk,
        visit_type_id=waiting.world.checkup.pk,
        start=waiting.first,
    )
    client.force_login(waiting.b.user)

    assert client.get(offer_path(to_b)).status_code == 409
    response = client.post(offer_path(to_b))

    assert response.status_code == 409 and 'data-code="offer_taken"' in response.content.decode()
    to_b.refresh_from_db()
    assert to_b.taken_at is None  # rolled back with the failed move
    waiting.booking_b.refresh_from_db()
    assert waiting.booking_b.start == waiting.first + timedelta(minutes=15)
    assert Booking.objects.filter(start=waiting.first, status="active").count() == 1
    waiting.entry_b.refresh_from_db()
    assert waiting.entry_b.ended_at is None  # still waiting


def test_someone_elses_offer_is_not_found(client: Any, waiting: Waiting) -> None:
    bookings.cancel_by_patient(patient=waiting.a, booking_id=waiting.booking_a.pk)
    waitlist.offer_round()
    (to_b,) = offers_of(waiting.entry_b)
    client.force_login(waiting.c.user)

    assert client.get(offer_path(to_b)).status_code == 404
    assert client.post(offer_path(to_b)).status_code == 404
    assert client.get(reverse("portal:waitlist-offer", args=["forged:token"])).status_code == 404
    with pytest.raises(NotFound):
        waitlist.take_offer(patient=waiting.c, token=token_of(to_b))
    to_b.refresh_from_db()
    assert to_b.taken_at is None


def test_the_offer_page_needs_a_login(client: Any, waiting: Waiting) -> None:
    bookings.cancel_by_patient(patient=waiting.a, booking_id=waiting.booking_a.pk)
    waitlist.offer_round()
    (to_b,) = offers_of(waiting.entry_b)
    response = client.get(offer_path(to_b))
    assert response.status_code == 302 and "next=" in response["Location"]


def test_any_time_before_a_date_is_booked_through_the_link(client: Any, world: World) -> None:
    day = weekday_at_eight()
    block_until(world, day + timedelta(hours=1))  # free from 09:00 that day
    client.force_login(world.patient.user)
    query = f"?calendar={world.calendar.pk}&visit_type={world.first_visit.pk}"
    form = client.get(reverse("portal:waitlist-join") + query)
    assert form.status_code == 200
    text = form.content.decode()
    assert "<legend>" in text and 'type="checkbox"' in text and 'type="radio"' in text

    response = client.post(
        reverse("portal:waitlist-join"),
        {
            "calendar": world.calendar.pk,
            "visit_type": world.first_visit.pk,
            "before": (day.date() + timedelta(days=1)).isoformat(),
            "weekdays": [str(day.weekday())],
            "day_part": "morning",
        },
    )
    assert response.status_code == 302 and response["Location"] == reverse("portal:waitlist")
    (entry,) = WaitlistEntry.objects.filter(patient=world.patient)
    assert entry.booking is None and entry.weekdays == str(day.weekday())
    assert waitlist.offer_round() == 1
    (offer,) = offers_of(entry)
    assert offer.start == day + timedelta(hours=1)
    assert offer.end - offer.start == timedelta(minutes=30)

    response = client.post(offer_path(offer))

    assert response.status_code == 302
    (booking,) = Booking.objects.filter(patient=world.patient)
    assert (booking.start, booking.visit_type_id) == (offer.start, world.first_visit.pk)
    entry.refresh_from_db()
    assert entry.ended_reason == waitlist.Ended.TOOK_OFFER


def test_only_times_matching_the_weekdays_and_day_part_are_offered(world: World) -> None:
    day = weekday_at_eight()
    block_until(world, day)
    other_weekday = (day.weekday() + 1) % 5
    waitlist.join(
        patient=world.patient,
        calendar_id=world.calendar.pk,
        visit_type_id=world.checkup.pk,
        before_date=day.date() + timedelta(days=14),
        weekdays=[other_weekday],
    )
    afternoon = make_patient(f"pm-{world.practice.pk}@example.org")
    waitlist.join(
        patient=afternoon,
        calendar_id=world.calendar.pk,
        visit_type_id=world.checkup.pk,
        before_date=day.date() + timedelta(days=14),
        day_part="afternoon",  # the calendar has mornings only
    )
    assert waitlist.offer_round() == 1
    (offer,) = WaitlistOffer.objects.all()
    assert offer.entry.patient_id == world.patient.pk
    assert offer.start.astimezone(BERLIN).weekday() == other_weekday


# --------------------------------------------------------------------------- entries end


def test_entries_end_when_their_booking_is_cancelled(waiting: Waiting) -> None:
    bookings.cancel_by_patient(patient=waiting.b, booking_id=waiting.booking_b.pk)
    bookings.cancel_by_patient(patient=waiting.a, booking_id=waiting.booking_a.pk)

    waitlist.offer_round()

    waiting.entry_b.refresh_from_db()
    assert waiting.entry_b.ended_reason == waitlist.Ended.BOOKING_CANCELLED
    assert offers_of(waiting.entry_b) == []
    (to_c,) = offers_of(waiting.entry_c)  # c is next
    assert to_c.start == waiting.first


def test_leaving_ends_the_entry_and_frees_its_offer(client: Any, waiting: Waiting) -> None:
    bookings.cancel_by_patient(patient=waiting.a, booking_id=waiting.booking_a.pk)
    waitlist.offer_round()
    (to_b,) = offers_of(waiting.entry_b)
    client.force_login(waiting.b.user)
    listing = client.get(reverse("portal:waitlist"))
    assert listing.status_code == 200 and f"?leave={waiting.entry_b.pk}" in listing.content.decode()
    confirm = client.get(reverse("portal:waitlist") + f"?leave={waiting.entry_b.pk}")
    assert f'name="entry" value="{waiting.entry_b.pk}"' in confirm.content.decode()

    response = client.post(reverse("portal:waitlist"), {"entry": waiting.entry_b.pk})

    assert response.status_code == 302
    waiting.entry_b.refresh_from_db()
    assert waiting.entry_b.ended_reason == waitlist.Ended.LEFT
    assert client.post(offer_path(to_b)).status_code == 410
    assert waitlist.offer_round() == 1
    assert [o.start for o in offers_of(waiting.entry_c)] == [waiting.first]
    # Someone else's entry cannot be left.
    client.force_login(waiting.a.user)
    assert client.post(reverse("portal:waitlist"), {"entry": waiting.entry_c.pk}).status_code == 404


# --------------------------------------------------------------------------- joining


def test_joining_is_refused_for_a_disabled_calendar_and_it_gets_no_offers(
    client: Any, waiting: Waiting
) -> None:
    calendar = waiting.world.calendar
    calendar.waitlist_enabled = False
    calendar.save(update_fields=["waitlist_enabled"])
    other = make_patient(f"d-{waiting.world.practice.pk}@example.org")
    with pytest.raises(Forbidden) as refused:
        waitlist.join(
            patient=other,
            calendar_id=calendar.pk,
            visit_type_id=waiting.world.checkup.pk,
            before_date=waiting.day.date() + timedelta(days=3),
        )
    assert refused.value.code == "waitlist_disabled"
    client.force_login(other.user)
    query = f"?calendar={calendar.pk}&visit_type={waiting.world.checkup.pk}"
    assert client.get(reverse("portal:waitlist-join") + query).status_code == 403
    posted = client.post(
        reverse("portal:waitlist-join"),
        {"calendar": calendar.pk, "visit_type": waiting.world.checkup.pk, "day_part": "any"},
    )
    assert posted.status_code == 403

    bookings.cancel_by_patient(patient=waiting.a, booking_id=waiting.booking_a.pk)
    assert waitlist.offer_round() == 0
    assert not WaitlistOffer.objects.exists()


def test_joining_is_refused_for_someone_elses_booking_duplicates_and_closed_visit_types(
    client: Any, waiting: Waiting
) -> None:
    with pytest.raises(NotFound):
        waitlist.join(patient=waiting.a, booking_id=waiting.booking_b.pk)
    client.force_login(waiting.a.user)
    url = reverse("portal:waitlist-join")
    assert client.get(url + f"?booking={waiting.booking_b.pk}").status_code == 404

    with pytest.raises(Conflict) as duplicate:
        waitlist.join(patient=waiting.b, booking_id=waiting.booking_b.pk)
    assert duplicate.value.code == "already_waiting"

    world = waiting.world
    existing_only = world.checkup
    existing_only.new_patients = False
    existing_only.save(update_fields=["new_patients"])
    newcomer = make_patient(f"new-{world.practice.pk}@example.org")
    with pytest.raises(InvalidInput) as closed:
        waitlist.join(
            patient=newcomer,
            calendar_id=world.calendar.pk,
            visit_type_id=existing_only.pk,
            before_date=waiting.day.date() + timedelta(days=3),
        )
    assert closed.value.code == "visit_type_not_open"
    with pytest.raises(ApplicationError) as past:
        waitlist.join(
            patient=newcomer,
            calendar_id=world.calendar.pk,
            visit_type_id=world.first_visit.pk,
            before_date=timezone.now().astimezone(BERLIN).date(),
        )
    assert past.value.code == "bad_date"


def test_a_cancelled_booking_cannot_join(waiting: Waiting) -> None:
    bookings.cancel_by_patient(patient=waiting.a, booking_id=waiting.booking_a.pk)
    with pytest.raises(Conflict):
        waitlist.join(patient=waiting.a, booking_id=waiting.booking_a.pk)


# --------------------------------------------------------------------------- the worker


def test_the_worker_offers_a_freed_time_and_the_mail_arrives(
    smtp_settings: SmtpServer,  # noqa: F811
    worker_thread: threading.Event,  # noqa: F811
    client: Any,
) -> None:
    waiting = setup_waiting(build_world())
    bookings.cancel_by_patient(patient=waiting.a, booking_id=waiting.booking_a.pk)

    def text(m: Any) -> str:
        return str(m.get_body(preferencelist=("plain",)).get_content())

    msg = smtp_settings.wait_for(
        lambda m: m["To"] == waiting.b.user.email and LINK.search(text(m)) is not None,
        timeout=20,
    )
    link = LINK.search(text(msg))
    assert link is not None
    (offer,) = offers_of(waiting.entry_b)
    # The token carries the time it was signed: compare what it names, not its text.
    path = urlsplit(link.group(0)).path
    assert path.startswith("/warteliste/angebot/")
    assert waitlist.offer_of(waiting.b, path.rstrip("/").rsplit("/", 1)[1]).pk == offer.pk

    client.force_login(waiting.b.user)
    assert client.post(urlsplit(link.group(0)).path).status_code == 302
    waiting.booking_b.refresh_from_db()
    assert waiting.booking_b.start == waiting.first

    def moved_mail_sent() -> bool:
        return OutgoingEmail.objects.filter(
            kind="booking_moved", to=waiting.b.user.email, sent_at__isnull=False
        ).exists()

    _eventually(moved_mail_sent, timeout=20)
