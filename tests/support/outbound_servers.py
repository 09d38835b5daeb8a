"""Real servers on loopback for the outbound tests: slow drips, endless streams, redirect
chains, hit recorders. Raw sockets where the test needs to misbehave below HTTP."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.serving import make_server

Handler = Callable[[socket.socket, threading.Event], None]


class RawServer:
    """Accepts TCP connections on ``host`` and runs ``handler(conn, stopped)`` for each in a
    thread; ``connections`` counts them, ``requests`` keeps each request head."""

    def __init__(
        self, handler: Handler, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None
    ) -> None:
        self.handler = handler
        self.tls = tls
        self.connections = 0
        self.requests: list[bytes] = []
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self._listener = socket.create_server((host, 0))
        self._listener.settimeout(0.2)
        self.host = host
        self.port = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._serve, daemon=True)
        self._accept.start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self.lock:
                self.connections += 1
            thread = threading.Thread(target=self._run, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _run(self, conn: socket.socket) -> None:
        try:
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            conn.settimeout(30)
            head = read_head(conn)
            with self.lock:
                self.requests.append(head)
            self.handler(conn, self.stopped)
        except (OSError, ssl.SSLError):
            pass  # the client gave up, as it should
        finally:
            conn.close()

    def stop(self) -> None:
        self.stopped.set()
        self._listener.close()
        self._accept.join(5)
        for thread in self._threads:
            thread.join(5)


def read_head(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 65536:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def drip(data: bytes, interval: float) -> Handler:
    """Send ``data`` one byte at a time, ``interval`` seconds apart."""

    def handler(conn: socket.socket, stopped: threading.Event) -> None:
        for byte in data:
            if stopped.wait(interval):
                return
            conn.sendall(bytes([byte]))

    return handler


def drip_forever(head: bytes, interval: float) -> Handler:
    """Send ``head`` at once, then a byte every ``interval`` seconds until the client leaves."""

    def handler(conn: socket.socket, stopped: threading.Event) -> None:
        conn.sendall(head)
        while not stopped.wait(interval):
            conn.sendall(b"x")

    return handler


def endless_chunks(size: int = 64 * 1024) -> Handler:
    """A chunked answer that never ends (no Content-Length to refuse up front)."""

    def handler(conn: socket.socket, stopped: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
        conn.sendall(b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = f"{size:x}\r\n".encode() + b"x" * size + b"\r\n"
        while not stopped.is_set():
            conn.sendall(chunk)

    return handler


def answer(raw: bytes) -> Handler:
    def handler(conn: socket.socket, stopped: threading.Event) -> None:
        conn.sendall(raw)

    return handler


class WsgiServer:
    """A threaded werkzeug server on ``host`` (any loopback address) running ``app``."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self.hits: list[dict[str, str]] = []
        self._app = app
        self._server = make_server(host, port, self._record, threaded=True)
        self.host = host
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _record(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.hits.append(
            {
                "path": environ.get("PATH_INFO", ""),
                "method": environ.get("REQUEST_METHOD", ""),
                "host": environ.get("HTTP_HOST", ""),
                "authorization": environ.get("HTTP_AUTHORIZATION", ""),
            }
        )
        return self._app(environ, start_response)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def redirect_to(location: Callable[[str], str], status: str = "302 Found") -> Any:
    """A WSGI app answering every path with a redirect to ``location(path)``."""

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response(
            status, [("Location", location(environ["PATH_INFO"])), ("Content-Length", "0")]
        )
        return [b""]

    return app


def json_app(body: bytes = b'{"ok": true}') -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response(
            "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return [body]

    return app


def wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.02)
    return condition()
