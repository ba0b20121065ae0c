"""The peer of ``benchmarks.peer_sync``: vdirsyncer keeping a local calendar and a
Radicale collection in step — the usual way to sync two calendars with tools from PyPI.

- The practice side: a vdir (one ``.ics`` file per appointment, written with
  ``icalendar``), vdirsyncer's ``filesystem`` storage.
- The portal side: Radicale as its own process (``python -m radicale``), storage in a
  temp dir, no authentication (``auth.type = none``; vdirsyncer logs in as ``bench``,
  whose collection ``/bench/praxis/`` is), on a free port of 127.0.0.1, behind the
  counting proxy (``benchmarks._peer_proxy``). Otherwise Radicale's defaults (8
  connections, fsync on every write), logging at ``warning``.
- vdirsyncer's command line with a generated config (pair ``praxis``, ``collections =
  null``: the two storages are the collections) and its status in the temp dir;
  ``discover`` once (not timed), then every ``vdirsyncer sync`` is one timed process,
  with vdirsyncer's default output (to a log file).
- Radicale checks on every PUT that no other item of the collection has the new item's
  UID (RFC 4791's ``no-uid-conflict``), reading the collection: a PUT costs more the
  larger the collection, and an initial transfer grows with N². An initial sync still
  running at its time limit is therefore cut (its figure is then a lower bound), and the
  rest of the items is put into Radicale's folder directly for the syncs after it.

"Agree" means: ``vdirsyncer sync`` ended with exit code 0, and the UIDs and the event
texts in Radicale's storage folder are those of the vdir (checked after the timing).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from benchmarks._peer_common import Appointment, Measured, changes, existing, run_measured
from benchmarks._peer_proxy import Traffic, counting_proxy
from benchmarks._sync_env import free_port, stop

ROOT = Path(__file__).resolve().parent.parent
COLLECTION = "/bench/praxis/"
_STAMP = datetime(2026, 12, 1, 12, tzinfo=UTC)


# --------------------------------------------------------------------------- the vdir


def ics(appointment: Appointment) -> bytes:
    """The appointment as an ``.ics`` file, built with ``icalendar`` and written the way
    Radicale stores an item (vobject's serialization: its order and line folding) — so
    an item put into Radicale's folder directly (``Peer.complete_collection``) reads the
    same to vdirsyncer from both sides."""
    import icalendar
    import vobject

    cal = icalendar.Calendar()
    cal.add("prodid", "-//termin360//peer benchmark//DE")
    cal.add("version", "2.0")
    event = icalendar.Event()
    event.add("uid", appointment.uid)
    event.add("dtstamp", _STAMP)
    event.add("dtstart", appointment.start)
    event.add("dtend", appointment.end)
    event.add("summary", appointment.summary)
    event.add("description", appointment.description)
    cal.add_component(event)
    return str(vobject.readOne(cal.to_ical().decode()).serialize()).encode()


def write_items(vdir: Path, appointments: Iterable[Appointment]) -> None:
    for a in appointments:
        (vdir / f"{a.uid}.ics").write_bytes(ics(a))


def _events(folder: Path) -> dict[str, str]:
    """UID → digest of the VEVENT's content lines (not the wrapper or line folding, which
    a server may rewrite) of every ``.ics`` file directly in ``folder``."""
    out = {}
    for path in folder.glob("*.ics"):
        text = path.read_text(encoding="utf-8").replace("\r\n", "\n").replace("\n ", "")
        body = text.split("BEGIN:VEVENT\n", 1)[1].split("END:VEVENT", 1)[0]
        lines = sorted(body.splitlines())
        uid = next(line[4:] for line in lines if line.startswith("UID:"))
        out[uid] = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    return out


# --------------------------------------------------------------------------- Radicale


@dataclass
class Peer:
    work: Path
    radicale_port: int
    proxy_url: str
    vdir: Path
    config: Path
    storage: Path

    @property
    def collection_folder(self) -> Path:
        return self.storage / "collection-root" / COLLECTION.strip("/")

    def reset_collection(self) -> None:
        """An empty collection on Radicale and no vdirsyncer status: before a first sync."""
        url = f"http://127.0.0.1:{self.radicale_port}{COLLECTION}"
        with httpx.Client(auth=("bench", "bench"), timeout=120) as http:
            http.request("DELETE", url)
            r = http.request("MKCALENDAR", url)
            if r.status_code != 201:
                raise SystemExit(f"Radicale: MKCALENDAR {COLLECTION} → {r.status_code} {r.text}")
        shutil.rmtree(self.work / "status", ignore_errors=True)

    def vdirsyncer(self, *args: str, log: str, timeout: float = 3600) -> Measured:
        done = run_measured(
            [sys.executable, "-m", "vdirsyncer", "-c", str(self.config), *args],
            env=dict(os.environ),
            cwd=self.work,
            log=self.work / f"{log}.log",
            timeout=timeout,
        )
        if done.returncode != 0 and not done.cut:
            raise SystemExit(f"vdirsyncer {' '.join(args)} failed:\n{done.stdout[-3000:]}")
        return done

    def complete_collection(self) -> int:
        """After an initial sync cut at its time limit: put the items vdirsyncer had not
        uploaded straight into Radicale's storage folder (Radicale reads what is there;
        the names are vdirsyncer's, ``<uid>.ics``), forget vdirsyncer's status and sync
        once, untimed — vdirsyncer then finds the same items on both sides and records
        them, as after an initial sync that had finished. Returns the items copied."""
        have = {p.name for p in self.collection_folder.glob("*.ics")}
        missing = [p for p in self.vdir.glob("*.ics") if p.name not in have]
        for path in missing:
            shutil.copyfile(path, self.collection_folder / path.name)
        shutil.rmtree(self.work / "status", ignore_errors=True)
        self.vdirsyncer("discover", log="discover-again")
        self.vdirsyncer("sync", log="complete")
        return len(missing)

    def check_agree(self) -> int:
        local, remote = _events(self.vdir), _events(self.collection_folder)
        if local != remote:
            missing = len(local.keys() - remote.keys())
            extra = len(remote.keys() - local.keys())
            raise SystemExit(
                f"vdirsyncer: the sides differ ({len(local)} local, {len(remote)} on Radicale, "
                f"{missing} missing, {extra} extra)"
            )
        return len(local)


def _config(work: Path, proxy_url: str) -> Path:
    path = work / "vdirsyncer.conf"
    path.write_text(
        f"""[general]
status_path = "{work / "status"}/"

[pair praxis]
a = "practice"
b = "portal"
collections = null

[storage practice]
type = "filesystem"
path = "{work / "vdir"}/"
fileext = ".ics"

[storage portal]
type = "caldav"
url = "{proxy_url}{COLLECTION}"
username = "bench"
password = "bench"
"""
    )
    return path


@contextmanager
def peer_world(work: Path) -> Iterator[tuple[Peer, Any]]:
    """Radicale running (own process) behind a counting proxy, a vdirsyncer config."""
    storage, vdir = work / "radicale", work / "vdir"
    storage.mkdir()
    vdir.mkdir()
    port = free_port()
    conf = work / "radicale.conf"
    conf.write_text(
        f"""[server]
hosts = 127.0.0.1:{port}
[auth]
type = none
[storage]
filesystem_folder = {storage}
[web]
type = none
[logging]
level = warning
"""
    )
    with (work / "radicale.log").open("ab") as out:
        radicale = subprocess.Popen(
            [sys.executable, "-m", "radicale", "--config", str(conf)],
            cwd=work,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.request("OPTIONS", f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.HTTPError:
                if radicale.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(
                        "Radicale did not start:\n" + (work / "radicale.log").read_text()
                    ) from None
                time.sleep(0.1)
        with counting_proxy(port) as proxy:
            peer = Peer(work, port, proxy.url, vdir, _config(work, proxy.url), storage)
            yield peer, proxy
    finally:
        stop(radicale)


# --------------------------------------------------------------------------- measuring


def _sample(done: Measured, traffic: Traffic, items: int) -> dict[str, Any]:
    return {
        "ms": done.ms,
        "peak_kib": done.peak_kib,
        "requests": traffic.requests,
        "bytes": traffic.bytes,
        "sent": traffic.sent,
        "received": traffic.received,
        "items": items,
    }


def measure(
    work: Path, size: int, counts: list[int], runs: int, initial_runs: int, limit: float
) -> dict[str, Any]:
    """Initial transfer ``initial_runs`` times, a sync with no change ``runs`` times, then
    for each K in ``counts`` ``runs`` syncs after K changes (added, then deleted again).

    An initial transfer still running after ``limit`` seconds (0: none) is cut there and
    recorded with ``cut`` and the items that had reached Radicale; the collection is then
    completed (``Peer.complete_collection``) for the syncs after it."""
    out: dict[str, Any] = {"initial": [], "changes": {}}
    with peer_world(work) as (peer, proxy):
        t0 = time.perf_counter()
        write_items(peer.vdir, existing(size))
        print(f"  vdir: {size:,} .ics files in {time.perf_counter() - t0:.1f} s", flush=True)

        def synced(log: str) -> dict[str, Any]:
            before = proxy.traffic()
            done = peer.vdirsyncer("sync", log=log)
            traffic = proxy.traffic() - before
            return _sample(done, traffic, peer.check_agree())

        for run in range(initial_runs):
            peer.reset_collection()
            peer.vdirsyncer("discover", log="discover")
            before = proxy.traffic()
            done = peer.vdirsyncer("sync", log=f"initial-{run}", timeout=limit or 6 * 3600)
            traffic = proxy.traffic() - before
            if not done.cut:
                out["initial"].append(_sample(done, traffic, peer.check_agree()))
                print(f"  vdirsyncer initial sync of {size:,}: {done.ms:.0f} ms", flush=True)
                continue
            uploaded = len(list(peer.collection_folder.glob("*.ics")))
            out["initial"].append(_sample(done, traffic, uploaded) | {"cut": True})
            print(
                f"  vdirsyncer initial sync of {size:,}: cut at {done.ms / 1000:.0f} s with "
                f"{uploaded:,} items on Radicale",
                flush=True,
            )
            t0 = time.perf_counter()
            copied = peer.complete_collection()
            peer.check_agree()
            out["completed"] = {"copied": copied, "seconds": time.perf_counter() - t0}
            print(
                f"  Radicale completed with {copied:,} items copied into its folder, "
                f"vdirsyncer synced once ({time.perf_counter() - t0:.0f} s, not timed)",
                flush=True,
            )
            break
        out["changes"]["0"] = [synced(f"k0-{run}") for run in range(runs)]
        serial = 0
        for k in counts:
            samples: list[dict[str, Any]] = []
            added: list[Appointment] = []
            for run in range(runs):
                if added:  # this run deletes what the last one added
                    for a in added:
                        (peer.vdir / f"{a.uid}.ics").unlink()
                    added = []
                else:
                    added = changes(size, k, serial)
                    serial += 1
                    write_items(peer.vdir, added)
                samples.append(synced(f"k{k}-{run}"))
            for a in added:  # the calendar keeps its size for the next K
                (peer.vdir / f"{a.uid}.ics").unlink()
            if added:
                synced(f"k{k}-cleanup")
            out["changes"][str(k)] = samples
            median = sorted(s["ms"] for s in samples)[len(samples) // 2]
            print(f"  vdirsyncer after {k} changes: median {median:.0f} ms", flush=True)
    return out
