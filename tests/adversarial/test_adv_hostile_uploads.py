"""Hostile uploads to the public verification endpoints: rate and size limits, XML bombs and
XXE, PNGs that lie, JSON nested past any parser's patience, and URLs that point inside.

Every one is refused safely: a 4xx (or a 200 that says "not valid"), never a 5xx, nothing
fetched from where it should not be, no entity expanded. "Quickly" is checked only as the
absence of a hang (a bound far above the normal answer time: a billion-laughs expansion or a
decoded 2^62-pixel image would take minutes or exhaust memory); speed itself is measured in
bench/, not here.
"""

from __future__ import annotations

import base64
import io
import json
import secrets
import time
from typing import Any

import pytest
import redis
from support import adversarial_figures as figures
from support.adversarial_db import table_counts
from support.adversarial_servers import Recorder
from support.adversarial_uploads import (
    billion_laughs_svg,
    deeply_nested_json,
    deeply_nested_objects,
    external_dtd_svg,
    huge_dimensions_png,
    many_chunks_png,
    oversized_chunk_png,
    xinclude_svg,
    xxe_svg,
    zip_bomb_itxt_png,
)
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from lti_app import create_app
from lti_app.config import ConfigError

NO_HANG = 10.0  # seconds; normal answers take milliseconds
REDIS_URL = "redis://127.0.0.1:6379/15"


def _client_address() -> dict[str, str]:
    # A fresh address per test: rate-limit counters (memory or Redis) start at zero.
    return {"REMOTE_ADDR": f"198.51.100.{secrets.randbelow(250) + 1}", "wsgi.url_scheme": "http"}


def _limited_app(database_url: str, tmp_path: Any, **settings: Any):
    return create_app(
        {
            "ENV": "test",
            "TESTING": True,
            "DATABASE_URL": database_url,
            "INSTANCE_DIR": str(tmp_path / f"limited-{secrets.token_hex(3)}"),
            "SECRET_KEY": "rate-limit-test",
            "BASE_URL": "http://localhost",
            "RATELIMIT_VERIFY": "5 per minute",
            **settings,
        }
    )


@pytest.fixture
def limited(app, database_url, tmp_path):
    other = _limited_app(database_url, tmp_path)
    yield other
    other.extensions["skillsign.db"].dispose()


def test_verify_api_is_rate_limited_per_client(limited):
    client = limited.test_client()
    me, someone_else = _client_address(), {"REMOTE_ADDR": "203.0.113.77"}
    for _ in range(5):
        answer = client.post(
            "/api/v1/verify", data=b"{}", content_type="application/json", environ_overrides=me
        )
        assert answer.status_code == 400  # refused input still counts: it still cost work
    over = client.post(
        "/api/v1/verify", data=b"{}", content_type="application/json", environ_overrides=me
    )
    assert over.status_code == 429
    assert over.mimetype == "application/problem+json" and over.json["status"] == 429
    assert int(over.headers["Retry-After"]) > 0
    assert over.headers["X-RateLimit-Limit"] == "5"
    # Another client is not held back by this one.
    other = client.post(
        "/api/v1/verify",
        data=b"{}",
        content_type="application/json",
        environ_overrides=someone_else,
    )
    assert other.status_code == 400
    figures.add("rate-limit refusals (429)", 1)


def test_verify_page_posts_are_rate_limited_but_the_form_is_not(limited):
    client = limited.test_client()
    me = _client_address()
    page = client.get("/verify", environ_overrides=me).get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    statuses = [
        client.post(
            "/verify", data={"csrf_token": token, "text": "{}"}, environ_overrides=me
        ).status_code
        for _ in range(6)
    ]
    assert statuses == [200] * 5 + [429], statuses  # "{}" gets a verdict: unreadable
    for _ in range(10):
        assert client.get("/verify", environ_overrides=me).status_code == 200


def _redis_available() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def test_rate_limit_is_shared_through_redis(app, database_url, tmp_path):
    """Two app processes (two gunicorn workers, two hosts) count together with Redis."""
    if not _redis_available():
        pytest.skip("Redis is not running on 127.0.0.1:6379 (CI starts it)")
    first = _limited_app(database_url, tmp_path, RATELIMIT_STORAGE_URI=REDIS_URL)
    second = _limited_app(database_url, tmp_path, RATELIMIT_STORAGE_URI=REDIS_URL)
    try:
        me = _client_address() | {"REMOTE_ADDR": f"192.0.2.{secrets.randbelow(250) + 1}"}
        statuses = []
        for n in range(6):
            process = (first if n % 2 else second).test_client()
            statuses.append(
                process.post(
                    "/api/v1/verify",
                    data=b"{}",
                    content_type="application/json",
                    environ_overrides=me,
                ).status_code
            )
        assert statuses == [400] * 5 + [429], statuses
    finally:
        for application in (first, second):
            application.extensions["skillsign.db"].dispose()


# --------------------------------------------------------------------------- size limits


def test_oversized_bodies_are_refused_before_they_are_read(client):
    me = _client_address()
    huge = b"x" * (4 * 1024 * 1024 + 1)
    for content_type in ("application/json", "text/plain", "image/png", "image/svg+xml"):
        answer = client.post(
            "/api/v1/verify", data=huge, content_type=content_type, environ_overrides=me
        )
        assert answer.status_code == 413, content_type
        assert answer.json["code"] == "verify.too_large"
    # Over the app-wide limit (8 MB): refused by the server before any view sees it.
    upload = FileStorage(io.BytesIO(b"x" * (9 * 1024 * 1024)), filename="big.png")
    boundary, body = encode_multipart({"file": upload})
    answer = client.post(
        "/api/v1/verify",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        environ_overrides=me,
    )
    assert answer.status_code == 413


# --------------------------------------------------------------------------- hostile files


@pytest.fixture
def recorder():
    server = Recorder()
    yield server
    server.stop()


def _post(client, body: bytes, content_type: str) -> tuple[Any, float]:
    start = time.perf_counter()
    answer = client.post(
        "/api/v1/verify", data=body, content_type=content_type, environ_overrides=_client_address()
    )
    return answer, time.perf_counter() - start


def _refused(answer: Any, what: str) -> None:
    assert answer.status_code < 500, (
        f"{what}: {answer.status_code} {answer.get_data(as_text=True)[:300]}"
    )
    if answer.status_code == 200:
        assert answer.json["valid"] is False, what
        assert answer.json["status"] == "unreadable", (what, answer.json["checks"])
    else:
        assert answer.status_code in (400, 413), what


def hostile_files(recorder: Recorder) -> dict[str, tuple[bytes, str]]:
    probe = f"{recorder.url}/probe"
    return {
        "billion laughs": (billion_laughs_svg(), "image/svg+xml"),
        "quadratic blowup": (
            b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "' + b"a" * 50_000 + b'">]>'
            b'<svg xmlns="http://www.w3.org/2000/svg">' + b"&a;" * 50_000 + b"</svg>",
            "image/svg+xml",
        ),
        "XXE file": (xxe_svg("file:///etc/passwd"), "image/svg+xml"),
        "XXE http": (xxe_svg(probe + "/xxe"), "image/svg+xml"),
        "external DTD": (external_dtd_svg(probe + "/dtd"), "image/svg+xml"),
        "parameter entity": (
            f'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY % p SYSTEM "{probe}/pe"> %p;]>'
            '<svg xmlns="http://www.w3.org/2000/svg"/>'.encode(),
            "image/svg+xml",
        ),
        "XInclude": (xinclude_svg("file:///etc/passwd"), "image/svg+xml"),
        "PNG 2^31 x 2^31 pixels": (huge_dimensions_png(), "image/png"),
        "PNG chunk declaring 2 GiB": (oversized_chunk_png(), "image/png"),
        "PNG with 50,000 chunks": (many_chunks_png(), "image/png"),
        "PNG compressed credential (zip bomb)": (zip_bomb_itxt_png(), "image/png"),
        "JSON nested 100,000 deep": (deeply_nested_json(100_000), "application/json"),
        "JSON objects nested 50,000 deep": (deeply_nested_objects(50_000), "application/json"),
        "nested JSON as text": (deeply_nested_json(100_000)[15:-1], "text/plain"),
    }


def test_hostile_files_are_refused_safely(client, db, recorder):
    before = table_counts(db)
    for what, (body, content_type) in hostile_files(recorder).items():
        answer, seconds = _post(client, body, content_type)
        _refused(answer, what)
        assert "root:" not in answer.get_data(as_text=True), f"{what}: a local file leaked"
        assert seconds < NO_HANG, f"{what}: took {seconds:.1f} s"
        # The same file as an upload through the page, and as base64 in the JSON API.
        wrapped = json.dumps({"image": base64.b64encode(body).decode()}).encode()
        if len(wrapped) < 4 * 1024 * 1024:
            again, seconds = _post(client, wrapped, "application/json")
            _refused(again, what + " (base64)")
            assert seconds < NO_HANG
        figures.add("hostile files refused", 1)
    assert recorder.hits == [], f"an upload made the server fetch {recorder.hits}"
    assert table_counts(db) == before


def test_hostile_files_through_the_verify_page(client, recorder):
    me = _client_address()
    page = client.get("/verify", environ_overrides=me).get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    for what, (body, _content_type) in hostile_files(recorder).items():
        start = time.perf_counter()
        # Encoded here: the test client would spool a large body to a file it never closes.
        boundary, encoded = encode_multipart(
            {"csrf_token": token, "file": FileStorage(io.BytesIO(body), filename="upload.bin")}
        )
        answer = client.post(
            "/verify",
            data=encoded,
            content_type=f"multipart/form-data; boundary={boundary}",
            environ_overrides=_client_address(),
        )
        assert answer.status_code in (200, 400, 413), (what, answer.status_code)
        assert "verdict-valid" not in answer.get_data(as_text=True), what
        assert time.perf_counter() - start < NO_HANG, what
    assert recorder.hits == []


# --------------------------------------------------------------------------- URLs (SSRF)


@pytest.fixture
def fetching_app(app):
    app.config["VERIFY_FETCH_REMOTE"] = True
    return app


def test_verify_by_url_never_fetches_internal_addresses(fetching_app, client, recorder):
    port = recorder.port
    internal = [
        f"http://127.0.0.1:{port}/credential.json",
        f"http://localhost:{port}/credential.json",
        f"http://[::1]:{port}/credential.json",
        f"http://0.0.0.0:{port}/x",
        f"http://127.1:{port}/x",
        f"http://2130706433:{port}/x",  # 127.0.0.1 as one number
        "http://10.0.0.1/x",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00::1]/x",
        "file:///etc/passwd",
        "gopher://127.0.0.1:25/",
    ]
    for url in internal:
        start = time.perf_counter()
        answer = client.post(
            "/api/v1/verify", json={"url": url}, environ_overrides=_client_address()
        )
        assert answer.status_code == 400, (
            url,
            answer.status_code,
            answer.get_data(as_text=True)[:200],
        )
        assert "internal" not in answer.get_data(as_text=True), url
        assert time.perf_counter() - start < NO_HANG, url
        figures.add("internal URLs refused by /api/v1/verify", 1)
    assert recorder.hits == [], f"the verifier fetched {recorder.hits}"


def test_a_malformed_rate_limit_setting_stops_the_app_at_start(app, database_url, tmp_path):
    with pytest.raises(ConfigError, match="SKILLSIGN_RATELIMIT_VERIFY"):
        _limited_app(database_url, tmp_path, RATELIMIT_VERIFY="as many as you like")
