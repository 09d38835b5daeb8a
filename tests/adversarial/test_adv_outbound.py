"""Hostile outbound fetches through the public views: URL forms that two parsers could read
differently, DNS rebinding, redirects to loopback and in long chains, slow drips, endless
answers, a full bulkhead, and ten slow drips against gunicorn while /healthz must answer.

Every server is real and on loopback. The verifier's PUBLIC policy is kept; where a test
needs a "public" server it exempts 127.0.0.2 only (VERIFY_FETCH_ALLOW, a test-only app
setting), so 127.0.0.1 stays forbidden and a hit there is an escape.
"""

from __future__ import annotations

import secrets
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import adversarial_figures as figures
from support.adversarial_procs import BIN, Process, free_port, tool_env, wait_until_up
from support.outbound_servers import (
    RawServer,
    WsgiServer,
    drip_forever,
    endless_chunks,
    json_app,
    redirect_to,
    wait_for,
)

from lti_app import create_app
from lti_app.config import ConfigError

PUBLIC_STANDIN = "127.0.0.2"  # exempted for the verifier in these tests; 127.0.0.1 is not
MARGIN = 1.0


def _me() -> dict[str, str]:
    # A fresh client address per request: the verify rate limit never interferes.
    return {"REMOTE_ADDR": f"198.51.100.{secrets.randbelow(250) + 1}"}


def _verify(client, url: str):
    return client.post("/api/v1/verify", json={"url": url}, environ_overrides=_me())


@pytest.fixture
def fetching_app(app):
    app.config["VERIFY_FETCH_REMOTE"] = True
    app.config["VERIFY_FETCH_ALLOW"] = [f"{PUBLIC_STANDIN}/32"]
    return app


@pytest.fixture
def servers():
    started: list = []

    def start(server):
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def _twin_ports(app_for_public, app_for_loopback) -> tuple[WsgiServer, WsgiServer]:
    """A server on 127.0.0.2 and a recorder on 127.0.0.1 with the same port."""
    for _ in range(20):
        public = WsgiServer(app_for_public, PUBLIC_STANDIN)
        try:
            return public, WsgiServer(app_for_loopback, "127.0.0.1", public.port)
        except OSError:
            public.stop()
    raise AssertionError("no port free on both 127.0.0.1 and 127.0.0.2")


def _fake_dns(monkeypatch, table: dict[str, list[list[str]]]) -> dict[str, int]:
    """getaddrinfo answering names from ``table`` (one answer per call, the last repeated);
    numeric hosts go to the real resolver with AI_NUMERICHOST, other names fail. This is
    the only thing mocked: it stands for an attacker's DNS."""
    real = socket.getaddrinfo
    calls: dict[str, int] = {}

    def fake(host, port, *args, **kwargs):
        calls[host] = calls.get(host, 0) + 1
        if host in table:
            answers = table[host]
            addresses = answers[min(calls[host], len(answers)) - 1]
            return [
                (
                    socket.AF_INET6 if ":" in a else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (a, port),
                )
                for a in addresses
            ]
        try:
            return real(host, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST)
        except socket.gaierror:
            raise socket.gaierror(socket.EAI_NONAME, f"{host}: no such name here") from None

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return calls


# --------------------------------------------------------------------------- parser differentials

LOOPBACK_HOSTS = [
    "127.0.0.1",
    "127.1",
    "127.0.1",
    "2130706433",
    "0x7f000001",
    "0x7f.1",
    "0x7f.0.0.1",
    "0177.0.0.1",
    "017700000001",
    "127.000.000.001",
    "0",
    "0.0.0.0",
    "[::1]",
    "[::]",
    "[0:0:0:0:0:0:0:1]",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "[::127.0.0.1]",
    "[64:ff9b::7f00:1]",
    "[::1%25lo]",
    "[fe80::1%25lo]",
    "localhost",
    "LocalHost",
    "localhost.",
    "127.0.0.1.",
    "ｌｏｃａｌｈｏｓｔ",
    "１２７．０．０．１",
    "127。0。0。1",
    "rebind.test",  # an attacker's name for 127.0.0.1
    "mixed.test",  # a public address and 127.0.0.1 in one answer
]
FORMS = [
    "http://{h}:{p}/credential.json",
    "https://{h}:{p}/",
    "HTTP://{h}:{p}/",
    "http://{h}:{p}\\@evil.test/",
    "http://evil.test\\@{h}:{p}/",
    "http://evil.test#@{h}:{p}/",
    "http://evil.test?@{h}:{p}/",
    "http://evil.test:{p}@{h}:{p}/",
    "http://user:pass@{h}:{p}/",
    "http://{h}:{p}#@evil.test/",
    "http://{h}:{p}?@evil.test/",
    "http:\\\\{h}:{p}/",
    "http:/{h}:{p}/",
    "http:///{h}:{p}/",
    "http://{h}:0{p}/",
    "http://{h}:+{p}/",
    "http://{h}:{p}\t/",
    "http://{h}%3A{p}/",
    "http://{h}:{p}:80/",
    "http://{h}:{p}/%2e%2e/",
]
INSERTS = ["\\", "@", "#", "?", "%00", "\x00", "\t", " ", "\r\n", "%2e", ".", ":", "[", "]", "%"]


@st.composite
def hostile_urls(draw, port: int) -> str:
    url = draw(st.sampled_from(FORMS)).format(h=draw(st.sampled_from(LOOPBACK_HOSTS)), p=port)
    for _ in range(draw(st.integers(0, 2))):  # and some noise where parsers disagree most
        at = draw(st.integers(0, len(url)))
        url = url[:at] + draw(st.sampled_from(INSERTS)) + url[at:]
    return url


def test_url_forms_aimed_at_loopback_never_reach_it(fetching_app, client, servers, monkeypatch):
    recorder = servers(WsgiServer(json_app(b'{"secret": "internal"}'), "127.0.0.1"))
    _fake_dns(
        monkeypatch,
        {"rebind.test": [["127.0.0.1"]], "mixed.test": [["93.184.216.34", "127.0.0.1"]]},
    )
    tried = 0

    @settings(
        max_examples=400,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(url=hostile_urls(recorder.port))
    def run(url: str) -> None:
        nonlocal tried
        tried += 1
        answer = _verify(client, url)
        assert answer.status_code == 400, (url, answer.status_code, answer.get_data()[:300])
        assert "internal" not in answer.get_data(as_text=True), url
        assert recorder.hits == [], (url, recorder.hits)

    run()
    assert recorder.hits == []
    figures.add("loopback URL forms refused by verify-by-URL", tried)


# --------------------------------------------------------------------------- DNS rebinding


def test_dns_rebinding_connects_to_the_address_that_was_checked(
    fetching_app, client, servers, monkeypatch
):
    """The name answers 127.0.0.2 (allowed here) first and 127.0.0.1 afterwards. The old
    fetcher checked the first answer and let its HTTP client resolve again."""
    public, loopback = _twin_ports(json_app(b'{"public": true}'), json_app(b'{"secret": 1}'))
    servers(public)
    servers(loopback)
    calls = _fake_dns(monkeypatch, {"rebind.test": [[PUBLIC_STANDIN], ["127.0.0.1"]]})
    answer = _verify(client, f"http://rebind.test:{public.port}/credential.json")
    assert answer.status_code == 200, answer.get_data()[:300]  # fetched; not a credential
    assert answer.json["valid"] is False
    assert [h["path"] for h in public.hits] == ["/credential.json"]
    assert public.hits[0]["host"] == f"rebind.test:{public.port}"
    assert loopback.hits == []
    assert calls["rebind.test"] == 1  # resolved once: nothing left to rebind


def test_a_name_with_any_forbidden_address_is_refused(fetching_app, client, servers, monkeypatch):
    public, loopback = _twin_ports(json_app(), json_app())
    servers(public)
    servers(loopback)
    _fake_dns(monkeypatch, {"both.test": [[PUBLIC_STANDIN, "127.0.0.1"]]})
    answer = _verify(client, f"http://both.test:{public.port}/")
    assert answer.status_code == 400
    assert "non-public address (127.0.0.1)" in answer.json["detail"]
    assert public.hits == [] and loopback.hits == []


# --------------------------------------------------------------------------- redirects


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:{p}/",
        "http://localhost:{p}/",
        "http://[::ffff:127.0.0.1]:{p}/",
        "http://2130706433:{p}/",
        "http://0x7f.1:{p}/",
        "http://127.0.0.1:{p}\\@127.0.0.2/",
    ],
)
def test_a_redirect_to_loopback_is_refused(fetching_app, client, servers, target):
    recorder = servers(WsgiServer(json_app(b'{"secret": "internal"}'), "127.0.0.1"))
    location = target.format(p=recorder.port)
    hop = servers(WsgiServer(redirect_to(lambda path: location), PUBLIC_STANDIN))
    answer = _verify(client, f"{hop.url}/start")
    assert answer.status_code == 400, answer.get_data()[:300]
    assert len(hop.hits) == 1  # the first hop was fetched...
    assert recorder.hits == []  # ...and the redirect was not
    assert "internal" not in answer.get_data(as_text=True)


def test_a_redirect_chain_longer_than_three_is_refused(fetching_app, client, servers):
    loop = servers(
        WsgiServer(redirect_to(lambda path: f"/r{int(path[2:] or 0) + 1}"), PUBLIC_STANDIN)
    )
    answer = _verify(client, f"{loop.url}/r0")
    assert answer.status_code == 400
    assert "redirects more than 3 times" in answer.json["detail"]
    assert [h["path"] for h in loop.hits] == ["/r0", "/r1", "/r2", "/r3"]


# --------------------------------------------------------------------------- time and size


def test_a_slow_drip_is_cut_at_the_deadline(fetching_app, client, servers):
    fetching_app.config["OUTBOUND_DEADLINE"] = 1.0
    drip = servers(
        RawServer(
            drip_forever(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", 0.2),
            host=PUBLIC_STANDIN,
        )
    )
    start = time.monotonic()
    answer = _verify(client, f"{drip.url}/credential.json")
    took = time.monotonic() - start
    assert answer.status_code == 400
    assert "no complete answer within 1 s" in answer.json["detail"]
    assert drip.connections == 1
    assert took < 1.0 + MARGIN, took
    figures.add("slow drip cut after (ms, deadline 1 s)", round(took * 1000))


def test_an_endless_answer_is_cut_at_the_byte_cap(fetching_app, client, servers):
    stream = servers(RawServer(endless_chunks(), host=PUBLIC_STANDIN))
    answer = _verify(client, f"{stream.url}/credential.json")
    assert answer.status_code == 400
    assert "answer larger than 4194304 bytes" in answer.json["detail"]


# --------------------------------------------------------------------------- bulkhead


def test_the_in_flight_setting_sizes_the_bulkhead(database_url, tmp_path):
    def build(value: str):
        return create_app(
            {
                "ENV": "test",
                "DATABASE_URL": database_url,
                "INSTANCE_DIR": str(tmp_path / "instance"),
                "SECRET_KEY": "x" * 32,
                "OUTBOUND_MAX_IN_FLIGHT": value,
            }
        )

    app = build("3")
    try:
        assert app.extensions["skillsign.outbound"].limit == 3
    finally:
        app.extensions["skillsign.db"].dispose()
    for bad in ("0", "-1", "many"):
        with pytest.raises(ConfigError, match="SKILLSIGN_OUTBOUND_MAX_IN_FLIGHT"):
            build(bad)


def test_a_full_bulkhead_answers_503_with_retry_after(fetching_app, servers):
    from lti_app.outbound import Bulkhead  # here: the rest of the file also runs on old code

    fetching_app.extensions["skillsign.outbound"] = Bulkhead(1)
    fetching_app.config["OUTBOUND_DEADLINE"] = 4.0
    drip = servers(
        RawServer(
            drip_forever(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", 0.2),
            host=PUBLIC_STANDIN,
        )
    )
    held: list[int] = []
    holder = threading.Thread(
        target=lambda: held.append(_verify(fetching_app.test_client(), drip.url).status_code)
    )
    holder.start()
    try:
        assert wait_for(lambda: drip.connections == 1, 5)
        client = fetching_app.test_client()
        start = time.monotonic()
        busy = _verify(client, f"{drip.url}/second")
        assert time.monotonic() - start < 1.0
        assert busy.status_code == 503
        # At least the bulkhead's 10 s; the rate limiter may name a later time (its window).
        assert int(busy.headers["Retry-After"]) >= 10
        assert busy.json["code"] == "outbound.busy"
        register = client.get(
            "/lti/register",
            query_string={"openid_configuration": f"http://{PUBLIC_STANDIN}:{drip.port}/config"},
            headers={"Accept": "application/json"},
            environ_overrides=_me(),
        )
        assert register.status_code == 503
        assert int(register.headers["Retry-After"]) >= 10
        assert drip.connections == 1  # neither refused call reached the network
    finally:
        holder.join(15)
    assert held == [400]  # the one in flight was cut at its deadline


# --------------------------------------------------------------------------- a real server


def test_healthz_answers_within_5_s_while_ten_slow_drips_run(app, tmp_path: Path, servers):
    """gunicorn as README runs it (threads per worker), one worker so every drip lands in
    the same process, default bulkhead; the verifier may reach 127.0.0.0/8 in this app
    only (a factory argument, the test config)."""
    drip = servers(
        RawServer(drip_forever(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", 1.0))
    )
    port = free_port()
    env = tool_env(app, tmp_path / "host", SKILLSIGN_BASE_URL=f"http://127.0.0.1:{port}")
    factory = (
        "lti_app:create_app({'VERIFY_FETCH_REMOTE': True, 'VERIFY_FETCH_ALLOW': ['127.0.0.0/8']})"
    )
    args = [str(BIN / "gunicorn"), "--workers", "1", "--threads", "8"]
    args += ["--bind", f"127.0.0.1:{port}", "--graceful-timeout", "5", factory]
    server = Process(args, env, tmp_path / "gunicorn.log")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/healthz", server)

        def verify(n: int) -> tuple[int, str | None, float]:
            start = time.monotonic()
            answer = requests.post(
                f"{base}/api/v1/verify", json={"url": f"{drip.url}/c{n}.json"}, timeout=30
            )
            return answer.status_code, answer.headers.get("Retry-After"), time.monotonic() - start

        with ThreadPoolExecutor(10) as pool:
            futures = [pool.submit(verify, n) for n in range(10)]
            assert wait_for(lambda: drip.connections >= 4, 10), drip.connections
            start = time.monotonic()
            health = requests.get(f"{base}/healthz", timeout=5)
            probe = time.monotonic() - start
            results = [f.result() for f in futures]
        assert health.status_code == 200
        assert probe < 5.0, probe
        statuses = sorted(status for status, _, _ in results)
        assert drip.connections == 4  # SKILLSIGN_OUTBOUND_MAX_IN_FLIGHT's default
        assert statuses == [400] * 4 + [503] * 6, statuses
        assert all(int(after or 0) >= 10 for status, after, _ in results if status == 503)
        assert max(took for status, _, took in results if status == 400) < 10.0 + 3 * MARGIN
        assert min(took for status, _, took in results if status == 503) < 2.0
        figures.add("/healthz latency under 10 slow drips (ms)", round(probe * 1000))
        slowest = max(took for status, _, took in results if status == 400)
        figures.add("drips in flight cut after (ms, deadline 10 s)", round(slowest * 1000))
        fastest_busy = min(took for status, _, took in results if status == 503)
        figures.add("first 503 from the full bulkhead after (ms)", round(fastest_busy * 1000))
    finally:
        server.stop()
