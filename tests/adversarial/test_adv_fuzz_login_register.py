"""Fuzzing the OIDC login (``/lti/login``) and Dynamic Registration (``/lti/register``).

Login: any mix of valid, wrong, missing, huge and non-UTF-8 parameters, by GET or POST,
framed or not. A login may legitimately be started (that is its job), but only for the
registered issuer, towards that platform's own authorization URL (never an open
redirect), writing one state row and nothing else; every refusal writes nothing.

Registration: the platform's configuration and registration answer come from a hostile
server on 127.0.0.1 (missing members, wrong types, a foreign issuer, huge or non-JSON
bodies, error statuses). No 5xx, no approved deployment ever appears without an invitation,
a refusal writes nothing, and an accepted registration writes only the registry.
"""

from __future__ import annotations

import itertools
import json
import string
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from support import adversarial_figures as figures
from support.adversarial_db import checksum, diff, table_counts
from support.adversarial_launch import TOOL_URL
from support.adversarial_servers import Answer, HostileRegistrar

from lti_app.db.models import Deployment
from lti_app.lti.registration import PLATFORM_CONFIGURATION, TOOL_CONFIGURATION

XSS = "<script>alert(1)</script>"
text_values = st.text(max_size=60) | st.sampled_from(
    [XSS, '"><img src=x>', "javascript:alert(1)", "nul\x00byte"]
)


def _param(valid: str, limit: int) -> st.SearchStrategy[str | None]:
    return st.one_of(
        st.none(),
        st.just(valid),
        st.just(valid),
        text_values,
        st.integers(min_value=limit + 1, max_value=limit + 5000).map(lambda n: "a" * n),
        st.just(valid.upper()),
        st.just(valid + "/"),
    )


@st.composite
def login_requests(draw: st.DrawFn, issuer: str, client_id: str) -> dict[str, Any]:
    names = {
        "iss": _param(issuer, 2048),
        "login_hint": _param("hint-1", 2048),
        "target_link_uri": _param(f"{TOOL_URL}/lti/launch", 2048),
        "client_id": _param(client_id, 255),
        "lti_message_hint": _param("message-hint", 8192),
        "lti_deployment_id": _param("deployment-1", 255),
        "lti_storage_target": st.none() | st.just("_parent") | text_values,
        "new_window": st.none() | st.just("1"),
    }
    params = {k: v for k, v in ((k, draw(s)) for k, s in names.items()) if v is not None}
    params.update(
        draw(
            st.dictionaries(
                st.text(string.ascii_lowercase, min_size=1, max_size=8), text_values, max_size=2
            )
        )
    )
    return {
        "params": params,
        "method": draw(st.sampled_from(["GET", "POST"])),
        "framed": draw(st.booleans()),
        "fresh_browser": draw(st.booleans()),
        "raw": draw(st.none() | st.binary(min_size=1, max_size=200)),
    }


def _points_at_tool(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "http" and parts.netloc.lower() == "localhost"


@pytest.mark.slow
def test_login_fuzz_starts_only_genuine_logins(app, client, lti_platform, db):
    platform = lti_platform
    examples = figures.fuzz_share(0.2)
    before_all = checksum(db, only=_all_but_states())
    last = {"counts": table_counts(db)}
    seen: list[int] = []

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=login_requests(platform.issuer, platform.client_id))
    def run(case: dict[str, Any]) -> None:
        params = case["params"]
        browser = app.test_client() if case["fresh_browser"] else client
        headers = {"Sec-Fetch-Dest": "iframe"} if case["framed"] else {}
        if case["raw"] is not None:
            # Bytes that are not UTF-8, percent-encoded and raw, after the real parameters.
            query = urlencode(params).encode() + b"&x=" + case["raw"] + b"&iss=" + case["raw"]
            answer = browser.get(
                "/lti/login",
                headers=headers,
                environ_overrides={
                    "QUERY_STRING": query.decode("latin-1")
                },  # WSGI: bytes as latin-1
            )
        elif case["method"] == "GET":
            answer = browser.get("/lti/login", query_string=params, headers=headers)
        else:
            answer = browser.post("/lti/login", data=params, headers=headers)
        body = answer.get_data(as_text=True)
        after = table_counts(db)
        changed = diff(last["counts"], after)
        last["counts"] = after
        assert answer.status_code < 500, f"{case}: {body[:300]}"
        assert "Traceback" not in body and XSS not in body, f"{case}: {body[:300]}"
        if answer.status_code >= 400:
            assert not changed, f"{case}: a refused login changed the database: {changed}"
        else:
            # Only a genuine login gets this far (first values: what the tool reads).
            assert params.get("iss") == platform.issuer, case
            assert params.get("login_hint", "").strip(), case
            assert _points_at_tool(params.get("target_link_uri", "")), case
            assert answer.status_code in (200, 302), case
            count = changed.pop("lti_launch_data")
            assert count[1] == count[0] + 1 and not changed, f"{case}: wrote {changed}"
            if answer.status_code == 302:
                location = answer.headers["Location"]
                assert location.startswith(platform.auth_url + "?"), location
                sent = parse_qs(urlsplit(location).query)
                assert sent["client_id"] == [platform.client_id]
                assert sent["redirect_uri"] == [f"{TOOL_URL}/lti/launch"]
            else:
                assert platform.auth_url in body
        seen.append(answer.status_code)

    with figures.timed("fuzz /lti/login (cases)"):
        run()
    figures.add("fuzz /lti/login (cases)", len(seen))
    assert len(seen) >= examples
    assert checksum(db, only=_all_but_states()) == before_all


def _all_but_states() -> list[str]:
    from lti_app.db import Base

    return [t.name for t in Base.metadata.sorted_tables if t.name != "lti_launch_data"]


# --------------------------------------------------------------------------- registration

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
REQUIRED_CONFIG = (
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "registration_endpoint",
)


def _valid_config(base: str) -> dict[str, Any]:
    return {
        "issuer": base,
        "authorization_endpoint": f"{base}/auth",
        "token_endpoint": f"{base}/token",
        "jwks_uri": f"{base}/jwks",
        "registration_endpoint": f"{base}/register",
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid"],
        PLATFORM_CONFIGURATION: {"product_family_code": "moodle", "version": "4.3"},
    }


@st.composite
def registrations(draw: st.DrawFn, base: str) -> dict[str, Any]:
    config: Any = _valid_config(base)
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        name = draw(
            st.sampled_from(
                [
                    *REQUIRED_CONFIG,
                    "id_token_signing_alg_values_supported",
                    PLATFORM_CONFIGURATION,
                    "authorization_server",
                    "scopes_supported",
                ]
            )
        )
        config[name] = draw(
            st.one_of(
                json_values,
                st.just(f"https://evil.example/{name}"),
                st.just("https://" + "h" * 70 + ".example/" + "p" * 1100),
                st.just(f"{base}/" + "x" * 1100),
                st.just(["RS512"]),
            )
        )
        if draw(st.booleans()):
            config.pop(name, None)
    body_kind = draw(st.sampled_from(["json", "json", "json", "array", "garbage", "huge"]))
    config_body = {
        "json": lambda: json.dumps(config).encode(),
        "array": lambda: json.dumps([config]).encode(),
        "garbage": lambda: draw(st.binary(max_size=200)),
        "huge": lambda: json.dumps(dict(config, pad="p" * (1024 * 1024 + 10))).encode(),
    }[body_kind]()
    answer: Any = {
        "client_id": draw(st.text(min_size=1, max_size=40)),
        TOOL_CONFIGURATION: {"deployment_id": draw(st.text(max_size=40))},
    }
    if draw(st.booleans()):
        answer = draw(
            st.one_of(
                json_values,
                st.fixed_dictionaries({"client_id": json_values | st.just("c" * 400)}),
                st.fixed_dictionaries(
                    {
                        "client_id": st.just("ok-client"),
                        TOOL_CONFIGURATION: json_values
                        | st.fixed_dictionaries(
                            {"deployment_id": json_values | st.just("d" * 400)}
                        ),
                    }
                ),
            )
        )
    target = draw(
        st.one_of(
            st.just(f"{base}/config"),
            st.just(f"{base}/config"),
            st.just(f"{base}/config"),
            text_values,
            st.sampled_from(
                ["file:///etc/passwd", "ftp://127.0.0.1/x", "http://", "http://[::1", "gopher://x"]
            ),
        )
    )
    return {
        "config": Answer(draw(st.sampled_from([200, 200, 200, 201, 301, 404, 500])), config_body),
        "registration": Answer(
            draw(st.sampled_from([200, 201, 201, 400, 500])), json.dumps(answer).encode()
        ),
        "params": {
            k: v
            for k, v in {
                "openid_configuration": target,
                "registration_token": draw(st.none() | st.text(max_size=40)),
                "invite": draw(st.none() | st.none() | st.text(min_size=1, max_size=30)),
            }.items()
            if v is not None
        },
    }


@pytest.fixture
def registrar():
    server = HostileRegistrar()
    yield server
    server.stop()


def _approved(db) -> int:
    with db.transaction() as session:
        return session.scalar(
            select(func.count()).select_from(Deployment).where(Deployment.status == "approved")
        )


@pytest.mark.slow
def test_registration_fuzz_never_crashes_or_approves(app, client, db, registrar):
    examples = figures.fuzz_share(0.1)
    approved = _approved(db)
    last = {"counts": table_counts(db)}
    outcomes: dict[str, int] = {"refused": 0, "registered": 0}
    addresses = ({"REMOTE_ADDR": f"10.9.{n // 250}.{n % 250 + 1}"} for n in itertools.count())

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=registrations(registrar.url))
    def run(case: dict[str, Any]) -> None:
        registrar.config = case["config"]
        registrar.registration = case["registration"]
        # A client address per case: the rate limit (tested elsewhere) is not under test here.
        answer = client.get(
            "/lti/register", query_string=case["params"], environ_overrides=next(addresses)
        )
        body = answer.get_data(as_text=True)
        after = table_counts(db)
        changed = diff(last["counts"], after)
        last["counts"] = after
        assert answer.status_code < 500, f"{case['params']}: {body[:400]}"
        assert "Traceback" not in body and XSS not in body
        if answer.status_code >= 400:
            assert not changed, f"a refused registration changed the database: {changed}"
            outcomes["refused"] += 1
        else:
            assert answer.status_code == 200
            assert set(changed) <= {"platforms", "deployments"}, changed
            outcomes["registered"] += 1
        assert _approved(db) == approved, (
            "a registration without an invitation approved a deployment"
        )

    with figures.timed("fuzz /lti/register (cases)"):
        run()
    total = outcomes["refused"] + outcomes["registered"]
    figures.add("fuzz /lti/register (cases)", total)
    assert total >= examples
    assert outcomes["registered"] > 0, "the fuzz never produced a registration the tool accepts"
