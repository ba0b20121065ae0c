"""The WSGI server behind ``portal serve`` and ``practice serve``: with optional TLS
straight from a certificate and key (PEM files), and a clean stop on SIGTERM / Ctrl+C
(requests in flight finish, then the process exits).

One process (``--workers 1``, the default) is cheroot with threads: one process to
start, watch and stop, as the demo and a practice's own machine want. Several
(``--workers N``) are gunicorn's master and workers (``deploy.workers``, decision 020).
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any


class ServerConfigError(RuntimeError):
    pass


def port_taken(host: str, port: int) -> ServerConfigError:
    return ServerConfigError(
        f"Port {port} auf {host} ist schon belegt — läuft termin360 dort schon? "
        "Den anderen Server beenden oder mit --port einen freien Port wählen."
    )


def load_views() -> None:
    """Import every view now (the URL configuration), not on the first request: no
    request waits for it, and several workers share what their master loaded."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - the property imports the modules


def serve(
    application: Callable[..., Any],
    *,
    host: str,
    port: int,
    threads: int,
    workers: int = 1,
    tls_cert: str = "",
    tls_key: str = "",
    on_ready: Callable[[], None] | None = None,
    on_stop: Callable[[], None] | None = None,
    before_stop: Callable[[], None] | None = None,
    in_worker: Callable[[], None] | None = None,
) -> None:
    """Serve until SIGTERM or Ctrl+C, in one process or in ``workers`` processes.

    ``in_worker`` runs in each process that will answer requests, before its first one
    (the database pool); ``on_ready`` and ``on_stop`` once for the whole server;
    ``before_stop`` in each answering process as it begins to stop."""
    load_views()
    if workers > 1:
        from termin360.deploy.workers import serve_workers

        serve_workers(
            application,
            host=host,
            port=port,
            workers=workers,
            threads=threads,
            tls_cert=tls_cert,
            tls_key=tls_key,
            on_ready=on_ready,
            on_stop=on_stop,
            before_stop=before_stop,
            in_worker=in_worker,
        )
        return
    if in_worker is not None:
        in_worker()
    serve_wsgi(
        application,
        host=host,
        port=port,
        threads=threads,
        tls_cert=tls_cert,
        tls_key=tls_key,
        on_ready=on_ready,
        on_stop=on_stop,
        before_stop=before_stop,
    )


def check_tls_files(cert: str, key: str) -> None:
    if bool(cert) != bool(key):
        raise ServerConfigError("TLS braucht Zertifikat und Schlüssel (--tls-cert und --tls-key).")
    for label, path in (("Zertifikat", cert), ("Schlüssel", key)):
        if path and not Path(path).is_file():
            raise ServerConfigError(f"TLS-{label} nicht gefunden: {path}")


def serve_wsgi(
    application: Callable[..., Any],
    *,
    host: str,
    port: int,
    threads: int,
    tls_cert: str = "",
    tls_key: str = "",
    on_ready: Callable[[], None] | None = None,
    on_stop: Callable[[], None] | None = None,
    before_stop: Callable[[], None] | None = None,
) -> None:
    """Serve until SIGTERM or Ctrl+C. Keep-alive connections wait in a selector, not in
    a worker thread, so idle connectors and browsers do not use up the threads.

    ``on_ready`` runs once the port is bound (say where the server runs, start what runs
    beside it); a port that is taken raises ``ServerConfigError`` before it. When
    stopping, ``before_stop`` runs first (e.g. release long polls so that their threads
    end), ``on_stop`` after the server has stopped."""
    from cheroot import wsgi

    check_tls_files(tls_cert, tls_key)
    server = wsgi.Server(
        (host, port),
        application,
        numthreads=threads,
        max=threads * 4,
        server_name="termin360",
        request_queue_size=128,
        shutdown_timeout=5,
    )
    if tls_cert:
        from cheroot.ssl.builtin import BuiltinSSLAdapter

        server.ssl_adapter = BuiltinSSLAdapter(tls_cert, tls_key)

    def _stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        server.prepare()  # binds the port
    except OSError:
        raise port_taken(host, port) from None
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        if on_ready is not None:
            on_ready()
        server.serve()  # until interrupted
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if before_stop is not None:
            before_stop()
        server.stop()
        if on_stop is not None:
            on_stop()
