"""Browser-facing hardening, swept over the URL map: CSRF on every state-changing route,
security headers on every answer, cookie flags, and frame-ancestors limited to the
platforms an administrator approved.

The POST routes come from ``app.url_map``. Each must either demand the CSRF token (a POST
without it: 400, nothing written) or be listed in ``CSRF_EXEMPT`` with the reason it is
authenticated otherwise. A new POST route that is neither fails the test.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from support import adversarial_figures as figures
from support.adversarial_db import checksum, diff, table_counts
from support.adversarial_launch import TOOL_URL, login_params
from support.adversarial_servers import Answer, HostileRegistrar
from support.adversarial_world import LaunchedWorld, build, plausible_form
from support.lti_platform import LaunchPlatform

from lti_app.db import Base
from lti_app.lti.login import BROWSER_COOKIE
from lti_app.security import forget_frame_origins
from lti_app.services import registry

# POSTs that carry no CSRF token by design, and what authenticates them instead.
CSRF_EXEMPT = {
    "lti.login": "starts a login only; binds nothing until the platform's signed launch",
    "lti.launch": "a platform-signed id_token bound to a state and a browser",
    "lti.confirm": "a one-time ticket only the launch page holds",
    "verify.verify_api": "a JSON API that reads nothing from cookies and writes nothing",
    # OpenID4VCI: wallets call these without cookies; each is bound to a secret the wallet
    # holds (a one-time pre-authorized code, a bearer token), never to a browser session.
    "oid4vci.token": "a one-time pre-authorized code (and transaction code) in the body",
    "oid4vci.nonce": "hands out a single-use nonce; reads no session and grants nothing",
    "oid4vci.credential": "a bearer access token and a proof of possession of the wallet key",
}
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
# Whose session makes each launch POST: a caller allowed to make it.
POSTER = {
    "learner": "learner",
    "instructor": "instructor",
    "launch": "instructor",
    "admin": "tool_admin",
    "wallet": "learner",
    "language": "learner",
}


@pytest.fixture
def world(app, lti_platform) -> LaunchedWorld:
    return build(app, lti_platform)


def _state_changing(app: Any) -> list[tuple[Any, str]]:
    return [
        (rule, method)
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule)
        for method in sorted((rule.methods or set()) & STATE_CHANGING)
    ]


def _url(rule: Any, world: LaunchedWorld, token: str) -> str:
    values = dict(world.values, fmt="json")
    return re.sub(
        r"<(?:([a-z_]+)(?:\([^)]*\))?:)?([a-z_]+)>",
        lambda m: token if m.group(2) == "ls" else str(values[m.group(2)]),
        rule.rule,
    )


def _tables() -> list[str]:
    return [t.name for t in Base.metadata.sorted_tables if t.name != "launch_sessions"]


def test_every_state_changing_route_demands_the_csrf_token(app, db, world):
    checked = 0
    for rule, method in _state_changing(app):
        if rule.endpoint in CSRF_EXEMPT:
            continue
        blueprint = rule.endpoint.split(".")[0]
        if rule.rule.startswith("/s/<"):
            caller = world.callers[POSTER[blueprint]]
            client, url = caller.client, _url(rule, world, caller.token)
            other_token = world.callers["ta"].csrf(app)
        else:
            client, url, other_token = app.test_client(), _url(rule, world, ""), "forged"
        for attempt, extra in (
            ("no token", {}),
            ("another session's token", {"csrf_token": other_token}),
        ):
            before, before_sum = table_counts(db), checksum(db, only=_tables())
            form = dict(plausible_form(world, rule.endpoint), **extra)  # a fresh upload each time
            answer = client.open(url, method=method, data=form, content_type="multipart/form-data")
            where = f"{method} {rule.rule} with {attempt}"
            assert answer.status_code == 400, f"{where}: {answer.status_code}"
            assert "CSRF" in answer.get_data(as_text=True), where
            assert not diff(before, table_counts(db)), f"{where} wrote to the database"
            assert checksum(db, only=_tables()) == before_sum, f"{where} changed a row"
            checked += 1
    figures.add("CSRF refusals checked (state-changing routes x 2)", checked)
    protected = [r for r, _m in _state_changing(app) if r.endpoint not in CSRF_EXEMPT]
    assert checked == 2 * len(protected) and len(protected) >= 15, checked


def test_the_exempt_list_names_only_existing_post_routes(app):
    posts = {rule.endpoint for rule, _method in _state_changing(app)}
    assert set(CSRF_EXEMPT) <= posts, set(CSRF_EXEMPT) - posts


def _frame_ancestors(answer: Any) -> set[str]:
    policy = answer.headers.get("Content-Security-Policy", "")
    found = re.search(r"frame-ancestors ([^;]+)", policy)
    assert found, f"{answer.request.path}: no frame-ancestors in {policy!r}"
    return set(found.group(1).split())


def _get_every_page(app: Any, world: LaunchedWorld, client: Any, token: str) -> list[Any]:
    answers = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" in (rule.methods or set()):
            answer = client.get(_url(rule, world, token))
            answer.close()  # static files are streamed: headers are all this test reads
            answers.append(answer)
    return answers


def test_security_headers_on_every_answer(app, world, lti_platform):
    """Every GET route, as the instructor and as nobody: nosniff and a Referrer-Policy on
    everything; on every HTML page a CSP whose frame-ancestors are this tool and the
    registered platforms only."""
    allowed = {"'self'", lti_platform.url}
    instructor = world.callers["instructor"]
    answers = _get_every_page(app, world, instructor.client, instructor.token)
    answers += _get_every_page(app, world, app.test_client(), "A" * 43)
    html = 0
    for answer in answers:
        path = answer.request.path
        assert answer.headers.get("X-Content-Type-Options") == "nosniff", path
        assert answer.headers.get("Referrer-Policy") in (
            "no-referrer",
            "strict-origin-when-cross-origin",
        ), path
        if path.startswith(("/s/", "/lti/")):
            assert answer.headers["Referrer-Policy"] == "no-referrer", path  # tokens in URLs
        assert "Strict-Transport-Security" not in answer.headers, f"{path}: HSTS over plain HTTP"
        if answer.mimetype == "text/html":
            html += 1
            assert _frame_ancestors(answer) == allowed, path
            policy = answer.headers["Content-Security-Policy"]
            assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy, path
    figures.add("answers checked for security headers", len(answers))
    assert html >= 20


def test_hsts_and_cookie_flags_over_https(app, lti_platform):
    secure = app.test_client()
    login = secure.get(
        "/lti/login",
        query_string=login_params(lti_platform),
        base_url=TOOL_URL.replace("http://", "https://"),
    )
    assert login.status_code == 302
    assert login.headers["Strict-Transport-Security"].startswith("max-age=")
    cookie = _cookie(login, BROWSER_COOKIE)
    assert {"secure", "httponly"} <= set(cookie) and cookie.get("samesite") == "none", cookie
    page = secure.get("/verify", base_url="https://localhost")
    session = _cookie(page, "skillsign_session")
    assert {"secure", "httponly"} <= set(session) and session.get("samesite") == "none", session
    # Over plain HTTP (development): no Secure flag a browser would refuse, SameSite=Lax.
    plain = app.test_client().get("/lti/login", query_string=login_params(lti_platform))
    cookie = _cookie(plain, BROWSER_COOKIE)
    assert "secure" not in cookie and "httponly" in cookie and cookie.get("samesite") == "lax"
    assert "Strict-Transport-Security" not in plain.headers


def _cookie(answer: Any, name: str) -> dict[str, Any]:
    for header in answer.headers.getlist("Set-Cookie"):
        if header.startswith(name + "="):
            parts = [p.strip() for p in header.split(";")[1:]]
            flags: dict[str, Any] = {}
            for part in parts:
                key, _, value = part.partition("=")
                flags[key.lower()] = value.lower() if value else True
            return flags
    raise AssertionError(f"no {name} cookie set: {answer.headers.getlist('Set-Cookie')}")


def test_a_public_registration_does_not_widen_frame_ancestors(app, client, lti_platform, db):
    """Anyone may open /lti/register with their own 'platform'. Until an administrator
    approves a deployment of it, its origin must not be allowed to frame the tool: else
    every stranger could clickjack the tool's pages from a site of their own."""
    registrar = HostileRegistrar()
    try:
        base = registrar.url
        registrar.config = Answer(
            200,
            (
                '{"issuer": "%s", "authorization_endpoint": "%s/auth", "token_endpoint": '
                '"%s/token", "jwks_uri": "%s/jwks", "registration_endpoint": "%s/register"}'
                % ((base,) * 5)
            ).encode(),
        )
        registrar.registration = Answer(
            200,
            b'{"client_id": "stranger", "https://purl.imsglobal.org/spec/lti-tool-configuration": {"deployment_id": "d"}}',
        )
        answer = client.get(
            "/lti/register", query_string={"openid_configuration": f"{base}/config"}
        )
        assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
        forget_frame_origins(app)  # no help from the per-process cache of the origins
        for page in ("/", "/verify"):
            assert _frame_ancestors(client.get(page)) == {"'self'", lti_platform.url}, page
        # Once approved, it is a platform of this tool and may frame it.
        with app.app_context(), db.transaction() as session:
            platform = registry.find_platform(session, base, "stranger")
            registry.approve_deployment(session, platform, "d")
        forget_frame_origins(app)
        assert base in _frame_ancestors(client.get("/"))
    finally:
        registrar.stop()


def test_a_second_registered_platform_may_frame_the_tool(app, client, lti_platform):
    other = LaunchPlatform(client_id="second").start().connect(TOOL_URL)
    try:
        other.register_in(app)
        forget_frame_origins(app)
        assert _frame_ancestors(client.get("/")) == {"'self'", lti_platform.url, other.url}
    finally:
        other.stop()
