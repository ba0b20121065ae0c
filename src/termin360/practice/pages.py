"""What the day and week pages show, shaped for the templates.

The selectors give one list of slots per column and day. A page puts several of
them side by side as *lanes* (the columns of one day, or one column on seven
days) in a table with one row per time: the rows are the union of all slot
boundaries, so columns with different slot lengths line up and a slot (or a
multi-slot appointment) spans as many rows as it lasts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.translation import gettext as _

from termin360.practice.domain.slots import SlotState
from termin360.practice.models import Appointment, Calendar, Column, Reservation
from termin360.practice.selectors import ColumnDay, SlotView
from termin360.practice.services.grid_cells import reservation_range


def zone_of(calendar: Calendar) -> ZoneInfo:
    return ZoneInfo(calendar.location.time_zone)


def today_in(calendar: Calendar) -> date:
    return timezone.now().astimezone(zone_of(calendar)).date()


def hhmm(value: datetime | time) -> str:
    return f"{value.hour:02d}:{value.minute:02d}"


def _flag_reason_labels() -> dict[str, str]:
    return {
        "slot_taken": _("time was taken"),
        "no_slot": _("no matching slot in the column"),
        "blocked": _("slot blocked"),
        "ambiguous_patient": _("patient not unique"),
        "grid_changed": _("slot removed from the grid"),
        "online_move_refused": _("move refused online"),
    }


def flag_reason_label(code: str) -> str:
    """Why the connector flagged an appointment, for the staff. The connector stores a
    code (SPEC S5, S6, S10, S12); an unknown code (an older row, a hand-set reason) is
    shown as it is."""
    return _flag_reason_labels().get(code, code)


def appointment_title(appt: Appointment) -> str:
    """Who the appointment is for: the linked patient, else its free text."""
    if appt.patient is not None:
        p = appt.patient
        return f"{p.last_name}, {p.first_name}"
    return appt.text


@dataclass
class Item:
    """One thing in a lane: a slot, or an appointment with all its (consecutive) slots."""

    kind: str  # "slot" or "appointment"
    slots: list[SlotView]
    start: time
    end: time
    lane_index: int
    label: str = ""  # aria-label
    reservation_reason: str = ""
    row_start: int = 0
    row_end: int = 0

    @property
    def first(self) -> SlotView:
        return self.slots[0]

    @property
    def appointment(self) -> Appointment | None:
        return self.first.appointment

    @property
    def state(self) -> str:
        return str(self.first.state)

    @property
    def reserved(self) -> bool:
        return any(s.reserved for s in self.slots)

    @property
    def bookable(self) -> bool:
        return (
            self.kind == "slot"
            and not self.reserved
            and self.first.state
            in (
                SlotState.FREE,
                SlotState.NOTE,
            )
        )

    @property
    def short(self) -> bool:
        """Too short for a second line of text (the label still carries everything)."""
        return _minutes(self.end) - _minutes(self.start) < 15

    @property
    def start_label(self) -> str:
        return hhmm(self.start)

    @property
    def end_label(self) -> str:
        return hhmm(self.end)

    @property
    def time_range(self) -> str:
        return f"{hhmm(self.start)}–{hhmm(self.end)}"

    @property
    def title(self) -> str:
        appt = self.appointment
        return appointment_title(appt) if appt is not None else ""

    @property
    def flag_label(self) -> str:
        appt = self.appointment
        return flag_reason_label(appt.flag_reason) if appt is not None else ""


@dataclass
class Lane:
    """One column of the table: a calendar column on one day."""

    column: Column
    day: date
    title: str
    subtitle: str
    reservations: list[Reservation]
    slots: list[SlotView]
    items: list[Item] = field(default_factory=list)


@dataclass
class Cell:
    """A table cell: starts at a row and spans ``rowspan`` rows; empty ones are gaps."""

    lane: Lane
    rowspan: int = 1
    items: list[Item] = field(default_factory=list)


@dataclass
class Row:
    time: str
    minutes: int
    cells: list[Cell]
    # rows that lie between the slots of every lane (e.g. lunch) are drawn lower
    gap: bool = False

    # quarter hours, and the first time after a break, get a label; the rest would crowd
    labelled: bool = True


@dataclass
class AdditionalEntry:
    """An appointment of the additional list, as the side panel shows it."""

    id: int
    day: date
    title: str
    reason: str
    wish: str  # wished-for time, if any
    online: bool
    linked: bool  # to a patient record (else free text)
    flagged: bool
    flag_reason: str  # already a text for the staff (``flag_reason_label``)


@dataclass
class Grid:
    lanes: list[Lane]
    rows: list[Row]


def _local_time(value: datetime, tz: ZoneInfo) -> time:
    local = value.astimezone(tz)
    return time(local.hour, local.minute)


def _reason_for(slot: SlotView, reservations: list[Reservation], tz: ZoneInfo) -> str:
    for r in reservations:
        iv = reservation_range(r).interval_on(slot.local_start.date(), tz)
        if iv is not None and iv.start < slot.end and slot.start < iv.end:
            return r.reason
    return ""


def _label(item: Item, lane_title: str) -> str:
    when = hhmm(item.start)
    if item.kind == "appointment":
        appt = item.appointment
        assert appt is not None
        text = _("%(time)s appointment: %(title)s") % {
            "time": item.time_range,
            "title": ", ".join(x for x in (item.title, appt.reason) if x),
        }
        if appt.origin == Appointment.Origin.ONLINE:
            text += f" ({_('online booking')})"
        if appt.flagged:
            text += f" – {_('flagged')}"
            text += f": {item.flag_label}" if appt.flag_reason else ""
    elif item.reserved:
        text = _("%(time)s reserved: %(reason)s") % {
            "time": when,
            "reason": item.reservation_reason,
        }
    elif item.first.state is SlotState.ANNOTATION:
        text = _("%(time)s blocked (annotation): %(text)s") % {
            "time": when,
            "text": item.first.annotation,
        }
    elif item.first.state is SlotState.NOTE:
        text = _("%(time)s free, note: %(text)s") % {"time": when, "text": item.first.note}
    else:
        text = _("%(time)s free") % {"time": when}
    return f"{text.rstrip(': ')} – {lane_title}"


def _items_of(lane: Lane, index: int, tz: ZoneInfo) -> list[Item]:
    items: list[Item] = []
    for s in lane.slots:
        start, end = _local_time(s.start, tz), _local_time(s.end, tz)
        if end <= start:  # a slot running past midnight: show it up to the day's end
            end = time(23, 59)
        prev = items[-1] if items else None
        if (
            s.appointment is not None
            and prev is not None
            and prev.kind == "appointment"
            and prev.appointment is not None
            and prev.appointment.pk == s.appointment.pk
        ):
            prev.slots.append(s)
            prev.end = max(prev.end, end)
            continue
        kind = "appointment" if s.appointment is not None else "slot"
        items.append(Item(kind=kind, slots=[s], start=start, end=end, lane_index=index))
    for item in items:
        if item.reserved:
            item.reservation_reason = _reason_for(item.first, lane.reservations, tz)
        item.label = _label(item, lane.title)
    return items


def build_grid(lanes: list[Lane], tz: ZoneInfo) -> Grid:
    """Lay the lanes out in rows of time (see the module docstring)."""
    for index, lane in enumerate(lanes):
        lane.items = _items_of(lane, index, tz)
    bounds = sorted({t for lane in lanes for i in lane.items for t in (i.start, i.end)})
    if len(bounds) < 2:
        return Grid(lanes=lanes, rows=[])
    row_of = {t: n for n, t in enumerate(bounds)}
    n_rows = len(bounds) - 1
    starts: list[list[Cell | None]] = [[None] * len(lanes) for _ in range(n_rows)]
    for li, lane in enumerate(lanes):
        covered_until = 0
        open_cell: Cell | None = None
        for item in lane.items:
            item.row_start, item.row_end = row_of[item.start], row_of[item.end]
            if open_cell is not None and item.row_start < covered_until:
                # Overlapping slots (an odd grid edit) share one cell rather than vanish.
                open_cell.items.append(item)
                covered_until = max(covered_until, item.row_end)
                open_cell.rowspan = covered_until - open_cell.items[0].row_start
                continue
            for r in range(covered_until, item.row_start):
                starts[r][li] = Cell(lane=lane)
            open_cell = Cell(lane=lane, rowspan=item.row_end - item.row_start, items=[item])
            starts[item.row_start][li] = open_cell
            covered_until = item.row_end
        for r in range(covered_until, n_rows):
            starts[r][li] = Cell(lane=lane)
    rows: list[Row] = []
    for r in range(n_rows):
        cells = [c for c in starts[r] if c is not None]
        gap = len(cells) == len(lanes) and all(not c.items for c in cells)
        minutes = _minutes(bounds[r + 1]) - _minutes(bounds[r])
        after_gap = r == 0 or rows[-1].gap
        labelled = gap or after_gap or bounds[r].minute % 15 == 0
        rows.append(
            Row(time=hhmm(bounds[r]), minutes=minutes, cells=cells, gap=gap, labelled=labelled)
        )
    return Grid(lanes=lanes, rows=rows)


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def additional_entries(appts: list[Appointment], tz: ZoneInfo) -> list[AdditionalEntry]:
    out = []
    for a in appts:
        wish = ""
        if a.start is not None:
            wish = hhmm(a.start.astimezone(tz))
            if a.end is not None:
                wish += "–" + hhmm(a.end.astimezone(tz))
        out.append(
            AdditionalEntry(
                id=a.pk,
                day=a.day,
                title=appointment_title(a),
                reason=a.reason,
                wish=wish,
                online=a.origin == Appointment.Origin.ONLINE,
                linked=a.patient_id is not None,
                flagged=a.flagged,
                flag_reason=flag_reason_label(a.flag_reason),
            )
        )
    return out


def lane_of(cd: ColumnDay, day: date, title: str, subtitle: str = "") -> Lane:
    return Lane(
        column=cd.column,
        day=day,
        title=title,
        subtitle=subtitle,
        reservations=cd.reservations,
        slots=cd.slots,
    )


def js_messages() -> dict[str, str]:
    """Texts the page script shows, translated here so that one catalogue holds them all."""
    return {
        "network": _("The server could not be reached. Please try again."),
        "failed": _("That did not work."),
        "searching": _("Searching …"),
        "noPatients": _("No patient found."),
        "patientsFound": _("%(n)s patients found."),
        "historyEmpty": _("No changes recorded."),
        "confirmDelete": _("Really delete? Press again"),
        "confirmDeleteReservation": _("Really delete? Press again"),
        "chooseColumn": _("Choose at least one column."),
        "onlineBooking": _("online booking"),
        "practice": _("practice"),
        "slots": _("slot(s)"),
        "additionalList": _("in the additional list"),
        # C8: the notice of an online booking that arrived while the view was open
        "newOnlineBooking": _("New online booking %(time)s %(column)s – %(title)s"),
        "dismiss": _("Dismiss"),
        # the appointment dialog shows why an appointment is flagged: flag_<code>
        **{f"flag_{code}": label for code, label in _flag_reason_labels().items()},
    }
