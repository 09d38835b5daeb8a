"""LTI Dynamic Registration against a small platform that follows the spec (served here)."""

from __future__ import annotations

import threading
from urllib.parse import quote

import pytest
from flask import Flask, Response, jsonify, request
from sqlalchemy import select
from support.servers import serve

from lti_app.db.models import Deployment, Platform

TOKEN = "registration-token-123"
TOOL_CONFIG = "https://purl.imsglobal.org/spec/lti-tool-configuration"
PLATFORM_CONFIG = "https://purl.imsglobal.org/spec/lti-platform-configuration"


class SpecPlatform:
    """OpenID configuration + registration endpoint, both behind the registration token."""

    def __init__(self, product: str, deployment_id: str | None, issuer: str | None = None) -> None:
        self.product = product
        self.deployment_id = deployment_id
        self.issuer_override = issuer
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
                }
            )

        @app.post("/register")
        def register() -> Response:
            if not authorized():
                return Response("missing registration token", status=401)
            body = request.get_json()
            with self.lock:
                self.registrations.append(body)
            answer = dict(body, client_id=f"{self.product}-client-1")
            tool = dict(body[TOOL_CONFIG])
            if self.deployment_id:
                tool["deployment_id"] = self.deployment_id
            answer[TOOL_CONFIG] = tool
            return jsonify(answer)

        self.server = serve(app)
        self.url = self.server.url

    def registration_url(self, token: str = TOKEN, extra: str = "") -> str:
        config = quote(f"{self.url}/.well-known/openid-configuration", safe="")
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


def test_registering_again_updates_the_platform(client, moodle, db):
    assert client.get(moodle.registration_url()).status_code == 200
    assert client.get(moodle.registration_url()).status_code == 200
    with db.transaction() as s:
        assert len(s.scalars(select(Platform)).all()) == 1


def test_wrong_token_is_reported(client, moodle, db):
    page = client.get(moodle.registration_url(token="wrong"))
    assert page.status_code == 400
    assert "Could not read the platform configuration" in page.text and "401" in page.text
    with db.transaction() as s:
        assert s.scalars(select(Platform)).all() == []


def test_issuer_on_another_domain_is_refused(client, db):
    platform = SpecPlatform("moodle", "1", issuer="https://elsewhere.example")
    try:
        page = client.get(platform.registration_url())
        assert page.status_code == 400 and "not on the domain" in page.text
        assert platform.registrations == []
    finally:
        platform.server.stop()


def test_register_without_parameters_explains_itself(client):
    page = client.get("/lti/register")
    assert page.status_code == 400 and "Dynamic Registration" in page.text
