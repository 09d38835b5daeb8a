"""Attack chains an outsider can run with nothing but the tool's public URLs.

The goal of each chain: launch as an Instructor of an institution's approved platform
without its key, sign competencies off, and have a credential issued in the
institution's name. The first step is always ``/lti/register``: a registration that
could replace the keys URL of a registered platform hands the attacker its launches.

Everything runs over real HTTP on 127.0.0.1: the tool on its own WSGI server, the
victim platform and the attacker's platforms (PyPI ``lti1p3platform`` builds and signs
their messages; the attacker's with its own key) each on a port of their own.
"""

from __future__ import annotations

import json
import socket
import typing as t
from urllib.parse import quote_plus, urlsplit

import pytest
import requests
from flask import Response
from sqlalchemy import select
from support.adversarial_db import table_counts
from support.lti_platform import INSTRUCTOR, LaunchPlatform, LaunchSpec, parse_form
from support.servers import serve

from lti_app.db.models import Deployment, Platform
from lti_app.lti.registration import (
    ALREADY_REGISTERED,
    PLATFORM_CONFIGURATION,
    TOOL_CONFIGURATION,
    UNREADABLE,
)

# Rows a successful chain would leave behind; a refused one leaves none of them.
LOOT = ("users", "launch_sessions", "signoff_events", "credentials", "memberships", "contexts")


class ScriptedPlatform(LaunchPlatform):
    """A platform that may claim another issuer and serves whatever documents it is given:
    files (an OpenID configuration, a redirect) and a Dynamic Registration endpoint."""

    def __init__(self, *, issuer: str | None = None, **kwargs: t.Any) -> None:
        super().__init__(**kwargs)
        self.claimed_issuer = issuer
        self.files: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.registration: tuple[int, dict[str, t.Any]] | None = None
        self.hits: list[str] = []
        self.app.add_url_rule("/files/<path:name>", "files", self._file, methods=["GET", "POST"])
        self.app.add_url_rule("/register", "register", self._register, methods=["POST"])

    @property
    def issuer(self) -> str:
        return self.claimed_issuer or self.url

    def _file(self, name: str) -> Response:
        self.hits.append(f"/files/{name}")
        if name not in self.files:
            return Response("not here", status=404)
        status, headers, body = self.files[name]
        return Response(body, status=status, headers=headers)

    def _register(self) -> Response:
        self.hits.append("/register")
        if self.registration is None:
            return Response("closed", status=404)
        status, answer = self.registration
        return Response(json.dumps(answer), status=status, mimetype="application/json")

    def serve_json(self, name: str, document: t.Any) -> str:
        self.files[name] = (
            200,
            {"Content-Type": "application/json"},
            json.dumps(document).encode(),
        )
        return f"{self.url}/files/{name}"

    def answer_registration(self, client_id: str, deployment_id: str, status: int = 200) -> None:
        self.registration = (
            status,
            {"client_id": client_id, TOOL_CONFIGURATION: {"deployment_id": deployment_id}},
        )


def configuration(issuer: str, base: str, product: str = "moodle") -> dict[str, t.Any]:
    """An OpenID configuration claiming ``issuer``, every endpoint on ``base``."""
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{base}/auth",
        "token_endpoint": f"{base}/token",
        "jwks_uri": f"{base}/jwks",
        "registration_endpoint": f"{base}/register",
        "id_token_signing_alg_values_supported": ["RS256"],
        PLATFORM_CONFIGURATION: {"product_family_code": product, "version": "4.3"},
    }


def _http() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # loopback only; nothing from the environment
    return session


@pytest.fixture
def tool(app):
    server = serve(app)
    app.config["BASE_URL"] = server.url
    yield server
    server.stop()


@pytest.fixture
def started():
    platforms: list[ScriptedPlatform] = []

    def start(**kwargs: t.Any) -> ScriptedPlatform:
        platform = ScriptedPlatform(**kwargs)
        platform.start()
        platforms.append(platform)
        return platform

    yield start
    for platform in platforms:
        platform.stop()


@pytest.fixture
def victim(app, tool, started) -> ScriptedPlatform:
    """The institution's platform: registered by an administrator, deployment approved."""
    platform = started(client_id="institution-client", deployment_id="institution-deployment")
    platform.connect(tool.url)
    platform.platform_id = platform.register_in(app)
    return platform


def register(tool, config_url: str) -> requests.Response:
    return _http().get(
        f"{tool.url}/lti/register",
        params={"openid_configuration": config_url},
        headers={"Accept": "application/json"},
        timeout=15,
    )


def snapshot(db, platform_id: int) -> dict[str, t.Any]:
    with db.transaction() as s:
        row = s.get(Platform, platform_id)
        assert row is not None
        return {
            "issuer": row.issuer,
            "client_id": row.client_id,
            "jwks_url": row.jwks_url,
            "auth_login_url": row.auth_login_url,
            "auth_token_url": row.auth_token_url,
            "auth_audience": row.auth_audience,
            "name": row.name,
            "details": dict(row.details or {}),
            "deployments": sorted(
                (d.deployment_id, d.status)
                for d in s.scalars(select(Deployment).where(Deployment.platform_id == row.id))
            ),
        }


def forged_launch(attacker: ScriptedPlatform, victim: ScriptedPlatform) -> requests.Response:
    """The attacker logs in at the tool as the victim platform, answers the authorization
    request itself and posts an Instructor id_token signed with its own key."""
    http = _http()
    spec = LaunchSpec(user_id="mallory", roles=[INSTRUCTOR], name="Mallory", email=None)
    login = http.get(attacker.login_url(spec), allow_redirects=False, timeout=10)
    assert login.status_code == 302, login.text[:300]
    location = login.headers["Location"]
    # The tool sends the browser only to the platform an administrator registered.
    assert location.startswith(victim.auth_url + "?"), location
    auth = http.get(f"{attacker.auth_url}?{urlsplit(location).query}", timeout=10)
    assert auth.status_code == 200, auth.text[:300]
    action, form = parse_form(auth.text)
    return http.post(
        action,
        data=form,
        headers={"Accept": "application/json"},
        allow_redirects=False,
        timeout=10,
    )


def _impostor(started, victim: ScriptedPlatform, tool) -> ScriptedPlatform:
    """The attacker's platform: the victim's issuer, client_id and deployment, its own key."""
    attacker = started(
        issuer=victim.issuer, client_id=victim.client_id, deployment_id=victim.deployment_id
    )
    attacker.connect(tool.url)
    attacker.answer_registration(victim.client_id, victim.deployment_id)
    return attacker


def _assert_takeover_failed(db, victim, before, attacker, loot_before) -> None:
    assert snapshot(db, victim.platform_id) == before, "the registration changed the victim"
    answer = forged_launch(attacker, victim)
    assert answer.status_code in (400, 401, 403), answer.text[:300]
    assert answer.json()["code"] in ("lti.unknown_kid", "lti.bad_signature"), answer.json()
    assert table_counts(db, LOOT) == loot_before, "a refused launch left rows behind"


# -- (a) register-takeover ------------------------------------------------------------------
def test_takeover_from_another_port_of_the_issuer_host(app, db, tool, victim, started):
    """Same host as the issuer, another port: not the issuer's origin."""
    before, loot = snapshot(db, victim.platform_id), table_counts(db, LOOT)
    attacker = _impostor(started, victim, tool)
    config_url = attacker.serve_json(
        "openid-configuration", configuration(victim.issuer, attacker.url)
    )
    assert urlsplit(config_url).hostname == urlsplit(victim.issuer).hostname

    answer = register(tool, config_url)
    assert answer.status_code == 400, answer.text[:300]
    detail = answer.json()["detail"]
    assert "not on the origin of the configuration URL" in detail
    # It names the origin the caller sent, not the issuer the remote server claimed.
    assert attacker.url in detail and victim.issuer not in detail
    assert "/register" not in attacker.hits, "the tool posted a registration anyway"
    _assert_takeover_failed(db, victim, before, attacker, loot)


def test_takeover_with_a_document_served_from_the_issuers_origin(app, db, tool, victim, started):
    """The configuration passes the origin check (a file a user could upload to the LMS)
    but its registration endpoint answers with the victim's client_id: refused, unchanged."""
    before, loot = snapshot(db, victim.platform_id), table_counts(db, LOOT)
    attacker = _impostor(started, victim, tool)
    document = configuration(victim.issuer, attacker.url)
    config_url = victim.serve_json("upload.json", document)

    answer = register(tool, config_url)
    assert answer.status_code == 409, answer.text[:300]
    assert answer.json()["detail"] == ALREADY_REGISTERED
    assert attacker.hits.count("/register") == 1
    with db.transaction() as s:  # no half-written rows
        assert len(s.scalars(select(Platform)).all()) == 1
    _assert_takeover_failed(db, victim, before, attacker, loot)


def test_takeover_of_a_registration_made_with_an_invitation_is_refused_too(
    app, db, tool, victim, started, runner
):
    """An invitation approves a new platform; it never approves replacing one."""
    before = snapshot(db, victim.platform_id)
    attacker = _impostor(started, victim, tool)
    config_url = victim.serve_json("upload.json", configuration(victim.issuer, attacker.url))
    invite = runner.invoke(args=["platforms", "invite"]).output.strip().split("invite=")[1]
    answer = _http().get(
        f"{tool.url}/lti/register",
        params={"openid_configuration": config_url, "invite": invite},
        headers={"Accept": "application/json"},
        timeout=15,
    )
    assert answer.status_code == 409
    assert snapshot(db, victim.platform_id) == before


# -- (a, Canvas) look-alikes -------------------------------------------------------------------
def test_takeover_of_a_self_hosted_canvas_from_another_port(app, db, tool, victim, started):
    """A document that says "Canvas" gets no wider check: the issuer's exact origin."""
    before, loot = snapshot(db, victim.platform_id), table_counts(db, LOOT)
    attacker = _impostor(started, victim, tool)
    config_url = attacker.serve_json(
        "openid-configuration", configuration(victim.issuer, attacker.url, product="canvas")
    )
    answer = register(tool, config_url)
    assert answer.status_code == 400, answer.text[:300]
    assert "not on the origin" in answer.json()["detail"]
    assert "/register" not in attacker.hits
    _assert_takeover_failed(db, victim, before, attacker, loot)


def test_canvas_cloud_issuer_claimed_from_a_host_outside_the_vendor_list(app, db, tool, started):
    """The Canvas cloud issuer may be spoken for only from https://<school>.instructure.com
    (port 443); the attacker's own host, claiming it, is refused before anything is posted.
    (That an Instructure host does pass, and still changes nothing registered, is shown by
    the vendor-list tests in tests/integration/lti and by the takeover tests above: the
    "already registered" refusal does not depend on where the document came from.)"""
    canvas = "https://canvas.instructure.com"
    victim = started(issuer=canvas, client_id="10000000000042", deployment_id="42:abc")
    victim.connect(tool.url)
    victim.platform_id = victim.register_in(app, product="canvas")
    before, loot = snapshot(db, victim.platform_id), table_counts(db, LOOT)
    attacker = _impostor(started, victim, tool)
    for where in ("openid-configuration", "api/lti/security/openid-configuration"):
        config_url = attacker.serve_json(where, configuration(canvas, attacker.url, "canvas"))
        answer = register(tool, config_url)
        assert answer.status_code == 400, answer.text[:300]
        assert "not on the origin" in answer.json()["detail"]
    assert "/register" not in attacker.hits
    _assert_takeover_failed(db, victim, before, attacker, loot)


# -- (b) register, then redirect ------------------------------------------------------------
def test_configuration_redirect_to_an_attacker_host_is_refused(app, db, tool, victim, started):
    before, loot = snapshot(db, victim.platform_id), table_counts(db, LOOT)
    attacker = _impostor(started, victim, tool)
    target = attacker.serve_json("openid-configuration", configuration(victim.issuer, attacker.url))
    victim.files["moved"] = (302, {"Location": target}, b"")

    answer = register(tool, f"{victim.url}/files/moved")
    assert answer.status_code == 400, answer.text[:300]
    assert answer.json()["detail"] == UNREADABLE
    assert attacker.hits == [], "the tool followed the redirect"
    _assert_takeover_failed(db, victim, before, attacker, loot)


def test_registration_post_redirect_is_refused(app, db, tool, victim, started):
    """The registration endpoint 307s the POST (and the registration token) elsewhere."""
    newcomer = started(client_id="new-client", deployment_id="new-deployment")
    document = configuration(newcomer.url, newcomer.url)
    document["registration_endpoint"] = f"{newcomer.url}/files/register-moved"
    newcomer.files["register-moved"] = (307, {"Location": f"{newcomer.url}/register"}, b"")
    newcomer.answer_registration("new-client", "new-deployment")

    answer = register(tool, newcomer.serve_json("config", document))
    assert answer.status_code == 400 and answer.json()["detail"] == UNREADABLE
    assert "/register" not in newcomer.hits
    with db.transaction() as s:
        assert [p.id for p in s.scalars(select(Platform))] == [victim.platform_id]


# -- (c) a second client_id of a known issuer ----------------------------------------------
def _login(tool, params: dict[str, str]) -> requests.Response:
    return _http().get(
        f"{tool.url}/lti/login",
        params=params,
        headers={"Accept": "application/json"},
        allow_redirects=False,
        timeout=10,
    )


def test_second_client_id_does_not_break_logins_of_the_first(app, db, tool, victim):
    before = snapshot(db, victim.platform_id)
    victim.answer_registration("second-client", "second-deployment")
    answer = register(tool, victim.serve_json("config", configuration(victim.issuer, victim.url)))
    assert answer.status_code == 200, answer.text[:300]
    with db.transaction() as s:
        second = s.scalars(select(Platform).where(Platform.client_id == "second-client")).one()
        assert second.issuer == victim.issuer
        statuses = s.scalars(select(Deployment.status).where(Deployment.platform_id == second.id))
        assert list(statuses) == ["pending"]
    assert snapshot(db, victim.platform_id) == before

    # A login without client_id is resolved by its approved deployment, and launches.
    spec = LaunchSpec(roles=[INSTRUCTOR], user_id="teacher-1")
    params = victim.login_params(spec)
    params.pop("client_id")
    http = _http()
    login = http.get(f"{tool.url}/lti/login", params=params, allow_redirects=False, timeout=10)
    assert login.status_code == 302, login.text[:300]
    assert login.headers["Location"].startswith(victim.auth_url + "?")
    assert f"client_id={victim.client_id}" in login.headers["Location"]
    auth = http.get(login.headers["Location"], timeout=10)
    action, form = parse_form(auth.text)
    launched = http.post(action, data=form, allow_redirects=False, timeout=10)
    assert launched.status_code == 303, launched.text[:300]

    # The same login for a deployment approved nowhere cannot pick a registration.
    unknown = dict(params, lti_deployment_id="no-such-deployment", login_hint="h2")
    states = table_counts(db, ["lti_launch_data"])
    refused = _login(tool, unknown)
    assert refused.status_code == 400
    assert refused.json()["code"] == "lti.login_invalid"
    assert "several registrations" in refused.json()["detail"]
    assert table_counts(db, ["lti_launch_data"]) == states


# -- (d) a pending registration cannot start a login -----------------------------------------
def test_pending_registration_cannot_log_in(app, db, tool, victim, started):
    stranger = started(client_id="stranger-client", deployment_id="stranger-deployment")
    stranger.connect(tool.url)
    stranger.answer_registration("stranger-client", "stranger-deployment")
    answer = register(
        tool, stranger.serve_json("config", configuration(stranger.url, stranger.url))
    )
    assert answer.status_code == 200, answer.text[:300]

    counts = table_counts(db)
    for with_client_id in (True, False):
        params = stranger.login_params(LaunchSpec(roles=[INSTRUCTOR]))
        if not with_client_id:
            params.pop("client_id")
        refused = _login(tool, params)
        assert refused.status_code == 403, refused.text[:300]
        assert refused.json()["code"] == "lti.pending_deployment"
        assert "skillsign platforms approve-deployment" in refused.json()["detail"]
        assert "Location" not in refused.headers
    assert table_counts(db) == counts, "a refused login wrote state"


# -- (e) rate limit ---------------------------------------------------------------------------
def test_register_is_rate_limited(app, tool):
    limit = 10  # SKILLSIGN_RATELIMIT_REGISTER's default: 10 per minute
    http = _http()
    statuses = [
        http.get(f"{tool.url}/lti/register", timeout=10).status_code for _ in range(limit + 1)
    ]
    assert statuses == [400] * limit + [429], statuses
    over = http.get(f"{tool.url}/lti/register", timeout=10)
    assert over.status_code == 429 and int(over.headers["Retry-After"]) > 0
    # Logins are not held back by it.
    assert http.get(f"{tool.url}/lti/login", timeout=10).status_code == 400


# -- (f) one public sentence for every remote failure -------------------------------------------
def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_remote_failures_all_read_the_same(app, db, tool, started):
    remote = started()
    remote.files["page"] = (200, {"Content-Type": "text/html"}, b"<html>intranet</html>")
    good = remote.serve_json("config", configuration(remote.url, remote.url))
    remote.registration = (400, {"error": "invalid_client_metadata", "secret": "internal"})
    cases = {
        "connection refused": f"http://127.0.0.1:{_closed_port()}/config",
        "404": f"{remote.url}/files/missing",
        "not JSON": f"{remote.url}/files/page",
        "registration answered 400": good,
    }
    http = _http()
    answers = {}
    for name, url in cases.items():
        as_json = http.get(
            f"{tool.url}/lti/register",
            params={"openid_configuration": url},
            headers={"Accept": "application/json"},
            timeout=15,
        )
        page = http.get(
            f"{tool.url}/lti/register", params={"openid_configuration": url}, timeout=15
        )
        # The page links to itself in each language, echoing the caller's own query: that
        # part differs by the URL sent, never by what the remote host answered.
        text = page.text.replace(quote_plus(url), "<the URL sent>")
        answers[name] = (as_json.status_code, as_json.json(), page.status_code, text)
    # The 400 really came from the registration endpoint (once per answer format).
    assert remote.hits.count("/register") == 2
    first = answers["connection refused"]
    assert first[1]["detail"] == UNREADABLE
    for name, answer in answers.items():
        assert answer == first, f"{name} reads differently from a refused connection"
    for leak in ("404", "intranet", "HTTP 400", "invalid_client_metadata", "refused", "JSON"):
        assert leak not in first[3], leak
    with db.transaction() as s:
        assert s.scalars(select(Platform)).all() == []


def test_request_errors_stay_specific(app, tool):
    """Problems with the request itself name the problem: they reveal nothing remote."""
    missing = _http().get(f"{tool.url}/lti/register", timeout=10)
    assert missing.status_code == 400 and "Dynamic Registration" in missing.text
    bad_token = _http().get(
        f"{tool.url}/lti/register",
        params={"openid_configuration": "http://127.0.0.1:1/c", "registration_token": "a b"},
        timeout=10,
    )
    assert bad_token.status_code == 400 and "not a valid bearer token" in bad_token.text
