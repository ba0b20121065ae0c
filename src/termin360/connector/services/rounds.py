"""One full sync round in both directions (S2, ``termin360 sync now``; TMEX).

Order matters a little: bookings first (so the practice calendar is complete before
anything is reported back), then receipts for what was just placed, then the
practice's own changes, then the busy state — which by then includes the bookings
just placed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from termin360.connector.models import Mapping, SyncConfig
from termin360.connector.portal_client import PortalApi, PortalError
from termin360.connector.selectors import sync_state
from termin360.connector.services import consumer, outbox, practice_changes, receipts, state
from termin360.core.errors import ApplicationError

# A round stops pulling after this many pages; the rest comes with the next round.
MAX_PAGES_PER_ROUND = 100


@dataclass(frozen=True)
class RoundResult:
    to_practice: int  # events that changed the practice calendar, plus bookings placed late
    to_portal: int  # busy days sent plus practice changes carried out
    events: int = 0
    placed_in_slot: int = 0
    to_additional_list: int = 0
    cancelled: int = 0
    moved: int = 0
    unplaced_placed: int = 0
    receipts: int = 0
    practice_changes: int = 0
    busy_days: int = 0
    cursor: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def refresh_names(client: PortalApi) -> int:
    """Store the portal's names of the practice and of the mapped online calendars (S1:
    shown after the first contact). Returns the number of mappings renamed.

    Written with UPDATE: saving the config would move ``updated_at`` and make the S9
    check rebuild its client for nothing."""
    listing = client.calendars()
    SyncConfig.objects.filter(pk=1).exclude(practice_name=listing.practice).update(
        practice_name=listing.practice[:150]
    )
    renamed = 0
    for calendar in listing.calendars:
        renamed += (
            Mapping.objects.filter(online_calendar_id=calendar.id)
            .exclude(online_name=calendar.name[:150])
            .update(online_name=calendar.name[:150])
        )
    return renamed


def pull_feed(client: PortalApi, *, wait: float = 0) -> consumer.ApplyResult:
    """Read the feed from the cursor until the portal has no more, applying each page."""
    total = consumer.ApplyResult(cursor=sync_state().cursor)
    for page_number in range(MAX_PAGES_PER_ROUND):
        page = client.events(after=total.cursor, wait=wait if page_number == 0 else 0)
        result = consumer.apply_page(page, after=total.cursor)
        for name in ("placed_in_slot", "to_additional_list", "cancelled", "moved", "unchanged"):
            setattr(total, name, getattr(total, name) + getattr(result, name))
        total.cursor = result.cursor
        if not page.more:
            break
    return total


def sync_round(client: PortalApi, *, wait: float = 0) -> RoundResult:
    """Run one round; record success or the error (re-raised) in ``SyncState``."""
    try:
        refresh_names(client)
        late = consumer.place_unplaced()
        applied = pull_feed(client, wait=wait)
        sent_receipts = receipts.send_receipts(client)
        changes = practice_changes.send_practice_changes(client)
        days = outbox.relay_all(client)
    except (PortalError, ApplicationError) as exc:
        state.record_error(exc.message)
        raise
    state.record_success()
    return RoundResult(
        to_practice=applied.changed + late,
        to_portal=days + changes,
        events=applied.changed + applied.unchanged,
        placed_in_slot=applied.placed_in_slot,
        to_additional_list=applied.to_additional_list,
        cancelled=applied.cancelled,
        moved=applied.moved,
        unplaced_placed=late,
        receipts=sent_receipts,
        practice_changes=changes,
        busy_days=days,
        cursor=applied.cursor,
    )
