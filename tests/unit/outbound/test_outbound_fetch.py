"""The fetcher against real servers on loopback: Host header and TLS name checks on the
connection to the checked address, redirects, the deadline, the byte cap, the bulkhead."""

from __future__ import annotations

import socket
import ssl
import threading
import time

import pytest
from support.outbound_servers import (
    RawServer,
    WsgiServer,
    answer,
    drip,
    drip_forever,
    endless_chunks,
    json_app,
    redirect_to,
    wait_for,
)
from support.servers import self_signed_cert, server_ssl_context

from lti_app.outbound import (
    PLATFORM,
    PUBLIC,
    AddressRefused,
    AnswerTooLarge,
    Bulkhead,
    DeadlineExceeded,
    Fetcher,
    OutboundBusy,
    OutboundError,
    RedirectRefused,
)

MARGIN = 1.0  # seconds a cut may take beyond its deadline on a loaded machine


@pytest.fixture
def fetcher() -> Fetcher:
    return Fetcher(PLATFORM, bulkhead=Bulkhead(8))


@pytest.fixture
def wsgi():
    started: list[WsgiServer] = []

    def start(app, host: str = "127.0.0.1") -> WsgiServer:
        server = WsgiServer(app, host)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def raw():
    started: list[RawServer] = []

    def start(handler, **kwargs) -> RawServer:
        server = RawServer(handler, **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def _resolve_to(monkeypatch, names: dict[str, list[str]]) -> list[str]:
    """getaddrinfo answering ``names`` from the table (the only thing mocked); calls logged."""
    real = socket.getaddrinfo
    calls: list[str] = []

    def fake(host, port, *args, **kwargs):
        calls.append(host)
        if host in names:
            return [
                (
                    socket.AF_INET6 if ":" in a else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (a, port),
                )
                for a in names[host]
            ]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return calls


def test_a_name_is_fetched_with_its_own_host_header(fetcher, wsgi):
    server = wsgi(json_app())
    got = fetcher.fetch("GET", f"http://localhost:{server.port}/x?y=1")
    assert got.status == 200 and got.json() == {"ok": True}
    assert server.hits[-1]["host"] == f"localhost:{server.port}"
    assert server.hits[-1]["path"] == "/x"


def test_public_policy_refuses_loopback_before_connecting(wsgi):
    server = wsgi(json_app())
    for url in (f"http://127.0.0.1:{server.port}/", f"http://localhost:{server.port}/"):
        with pytest.raises(AddressRefused, match="non-public"):
            Fetcher(PUBLIC).fetch("GET", url)
    assert server.hits == []


def test_every_address_of_a_name_is_checked(monkeypatch, wsgi):
    server = wsgi(json_app())
    _resolve_to(monkeypatch, {"mixed.test": ["8.8.8.8", "127.0.0.1"]})
    with pytest.raises(AddressRefused, match=r"127\.0\.0\.1"):
        Fetcher(PUBLIC).fetch("GET", f"http://mixed.test:{server.port}/")
    assert server.hits == []


# --------------------------------------------------------------------------- TLS


@pytest.fixture
def tls_server(tmp_path, raw):
    cert, key = self_signed_cert(tmp_path)  # SAN: 127.0.0.1 and localhost
    context = server_ssl_context(cert, key)
    names: list[str | None] = []
    context.sni_callback = lambda sock, name, ctx: names.append(name)
    body = b'{"tls": true}'
    server = raw(
        answer(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)),
        tls=context,
    )
    trust = ssl.create_default_context(cafile=str(cert))
    return server, trust, names


def test_tls_to_the_checked_address_verifies_the_url_host(tls_server):
    server, trust, names = tls_server
    fetcher = Fetcher(PLATFORM, ssl_context=trust)
    got = fetcher.fetch("GET", f"https://localhost:{server.port}/")
    assert got.json() == {"tls": True}
    assert names[-1] == "localhost"  # SNI: the URL's host, not the address we connected to
    assert b"Host: localhost:%d\r\n" % server.port in server.requests[-1]


def test_tls_refuses_a_certificate_for_another_name(tls_server, monkeypatch):
    server, trust, _ = tls_server
    # A name that resolves to the same server, whose certificate does not name it.
    _resolve_to(monkeypatch, {"other.test": ["127.0.0.1"]})
    with pytest.raises(OutboundError, match="does not verify"):
        Fetcher(PLATFORM, ssl_context=trust).fetch("GET", f"https://other.test:{server.port}/")
    with pytest.raises(OutboundError, match="does not verify"):  # not in the default trust store
        Fetcher(PLATFORM).fetch("GET", f"https://localhost:{server.port}/")


# --------------------------------------------------------------------------- redirects


def test_redirects_are_followed_hop_by_hop_and_rechecked(fetcher, wsgi):
    final = wsgi(json_app(b'{"final": 1}'))
    hop = wsgi(redirect_to(lambda path: f"http://localhost:{final.port}/end"))
    got = fetcher.fetch("GET", f"{hop.url}/start", headers={"Authorization": "Bearer s3cret"})
    assert got.json() == {"final": 1}
    assert got.url == f"http://localhost:{final.port}/end"
    assert hop.hits[-1]["authorization"] == "Bearer s3cret"
    assert final.hits[-1]["authorization"] == ""  # not sent on to another origin


def test_a_303_turns_a_post_into_a_get(fetcher, wsgi):
    final = wsgi(json_app())
    hop = wsgi(redirect_to(lambda path: f"{final.url}/end", status="303 See Other"))
    fetcher.fetch("POST", hop.url, body=b"{}", headers={"Content-Type": "application/json"})
    assert final.hits[-1]["method"] == "GET"


def test_redirects_can_be_refused_entirely(fetcher, wsgi):
    final = wsgi(json_app())
    hop = wsgi(redirect_to(lambda path: f"{final.url}/end"))
    with pytest.raises(RedirectRefused, match="not followed"):
        fetcher.fetch("GET", hop.url, redirects=0)
    assert final.hits == []


def test_a_chain_longer_than_three_hops_is_refused(fetcher, wsgi):
    loop = wsgi(redirect_to(lambda path: f"/r{int(path[2:] or 0) + 1}"))
    with pytest.raises(RedirectRefused, match="more than 3 times"):
        fetcher.fetch("GET", f"{loop.url}/r0")
    assert [h["path"] for h in loop.hits] == ["/r0", "/r1", "/r2", "/r3"]


def test_a_redirect_to_an_ambiguous_url_is_refused(fetcher, wsgi):
    hop = wsgi(redirect_to(lambda path: "http://2130706433/"))
    with pytest.raises(OutboundError, match="dotted-quad"):
        fetcher.fetch("GET", hop.url)


# --------------------------------------------------------------------------- deadline


@pytest.mark.parametrize(
    "handler",
    [
        drip(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 0.2),  # a dripped head
        drip_forever(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", 0.2),  # body
        drip_forever(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000000\r\n", 0.2),
    ],
    ids=["head", "body", "chunked"],
)
def test_a_slow_drip_is_cut_at_the_deadline(fetcher, raw, handler):
    server = raw(handler)
    start = time.monotonic()
    with pytest.raises(DeadlineExceeded, match="no complete answer within 1 s"):
        fetcher.fetch("GET", server.url, deadline=1.0)
    assert time.monotonic() - start < 1.0 + MARGIN


def test_a_slow_resolver_counts_against_the_deadline(fetcher, monkeypatch):
    release = threading.Event()

    def slow(*args, **kwargs):
        release.wait(10)
        raise socket.gaierror("too late")

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    start = time.monotonic()
    try:
        with pytest.raises(DeadlineExceeded):
            fetcher.fetch("GET", "http://slow.test/", deadline=0.5)
        assert time.monotonic() - start < 0.5 + MARGIN
    finally:
        release.set()


# --------------------------------------------------------------------------- size


def test_the_byte_cap_holds_while_streaming(fetcher, raw):
    server = raw(endless_chunks())
    start = time.monotonic()
    with pytest.raises(AnswerTooLarge, match="answer larger than 1048576 bytes"):
        fetcher.fetch("GET", server.url, max_bytes=1024 * 1024)
    assert time.monotonic() - start < 5.0


def test_a_declared_length_over_the_cap_is_refused_before_reading(fetcher, raw):
    server = raw(drip_forever(b"HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\n\r\n", 5))
    start = time.monotonic()
    with pytest.raises(AnswerTooLarge):
        fetcher.fetch("GET", server.url, max_bytes=1000)
    assert time.monotonic() - start < 1.0 + MARGIN  # never waited for the body


def test_an_answer_cut_short_is_an_error(fetcher, raw):
    server = raw(answer(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort"))
    with pytest.raises(OutboundError, match="mid-answer"):
        fetcher.fetch("GET", server.url)


# --------------------------------------------------------------------------- bulkhead


def test_a_full_bulkhead_fails_at_once(raw):
    slow = raw(drip_forever(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", 0.2))
    fetcher = Fetcher(PLATFORM, bulkhead=Bulkhead(1, retry_after=7))
    errors: list[Exception] = []

    def hold() -> None:
        try:
            fetcher.fetch("GET", slow.url, deadline=3.0)
        except OutboundError as exc:
            errors.append(exc)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert wait_for(lambda: slow.connections == 1, 5)
        start = time.monotonic()
        with pytest.raises(OutboundBusy, match="at most 1 per process") as busy:
            fetcher.fetch("GET", slow.url)
        assert time.monotonic() - start < 0.5
        assert busy.value.retry_after == 7
        assert slow.connections == 1  # the refused fetch never connected
    finally:
        holder.join(10)
    assert isinstance(errors[0], DeadlineExceeded)
    # The slot is free again: a fetch proceeds (and is cut by its deadline).
    with pytest.raises(DeadlineExceeded):
        fetcher.fetch("GET", slow.url, deadline=0.3)
