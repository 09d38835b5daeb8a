"""Every outbound HTTP fetch of the tool, in one place.

One fetch:

1. takes a slot in the process's bulkhead, or fails at once with ``OutboundBusy``;
2. parses the URL once, strictly (``urls.parse_url``);
3. resolves the host ONCE and checks EVERY address against the caller's ``AddressPolicy``;
4. connects to a checked address (never resolving again), sends the original ``Host``
   header, and uses the original hostname for TLS SNI and certificate verification;
5. reads the answer under one wall-clock deadline for the whole fetch (every socket
   operation gets the time that is left, so a server dripping a byte a second is cut at
   the deadline, in headers or body) and a byte cap checked while streaming;
6. never lets the HTTP client follow a redirect: this code follows at most a few, each
   hop parsed and checked like the first, or refuses them when the caller says so.

The HTTP layer is the standard library's ``http.client`` on a socket we made ourselves:
no connection pool to hand our socket to another host, no environment proxies (a proxy
would resolve the name again), no content decoding (the byte cap counts wire bytes).
"""

from __future__ import annotations

import contextlib
import http.client
import io
import ipaddress
import json
import logging
import os
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import urljoin

import certifi

from lti_app.outbound.errors import (
    AddressRefused,
    AnswerTooLarge,
    DeadlineExceeded,
    OutboundBusy,
    OutboundError,
    RedirectRefused,
)
from lti_app.outbound.policy import Address, AddressPolicy
from lti_app.outbound.urls import SafeURL, parse_url

log = logging.getLogger("skillsign.outbound")

DEFAULT_DEADLINE = 10.0  # seconds for a whole fetch, redirects included
DEFAULT_MAX_BYTES = 4 * 1024 * 1024
MAX_REDIRECTS = 3
DEFAULT_MAX_IN_FLIGHT = 4
USER_AGENT = "skillsign/0.1"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_READ_SIZE = 64 * 1024

# The old per-call timeouts were (connect, read) pairs; callers may still pass one.
Timeout = float | tuple[float, float]


def as_deadline(timeout: Timeout) -> float:
    """Seconds for a whole fetch; a legacy (connect, read) pair counts as their sum, the
    longest a single stall could take under the old rules."""
    if isinstance(timeout, tuple):
        return float(sum(timeout))
    return float(timeout)


# --------------------------------------------------------------------------- bulkhead


class Bulkhead:
    """At most ``limit`` fetches in flight in this process; one more fails at once.

    Request threads that wait on slow servers are threads that cannot answer anyone else
    (``/healthz`` included): failing fast keeps most of the pool free.
    """

    def __init__(self, limit: int, retry_after: int = int(DEFAULT_DEADLINE)) -> None:
        if limit < 1:
            raise ValueError("a bulkhead needs at least one slot")
        self.limit = limit
        self.retry_after = retry_after
        self._slots = threading.BoundedSemaphore(limit)

    @contextlib.contextmanager
    def slot(self, url: str) -> Iterator[None]:
        if not self._slots.acquire(blocking=False):
            raise OutboundBusy(
                f"too many outbound fetches in flight (at most {self.limit} per process); "
                f"try again in {self.retry_after} s",
                url=url,
                retry_after=self.retry_after,
            )
        try:
            yield
        finally:
            self._slots.release()


# Callers outside a web app (CLI, worker) share this one; each app makes its own from
# SKILLSIGN_OUTBOUND_MAX_IN_FLIGHT (lti_app/lti/http.py).
PROCESS_BULKHEAD = Bulkhead(DEFAULT_MAX_IN_FLIGHT)


# --------------------------------------------------------------------------- answers


_LINK = re.compile(r"<([^>]*)>([^<]*)")
_REL = re.compile(r';\s*rel\s*=\s*"?([^";]+)"?', re.IGNORECASE)


@dataclass(frozen=True)
class Response:
    """A complete answer: status, headers (lowercase names) and the whole body."""

    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body as JSON; ValueError when it is not."""
        return json.loads(self.body)

    @property
    def links(self) -> dict[str, dict[str, str]]:
        """``Link`` header targets by rel, resolved against this answer's URL."""
        found: dict[str, dict[str, str]] = {}
        for target, params in _LINK.findall(self.header("Link") or ""):
            rel = _REL.search(params)
            if rel:
                for name in rel.group(1).split():
                    found.setdefault(name.lower(), {"url": urljoin(self.url, target)})
        return found


# --------------------------------------------------------------------------- sockets


class _DeadlineSocket:
    """What ``http.client`` sees as its socket: every send and receive first sets the
    socket's timeout to the time left before the deadline, so no sequence of small reads
    (a dripped status line, header or chunk size) can outlast it."""

    def __init__(self, sock: socket.socket, end: float) -> None:
        self._sock = sock
        self._end = end

    def _arm(self) -> None:
        left = self._end - time.monotonic()
        if left <= 0:
            raise TimeoutError("deadline reached")
        self._sock.settimeout(left)

    def sendall(self, data: bytes) -> None:
        self._arm()
        self._sock.sendall(data)

    def recv_into(self, buffer: memoryview) -> int:
        self._arm()
        return self._sock.recv_into(buffer)

    def makefile(self, mode: str = "rb", *_args: Any, **_kwargs: Any) -> io.BufferedReader:
        return io.BufferedReader(_Reader(self))

    def close(self) -> None:
        # http.client closes "the connection" as soon as it sees Connection: close, while
        # the answer is still being read; the fetch closes the real socket when done.
        pass

    def really_close(self) -> None:
        self._sock.close()


class _Reader(io.RawIOBase):
    def __init__(self, sock: _DeadlineSocket) -> None:
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self._sock.recv_into(memoryview(buffer).cast("B"))


@lru_cache(maxsize=1)
def default_ssl_context() -> ssl.SSLContext:
    """Verifying context: an explicitly configured CA bundle, else certifi's (what
    ``requests`` used, so platforms that verified before still do)."""
    cafile = os.environ.get("SSL_CERT_FILE") or os.environ.get("REQUESTS_CA_BUNDLE")
    return ssl.create_default_context(cafile=cafile or certifi.where())


# --------------------------------------------------------------------------- fetcher


@dataclass(frozen=True)
class Fetcher:
    """Fetches under one ``AddressPolicy``; see the module note. Thread-safe."""

    policy: AddressPolicy
    bulkhead: Bulkhead = PROCESS_BULKHEAD
    deadline: float = DEFAULT_DEADLINE
    max_bytes: int = DEFAULT_MAX_BYTES
    max_redirects: int = MAX_REDIRECTS
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False)
    user_agent: str = USER_AGENT

    def fetch(
        self,
        method: str,
        url: str | SafeURL,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        deadline: float | None = None,
        max_bytes: int | None = None,
        redirects: int | None = None,
    ) -> Response:
        """The final answer, whatever its status (redirects aside), or an OutboundError.

        ``redirects=0`` refuses any redirect; the default follows ``max_redirects``.
        """
        seconds = self.deadline if deadline is None else deadline
        cap = self.max_bytes if max_bytes is None else max_bytes
        hops = self.max_redirects if redirects is None else redirects
        shown = str(url)[:200]
        with self.bulkhead.slot(shown):
            end = time.monotonic() + seconds
            current = url if isinstance(url, SafeURL) else parse_url(url)
            sent = dict(headers or {})
            for hop in range(hops + 1):
                answer = self._once(method, current, sent, body, end, seconds, cap)
                location = answer.header("Location")
                if answer.status not in REDIRECT_STATUSES or not location:
                    return answer
                if hops == 0:
                    raise RedirectRefused(
                        f"{current} answered a redirect (HTTP {answer.status}); "
                        "redirects are not followed here",
                        url=str(current),
                        status=answer.status,
                    )
                if hop == hops:
                    break
                target = current.join(location)  # parsed and checked like the first URL
                if answer.status == 303 or (answer.status in (301, 302) and method == "POST"):
                    method, body = "GET", None
                    sent = {k: v for k, v in sent.items() if k.lower() != "content-type"}
                if target.origin != current.origin:
                    # Credentials are for the server they were meant for.
                    sent = {k: v for k, v in sent.items() if k.lower() != "authorization"}
                current = target
            raise RedirectRefused(f"{shown} redirects more than {hops} times", url=shown)

    # -- one hop -------------------------------------------------------------------
    def _once(
        self,
        method: str,
        url: SafeURL,
        headers: Mapping[str, str],
        body: bytes | None,
        end: float,
        seconds: float,
        cap: int,
    ) -> Response:
        late = DeadlineExceeded(f"no complete answer within {seconds:g} s", url=str(url))
        addresses = self._resolve(url, end, late)
        sock = self._connect(url, addresses, end, late)
        try:
            return self._exchange(method, url, headers, body, sock, end, cap)
        except TimeoutError:
            raise late from None
        except ssl.SSLCertVerificationError as exc:
            raise OutboundError(
                f"the TLS certificate of {url.host} does not verify ({exc.verify_message})",
                url=str(url),
            ) from exc
        except ssl.SSLError as exc:
            raise OutboundError(
                f"TLS with {url.authority} failed ({exc.reason})", url=str(url)
            ) from exc
        except http.client.HTTPException as exc:
            raise OutboundError(
                f"{url.authority} sent a broken HTTP answer ({type(exc).__name__})", url=str(url)
            ) from exc
        except OSError as exc:
            raise OutboundError(
                f"the connection to {url.authority} failed ({type(exc).__name__})", url=str(url)
            ) from exc
        except ValueError as exc:  # a header value that cannot be sent (from a hostile document)
            raise OutboundError(
                f"could not send the request ({type(exc).__name__}: {exc})", url=str(url)
            ) from exc
        finally:
            sock.really_close()

    def _resolve(self, url: SafeURL, end: float, late: DeadlineExceeded) -> list[Address]:
        """Every address of the host, each checked; the only name resolution of a hop."""
        if url.is_ip_literal:
            found: list[Address] = [ipaddress.ip_address(url.host)]
            subject = url.host + " is"
        else:
            found = _getaddrinfo(url.host, url.port, end, late)
            subject = url.host + " resolves to"
        if not found:
            raise OutboundError(f"{url.host} resolves to no address", url=str(url))
        for address in found:
            reason = self.policy.refusal(address)
            if reason is not None:
                log.info(
                    "outbound fetch refused",
                    extra={"url": str(url), "address": str(address), "policy": self.policy.name},
                )
                raise AddressRefused(f"{subject} {reason}; such URLs are not fetched", url=str(url))
        return found

    def _connect(
        self, url: SafeURL, addresses: list[Address], end: float, late: DeadlineExceeded
    ) -> _DeadlineSocket:
        failure: OSError | None = None
        for address in addresses:  # only addresses that passed the policy
            left = end - time.monotonic()
            if left <= 0:
                raise late
            family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
            raw = socket.socket(family, socket.SOCK_STREAM)
            try:
                raw.settimeout(left)
                raw.connect((str(address), url.port))
                if url.scheme == "https":
                    context = self.ssl_context or default_ssl_context()
                    # SNI and certificate checks use the URL's host, not the address.
                    raw = context.wrap_socket(
                        raw, server_hostname=url.host, do_handshake_on_connect=False
                    )
                    raw.settimeout(max(end - time.monotonic(), 0.001))
                    raw.do_handshake()  # CPython bounds the whole handshake by the timeout
                return _DeadlineSocket(raw, end)
            except TimeoutError:
                raw.close()
                raise late from None
            except ssl.SSLCertVerificationError as exc:
                raw.close()
                raise OutboundError(
                    f"the TLS certificate of {url.host} does not verify ({exc.verify_message})",
                    url=str(url),
                ) from exc
            except OSError as exc:  # refused, unreachable, TLS failure: try the next address
                raw.close()
                failure = exc
        raise OutboundError(
            f"could not connect to {url.authority} ({type(failure).__name__})", url=str(url)
        ) from failure

    def _exchange(
        self,
        method: str,
        url: SafeURL,
        headers: Mapping[str, str],
        body: bytes | None,
        sock: _DeadlineSocket,
        end: float,
        cap: int,
    ) -> Response:
        connection = http.client.HTTPConnection(url.host, url.port)
        connection.sock = sock  # never connect() on its own
        connection.putrequest(method, url.target, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", url.authority)
        given = {k.lower() for k in headers}
        defaults = {
            "User-Agent": self.user_agent,
            "Accept-Encoding": "identity",  # the cap counts what we keep, not compressed bytes
            "Connection": "close",
        }
        for name, value in defaults.items():
            if name.lower() not in given:
                connection.putheader(name, value)
        for name, value in headers.items():
            if name.lower() not in ("host", "content-length", "connection"):
                connection.putheader(name, value)
        if body is not None or method in ("POST", "PUT", "PATCH"):
            connection.putheader("Content-Length", str(len(body or b"")))
        connection.endheaders(body)
        answer = connection.getresponse()
        declared = answer.getheader("Content-Length")
        if declared and declared.isdigit() and int(declared) > cap:
            raise AnswerTooLarge(f"answer larger than {cap} bytes", url=str(url))
        chunks: list[bytes] = []
        size = 0
        while True:
            if time.monotonic() >= end:
                raise TimeoutError("deadline reached")
            chunk = answer.read1(_READ_SIZE)
            if not chunk:
                break
            size += len(chunk)
            if size > cap:
                raise AnswerTooLarge(f"answer larger than {cap} bytes", url=str(url))
            chunks.append(chunk)
        if answer.length:  # Content-Length promised more than came
            raise OutboundError(f"{url.authority} closed the connection mid-answer", url=str(url))
        names: dict[str, str] = {}
        for name, value in answer.getheaders():
            key = name.lower()
            names[key] = f"{names[key]}, {value}" if key in names else value
        return Response(url=str(url), status=answer.status, headers=names, body=b"".join(chunks))


def _getaddrinfo(host: str, port: int, end: float, late: DeadlineExceeded) -> list[Address]:
    """``socket.getaddrinfo`` under the deadline: the C resolver has no timeout of ours, so
    it runs in a helper thread that we stop waiting for when time is up."""
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["infos"] = socket.getaddrinfo(
                host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
            )
        except (OSError, UnicodeError) as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=work, name="outbound-resolve", daemon=True)
    worker.start()
    worker.join(max(end - time.monotonic(), 0))
    if worker.is_alive():
        raise late
    if "error" in outcome:
        raise OutboundError(
            f"cannot resolve {host} ({type(outcome['error']).__name__})", url=host
        ) from outcome["error"]
    addresses: list[Address] = []
    for info in outcome["infos"]:
        try:
            address = ipaddress.ip_address(info[4][0])
        except ValueError:
            raise AddressRefused(
                f"{host} resolves to an address we cannot read ({info[4][0]!r}); "
                "such URLs are not fetched",
                url=host,
            ) from None
        if address not in addresses:
            addresses.append(address)
    return addresses
