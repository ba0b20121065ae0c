"""A TCP proxy for fault tests: between the connector (job, practice server, CLI) and the
real portal, it passes bytes through — or misbehaves on command.

Modes (``set_mode``), applied at once to new and open connections:

- ``pass``:    bytes flow both ways;
- ``cut``:     open connections are reset, new ones are accepted and reset at once;
- ``silent``:  connections are accepted, the request is read and nothing ever comes back
               (a portal that hangs, or a network that swallows everything);
- ``drip``:    the portal's answers reach the client one byte every ``interval`` seconds;
- ``slow``:    every chunk either way is held ``delay`` seconds;
- ``no_reply``: requests reach the portal, its answers are dropped (the write happened,
               the reply did not).

Threads only, 127.0.0.1 only, bounded: ``stop()`` ends every connection.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

MODES = ("pass", "cut", "silent", "drip", "slow", "no_reply")
POLL = 0.05


def _reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0): the other side sees the connection break, not end."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


@dataclass
class FaultProxy:
    upstream_port: int
    mode: str = "pass"
    interval: float = 3.0  # drip
    delay: float = 0.5  # slow
    port: int = 0
    connections: int = 0
    history: list[tuple[float, str]] = field(default_factory=list)
    _listener: socket.socket | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _open: set[socket.socket] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ----------------------------------------------------------------- control

    def start(self) -> FaultProxy:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        listener.settimeout(POLL)
        self._listener, self.port = listener, listener.getsockname()[1]
        self.history.append((time.monotonic(), self.mode))
        self._spawn(self._accept_loop)
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.close()
        self.cut_all()
        for thread in self._threads:
            thread.join(timeout=2)

    def set_mode(self, mode: str, **params: float) -> None:
        assert mode in MODES, mode
        for name, value in params.items():
            setattr(self, name, value)
        self.mode = mode
        self.history.append((time.monotonic(), mode))
        if mode == "cut":
            self.cut_all()

    def cut_all(self) -> None:
        with self._lock:
            doomed = list(self._open)
            self._open.clear()
        for sock in doomed:
            _reset(sock)

    def faulty_between(self, start: float, end: float) -> bool:
        """Whether the proxy was anything but ``pass`` at some moment of [start, end]."""
        current = "pass"
        for at, mode in self.history:
            if at > end:
                break
            if at <= start:
                current = mode
            elif mode != "pass":
                return True
        return current != "pass"

    # ----------------------------------------------------------------- the work

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                client, _addr = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            if self.mode == "cut":
                _reset(client)
                continue
            self._spawn(self._serve, client)

    def _track(self, *socks: socket.socket) -> None:
        with self._lock:
            self._open.update(socks)

    def _serve(self, client: socket.socket) -> None:
        self._track(client)
        upstream: socket.socket | None = None
        if self.mode != "silent":
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
            except OSError:
                _reset(client)
                return
            self._track(upstream)
        if upstream is None:
            self._swallow(client)
            return
        self._spawn(self._pump, client, upstream, False)
        self._pump(upstream, client, True)

    def _swallow(self, client: socket.socket) -> None:
        client.settimeout(POLL)
        while not self._stop.is_set():
            try:
                if client.recv(65536) == b"":
                    break
            except TimeoutError:
                continue
            except OSError:
                break
        _reset(client)

    def _pump(self, src: socket.socket, dst: socket.socket, answers: bool) -> None:
        """Copy ``src`` → ``dst`` as the mode says; ``answers``: this is portal → client."""
        src.settimeout(POLL)
        try:
            while not self._stop.is_set():
                try:
                    chunk = src.recv(65536)
                except TimeoutError:
                    continue
                if not chunk:
                    break
                self._forward(chunk, dst, answers)
        except OSError:
            pass
        finally:
            _reset(src)
            _reset(dst)

    def _forward(self, chunk: bytes, dst: socket.socket, answers: bool) -> None:
        mode = self.mode
        if mode == "cut":
            raise OSError("cut")
        if mode == "silent" or (mode == "no_reply" and answers):
            return
        if mode == "slow":
            time.sleep(self.delay)
        if mode == "drip" and answers:
            for i in range(len(chunk)):
                if self._stop.wait(self.interval):
                    return
                dst.sendall(chunk[i : i + 1])
            return
        dst.sendall(chunk)


@contextlib.contextmanager
def fault_proxy(upstream_port: int) -> Iterator[FaultProxy]:
    proxy = FaultProxy(upstream_port).start()
    try:
        yield proxy
    finally:
        proxy.stop()
