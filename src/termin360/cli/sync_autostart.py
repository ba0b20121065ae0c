"""Starting the sync job as its own process (S3): beside ``practice serve`` when autostart
is on, or detached by ``termin360 sync job on``.

The job is ``python -m termin360 sync job run`` in both cases — one code path; its
output goes to ``$TERMIN360_DATA_DIR/sync-job.log``. As a child of ``practice serve``
it is told the server's pid and ends by itself if the server dies without stopping it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

STOP_TIMEOUT_SECONDS = 10


def job_log_path() -> Path:
    from termin360.deploy.env import data_dir

    return data_dir() / "sync-job.log"


def spawn_job(*, detached: bool) -> subprocess.Popen[bytes]:
    """Start ``termin360 sync job run`` with this process's environment. ``detached``: in
    a session of its own, so it outlives this command and a Ctrl+C in its terminal."""
    command = [sys.executable, "-m", "termin360", "sync", "job", "run"]
    if not detached:
        command += ["--parent", str(os.getpid())]
    with job_log_path().open("ab") as log:
        return subprocess.Popen(  # noqa: S603 - our own command, no shell
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=detached,
            env=dict(os.environ),
        )


class JobHandle:
    """The job started by ``practice serve``; ``stop()`` is the server's on-stop hook."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        """SIGTERM (the job exits within about a second), SIGKILL after 10 s."""
        if self.process.poll() is not None:
            return
        try:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_job_if_autostart(out: Any) -> JobHandle | None:
    """Called by ``practice serve`` (Django is set up): start the job as a child process
    if ``sync job on`` switched autostart on and no job runs already (elsewhere)."""
    from termin360.connector.selectors import job_is_running, sync_state

    state = sync_state()
    if not state.autostart:
        return None
    if job_is_running(state):
        out.print(f"Abgleich mit dem Portal läuft bereits (PID {state.job_pid}).")
        return None
    handle = JobHandle(spawn_job(detached=False))
    out.print(
        f"Abgleich mit dem Portal läuft im Hintergrund (PID {handle.pid}, "
        f"Protokoll: {job_log_path()}).",
        soft_wrap=True,
    )
    return handle
