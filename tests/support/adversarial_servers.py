"""Hostile servers on 127.0.0.1 for the adversarial tests.

* ``HostileRegistrar``: an LTI platform for Dynamic Registration whose OpenID
  configuration and registration answer are whatever the test says (broken, huge,
  lying about its issuer...).
* ``Recorder``: answers 200 to anything and remembers who came (an SSRF probe).
* ``gate_posts``: WSGI middleware for the independent AGS platform that holds its score
  (or line item) POSTs until the test lets them through, so a worker can be killed
  mid-passback.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import make_server

from support.servers import ServedApp, serve

StartResponse = Callable[..., Any]
Environ = dict[str, Any]


@dataclass
class Answer:
    status: int = 200
    body: bytes = b"{}"
    content_type: str = "application/json"


_REASONS = {200: "OK", 201: "Created", 301: "Moved", 400: "Bad", 404: "Not Found", 500: "Error"}


def _reply(answer: Answer, start_response: StartResponse) -> list[bytes]:
    reason = _REASONS.get(answer.status, "Status")
    start_response(
        f"{answer.status} {reason}",
        [("Content-Type", answer.content_type), ("Content-Length", str(len(answer.body)))],
    )
    return [answer.body]


class HostileRegistrar:
    """``/config``: the OpenID configuration; ``/register``: the registration answer."""

    def __init__(self) -> None:
        self.config = Answer()
        self.registration = Answer()
        self.hits: list[str] = []
        self._server: ServedApp = serve(self)

    @property
    def url(self) -> str:
        return self._server.url

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        self.hits.append(path)
        if path == "/config":
            return _reply(self.config, start_response)
        if path == "/register":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            environ["wsgi.input"].read(length)
            return _reply(self.registration, start_response)
        return _reply(Answer(404, b'{"error": "not here"}'), start_response)

    def stop(self) -> None:
        self._server.stop()


class Recorder:
    """Answers anything with 200 and a JSON object, and records each request's path."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        self._server: ServedApp = serve(self)

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def port(self) -> int:
        return self._server.port

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        self.hits.append(environ.get("PATH_INFO", ""))
        return _reply(Answer(200, b'{"secret": "internal"}'), start_response)

    def stop(self) -> None:
        self._server.stop()


@dataclass
class Gate:
    """Holds matching POSTs to a platform (and counts them) until ``open`` is set."""

    arrived: threading.Event = field(default_factory=threading.Event)
    open: threading.Event = field(default_factory=threading.Event)
    held: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def gate_posts(
    app: Callable[..., Any], gate: Gate, path_suffix: str, hold_seconds: float = 30.0
) -> Any:
    """Wrap a platform's WSGI app: POSTs to paths ending in ``path_suffix`` wait for the gate
    (at most ``hold_seconds``), then go through: the platform does its work, late."""

    def wrapped(environ: Environ, start_response: StartResponse) -> Any:
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") == "POST" and path.endswith(path_suffix):
            with gate.lock:
                gate.held += 1
            gate.arrived.set()
            gate.open.wait(hold_seconds)
        return app(environ, start_response)

    return wrapped


def take_down(platform: Any) -> int:
    """Stop an ``IndependentPlatform`` and close its socket: connections are refused (an LMS
    that is down), not left hanging. Returns the port, for ``bring_up``."""
    server = platform._server
    port = server.server_port
    server.shutdown()
    server.server_close()
    platform._thread.join(5)
    return port


def bring_up(platform: Any, port: int) -> None:
    """Serve the same platform (same state) again on the same port."""
    platform._server = make_server("127.0.0.1", port, platform._wsgi, threaded=True)
    platform._thread = threading.Thread(target=platform._server.serve_forever, daemon=True)
    platform._thread.start()
