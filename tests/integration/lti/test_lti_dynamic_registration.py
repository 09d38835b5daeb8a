"""LTI Dynamic Registration against a small platform that follows the spec (served here),
and the rules that keep a public registration URL from touching what is registered."""

from __future__ import annotations

import threading
import typing as t
from urllib.parse import quote

import pytest
from flask import Flask, Response, jsonify, redirect, request
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from support.servers import serve

from lti_app.db.models import AuditEvent, Deployment, Platform
from lti_app.lti import registration
from lti_app.lti.registration import (
    ALREADY_REGISTERED,
    UNREADABLE,
    VENDOR_CONFIG_HOSTS,
    RegistrationError,
    config_url_allowed,
)

TOKEN = "registration-token-123"
TOOL_CONFIG = "https://purl.imsglobal.org/spec/lti-tool-configuration"
PLATFORM_CONFIG = "https://purl.imsglobal.org/spec/lti-platform-configuration"


class SpecPlatform:
    """OpenID configuration + registration endpoint, both behind the registration token."""

    def __init__(self, product: str, deployment_id: str | None, issuer: str | None = None) -> None:
        self.product = product
        self.deployment_id = deployment_id
        self.issuer_override = issuer
        self.client_id = f"{product}-client-1"
        self.overrides: dict[str, t.Any] = {}  # members of the configuration to replace
        self.registrations: list[dict] = []
        self.lock = threading.Lock()
        app = Flask("spec_platform")

        def authorized() -> bool:
            return request.headers.get("Authorization") == f"Bearer {TOKEN}"

        @app.get("/.well-known/openid-configuration")
        def configuration() -> Response:
            if not authorized():
                return Response("missing registration token", status=401)
            base = self.url
            return jsonify(
                {
                    "issuer": self.issuer_override or base,
                    "authorization_endpoint": f"{base}/auth",
                    "token_endpoint": f"{base}/token",
                    "jwks_uri": f"{base}/jwks",
                    "registration_endpoint": f"{base}/register",
                    "scopes_supported": [
                        "openid",
                        "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
                        "https://purl.imsglobal.org/spec/lti-ags/scope/score",
                        "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
                        "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
                    ],
                    "response_types_supported": ["id_token"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                    "claims_supported": ["sub", "iss", "name", "email"],
                    PLATFORM_CONFIG: {
                        "product_family_code": self.product,
                        "version": "4.3",
                        "messages_supported": [
                            {"type": "LtiResourceLinkRequest"},
                            {"type": "LtiDeepLinkingRequest"},
                        ],
                    },
                    **self.overrides,
                }
            )

        @app.get("/moved-configuration")
        def moved_configuration() -> Response:
            return redirect(f"{self.url}/.well-known/openid-configuration", 302)

        @app.post("/moved-register")
        def moved_register() -> Response:
            return redirect(f"{self.url}/register", 307)  # 307 keeps the POST and its body

        @app.post("/register")
        def register() -> Response:
            if not authorized():
                return Response("missing registration token", status=401)
            body = request.get_json()
            with self.lock:
                self.registrations.append(body)
            answer = dict(body, client_id=self.client_id)
            tool = dict(body[TOOL_CONFIG])
            if self.deployment_id:
                tool["deployment_id"] = self.deployment_id
            answer[TOOL_CONFIG] = tool
            return jsonify(answer)

        self.server = serve(app)
        self.url = self.server.url

    def registration_url(
        self, token: str = TOKEN, extra: str = "", path: str = "/.well-known/openid-configuration"
    ) -> str:
        config = quote(f"{self.url}{path}", safe="")
        return f"/lti/register?openid_configuration={config}&registration_token={token}{extra}"


@pytest.fixture
def moodle():
    platform = SpecPlatform("moodle", deployment_id="7")
    yield platform
    platform.server.stop()


@pytest.fixture
def canvas():
    platform = SpecPlatform("canvas", deployment_id=None)
    yield platform
    platform.server.stop()


def test_moodle_registration_stores_a_pending_deployment(app, client, moodle, db):
    page = client.get(moodle.registration_url())
    assert page.status_code == 200, page.text
    assert "js/registration-close.js" in page.text and "<script>" not in page.text
    (sent,) = moodle.registrations
    base = app.config["BASE_URL"]
    assert sent["initiate_login_uri"] == f"{base}/lti/login"
    assert sent["redirect_uris"] == [f"{base}/lti/launch"]
    assert sent["jwks_uri"] == f"{base}/.well-known/jwks.json"
    assert sent["token_endpoint_auth_method"] == "private_key_jwt"
    assert set(sent["grant_types"]) == {"implicit", "client_credentials"}
    scopes = sent["scope"].split()
    assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in scopes
    assert "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly" in scopes
    # Scopes the platform does not offer are not asked for.
    assert "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly" not in scopes
    tool = sent[TOOL_CONFIG]
    assert [m["type"] for m in tool["messages"]] == [
        "LtiResourceLinkRequest",
        "LtiDeepLinkingRequest",
    ]
    assert {"iss", "sub", "email", "name"} <= set(tool["claims"])
    assert "https://canvas.instructure.com/lti/privacy_level" not in tool
    with db.transaction() as s:
        platform = s.scalars(select(Platform)).one()
        assert (platform.issuer, platform.client_id, platform.product) == (
            moodle.url,
            "moodle-client-1",
            "moodle",
        )
        assert platform.auth_login_url == f"{moodle.url}/auth"
        assert platform.jwks_url == f"{moodle.url}/jwks"
        deployment = s.scalars(select(Deployment)).one()
        assert (deployment.deployment_id, deployment.status) == ("7", "pending")
    assert "waits for a skillsign administrator" in page.text


def test_canvas_registration_sends_canvas_extensions(client, canvas, db):
    page = client.get(canvas.registration_url())
    assert page.status_code == 200, page.text
    tool = canvas.registrations[0][TOOL_CONFIG]
    assert tool["https://canvas.instructure.com/lti/privacy_level"] == "public"
    placements = {m["type"]: m["placements"] for m in tool["messages"]}
    assert "assignment_selection" in placements["LtiDeepLinkingRequest"]
    with db.transaction() as s:
        assert s.scalars(select(Platform.product)).one() == "canvas"
        assert s.scalars(select(Deployment)).all() == []  # Canvas names it at the first launch
    assert "name its deployment at the first launch" in page.text


def test_invited_registration_is_approved(runner, client, moodle, db):
    url = runner.invoke(args=["platforms", "invite"]).output.strip()
    invite = url.split("invite=")[1]
    page = client.get(moodle.registration_url(extra=f"&invite={invite}"))
    assert page.status_code == 200
    with db.transaction() as s:
        assert s.scalars(select(Deployment.status)).one() == "approved"
        assert s.scalars(select(Platform)).one().details["auto_approve_deployments"] is True
    reused = client.get(moodle.registration_url(extra=f"&invite={invite}"))
    assert reused.status_code == 400 and "unknown, expired or used" in reused.text


def _row(db, client_id: str) -> dict[str, t.Any]:
    with db.transaction() as s:
        platform = s.scalars(select(Platform).where(Platform.client_id == client_id)).one()
        return {
            "id": platform.id,
            "issuer": platform.issuer,
            "jwks_url": platform.jwks_url,
            "auth_login_url": platform.auth_login_url,
            "auth_token_url": platform.auth_token_url,
            "auth_audience": platform.auth_audience,
            "name": platform.name,
            "details": dict(platform.details or {}),
            "deployments": sorted(
                (d.deployment_id, d.status)
                for d in s.scalars(select(Deployment).where(Deployment.platform_id == platform.id))
            ),
        }


def test_registering_again_is_refused_and_changes_nothing(runner, client, moodle, db):
    assert client.get(moodle.registration_url()).status_code == 200
    platform_id = _row(db, "moodle-client-1")["id"]
    approved = runner.invoke(args=["platforms", "approve-deployment", str(platform_id), "7"])
    assert approved.exit_code == 0, approved.output
    before = _row(db, "moodle-client-1")

    # The same issuer + client_id again, now naming other keys, URLs, audience and deployment.
    moodle.overrides = {
        "jwks_uri": f"{moodle.url}/other-jwks",
        "authorization_endpoint": f"{moodle.url}/other-auth",
        "token_endpoint": f"{moodle.url}/other-token",
        "authorization_server": f"{moodle.url}/other-audience",
    }
    moodle.deployment_id = "8"
    again = client.get(moodle.registration_url(), headers={"Accept": "application/json"})
    assert again.status_code == 409
    assert again.json["detail"] == ALREADY_REGISTERED
    assert again.json["code"] == "lti.already_registered"
    assert _row(db, "moodle-client-1") == before
    with db.transaction() as s:
        assert len(s.scalars(select(Platform)).all()) == 1
        assert len(s.scalars(select(Deployment)).all()) == 1


def test_an_invitation_does_not_reach_a_registered_platform(runner, client, moodle, db):
    assert client.get(moodle.registration_url()).status_code == 200
    before = _row(db, "moodle-client-1")
    invite = runner.invoke(args=["platforms", "invite"]).output.strip().split("invite=")[1]
    moodle.overrides = {"jwks_uri": f"{moodle.url}/other-jwks"}
    again = client.get(moodle.registration_url(extra=f"&invite={invite}"))
    assert again.status_code == 409 and "already registered here" in again.text
    assert _row(db, "moodle-client-1") == before  # deployment 7 still pending
    # The refusal wrote nothing, so the invitation is still good for a new registration.
    moodle.client_id = "moodle-client-2"
    assert client.get(moodle.registration_url(extra=f"&invite={invite}")).status_code == 200
    assert _row(db, "moodle-client-2")["deployments"] == [("7", "approved")]


def test_new_client_id_of_a_known_issuer_is_a_new_pending_platform(runner, client, moodle, db):
    assert client.get(moodle.registration_url()).status_code == 200
    first = _row(db, "moodle-client-1")
    runner.invoke(args=["platforms", "approve-deployment", str(first["id"]), "7"])
    first = _row(db, "moodle-client-1")
    moodle.client_id, moodle.deployment_id = "moodle-client-2", "9"
    moodle.overrides = {"jwks_uri": f"{moodle.url}/second-jwks"}
    assert client.get(moodle.registration_url()).status_code == 200
    second = _row(db, "moodle-client-2")
    assert second["issuer"] == first["issuer"] and second["id"] != first["id"]
    assert second["jwks_url"] == f"{moodle.url}/second-jwks"
    assert second["deployments"] == [("9", "pending")]
    assert _row(db, "moodle-client-1") == first


def test_an_administrator_changes_urls_with_the_cli_and_it_is_audited(runner, client, moodle, db):
    assert client.get(moodle.registration_url()).status_code == 200
    before = _row(db, "moodle-client-1")
    out = runner.invoke(
        args=[
            "platforms",
            "update",
            str(before["id"]),
            "--jwks-url",
            f"{moodle.url}/rotated-jwks",
            "--auth-audience",
            f"{moodle.url}/audience",
            "--name",
            "Moodle of the faculty",
        ]
    )
    assert out.exit_code == 0, out.output
    assert f"jwks_url: {moodle.url}/jwks -> {moodle.url}/rotated-jwks" in out.output
    after = _row(db, "moodle-client-1")
    assert after["jwks_url"] == f"{moodle.url}/rotated-jwks"
    assert after["auth_audience"] == f"{moodle.url}/audience"
    assert after["name"] == "Moodle of the faculty"
    assert after["auth_login_url"] == before["auth_login_url"]  # not given: unchanged
    with db.transaction() as s:
        (event,) = s.scalars(select(AuditEvent).where(AuditEvent.action == "platform.update"))
        assert event.object_type == "platform" and event.object_id == str(before["id"])
        assert event.actor_label == "cli"
        assert event.details["changes"]["jwks_url"] == {
            "old": f"{moodle.url}/jwks",
            "new": f"{moodle.url}/rotated-jwks",
        }
        assert set(event.details["changes"]) == {"jwks_url", "auth_audience", "name"}

    bad = runner.invoke(args=["platforms", "update", str(before["id"]), "--jwks-url", "ftp://x"])
    assert bad.exit_code != 0 and "jwks_url" in bad.output
    nothing = runner.invoke(args=["platforms", "update", str(before["id"])])
    assert nothing.exit_code != 0 and "nothing to change" in nothing.output
    with db.transaction() as s:  # refusals audit nothing and change nothing
        assert len(s.scalars(select(AuditEvent)).all()) == 1
    assert _row(db, "moodle-client-1")["jwks_url"] == f"{moodle.url}/rotated-jwks"


def test_wrong_token_is_reported_without_the_remote_answer(client, moodle, db):
    page = client.get(moodle.registration_url(token="wrong"))
    assert page.status_code == 400
    assert UNREADABLE.replace("'", "&#39;") in page.text
    assert "401" not in page.text and "missing registration token" not in page.text
    with db.transaction() as s:
        assert s.scalars(select(Platform)).all() == []


def test_issuer_on_another_domain_is_refused(client, db):
    platform = SpecPlatform("moodle", "1", issuer="https://elsewhere.example")
    try:
        page = client.get(platform.registration_url())
        assert page.status_code == 400 and "not on the origin" in page.text
        assert "elsewhere.example" not in page.text  # the remote claim is not echoed
        assert platform.registrations == []
    finally:
        platform.server.stop()


def test_issuer_on_the_same_host_but_another_port_is_refused(client, db, moodle):
    other = SpecPlatform("moodle", "1", issuer=moodle.url)  # 127.0.0.1, another port
    try:
        page = client.get(other.registration_url())
        assert page.status_code == 400 and "not on the origin" in page.text
        assert other.registrations == []
        with db.transaction() as s:
            assert s.scalars(select(Platform)).all() == []
    finally:
        other.server.stop()


def test_redirects_are_refused(client, moodle, db):
    moved = client.get(moodle.registration_url(path="/moved-configuration"))
    assert moved.status_code == 400 and UNREADABLE.replace("'", "&#39;") in moved.text
    moodle.overrides = {"registration_endpoint": f"{moodle.url}/moved-register"}
    posted = client.get(moodle.registration_url())
    assert posted.status_code == 400
    assert moodle.registrations == []  # the 307 was not followed with our registration
    with db.transaction() as s:
        assert s.scalars(select(Platform)).all() == []


@pytest.mark.parametrize("member", registration.ENDPOINTS)
def test_endpoints_must_be_https_unless_loopback(client, moodle, db, member):
    moodle.overrides = {member: "http://lms.example.edu/endpoint"}
    page = client.get(moodle.registration_url())
    assert page.status_code == 400 and UNREADABLE.replace("'", "&#39;") in page.text
    assert moodle.registrations == []
    with db.transaction() as s:
        assert s.scalars(select(Platform)).all() == []


def test_plain_http_configuration_only_for_loopback_outside_production(app, moodle):
    url = f"{moodle.url}/.well-known/openid-configuration"
    with app.test_request_context():
        with pytest.raises(RegistrationError, match="must be an https URL"):
            registration.fetch_configuration(url, TOKEN, allow_http_loopback=False)
        with pytest.raises(RegistrationError, match="must be an https URL"):
            registration.fetch_configuration(
                "http://lms.example.edu/config", TOKEN, allow_http_loopback=True
            )
        config = registration.fetch_configuration(url, TOKEN, allow_http_loopback=True)
    assert config["issuer"] == moodle.url


def _register(app, db, moodle, *, private_networks: bool, invite: str | None = None):
    with app.test_request_context(), db.transaction() as s:
        return registration.register(
            s,
            openid_configuration=f"{moodle.url}/.well-known/openid-configuration",
            registration_token=TOKEN,
            invite=invite,
            base_url=app.config["BASE_URL"],
            auto_approve=False,
            allow_http_loopback=True,
            private_networks=private_networks,
        )


def test_uninvited_registration_reaches_public_addresses_only(app, db, moodle, runner):
    # What production does (private_networks off): the stranger's URL points into the
    # tool's own network; nothing is fetched there and the answer says nothing about it.
    with pytest.raises(RegistrationError) as refused:
        _register(app, db, moodle, private_networks=False)
    assert str(refused.value) == UNREADABLE
    assert moodle.registrations == []
    with db.transaction() as s:
        assert s.scalars(select(Platform)).all() == []
    # An administrator's invitation vouches for an on-premises LMS on a private address.
    invite = runner.invoke(args=["platforms", "invite"]).output.strip().split("invite=")[1]
    result = _register(app, db, moodle, private_networks=False, invite=invite)
    assert result.approved and len(moodle.registrations) == 1


def test_the_view_allows_private_networks_only_outside_production(app, client, moodle):
    assert app.config["ENV"] != "production"
    assert client.get(moodle.registration_url()).status_code == 200
    assert len(moodle.registrations) == 1


def test_register_without_parameters_explains_itself(client):
    page = client.get("/lti/register")
    assert page.status_code == 400 and "Dynamic Registration" in page.text


# -- which configuration URL may speak for which issuer -----------------------------------------
def test_vendor_hosts_are_an_explicit_named_list():
    assert VENDOR_CONFIG_HOSTS == {
        "https://canvas.instructure.com": (".instructure.com",),
        "https://canvas.beta.instructure.com": (".instructure.com",),
        "https://canvas.test.instructure.com": (".instructure.com",),
    }
    config = "https://school.instructure.com/api/lti/security/openid-configuration"
    for issuer in VENDOR_CONFIG_HOSTS:
        assert config_url_allowed(config, issuer)
    refused = [
        # Not "any two hosts with the suffix": the issuer must be in the list, exactly.
        ("https://school.instructure.com/config", "https://victim.instructure.com"),
        ("https://school.instructure.com/config", "https://canvas.instructure.com/"),
        ("https://school.instructure.com/config", "http://canvas.instructure.com"),
        ("https://school.canvaslms.com/config", "https://canvas.instructure.com"),
        ("http://school.instructure.com/config", "https://canvas.instructure.com"),
        ("https://school.instructure.com:8443/config", "https://canvas.instructure.com"),
        ("https://instructure.com/config", "https://canvas.instructure.com"),
        ("https://school.instructure.com./config", "https://canvas.instructure.com"),
        ("https://school.instructure.com.evil.test/config", "https://canvas.instructure.com"),
        ("https://evilinstructure.com/config", "https://canvas.instructure.com"),
        ("https://canvas.instructure.com@evil.test/config", "https://canvas.instructure.com"),
    ]
    for config_url, issuer in refused:
        assert not config_url_allowed(config_url, issuer), (config_url, issuer)


HOSTS = [
    "lms.example.edu",
    "LMS.Example.EDU",
    "lms.example.edu.",
    "other.example.edu",
    "example.edu",
    "lms.example.edu.evil.test",
    "127.0.0.1",
    "localhost",
    "[::1]",
]


@st.composite
def origins(draw: st.DrawFn) -> tuple[str, str, int | None]:
    return (
        draw(st.sampled_from(["http", "https", "HTTPS"])),
        draw(st.sampled_from(HOSTS)),
        draw(st.sampled_from([None, 80, 443, 8080, 8443])),
    )


def _url(origin: tuple[str, str, int | None], path: str) -> str:
    scheme, host, port = origin
    return f"{scheme}://{host}{'' if port is None else f':{port}'}{path}"


def _same_origin(a: tuple[str, str, int | None], b: tuple[str, str, int | None]) -> bool:
    def norm(o: tuple[str, str, int | None]) -> tuple[str, str, int]:
        scheme = o[0].lower()
        return scheme, o[1].lower(), o[2] or (443 if scheme == "https" else 80)

    return norm(a) == norm(b)


@settings(max_examples=400, deadline=None)
@given(
    issuer=origins(),
    config=origins(),
    issuer_path=st.sampled_from(["", "/", "/moodle"]),
    config_path=st.sampled_from(["/.well-known/openid-configuration", "/mod/lti/openid.php?x=1"]),
)
def test_only_the_issuers_exact_origin_may_speak_for_it(issuer, config, issuer_path, config_path):
    """Scheme, host (case aside; a trailing dot is another name) and port, default ports
    normalised: any difference is refused."""
    allowed = config_url_allowed(_url(config, config_path), _url(issuer, issuer_path))
    assert allowed == _same_origin(issuer, config), (issuer, config)
