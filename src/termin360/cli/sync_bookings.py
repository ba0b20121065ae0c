"""``termin360 sync list`` (TMEX L) and ``termin360 sync info ID`` (TMEX Info), S4:
the online bookings the connector received and where each sits in the practice calendar.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

from termin360.cli import bounds
from termin360.cli.django_setup import start

out = Console()
err = Console(stderr=True, soft_wrap=True)
DASH = "—"


def _zone(b: Any) -> ZoneInfo:
    from termin360.core.timezones import DEFAULT_ZONE

    for owner in (b.appointment, b.mapping.column if b.mapping else None):
        if owner is not None:
            return ZoneInfo(owner.calendar.location.time_zone)
    return ZoneInfo(DEFAULT_ZONE)


def _local(value: datetime | None, tz: ZoneInfo) -> datetime | None:
    return value.astimezone(tz) if value is not None else None


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def where(b: Any) -> str:
    """Where the booking sits: calendar/column, additional list, or why nowhere."""
    a = b.appointment
    if a is not None and a.column_id is not None:
        text = f"Kalender {a.calendar.number} / Spalte {a.column.number}"
    elif a is not None:
        text = f"Zusatzliste (Kalender {a.calendar.number})"
    elif b.status == "cancelled":
        return DASH
    elif b.placement:
        return "in der Praxis gelöscht"
    else:
        return "nicht zugeordnet"
    return text + (" ⚑" if a.flagged else "")


def placement(b: Any) -> str | None:
    """Where the booking's appointment sits *now* — ``OnlineBooking.placement`` says where
    it was placed, and the staff (or a grid edit) may have moved it since."""
    a = b.appointment
    if a is not None:
        return "slot" if a.column_id is not None else "additional_list"
    return b.placement or None


def _online_names() -> dict[int, str]:
    from termin360.connector.models import Mapping

    return {m.online_calendar_id: m.online_name for m in Mapping.objects.all()}


def _row(b: Any, names: dict[int, str]) -> dict[str, Any]:
    tz = _zone(b)
    start = _local(b.start, tz)
    cancelled = _local(b.cancelled_at, tz)
    assert start is not None
    return {
        "booking_id": b.booking_id,
        "date": start.date().isoformat(),
        "time": f"{start:%H:%M}",
        "start": _iso(b.start),
        "end": _iso(b.end),
        "online_calendar_id": b.online_calendar_id,
        "online_calendar": names.get(b.online_calendar_id) or None,
        "patient": f"{b.last_name}, {b.first_name}",
        "visit_type": b.visit_type,
        "where": where(b),
        "placement": placement(b),
        "status": b.status,
        "cancelled_on": cancelled.date().isoformat() if cancelled else None,
    }


def _list_table() -> Table:
    """TMEX L's columns. The id never wraps, appointment and cancellation date only
    between date and time, so the list stays readable in an 80-column terminal; the
    online calendar is in ``info`` and ``--json`` (the column in the practice calendar
    says whose booking it is)."""
    table = Table(title="Online-Buchungen (TMEX L)", show_edge=False)
    table.add_column("ID", justify="right", no_wrap=True)
    # Date and time; in a narrow terminal the time goes below the date.
    table.add_column("Termin", min_width=10, max_width=16)
    table.add_column("Patient", overflow="fold")
    table.add_column("Terminart", overflow="fold")
    table.add_column("Ort", overflow="fold")
    table.add_column("Storniert am", min_width=10, max_width=12)
    return table


LONGEST_UNBROKEN = 14
NARROWEST = 8


def _whole_words(table: Table, width: int) -> None:
    """Let the columns that wrap break between words, not inside them ("Sprechstun / de"
    at 80 columns): each gets at least the width of its longest word (up to 14
    characters), as far as ``width`` allows; where it does not, the widest give way
    first, down to 8."""
    wrapping = [c for c in table.columns if not c.no_wrap and c.min_width is None]
    fixed = sum(
        c.min_width or max([len(str(c.header)), *(len(str(cell)) for cell in c.cells)])
        for c in table.columns
        if c not in wrapping
    )
    budget = width - fixed - (3 * len(table.columns) - 1)  # padding and rules between
    wanted = {
        id(c): min(
            LONGEST_UNBROKEN,
            max([len(str(c.header)), *(len(w) for cell in c.cells for w in str(cell).split())]),
        )
        for c in wrapping
    }
    while sum(wanted.values()) > budget and max(wanted.values(), default=0) > NARROWEST:
        widest = max(wanted, key=lambda k: wanted[k])
        wanted[widest] -= 1
    for c in wrapping:
        c.min_width = wanted[id(c)]
    if sum(wanted.values()) > budget - 8:  # tight: the dates take their narrow form
        for c in table.columns:
            if c not in wrapping and not c.no_wrap:
                c.max_width = c.min_width


def list_bookings(
    upcoming: Annotated[bool, typer.Option(help="nur künftige Termine")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="als JSON ausgeben")] = False,
) -> None:
    """Alle Online-Buchungen und -Stornierungen nach Termin (TMEX L).

    Mit der Buchungsnummer des Portals; bei Stornierungen steht das Datum der Stornierung
    in der letzten Spalte."""
    start("practice")
    from termin360.connector.selectors import online_bookings

    names = _online_names()
    qs = online_bookings(include_past=not upcoming).select_related(
        "appointment__calendar__location", "mapping__column__calendar__location"
    )
    rows = [_row(b, names) for b in qs]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = _list_table()
    for r in rows:
        cancelled = r["cancelled_on"]
        where_text = r["where"]
        if r["placement"] is None and r["status"] != "cancelled":  # not mapped (yet)
            where_text += f" (Online-Kalender #{r['online_calendar_id']})"
        table.add_row(
            str(r["booking_id"]),
            f"{date.fromisoformat(r['date']):%d.%m.%Y} {r['time']}",
            r["patient"],
            r["visit_type"] or DASH,
            where_text,
            f"{date.fromisoformat(cancelled):%d.%m.%Y}" if cancelled else "",
        )
    _whole_words(table, out.width)
    out.print(table)
    if not rows:
        out.print("Noch keine Online-Buchungen.")


def details(b: Any) -> dict[str, Any]:
    """Everything about one booking (TMEX Info), JSON-ready."""
    tz = _zone(b)
    a = b.appointment
    sits: dict[str, Any] | None = None
    if a is not None:
        sits = {
            "calendar": a.calendar.number,
            "calendar_name": a.calendar.name,
            "column": a.column.number if a.column_id else None,
            "column_name": a.column.name if a.column_id else None,
            "additional_list": a.column_id is None,
            "day": a.day.isoformat(),
            "slot_start": _iso(_local(a.start, tz)) if a.column_id else None,
            "slot_end": _iso(_local(a.end, tz)) if a.column_id else None,
            "appointment_id": a.pk,
            "linked_patient": (
                {
                    "id": a.patient.pk,
                    "name": f"{a.patient.last_name}, {a.patient.first_name}",
                    "date_of_birth": a.patient.date_of_birth.isoformat(),
                }
                if a.patient_id
                else None
            ),
            "free_text": a.text if not a.patient_id else None,
            "flagged": a.flagged,
            "flag_reason": a.flag_reason or None,
        }
    return {
        **_row(b, _online_names()),
        "time_zone": str(tz),
        "reason": b.reason,
        "patient_data": {
            "last_name": b.last_name,
            "first_name": b.first_name,
            "date_of_birth": _iso(b.date_of_birth),
            "email": b.email,
            "phone": b.phone,
            "insurance": b.insurance,
        },
        "booked_at": _iso(_local(b.booked_at, tz)),
        "cancelled_at": _iso(_local(b.cancelled_at, tz)),
        "cancelled_by": b.cancelled_by or None,
        "match": b.match or None,
        "practice_calendar": sits,
        "received_at": _iso(_local(b.received_at, tz)),
        "receipt_sent_at": _iso(_local(b.receipt_sent_at, tz)),
        "last_seq": b.last_seq,
        "refused_start": _iso(_local(b.refused_start, tz)),
        "practice_change_error": b.practice_change_error or None,
    }


MATCH = {
    "linked": "Patient zugeordnet",
    "free_text": "Freitext",
    "ambiguous": "mehrdeutig (mehrere Patienten passen) – Freitext",
}
INSURANCE = {"gkv": "gesetzlich (GKV)", "pkv": "privat (PKV)", "self": "Selbstzahler"}
FLAGS = {
    "slot_taken": "Termin war belegt",
    "no_slot": "kein Termin zu dieser Zeit",
    "blocked": "Termin gesperrt",
}


def _when(value: str | None) -> str:
    return f"{datetime.fromisoformat(value):%d.%m.%Y %H:%M}" if value else DASH


def info(
    booking_id: Annotated[
        int, typer.Argument(metavar="ID", help="Buchungsnummer des Portals", **bounds.ID)
    ],
    as_json: Annotated[bool, typer.Option("--json", help="als JSON ausgeben")] = False,
) -> None:
    """Alle Einzelheiten einer Online-Buchung (TMEX Info).

    Auch wo sie im Praxiskalender steht: Kalender, Spalte und Zeit oder Zusatzliste,
    verknüpfter Patient oder Freitext, Markierungen."""
    start("practice")
    from termin360.connector.selectors import online_booking

    b = online_booking(booking_id)
    if b is None:
        err.print(f"[red]Fehler:[/red] Keine Online-Buchung mit der Nummer {booking_id}.")
        raise typer.Exit(1)
    d = details(b)
    if as_json:
        typer.echo(json.dumps(d, ensure_ascii=False, indent=2))
        return
    p, sits = d["patient_data"], d["practice_calendar"]
    table = Table(show_header=False, title=f"Online-Buchung {booking_id} (TMEX Info)")
    table.add_row("Status", "storniert" if d["status"] == "cancelled" else "gebucht")
    tz = _zone(b)
    table.add_row("Termin", f"{_when(_iso(b.start.astimezone(tz)))} – {b.end.astimezone(tz):%H:%M}")
    table.add_row("Online-Kalender", d["online_calendar"] or f"#{d['online_calendar_id']}")
    table.add_row("Terminart", d["visit_type"] or DASH)
    table.add_row("Anlass", d["reason"] or DASH)
    born = f"{date.fromisoformat(p['date_of_birth']):%d.%m.%Y}" if p["date_of_birth"] else DASH
    table.add_row("Patient", f"{d['patient']}, geb. {born}")
    table.add_row("Kontakt", " · ".join(x for x in (p["email"], p["phone"]) if x) or DASH)
    table.add_row("Versicherung", INSURANCE.get(p["insurance"], p["insurance"]) or DASH)
    table.add_row("Gebucht am", _when(d["booked_at"]))
    if d["cancelled_at"]:
        by = {"patient": "Patient", "practice": "Praxis"}.get(d["cancelled_by"] or "", "")
        table.add_row("Storniert am", _when(d["cancelled_at"]) + (f" ({by})" if by else ""))
    table.add_row("Im Praxiskalender", d["where"])
    if sits is not None:
        table.add_row("Kalender", f"{sits['calendar']} {sits['calendar_name']}")
        if sits["additional_list"]:
            table.add_row("Zusatzliste", f"{date.fromisoformat(sits['day']):%d.%m.%Y}")
        else:
            table.add_row("Spalte", f"{sits['column']} {sits['column_name']}")
            slot_end = datetime.fromisoformat(sits["slot_end"])
            table.add_row("Zeit", f"{_when(sits['slot_start'])} – {slot_end:%H:%M}")
        if sits["linked_patient"]:
            lp = sits["linked_patient"]
            born = f"{date.fromisoformat(lp['date_of_birth']):%d.%m.%Y}"
            table.add_row("Verknüpft mit", f"{lp['name']}, geb. {born} (Nr. {lp['id']})")
        else:
            table.add_row("Freitext", sits["free_text"] or DASH)
        if sits["flagged"]:
            reason = FLAGS.get(sits["flag_reason"] or "", sits["flag_reason"] or "")
            table.add_row("Markiert", reason or "ja")
    table.add_row("Patientenabgleich", MATCH.get(d["match"] or "", DASH))
    table.add_row("Empfang bestätigt", _when(d["receipt_sent_at"]))
    if d["practice_change_error"]:
        table.add_row("Portal lehnte ab", d["practice_change_error"])
    out.print(table)
