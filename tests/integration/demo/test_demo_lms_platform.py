"""The demo LMS as a platform on its own: what it accepts, what it refuses, and why."""

from __future__ import annotations

import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from support.lti_platform import parse_form

from keys import KeyKind, KeyStore
from lti_app import create_app
from lti_app.db import utcnow
from lti_app.demo import CLIENT_ID, DEPLOYMENT_ID, create_demo_lms
from lti_app.demo.messages import AGS_CLAIM, LTI, NRPS_CLAIM, SCOPE_NRPS, SCOPE_SCORE
from lti_app.demo.seed import PEOPLE, PRESET_LINK_ID
from lti_app.lms import (
    AccessTokenCache,
    PlatformCredentials,
    ServiceError,
    ServicesClient,
)
from lti_app.services.outbox import Delivered, PermanentFailure
from lti_app.services.passback import classify


def _client(stack, app) -> ServicesClient:
    creds = PlatformCredentials(
        issuer=f"{stack.url}/demo-lms",
        client_id=CLIENT_ID,
        token_url=f"{stack.url}/demo-lms/token",
    )
    return ServicesClient(creds, KeyStore(app.config["KEYS_DIR"]), tokens=AccessTokenCache())


def _auth_params(browser, user_id="demo-instructor", link_id=PRESET_LINK_ID) -> dict[str, str]:
    """Start a launch at the demo LMS and build the auth request the tool would send."""
    start = browser.http.post(
        browser.lms + "/launch",
        data={"csrf_token": browser.csrf(), "link_id": link_id, "user_id": user_id},
        allow_redirects=False,
        timeout=10,
    )
    assert start.status_code == 302
    login = {k: v[0] for k, v in parse_qs(urlsplit(start.headers["Location"]).query).items()}
    assert login["iss"] == browser.lms and login["client_id"] == CLIENT_ID
    assert login["lti_deployment_id"] == DEPLOYMENT_ID
    return {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": CLIENT_ID,
        "redirect_uri": f"{browser.base}/lti/launch",
        "state": "state-123",
        "nonce": "nonce-456",
        "login_hint": login["login_hint"],
        "lti_message_hint": login["lti_message_hint"],
    }


def test_never_in_production(database_url, tmp_path):
    production = {
        "ENV": "production",
        "SECRET_KEY": "s" * 40,
        "BASE_URL": "https://tool.example",
        "INSTANCE_DIR": str(tmp_path),
        "DATABASE_URL": database_url,
    }
    with pytest.raises(RuntimeError, match="only in"):
        create_demo_lms(production)
    app = create_app(production)
    assert "skillsign.demo_lms" not in app.extensions
    assert app.test_client().get("/demo-lms/").status_code == 404
    app.extensions["skillsign.db"].dispose()


def test_own_session_cookie(client):
    response = client.get("/demo-lms/")
    assert response.status_code == 200
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("skillsign_demo_lms_session=")
    assert "Path=/demo-lms" in cookie and "HttpOnly" in cookie


def test_keys_are_private_files_in_the_instance_dir(app, client):
    client.get("/demo-lms/.well-known/jwks.json")
    keys_dir = KeyStore(f"{app.config['INSTANCE_DIR']}/demo-lms/keys")
    record = keys_dir.active(KeyKind.RSA)
    assert (keys_dir.directory / f"{record.kid}.pem").stat().st_mode & 0o077 == 0
    published = client.get("/demo-lms/.well-known/jwks.json").get_json()
    assert [k["kid"] for k in published["keys"]] == [record.kid]
    assert "d" not in published["keys"][0]  # public parts only


def test_auth_signs_a_complete_launch(stack, browser):
    params = _auth_params(browser)
    answer = browser.http.get(browser.lms + "/auth", params=params, timeout=10)
    assert answer.status_code == 200
    assert "script-src 'nonce-" in answer.headers["Content-Security-Policy"]
    action, fields = parse_form(answer.text)
    assert action == params["redirect_uri"] and fields["state"] == "state-123"
    keyset = KeySet.import_key_set(
        browser.http.get(browser.lms + "/.well-known/jwks.json", timeout=10).json()
    )
    claims = jwt.decode(fields["id_token"], keyset, algorithms=["RS256"]).claims
    assert claims["iss"] == browser.lms and claims["aud"] == CLIENT_ID == claims["azp"]
    assert claims["nonce"] == "nonce-456" and claims["sub"] == "demo-instructor"
    assert claims["name"] == "Ana María Núñez"
    assert claims[LTI + "message_type"] == "LtiResourceLinkRequest"
    assert claims[LTI + "custom"]["skillsign_level"] == "emerging"
    assert any(r.endswith("membership#Instructor") for r in claims[LTI + "roles"])
    assert claims[AGS_CLAIM]["lineitem"].endswith("/lineitems/1")
    assert SCOPE_SCORE in claims[AGS_CLAIM]["scope"]
    assert claims[NRPS_CLAIM]["context_memberships_url"].endswith("/memberships")
    assert claims["exp"] - claims["iat"] <= 300


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        ({"redirect_uri": "https://evil.example/lti/launch"}, 400, "not registered"),
        ({"client_id": "someone-else"}, 400, "unknown client_id"),
        ({"login_hint": "demo-learner-1"}, 403, "does not match"),
        ({"lti_message_hint": "forged"}, 400, "lti_message_hint"),
        ({"nonce": ""}, 400, "no nonce"),
        ({"response_mode": "fragment"}, 400, "form_post"),
    ],
)
def test_auth_refuses_a_bad_request(stack, browser, change, status, words):
    params = _auth_params(browser) | change
    answer = browser.http.get(browser.lms + "/auth", params=params, timeout=10)
    assert answer.status_code == status
    assert words in answer.text
    assert "id_token" not in answer.text


def test_token_endpoint_checks_the_client_assertion(app, stack, browser):
    client = _client(stack, app)
    token = client.access_token([SCOPE_NRPS])
    assert token and client.access_token([SCOPE_NRPS]) == token  # cached

    token_url = f"{stack.url}/demo-lms/token"
    assertion = client.client_assertion()
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
        "scope": SCOPE_NRPS,
    }
    assert requests.post(token_url, data=form, timeout=10).status_code == 200
    replay = requests.post(token_url, data=form, timeout=10)
    assert replay.status_code == 400 and "jti" in replay.json()["error_description"]

    fresh = client.client_assertion()
    bad_scope = requests.post(
        token_url, data=form | {"client_assertion": fresh, "scope": "openid"}, timeout=10
    )
    assert bad_scope.json()["error"] == "invalid_scope"

    stranger = RSAKey.import_key(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    now = int(time.time())
    forged = jwt.encode(
        {"alg": "RS256", "kid": KeyStore(app.config["KEYS_DIR"]).active(KeyKind.RSA).kid},
        {
            "iss": CLIENT_ID,
            "sub": CLIENT_ID,
            "aud": token_url,
            "iat": now,
            "exp": now + 60,
            "jti": "x",
        },
        stranger,
    )
    refused = requests.post(token_url, data=form | {"client_assertion": forged}, timeout=10)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_client"
    unauthenticated = requests.get(f"{stack.url}/demo-lms/api/courses/demo-course-1/memberships")
    assert unauthenticated.status_code == 401


def test_nrps_pages_with_link_headers(app, stack):
    client = _client(stack, app)
    url = f"{stack.url}/demo-lms/api/courses/demo-course-1/memberships"
    members = list(client.memberships(url, limit=2))
    assert [m["user_id"] for m in members] == [sub for sub, *_ in PEOPLE]
    test_student = next(m for m in members if m["user_id"] == "demo-learner-5")
    assert "email" not in test_student  # like Canvas's Test Student
    learners = list(client.memberships(url, role="Learner"))
    assert {m["user_id"] for m in learners} == {s for s, *_, role in PEOPLE if role == "learner"}


def test_gradebook_behaves_like_canvas(app, stack):
    client = _client(stack, app)
    lineitems_url = f"{stack.url}/demo-lms/api/courses/demo-course-1/lineitems"
    scopes = [
        "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
        "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
        SCOPE_SCORE,
    ]
    lineitem = client.ensure_lineitem(
        lineitems_url,
        scopes=scopes,
        resource_link_id=PRESET_LINK_ID,
        label="checklist",
        score_maximum=10,
        tag="skillsign",
    )
    again = client.ensure_lineitem(
        lineitems_url,
        scopes=scopes,
        resource_link_id=PRESET_LINK_ID,
        label="checklist",
        score_maximum=10,
        tag="skillsign",
    )
    assert lineitem == again  # found by resource link and tag, not made twice
    now = utcnow()
    score = {
        "userId": "demo-learner-1",
        "scoreGiven": 4,
        "scoreMaximum": 10,
        "activityProgress": "InProgress",
        "gradingProgress": "FullyGraded",
        "timestamp": now.isoformat(timespec="milliseconds"),
    }
    client.post_score(lineitem, score, scopes=scopes)
    [result] = client.results(lineitem, scopes=scopes)
    assert (result["userId"], result["resultScore"], result["resultMaximum"]) == (
        "demo-learner-1",
        4.0,
        10.0,
    )

    with pytest.raises(ServiceError) as staff:
        client.post_score(lineitem, score | {"userId": "demo-ta"}, scopes=scopes)
    assert staff.value.status == 422
    assert isinstance(classify(staff.value), PermanentFailure)

    older = (now - timedelta(minutes=1)).isoformat(timespec="milliseconds")
    with pytest.raises(ServiceError) as stale:
        client.post_score(lineitem, score | {"timestamp": older}, scopes=scopes)
    assert stale.value.status == 400
    assert isinstance(classify(stale.value), Delivered)  # a newer score is already there


def test_deep_link_return_refuses_what_the_tool_did_not_sign(stack, browser):
    stranger = RSAKey.import_key(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    now = int(time.time())
    forged = jwt.encode(
        {"alg": "RS256", "kid": "not-the-tools-key"},
        {"iss": CLIENT_ID, "aud": browser.lms, "iat": now, "exp": now + 60, "nonce": "n"},
        stranger,
    )
    answer = browser.http.post(browser.lms + "/deep-link-return", data={"JWT": forged}, timeout=10)
    assert answer.status_code == 400
    assert "signature not valid" in answer.text
    empty = browser.http.post(browser.lms + "/deep-link-return", data={}, timeout=10)
    assert empty.status_code == 400 and "no JWT" in empty.text


def test_only_staff_can_start_deep_linking(stack, browser):
    answer = browser.http.post(
        browser.lms + "/deep-link",
        data={"csrf_token": browser.csrf(), "user_id": "demo-learner-1"},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 403


def test_launch_form_needs_its_csrf_token(stack, browser):
    answer = browser.http.post(
        browser.lms + "/launch",
        data={"link_id": PRESET_LINK_ID, "user_id": "demo-learner-1"},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 400
