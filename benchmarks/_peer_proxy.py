"""A counting TCP proxy for the peer benchmark: put in front of a server (Radicale, the
portal) on 127.0.0.1, it passes every byte through unchanged and counts the bytes each
way, the connections and the HTTP requests.

Requests are counted by reading the client's stream as HTTP/1.1: a request line and
headers up to the empty line, then a body of ``Content-Length`` bytes or in chunks.
The same proxy sits in front of both systems, so whatever it costs per request it
costs both.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

_CHUNK = 65536


@dataclass(frozen=True)
class Traffic:
    requests: int = 0
    sent: int = 0  # client → server, bytes
    received: int = 0  # server → client, bytes
    connections: int = 0

    def __sub__(self, other: Traffic) -> Traffic:
        return Traffic(
            self.requests - other.requests,
            self.sent - other.sent,
            self.received - other.received,
            self.connections - other.connections,
        )

    @property
    def bytes(self) -> int:
        return self.sent + self.received


class _RequestCounter:
    """Feeds on the client's bytes and counts the HTTP requests in them."""

    def __init__(self) -> None:
        self.buf = b""
        self.body_left = 0  # bytes of a Content-Length body still to come
        self.chunked = False
        self.count = 0

    def feed(self, data: bytes) -> None:
        self.buf += data
        while self._step():
            pass

    def _step(self) -> bool:
        if self.body_left:
            taken = min(self.body_left, len(self.buf))
            self.body_left -= taken
            self.buf = self.buf[taken:]
            return bool(self.buf)
        if self.chunked:
            return self._chunk()
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return False
        head, self.buf = self.buf[:end].decode("latin-1"), self.buf[end + 4 :]
        self.count += 1
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                self.body_left = int(value)
            elif name == "transfer-encoding" and "chunked" in value:
                self.chunked = True
        return bool(self.buf)

    def _chunk(self) -> bool:
        line_end = self.buf.find(b"\r\n")
        if line_end < 0:
            return False
        size = int(self.buf[:line_end].split(b";")[0], 16)
        if size == 0:  # the last chunk, then (no trailers here) an empty line
            if len(self.buf) < line_end + 4:
                return False
            self.buf, self.chunked = self.buf[line_end + 4 :], False
            return bool(self.buf)
        if len(self.buf) < line_end + 2 + size + 2:
            return False
        self.buf = self.buf[line_end + 2 + size + 2 :]
        return bool(self.buf)


@dataclass
class _Pair:
    """One proxied connection; the pump that ends last closes both sockets."""

    client: socket.socket
    server: socket.socket
    running: int = 2


class CountingProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._lock = threading.Lock()
        self._sent = self._received = self._connections = 0
        self._counters: list[_RequestCounter] = []
        self._sockets: list[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept, name="proxy-accept", daemon=True).start()

    def traffic(self) -> Traffic:
        with self._lock:
            requests = sum(c.count for c in self._counters)
            return Traffic(requests, self._sent, self._received, self._connections)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            sockets = [self.listener, *self._sockets]
        for s in sockets:
            with suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=10)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            counter = _RequestCounter()
            with self._lock:
                if self._closed:
                    client.close()
                    server.close()
                    return
                self._connections += 1
                self._counters.append(counter)
                self._sockets += [client, server]
            pair = _Pair(client, server)
            threading.Thread(target=self._pump, args=(pair, True, counter), daemon=True).start()
            threading.Thread(target=self._pump, args=(pair, False, None), daemon=True).start()

    def _pump(self, pair: _Pair, upstream: bool, counter: _RequestCounter | None) -> None:
        src, dst = (pair.client, pair.server) if upstream else (pair.server, pair.client)
        try:
            while data := src.recv(_CHUNK):
                if counter is not None:
                    counter.feed(data)
                with self._lock:
                    if upstream:
                        self._sent += len(data)
                    else:
                        self._received += len(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
            with self._lock:
                pair.running -= 1
                last = pair.running == 0
                if last:
                    self._sockets = [s for s in self._sockets if s not in (src, dst)]
            if last:
                src.close()
                dst.close()


@contextmanager
def counting_proxy(upstream_port: int) -> Iterator[CountingProxy]:
    proxy = CountingProxy(upstream_port)
    try:
        yield proxy
    finally:
        proxy.close()
