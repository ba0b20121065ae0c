"""Starting the sync job as its own process (S3): beside ``practice serve`` when autostart
is on, or detached by ``termin360 sync job on``.

The job is ``python -m termin360 sync job run`` in both cases — one code path; its
output goes to ``$TERMIN360_DATA_DIR/sync-job.log``. As a child of ``practice serve``
it is told the server's pid and ends by itself if the server dies without stopping it.
With ``--workers N`` the supervisor runs once, in gunicorn's master, not in a worker.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

STOP_TIMEOUT_SECONDS = 10

# The supervisor's thread reads the database in a process that may fork (gunicorn's
# master starting a worker): a fork in the middle of a query would hand the child a
# connection in use. So each look at the database holds this lock and closes its
# connection before letting go, and a fork waits for the lock.
_database_lock = threading.Lock()
os.register_at_fork(
    before=_database_lock.acquire,
    after_in_parent=_database_lock.release,
    after_in_child=_database_lock.release,
)


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


class JobSupervisor:
    """Keeps the sync job running beside ``practice serve`` while autostart is on (S3).

    A thread checks every few seconds: if no job runs (ours crashed or was killed, or one
    elsewhere ended) and autostart is on and nobody asked it to stop (``job stop``), it
    starts one — after 1, 2, 4 … 60 s when jobs keep dying quickly. ``stop()`` is the
    server's on-stop hook: it ends the supervision and the job."""

    CHECK_SECONDS = 2.0
    MAX_DELAY_SECONDS = 60.0

    def __init__(self, out: Any) -> None:
        self.out = out
        self.process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._delay = 1.0
        self._started_at = 0.0
        self._thread = threading.Thread(target=self._watch, name="sync-supervisor", daemon=True)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self, *, spawn: bool = True) -> None:
        """Start watching; ``spawn``: start the job right away, too."""
        if spawn:
            self._spawn()
        self._thread.start()

    def _spawn(self) -> None:
        self.process = spawn_job(detached=False)
        self._started_at = time.monotonic()
        self.out.print(
            f"Abgleich mit dem Portal läuft im Hintergrund (PID {self.process.pid}, "
            f"Protokoll: {job_log_path()}).",
            soft_wrap=True,
        )

    def _should_start(self) -> bool:
        from django.db import connection

        from termin360.connector.selectors import job_is_running, sync_state

        with _database_lock:
            try:
                state = sync_state()
                return state.autostart and not state.stop_requested and not job_is_running(state)
            finally:
                connection.close()

    def _watch(self) -> None:
        from django.db import connection

        try:
            while not self._stopping.wait(self.CHECK_SECONDS):
                if self.process is not None and self.process.poll() is None:
                    continue
                try:
                    wanted = self._should_start()
                except Exception:  # the database is away for a moment: ask again later
                    connection.close()
                    continue
                if not wanted:
                    continue
                quick = time.monotonic() - self._started_at < self.MAX_DELAY_SECONDS
                self._delay = min(self._delay * 2, self.MAX_DELAY_SECONDS) if quick else 1.0
                if self._stopping.wait(self._delay):
                    break
                self._spawn()
        finally:
            connection.close()

    def stop(self) -> None:
        """SIGTERM (the job exits within about a second), SIGKILL after 10 s."""
        self._stopping.set()
        process = self.process
        if process is None or process.poll() is not None:
            return
        try:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_job_if_autostart(out: Any) -> JobSupervisor | None:
    """Called by ``practice serve`` (Django is set up): if ``sync job on`` switched
    autostart on, supervise the job — start it now unless one runs already (elsewhere),
    and again whenever it is gone while autostart stays on."""
    from termin360.connector.selectors import job_is_running, sync_state

    state = sync_state()
    if not state.autostart:
        return None
    supervisor = JobSupervisor(out)
    running_elsewhere = job_is_running(state)
    if running_elsewhere:
        out.print(f"Abgleich mit dem Portal läuft bereits (PID {state.job_pid}).")
    supervisor.start(spawn=not running_elsewhere)
    return supervisor
