"""Launches that must be refused, each with its own message, and what must still work."""

from __future__ import annotations

import logging
import time

import pytest
import requests
from sqlalchemy import select
from support.lti_platform import Browser, LaunchSpec, rsa_pem
from support.servers import serve

from lti_app import create_app
from lti_app.db.models import Deployment, LaunchSession, Nonce, User
from lti_app.lti.jwks import platform_keys


def refused(result, code: str, status: int, phrase: str) -> None:
    """Refused with this status and sentence; the same POST as JSON names the code."""
    assert result.launch.status_code == status, result.launch.text[:500]
    assert phrase in result.launch.text
    assert "Traceback" not in result.launch.text
    # A refused launch rolls back, so the same POST is refused the same way again.
    again = result.launch.request
    answer = requests.post(
        again.url,
        data=result.form,
        headers={"Accept": "application/json", "Cookie": again.headers.get("Cookie", "")},
        timeout=10,
    )
    assert answer.status_code == status
    assert answer.json()["code"] == code


def launch_json(browser: Browser, action: str, form: dict[str, str]):
    return browser.http.post(action, data=form, headers={"Accept": "application/json"})


def test_bad_signature_is_refused(platform, browser, db):
    result = browser.launch(platform, LaunchSpec(sign_with=rsa_pem()))
    refused(result, "lti.bad_signature", 400, "signature does not verify")
    with db.transaction() as s:
        assert s.scalars(select(User)).all() == []


def test_wrong_audience_message(platform, browser):
    def other_tool(message):
        message = dict(message, aud="another-tool")
        message.pop("azp", None)
        return message

    result = browser.launch(platform, LaunchSpec(tamper=other_tool))
    refused(result, "lti.wrong_audience", 400, "issued for another tool")


def test_azp_must_name_this_tool(platform, browser):
    result = browser.launch(
        platform,
        LaunchSpec(tamper=lambda m: m | {"aud": [platform.client_id, "other"], "azp": "other"}),
    )
    refused(result, "lti.wrong_azp", 400, "is not this tool&#39;s client_id")


def test_several_audiences_need_azp(platform, browser):
    def two_audiences(message):
        message = dict(message, aud=[platform.client_id, "other"])
        message.pop("azp", None)
        return message

    refused(
        browser.launch(platform, LaunchSpec(tamper=two_audiences)),
        "lti.missing_azp",
        400,
        "no azp claim",
    )


def test_expired_token_is_refused(platform, browser):
    past = int(time.time()) - 3600
    result = browser.launch(
        platform, LaunchSpec(tamper=lambda m: m | {"iat": past - 60, "exp": past})
    )
    refused(result, "lti.expired", 401, "The id_token expired")


def test_token_from_the_future_is_refused(platform, browser):
    future = int(time.time()) + 3600
    result = browser.launch(platform, LaunchSpec(tamper=lambda m: m | {"iat": future}))
    refused(result, "lti.not_yet_valid", 401, "in the future")


def test_replayed_id_token_is_refused(platform, browser, db):
    first = browser.launch(platform, LaunchSpec())
    assert first.launch.status_code == 303
    again = browser.post_launch(first.launch.url, first.form)
    assert again.status_code == 401
    assert "already used" in again.text and "replayed" in again.text
    answer = launch_json(browser, first.launch.url, first.form)
    assert answer.json()["code"] == "lti.replay"
    with db.transaction() as s:
        assert len(s.scalars(select(LaunchSession)).all()) == 1
        assert len(s.scalars(select(Nonce)).all()) == 1


def test_missing_state_is_refused(platform, browser):
    login = browser.login(platform, LaunchSpec())
    action, form = browser.authorize(login)
    form.pop("state")
    answer = browser.post_launch(action, form)
    assert answer.status_code == 400 and "no state parameter" in answer.text
    assert launch_json(browser, action, form).json()["code"] == "lti.missing_state"


def test_state_from_another_browser_is_refused(platform, browser):
    """Login CSRF: a launch started in one browser cannot be finished in another."""
    login = browser.login(platform, LaunchSpec())
    action, form = browser.authorize(login)
    victim = Browser()
    answer = victim.post_launch(action, form)
    assert answer.status_code == 401 and "did not send back the cookie" in answer.text
    # Refused attempts burn nothing: the right browser can still finish the launch.
    assert browser.post_launch(action, form).status_code == 303


def test_unknown_state_is_refused(platform, browser):
    login = browser.login(platform, LaunchSpec())
    action, form = browser.authorize(login)
    answer = browser.post_launch(action, form | {"state": "made-up-state"})
    assert answer.status_code == 401 and "state is unknown" in answer.text


def test_target_link_uri_must_point_at_the_tool(platform, browser):
    result = browser.launch(
        platform,
        LaunchSpec(
            tamper=lambda m: (
                m
                | {
                    "https://purl.imsglobal.org/spec/lti/claim/target_link_uri": "https://evil.example/x"
                }
            )
        ),
    )
    refused(result, "lti.wrong_target", 400, "does not point at this tool")


def test_hs256_signed_with_the_public_key_is_refused(platform, browser):
    login = browser.login(platform, LaunchSpec())
    action, form = browser.authorize(login)
    header, body, _sig = form["id_token"].split(".")
    import base64
    import json

    forged_header = (
        base64.urlsafe_b64encode(
            json.dumps(
                {"alg": "HS256", "kid": json.loads(base64.urlsafe_b64decode(header + "=="))["kid"]}
            ).encode()
        )
        .rstrip(b"=")
        .decode()
    )
    answer = browser.post_launch(action, form | {"id_token": f"{forged_header}.{body}.AAAA"})
    assert answer.status_code == 400 and "LTI requires RS256" in answer.text


def test_unknown_deployment_is_recorded_pending_then_approved(platform, browser, db, runner):
    result = browser.launch(platform, LaunchSpec(deployment_id="new-install"))
    refused(result, "lti.pending_deployment", 403, "waits for a skillsign administrator")
    with db.transaction() as s:
        pending = s.scalars(
            select(Deployment).where(Deployment.deployment_id == "new-install")
        ).one()
        assert pending.status == "pending" and pending.approved_at is None
    out = runner.invoke(
        args=["platforms", "approve-deployment", str(platform.platform_id), "new-install"]
    )
    assert out.exit_code == 0, out.output
    again = browser.launch(platform, LaunchSpec(deployment_id="new-install"))
    assert again.launch.status_code == 303


def test_auto_approve_setting_accepts_new_deployments(app, platform, browser, db):
    app.config["AUTO_APPROVE_DEPLOYMENTS"] = True
    result = browser.launch(platform, LaunchSpec(deployment_id="canvas-install-2"))
    assert result.launch.status_code == 303
    with db.transaction() as s:
        row = s.scalars(
            select(Deployment).where(Deployment.deployment_id == "canvas-install-2")
        ).one()
        assert row.status == "approved"


def test_platform_key_rotation_is_accepted_after_one_refetch(app, platform, browser):
    assert browser.launch(platform, LaunchSpec()).launch.status_code == 303
    fetched = platform.jwks_requests
    assert browser.launch(platform, LaunchSpec()).launch.status_code == 303
    assert platform.jwks_requests == fetched  # cached: no fetch per launch
    platform.rotate_key()
    result = browser.launch(platform, LaunchSpec())
    assert result.launch.status_code == 303, result.launch.text
    assert platform.jwks_requests == fetched + 1


def test_unknown_kid_is_refused_after_one_refetch(platform, browser):
    assert browser.launch(platform, LaunchSpec()).launch.status_code == 303
    before = platform.jwks_requests

    spec = LaunchSpec(sign_with=rsa_pem())
    platform.rotate_key()  # the next token carries a kid...
    platform.published = platform.published[1:] or [rsa_pem()]  # ...that the JWKS no longer lists
    result = browser.launch(platform, spec)
    refused(result, "lti.unknown_kid", 400, "which the platform does not publish")
    assert platform.jwks_requests == before + 1
    # A second unknown kid inside the cooldown does not make the tool ask again.
    browser.launch(platform, LaunchSpec(sign_with=rsa_pem()))
    assert platform.jwks_requests == before + 1


def test_every_refusal_logs_one_line_without_the_token(platform, browser, caplog):
    caplog.set_level(logging.INFO)
    result = browser.launch(platform, LaunchSpec(sign_with=rsa_pem()))
    token = result.form["id_token"]
    refusals = [r for r in caplog.records if r.getMessage() == "request refused"]
    assert len(refusals) == 1
    assert refusals[0].code == "lti.bad_signature"
    assert all(token not in r.getMessage() and token not in str(r.__dict__) for r in caplog.records)


@pytest.fixture
def second_app(app, database_url, tmp_path):
    """Another app process over the same database (its own caches, same keys)."""
    other = create_app(
        {
            "ENV": "test",
            "TESTING": True,
            "DATABASE_URL": database_url,
            "INSTANCE_DIR": str(tmp_path / "second"),
            "KEYS_DIR": app.config["KEYS_DIR"],
            "SECRET_KEY": app.config["SECRET_KEY"],
        }
    )
    server = serve(other)
    other.config["BASE_URL"] = app.config["BASE_URL"]
    yield server
    server.stop()
    other.extensions["skillsign.db"].dispose()


def test_login_on_one_instance_launch_on_another(platform, browser, second_app):
    login = browser.login(platform, LaunchSpec())
    action, form = browser.authorize(login)
    other_action = action.replace(platform.tool_url, second_app.url)
    answer = browser.post_launch(other_action, form)
    assert answer.status_code == 303, answer.text


def test_replay_refused_on_another_instance(platform, browser, second_app):
    first = browser.launch(platform, LaunchSpec())
    assert first.launch.status_code == 303
    replay = browser.post_launch(
        first.launch.url.replace(platform.tool_url, second_app.url), first.form
    )
    assert replay.status_code == 401 and "already used" in replay.text


def test_jwks_cache_is_per_process(app, platform, browser):
    browser.launch(platform, LaunchSpec())
    with app.app_context():
        assert platform_keys().fetches == 1
