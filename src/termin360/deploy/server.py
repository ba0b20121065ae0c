"""The WSGI server behind ``portal serve`` and ``practice serve``: cheroot, with
optional TLS straight from a certificate and key (PEM files), and a clean stop on
SIGTERM / Ctrl+C (requests in flight finish, then the process exits)."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any


class ServerConfigError(RuntimeError):
    pass


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
        raise ServerConfigError(
            f"Port {port} auf {host} ist schon belegt — läuft termin360 dort schon? "
            "Den anderen Server beenden oder mit --port einen freien Port wählen."
        ) from None
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
