"""Benchmark: termin360's connector against the peer — vdirsyncer syncing a local
calendar with Radicale — on the same appointments.

    python -m benchmarks.peer_sync [--backend sqlite|postgres] [--sizes 500,2000,10000]
        [--changes 1,10,100] [--runs 3] [--initial-runs N] [--quick]

For each calendar size N (``--sizes``) both systems get the same N appointments
(``benchmarks._peer_common``) and, per K in ``--changes``, the same K changes: K new
appointments in one run, deleted again in the next. Measured per system, each sync as
a whole client process, the same counting proxy in front of both servers:

- the initial transfer of N: ``termin360 sync push-existing 1 1`` into the running
  portal, ``vdirsyncer sync`` into an empty Radicale collection;
- a sync with no change (K = 0), then after K changes: ``termin360 sync now`` against
  ``vdirsyncer sync`` — the time until the process ends with both sides agreeing
  (checked after each sync, outside the timing: ``_peer_termin360``,
  ``_peer_radicale``);
- the same K changes while termin360's connector runs as it does in a practice
  (``termin360 sync job run``, rows "K = …, job"): from the end of the last change until
  the portal has acknowledged every changed day — vdirsyncer has no such mode, its
  rows are the same ``vdirsyncer sync`` processes;
- HTTP requests and bytes (both directions) through the proxy, peak memory (VmHWM)
  of the client process.

Reported: a table per measure (runs, median, p95, p99, min–max), the ratios vdirsyncer /
termin360 of the medians against the targets (≥ 20 × after K = 10 at N = 10,000,
≥ 50 × for the initial transfer), written to ``var/bench/peer_sync.txt`` with the raw
figures in ``peer_sync.json``, and the plot ``docs/performance-sync.png``
(``benchmarks.plot_sync``). ``--quick``: N = 100, 250, 500, K = 1, 10, two runs, files
named ``peer_sync-quick.*`` in ``var/bench`` (the plot too), a few minutes. On
PostgreSQL the files are ``peer_sync-postgres.*``, the plot among them.

Each system and size runs in a child process of its own (Django's settings are per
process; servers and temp dirs go with it). vdirsyncer's initial transfer is slow (one
PUT per appointment, each dearer the larger the collection — Radicale reads the
collection to check the new UID): by default it runs ``--runs`` times up to N = 500 and
once above, and is cut after ``--peer-limit`` seconds (300); a cut transfer's ratio is a
lower bound, marked ``≥``.
Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks._sync_env import ROOT, Row, print_table

TARGETS = {"initial": 50.0, "10": 20.0, "10, job": 20.0}  # vdirsyncer / termin360 at the largest N
CHILD_TIMEOUT = 2 * 3600  # seconds; the default run takes well under one


# --------------------------------------------------------------------------- children


def _child(args: argparse.Namespace) -> None:
    """One system, one size; the figures as JSON on the last line of stdout."""
    # The parent ends a child that overruns with SIGTERM: finish the cleanup then.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))
    counts = [int(k) for k in args.changes.split(",")]
    size = args.one_size
    if args.child == "termin360":
        from benchmarks._peer_termin360 import measure

        profile = Path(args.profile) if args.profile else None
        figures = measure(args.backend, size, counts, args.runs, args.initial_runs, profile)
    else:
        from benchmarks._peer_radicale import measure as measure_peer

        work = Path(tempfile.mkdtemp(prefix=f"t360-bench-peer-vdirsyncer{size}-"))
        try:
            figures = measure_peer(
                work, size, counts, args.runs, args.initial_runs, args.peer_limit
            )
        finally:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(figures))


def _run_child(system: str, size: int, args: argparse.Namespace, profile: str) -> dict[str, Any]:
    initial_runs = args.initial_runs or (args.runs if system == "termin360" or size <= 500 else 1)
    cmd = [
        sys.executable, "-m", "benchmarks.peer_sync", "--child", system,
        "--one-size", str(size), "--backend", args.backend, "--changes", args.changes,
        "--runs", str(args.runs), "--initial-runs", str(initial_runs), "--profile", profile,
        "--peer-limit", str(args.peer_limit),
    ]  # fmt: skip
    print(f"{system}, N = {size:,} …", flush=True)
    load = os.getloadavg()[0]
    t0 = time.monotonic()
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    # A child that overruns gets SIGTERM (it cleans up); what it left running goes with
    # its process group below.
    timer = threading.Timer(CHILD_TIMEOUT, proc.send_signal, (signal.SIGTERM,))
    timer.start()
    lines = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if not line.startswith("{"):  # progress, not the figures
                print(line, end="", flush=True)
        proc.wait()
    finally:
        timer.cancel()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=60)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"{system} at N = {size} failed ({proc.returncode})")
    figures: dict[str, Any] = json.loads(lines[-1])
    figures["load"] = [round(load, 2), round(os.getloadavg()[0], 2)]
    figures["seconds"] = round(time.monotonic() - t0, 1)
    return figures


# --------------------------------------------------------------------------- report


def _machine() -> dict[str, Any]:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    git = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--short", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "python": sys.version.split()[0],
        "commit": git,
        "changed_files": len(dirty),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def _median(samples: list[dict[str, Any]], key: str) -> float:
    return Row("", [float(s[key]) for s in samples]).median


def _measures(figures: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    """(label, samples) of one system and size: the initial transfer, then each K."""
    label = "initial transfer"
    if any(s.get("cut") for s in figures["initial"]):
        label = "initial (cut, ≥)"
    out = [(label, figures["initial"])]
    out += [(f"K = {k}", samples) for k, samples in figures["changes"].items()]
    out += [(f"K = {k}, job", samples) for k, samples in figures.get("job", {}).items()]
    return out


def _tables(results: dict[str, dict[str, Any]], sizes: list[int], backend: str) -> str:
    buf = io.StringIO()
    units = [
        ("ms", "time until both sides agree (whole client process)", 1.0),
        ("requests", "HTTP requests through the proxy", 1.0),
        ("KiB", "bytes through the proxy, both directions", 1 / 1024),
        ("MiB", "peak memory of the client process (VmHWM)", 1 / 1024),
    ]
    keys = {"ms": "ms", "requests": "requests", "KiB": "bytes", "MiB": "peak_kib"}
    with contextlib.redirect_stdout(buf):
        for unit, title, scale in units:
            rows = []
            for size in sizes:
                for system in ("termin360", "vdirsyncer"):
                    for label, samples in _measures(results[system][str(size)]):
                        values = [float(s[keys[unit]]) * scale for s in samples]
                        rows.append(Row(f"{system:<10} N={size:<6} {label}", values))
            print_table(f"{title}, {backend}", rows, unit)
        rows = []
        for size in sizes:
            t360 = results["termin360"][str(size)]
            for k, samples in t360["in_process"].items():
                rows.append(
                    Row(f"N={size:<6} K = {k}, in-process round", [s["ms"] for s in samples])
                )
            for k, samples in t360["claims"].items():
                adds = [s for s in samples if s["requests"]]
                if adds:
                    rows.append(
                        Row(
                            f"N={size:<6} K = {k}, S9 claims (requests)",
                            [s["requests"] for s in adds],
                        )
                    )
        print_table(
            "termin360 beside it, not in the ratios: sync_round in-process (ms); the claims "
            "of the practice actions before the sync (requests, runs that add)",
            rows,
            "ms / requests",
        )
    return buf.getvalue()


def _ratios(results: dict[str, dict[str, Any]], sizes: list[int]) -> list[dict[str, Any]]:
    out = []
    for size in sizes:
        t360, peer = results["termin360"][str(size)], results["vdirsyncer"][str(size)]
        pairs = [("initial", t360["initial"], peer["initial"])]
        pairs += [(k, t360["changes"][k], peer["changes"][k]) for k in t360["changes"]]
        # the running job against the same vdirsyncer syncs
        pairs += [(f"{k}, job", t360["job"][k], peer["changes"][k]) for k in t360.get("job", {})]
        for what, mine, theirs in pairs:
            ratio: dict[str, Any] = {"size": size, "what": what}
            for key in ("ms", "requests", "bytes", "peak_kib"):
                a, b = _median(mine, key), _median(theirs, key)
                ratio[key] = b / a if a else None
            ratio["lower_bound"] = any(s.get("cut") for s in theirs)
            target = TARGETS.get(what) if size == max(sizes) else None
            ratio["target"] = target
            met = None if target is None else ratio["ms"] >= target
            ratio["met"] = None if ratio["lower_bound"] and not met else met
            out.append(ratio)
    return out


def _ratio_text(ratios: list[dict[str, Any]]) -> str:
    lines = [
        "\nratios vdirsyncer / termin360 (medians; > 1: termin360 is faster, smaller)",
        f"{'N':>8}  {'measure':<18}{'time':>9}{'requests':>10}{'bytes':>9}{'memory':>8}  target",
    ]

    def x(value: float | None, bound: bool = False) -> str:
        return "–" if value is None else f"{'≥ ' if bound else ''}{value:.1f}×"

    for r in ratios:
        what = "initial transfer" if r["what"] == "initial" else f"K = {r['what']}"
        target = ""
        if r["target"] is not None:
            verdict = {True: "met", False: "NOT met", None: "open (a lower bound below it)"}
            target = f"≥ {r['target']:.0f}× — {verdict[r['met']]}"
        lines.append(
            f"{r['size']:>8,}  {what:<18}{x(r['ms'], r['lower_bound']):>9}"
            f"{x(r['requests'], r['lower_bound']):>10}{x(r['bytes'], r['lower_bound']):>9}"
            f"{x(r['peak_kib']):>8}  {target}"
        )
    if any(r["lower_bound"] for r in ratios):
        lines.append(
            "≥: vdirsyncer's initial transfer was cut at --peer-limit before it had finished "
            "(its time, requests and bytes are those up to then)"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--sizes", default="500,2000,10000")
    parser.add_argument("--changes", default="1,10,100")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--initial-runs", type=int, default=0, help="default: see above")
    parser.add_argument(
        "--peer-limit",
        type=float,
        default=300,
        help="seconds after which vdirsyncer's initial transfer is cut (0: never); default 300",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, a minute or two")
    parser.add_argument("--child", choices=["termin360", "vdirsyncer"], help=argparse.SUPPRESS)
    parser.add_argument("--one-size", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--profile", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    if args.quick:
        args.sizes, args.changes, args.runs = "100,250,500", "1,10", 2
    sizes = sorted(int(s) for s in args.sizes.split(","))
    # the SQLite run is the default one: its plot goes to the docs; others stay in var/
    name = "peer_sync" + ("-quick" if args.quick else "")
    name += "" if args.backend == "sqlite" else f"-{args.backend}"
    out_dir = ROOT / "var" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    profile = out_dir / f"{name}-profile.txt"
    started = time.monotonic()
    meta = _machine() | {
        "backend": args.backend,
        "command": "python -m benchmarks.peer_sync " + " ".join(sys.argv[1:]),
        "runs": args.runs,
    }
    results: dict[str, dict[str, Any]] = {"termin360": {}, "vdirsyncer": {}}
    for size in sizes:
        # termin360 first at one size, vdirsyncer first at the next: load that changes
        # over the run falls on both
        order = ["termin360", "vdirsyncer"]
        if len(results["termin360"]) % 2:
            order.reverse()
        for system in order:
            # the profile of termin360's sync now after 10 changes, at the largest N
            where = str(profile) if system == "termin360" and size == sizes[-1] else ""
            results[system][str(size)] = _run_child(system, size, args, where)
            # what is done so far, should a later child fail
            (out_dir / f"{name}.partial.json").write_text(json.dumps(results, indent=1))
    meta["minutes"] = round((time.monotonic() - started) / 60, 1)
    ratios = _ratios(results, sizes)
    head = (
        f"peer benchmark, {meta['date']}: {meta['command']}\n"
        f"machine: {meta['cpus']} cores ({meta['cpu']}), Python {meta['python']}, commit "
        f"{meta['commit']} (+{meta['changed_files']} changed files in the work tree), "
        f"{meta['minutes']} min; load average before/after each child: "
        + ", ".join(
            f"{s} N={n}: {results[s][n]['load'][0]}/{results[s][n]['load'][1]}"
            for n in map(str, sizes)
            for s in ("termin360", "vdirsyncer")
        )
        + "\n"
    )
    report = head + _tables(results, sizes, args.backend) + _ratio_text(ratios)
    print(report)
    (out_dir / f"{name}.txt").write_text(report)
    raw = {"meta": meta, "results": results, "ratios": ratios}
    (out_dir / f"{name}.json").write_text(json.dumps(raw, indent=1))
    (out_dir / f"{name}.partial.json").unlink(missing_ok=True)
    from benchmarks.plot_sync import plot

    png = ROOT / "docs" / "performance-sync.png" if name == "peer_sync" else out_dir / f"{name}.png"
    plot(raw, png)
    print(f"written: {out_dir / name}.txt, .json; plot {png}; profile {profile}")


if __name__ == "__main__":
    main()
