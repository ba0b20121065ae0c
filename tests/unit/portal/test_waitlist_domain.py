"""The waiting list (SPEC P9): who is offered which freed time, in which order, how long."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from termin360.core.intervals import Interval
from termin360.core.timezones import local_to_utc
from termin360.portal.domain.waitlist import (
    DAY_PARTS,
    MIN_OFFER_LIFETIME,
    OFFER_LIFETIME,
    NewOffer,
    PastOffer,
    WaitingEntry,
    offer_expiry,
    plan_offers,
    suits,
)
from tests.unit.strategies import PROPERTY, zones

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2027, 3, 22, 6, 0, tzinfo=UTC)  # a Monday, shortly before the clocks change
DURATIONS = (15, 30)
STEP = timedelta(minutes=15)


def at(day: date, hour: int, minute: int = 0, tz: ZoneInfo = BERLIN) -> datetime:
    instant = local_to_utc(day, time(hour, minute), tz)
    assert instant is not None
    return instant


def entry(
    entry_id: int,
    before: datetime,
    *,
    minutes: int = 15,
    weekdays: frozenset[int] = frozenset(),
    day_part: str = "any",
    booking_start: datetime | None = None,
    deadline: datetime | None = None,
) -> WaitingEntry:
    return WaitingEntry(
        id=entry_id,
        rank=(NOW - timedelta(days=1) + timedelta(seconds=entry_id), entry_id),
        duration_minutes=minutes,
        before=before,
        weekdays=weekdays,
        day_part=day_part,  # type: ignore[arg-type]
        booking_start=booking_start,
        deadline=deadline,
    )


def slot(start: datetime, minutes: int = 15) -> Interval:
    return Interval(start, start + timedelta(minutes=minutes))


# --------------------------------------------------------------------------- strategies


@st.composite
def waiting_entries(draw: st.DrawFn, now: datetime) -> list[WaitingEntry]:
    count = draw(st.integers(min_value=1, max_value=6))
    ranks = draw(st.permutations(range(count)))
    found = []
    for i in range(count):
        before = now + timedelta(hours=draw(st.integers(min_value=1, max_value=7 * 24)))
        has_booking = draw(st.booleans())
        deadline = (
            now + timedelta(minutes=draw(st.integers(min_value=-30, max_value=7 * 24 * 60)))
            if has_booking and draw(st.booleans())
            else None
        )
        found.append(
            WaitingEntry(
                id=i + 1,
                rank=(now - timedelta(hours=1) + timedelta(minutes=ranks[i]), i + 1),
                duration_minutes=draw(st.sampled_from(DURATIONS)),
                before=before,
                weekdays=frozenset(draw(st.sets(st.integers(min_value=0, max_value=6)))),
                day_part=draw(st.sampled_from(DAY_PARTS)),
                booking_start=before if has_booking else None,
                deadline=deadline,
            )
        )
    return found


@st.composite
def free_times(draw: st.DrawFn, now: datetime) -> dict[int, list[Interval]]:
    """Free times on a 15-minute grid over the next week, per visit duration."""
    grid = st.integers(min_value=-2, max_value=7 * 24 * 4)
    free: dict[int, list[Interval]] = {}
    for minutes in DURATIONS:
        steps = draw(st.sets(grid, max_size=25))
        free[minutes] = sorted(slot(now + k * STEP, minutes) for k in steps)
    return free


@st.composite
def past_offers(
    draw: st.DrawFn, now: datetime, entries: list[WaitingEntry], free: dict[int, list[Interval]]
) -> list[PastOffer]:
    """Offers of earlier rounds: each entry at most one live one, live ones apart."""
    found: list[PastOffer] = []
    live: list[Interval] = []
    for e in entries:
        candidates = free[e.duration_minutes]
        if not candidates:
            continue
        for iv in draw(st.lists(st.sampled_from(candidates), max_size=3, unique=True)):
            expired = draw(st.booleans())
            taken = draw(st.booleans()) and not expired
            is_live = not expired and not taken
            if is_live and (
                any(iv.overlaps(other) for other in live)
                or any(o.entry_id == e.id and o.live(now) for o in found)
            ):
                expired = True
            expires = now + timedelta(minutes=-5 if expired else 5)
            found.append(PastOffer(e.id, iv.start, iv.end, expires, taken=taken))
            if not expired and not taken:
                live.append(iv)
    return found


@st.composite
def rounds(
    draw: st.DrawFn,
) -> tuple[ZoneInfo, datetime, list[WaitingEntry], dict[int, list[Interval]], list[PastOffer]]:
    zone = draw(zones)
    now = NOW + timedelta(hours=draw(st.integers(min_value=0, max_value=24 * 300)))
    entries = draw(waiting_entries(now))
    free = draw(free_times(now))
    return zone, now, entries, free, draw(past_offers(now, entries, free))


def _eligible(
    e: WaitingEntry,
    iv: Interval,
    minutes: int,
    offered: set[tuple[int, datetime]],
    now: datetime,
    zone: ZoneInfo,
) -> bool:
    return (
        e.duration_minutes == minutes
        and (e.id, iv.start) not in offered
        and (e.deadline is None or e.deadline > now)
        and iv.start > now
        and suits(e, iv.start, zone)
    )


# --------------------------------------------------------------------------- properties


@PROPERTY
@given(rounds())
def test_new_offers_suit_their_entry_and_are_never_repeated(
    case: tuple[ZoneInfo, datetime, list[WaitingEntry], dict[int, list[Interval]], list[PastOffer]],
) -> None:
    zone, now, entries, free, past = case
    by_id = {e.id: e for e in entries}
    made = plan_offers(entries, free, past, now=now, zone=zone)
    before = {(o.entry_id, o.start) for o in past}
    for offer in made:
        e = by_id[offer.entry_id]
        local = offer.start.astimezone(zone)
        assert slot(offer.start, e.duration_minutes) in free[e.duration_minutes]
        assert offer.end - offer.start == timedelta(minutes=e.duration_minutes)
        assert offer.start < e.before
        assert e.booking_start is None or offer.start < e.booking_start
        assert not e.weekdays or local.weekday() in e.weekdays
        if e.day_part == "morning":
            assert local.time() < time(12)
        if e.day_part == "afternoon":
            assert local.time() >= time(12)
        assert (offer.entry_id, offer.start) not in before
        assert now < offer.expires_at <= min(now + OFFER_LIFETIME, offer.start)
        assert e.deadline is None or offer.expires_at <= e.deadline
    assert len({(o.entry_id, o.start) for o in made}) == len(made)


@PROPERTY
@given(rounds())
def test_a_time_has_one_live_offer_and_an_entry_at_most_one(
    case: tuple[ZoneInfo, datetime, list[WaitingEntry], dict[int, list[Interval]], list[PastOffer]],
) -> None:
    zone, now, entries, free, past = case
    made = plan_offers(entries, free, past, now=now, zone=zone)
    live = [(o.entry_id, Interval(o.start, o.end)) for o in past if o.live(now)]
    live += [(o.entry_id, Interval(o.start, o.end)) for o in made]
    holders = [entry_id for entry_id, _ in live]
    assert len(holders) == len(set(holders))
    for i, (_, a) in enumerate(live):
        for _, b in live[i + 1 :]:
            assert not a.overlaps(b)


@PROPERTY
@given(rounds())
def test_each_time_goes_to_the_first_entry_in_order_of_request(
    case: tuple[ZoneInfo, datetime, list[WaitingEntry], dict[int, list[Interval]], list[PastOffer]],
) -> None:
    zone, now, entries, free, past = case
    made = plan_offers(entries, free, past, now=now, zone=zone)
    offered = {(o.entry_id, o.start) for o in past}
    busy = {o.entry_id for o in past if o.live(now)}
    new_by_entry = {o.entry_id: o for o in made}
    by_id = {e.id: e for e in entries}
    for offer in made:
        winner = by_id[offer.entry_id]
        iv = Interval(offer.start, offer.end)
        for e in entries:
            if e.rank >= winner.rank or e.id in busy:
                continue
            if _eligible(e, iv, winner.duration_minutes, offered, now, zone):
                # An earlier entry that also suits this time got an earlier one instead.
                assert e.id in new_by_entry
                assert new_by_entry[e.id].start < offer.start


@PROPERTY
@given(rounds())
def test_no_free_time_is_left_while_someone_waits_for_it(
    case: tuple[ZoneInfo, datetime, list[WaitingEntry], dict[int, list[Interval]], list[PastOffer]],
) -> None:
    zone, now, entries, free, past = case
    made = plan_offers(entries, free, past, now=now, zone=zone)
    offered = {(o.entry_id, o.start) for o in past}
    live = [Interval(o.start, o.end) for o in past if o.live(now)]
    live += [Interval(o.start, o.end) for o in made]
    holders = {o.entry_id for o in past if o.live(now)} | {o.entry_id for o in made}
    for minutes, slots in free.items():
        for iv in slots:
            if any(iv.overlaps(other) for other in live):
                continue
            waiting = [
                e
                for e in entries
                if e.id not in holders and _eligible(e, iv, minutes, offered, now, zone)
            ]
            assert waiting == []


@PROPERTY
@given(st.data())
def test_rounds_over_time_never_repeat_an_offer_nor_promise_a_time_twice(
    data: st.DataObject,
) -> None:
    """Rounds with offers taken or left to expire in between, like the worker runs them."""
    zone = data.draw(zones)
    now = NOW
    entries = data.draw(waiting_entries(now))
    free = data.draw(free_times(now))
    history: list[PastOffer] = []
    for _ in range(data.draw(st.integers(min_value=1, max_value=8))):
        made = plan_offers(entries, free, history, now=now, zone=zone)
        history += [PastOffer(o.entry_id, o.start, o.end, o.expires_at) for o in made]
        keys = [(o.entry_id, o.start) for o in history]
        assert len(keys) == len(set(keys))
        live = [o for o in history if o.live(now)]
        assert len({o.entry_id for o in live}) == len(live)
        for i, a in enumerate(live):
            for b in live[i + 1 :]:
                assert not Interval(a.start, a.end).overlaps(Interval(b.start, b.end))
        # Some live offers are taken: the time is booked and the entry ends.
        for offer in live:
            if data.draw(st.booleans()):
                history = [
                    PastOffer(o.entry_id, o.start, o.end, o.expires_at, taken=o is offer)
                    if o is offer
                    else o
                    for o in history
                ]
                entries = [e for e in entries if e.id != offer.entry_id]
                free = {
                    m: [iv for iv in slots if not iv.overlaps(Interval(offer.start, offer.end))]
                    for m, slots in free.items()
                }
        now += timedelta(minutes=data.draw(st.integers(min_value=1, max_value=45)))


@PROPERTY
@given(zones, st.integers(min_value=1, max_value=6), st.integers(min_value=0, max_value=10))
def test_an_expired_offer_passes_the_time_to_the_next_in_order(
    zone: ZoneInfo, count: int, shuffle_seed: int
) -> None:
    start = NOW + timedelta(days=2)
    ids = list(range(1, count + 1))
    ids = ids[shuffle_seed % count :] + ids[: shuffle_seed % count]  # ids in no special order
    waiting = [
        WaitingEntry(
            id=entry_id,
            rank=(NOW - timedelta(hours=count - position), entry_id),
            duration_minutes=15,
            before=start + timedelta(days=5),
        )
        for position, entry_id in enumerate(ids)
    ]
    free = {15: [slot(start)]}
    history: list[PastOffer] = []
    now = NOW
    got: list[int] = []
    for _ in range(count + 2):
        made = plan_offers(waiting, free, history, now=now, zone=zone)
        assert len(made) <= 1
        got += [o.entry_id for o in made]
        history += [PastOffer(o.entry_id, o.start, o.end, o.expires_at) for o in made]
        # Still live a minute later: nobody else gets it meanwhile.
        assert plan_offers(waiting, free, history, now=now + timedelta(minutes=1), zone=zone) == []
        now = max((o.expires_at for o in history), default=now) + timedelta(seconds=1)
    assert got == ids


# --------------------------------------------------------------------------- examples


def test_weekdays_and_day_part_are_read_in_the_practice_zone() -> None:
    day = date(2027, 3, 29)  # Monday after the change to summer time (UTC+2)
    morning, afternoon = at(day, 11, 45), at(day, 12, 0)
    assert morning.hour == 9 and afternoon.hour == 10  # both mornings in UTC
    before = at(day, 18)
    assert suits(entry(1, before, day_part="morning"), morning, BERLIN)
    assert not suits(entry(1, before, day_part="morning"), afternoon, BERLIN)
    assert suits(entry(1, before, day_part="afternoon"), afternoon, BERLIN)
    early_monday = at(day, 0, 30)
    assert early_monday.weekday() == 6  # still Sunday in UTC
    assert suits(entry(1, before, weekdays=frozenset({0})), early_monday, BERLIN)
    assert not suits(entry(1, before, weekdays=frozenset({6})), early_monday, BERLIN)


def test_only_times_before_the_booking_or_date_are_offered() -> None:
    day = date(2027, 3, 24)
    booked = at(day, 10)
    free = {15: [slot(at(day, 9, 45)), slot(booked), slot(at(day, 10, 15))]}
    made = plan_offers([entry(1, booked, booking_start=booked)], free, [], now=NOW, zone=BERLIN)
    assert [o.start for o in made] == [at(day, 9, 45)]


def test_a_time_goes_to_the_earliest_request_then_the_next_time_to_the_next() -> None:
    day = date(2027, 3, 24)
    first, second = entry(1, at(day, 12)), entry(2, at(day, 12))
    free = {15: [slot(at(day, 9)), slot(at(day, 9, 30))]}
    made = plan_offers([second, first], free, [], now=NOW, zone=BERLIN)
    assert [(o.entry_id, o.start) for o in made] == [(1, at(day, 9)), (2, at(day, 9, 30))]


def test_a_live_offer_of_a_longer_visit_blocks_the_times_it_overlaps() -> None:
    day = date(2027, 3, 24)
    long_visit = entry(1, at(day, 12), minutes=30)
    short_visit = entry(2, at(day, 12))
    free = {30: [slot(at(day, 9), 30)], 15: [slot(at(day, 9, 15))]}
    made = plan_offers([long_visit, short_visit], free, [], now=NOW, zone=BERLIN)
    assert made == [
        NewOffer(1, at(day, 9), at(day, 9, 30), offer_expiry(at(day, 9), NOW)),
    ]


def test_offers_are_shorter_when_the_time_is_near_and_end_at_the_deadline() -> None:
    assert offer_expiry(NOW + timedelta(days=1), NOW) == NOW + OFFER_LIFETIME
    assert offer_expiry(NOW + timedelta(hours=2), NOW) == NOW + timedelta(minutes=15)
    assert offer_expiry(NOW + timedelta(minutes=40), NOW) == NOW + MIN_OFFER_LIFETIME
    assert offer_expiry(NOW + timedelta(minutes=5), NOW) == NOW + timedelta(minutes=5)
    deadline = NOW + timedelta(minutes=7)
    assert offer_expiry(NOW + timedelta(days=1), NOW, deadline=deadline) == deadline


def test_an_entry_past_its_deadline_is_offered_nothing() -> None:
    day = date(2027, 3, 24)
    late = entry(1, at(day, 12), booking_start=at(day, 12), deadline=NOW)
    assert plan_offers([late], {15: [slot(at(day, 9))]}, [], now=NOW, zone=BERLIN) == []
