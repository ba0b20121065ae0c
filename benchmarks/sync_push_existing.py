"""Benchmark: ``termin360 sync push-existing`` of a column with 10,000 appointments.

    python -m benchmarks.sync_push_existing [--backend sqlite|postgres]
        [--appointments 10000] [--runs 5]

Sets up portal and practice (``benchmarks._sync_env``; online calendar A → column 1),
bulk-creates ``--appointments`` appointments in column 1 from tomorrow on (60 a day,
``fill_calendar``) and then measures, ``--runs`` times each:

- the command as the IT person types it, ``termin360 sync push-existing 1 1`` in its
  own process: wall time including Python's and Django's start, computing the busy
  state of every day and relaying all days to the portal (``PUT /busy`` in batches);
- the same work in-process (``push_existing`` + the relay loop of the command).

Every run sends every day again (S11 re-sends on purpose). Target: ≤ 5 s for the
command. Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import time
from datetime import date, timedelta

from benchmarks._sync_env import Row, print_table, sync_env
from benchmarks._sync_fill import fill_calendar


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--appointments", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    cli: list[float] = []
    inproc: list[float] = []
    with sync_env(args.backend, name="push", weeks=1, columns=2, mappings=(1,)) as env:
        from termin360.connector.models import OutboxEntry
        from termin360.connector.services import config, outbox
        from termin360.connector.services.push_existing import push_existing

        window = (env.monday, env.monday + timedelta(days=7))
        made = fill_calendar(
            env,
            args.appointments,
            columns=(1,),
            first=date.today() + timedelta(days=1),
            skip=window,
            backwards=False,
        )
        print(f"{made} appointments in column 1; {args.runs} runs each …", flush=True)
        days = 0
        for run in range(args.runs):
            t0 = time.perf_counter()
            done = env.cli("sync", "push-existing", "1", "1")
            cli.append((time.perf_counter() - t0) * 1000)
            if "alle belegten Zeiten" not in done.stdout:
                raise SystemExit(f"push-existing did not finish:\n{done.stdout}")
            t0 = time.perf_counter()
            result = push_existing(1, 1)
            with config.client_from_config() as client:
                while outbox.relay_once(client) and outbox.pending_count():
                    pass
            inproc.append((time.perf_counter() - t0) * 1000)
            days = result.days
            if OutboxEntry.objects.exists():
                raise SystemExit("outbox not empty after the in-process push")
            del run

    command = Row("push-existing (command, own process)", cli, "≤ 5000", max(cli) <= 5000)
    print_table(
        f"push-existing of {made:,} appointments ({days} days), {args.backend}",
        [command, Row("push-existing (in-process)", inproc)],
    )


if __name__ == "__main__":
    main()
