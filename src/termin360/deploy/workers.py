"""``serve --workers N`` (N ≥ 2): gunicorn's master and N worker processes on one port,
each worker with its own threads (the ``gthread`` worker), run from inside the console
command so that it keeps its German lines, its TLS options and its clean stop.

The master loads the application once (``preload_app``: the workers are forks of a
set-up Django) and runs what belongs to the server as a whole exactly once — the
``on_ready`` hook (the start line, the practice's sync job) and ``on_stop``. It holds no
database connection when it forks: it closes them first, and ``in_worker`` (the pool,
``deploy.dbpool``) runs in each worker before its first query. SIGTERM or Ctrl+C: the
master stops taking connections, each worker releases its long polls (``before_stop``),
finishes what is in flight (at most ``GRACEFUL_SECONDS``) and exits; then ``on_stop``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from gunicorn import sock
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.workers.gthread import ThreadWorker

from termin360.deploy.server import ServerConfigError, check_tls_files, port_taken

# As cheroot's shutdown_timeout: a request still running after this is cut off.
GRACEFUL_SECONDS = 5
# Kept-alive connections (a connector between two polls, a browser) wait in the worker's
# selector, not in a thread, for this long.
KEEPALIVE_SECONDS = 10


class Worker(ThreadWorker):  # type: ignore[misc]  # gunicorn has no types
    """gunicorn's gthread worker that also releases this process's long polls when told
    to stop, so that a poll waiting 25 s does not hold the stop up."""

    before_stop: ClassVar[Callable[[], None] | None] = None

    def _release(self) -> None:
        if self.alive and Worker.before_stop is not None:
            Worker.before_stop()

    def handle_exit(self, sig: int, frame: Any) -> None:
        self._release()
        super().handle_exit(sig, frame)

    def handle_quit(self, sig: int, frame: Any) -> None:
        self._release()
        super().handle_quit(sig, frame)


class _Application(BaseApplication):  # type: ignore[misc]  # gunicorn has no types
    def __init__(self, application: Callable[..., Any], options: dict[str, Any]) -> None:
        self.application = application
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Callable[..., Any]:
        return self.application


def serve_workers(
    application: Callable[..., Any],
    *,
    host: str,
    port: int,
    workers: int,
    threads: int,
    tls_cert: str = "",
    tls_key: str = "",
    on_ready: Callable[[], None] | None = None,
    on_stop: Callable[[], None] | None = None,
    before_stop: Callable[[], None] | None = None,
    in_worker: Callable[[], None] | None = None,
) -> None:
    """Serve with ``workers`` processes of ``threads`` threads until SIGTERM or Ctrl+C.
    A port that is taken raises ``ServerConfigError`` before anything starts."""
    from django.db import connections

    check_tls_files(tls_cert, tls_key)

    def when_ready(_arbiter: Any) -> None:
        if on_ready is not None:
            on_ready()
        connections.close_all()  # nothing of the master's reaches a worker

    def post_fork(_arbiter: Any, _worker: Any) -> None:
        if in_worker is not None:
            in_worker()

    Worker.before_stop = before_stop
    options: dict[str, Any] = {
        "bind": [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"],
        "workers": workers,
        "threads": threads,
        "worker_class": Worker,
        "preload_app": True,
        "graceful_timeout": GRACEFUL_SECONDS,
        "keepalive": KEEPALIVE_SECONDS,
        "proc_name": "termin360",
        # gunicorn's own lines only when something is wrong; the command says the rest
        "loglevel": "warning",
        "errorlog": "-",
        "accesslog": None,
        "control_socket_disable": True,
        "when_ready": when_ready,
        "post_fork": post_fork,
    }
    if tls_cert:
        options.update(certfile=tls_cert, keyfile=tls_key)
    connections.close_all()
    app = _Application(application, options)
    arbiter = Arbiter(app)
    family = sock.TCP6Socket if ":" in host else sock.TCPSocket
    try:
        # Bound here, not by gunicorn (which retries for five seconds, in English).
        arbiter.LISTENERS = [family((host, port), app.cfg, arbiter.log)]
    except OSError:
        raise port_taken(host, port) from None
    status: object = 0
    try:
        arbiter.run()
    except SystemExit as exc:
        status = exc.code
    finally:
        if on_stop is not None:
            on_stop()
    if status not in (0, None):
        raise ServerConfigError(
            f"Der Server hat sich mit einem Fehler beendet (Code {status}); die Meldungen "
            "darüber nennen den Grund."
        )
