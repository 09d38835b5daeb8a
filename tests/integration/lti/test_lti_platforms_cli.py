"""`skillsign platforms ...` and the registry behind it."""

from __future__ import annotations

import json

from sqlalchemy import select

from lti_app.db.models import Deployment, Platform


def add(runner, *args: str):
    return runner.invoke(args=["platforms", "add", *args])


def test_add_with_moodle_preset_and_list(runner, db):
    out = add(
        runner,
        "--preset",
        "moodle",
        "--site-url",
        "https://moodle.example.edu",
        "--client-id",
        "abc123",
        "--deployment-id",
        "1",
        "--json",
    )
    assert out.exit_code == 0, out.output
    info = json.loads(out.output)
    assert info["issuer"] == "https://moodle.example.edu"
    assert info["auth_login_url"] == "https://moodle.example.edu/mod/lti/auth.php"
    assert info["auth_token_url"] == "https://moodle.example.edu/mod/lti/token.php"
    assert info["jwks_url"] == "https://moodle.example.edu/mod/lti/certs.php"
    assert info["product"] == "moodle"
    assert info["deployments"] == [{"deployment_id": "1", "status": "approved"}]
    listed = json.loads(runner.invoke(args=["platforms", "list", "--json"]).output)
    assert [p["client_id"] for p in listed] == ["abc123"]


def test_add_with_canvas_preset(runner):
    out = add(runner, "--preset", "canvas", "--client-id", "10000000000001", "--json")
    info = json.loads(out.output)
    assert info["issuer"] == "https://canvas.instructure.com"
    assert info["auth_login_url"] == "https://sso.canvaslms.com/api/lti/authorize_redirect"
    assert info["auth_token_url"] == "https://sso.canvaslms.com/login/oauth2/token"
    assert info["jwks_url"] == "https://sso.canvaslms.com/api/lti/security/jwks"


def test_manual_add_needs_every_endpoint(runner):
    out = add(runner, "--issuer", "https://lms.example", "--client-id", "x")
    assert out.exit_code == 1
    assert "missing --auth-login-url, --auth-token-url, --jwks-url" in out.output


def test_bad_url_and_duplicates_are_refused(runner):
    base = [
        "--client-id",
        "c",
        "--auth-token-url",
        "https://lms.example/token",
        "--jwks-url",
        "https://lms.example/jwks",
    ]
    out = add(
        runner,
        "--issuer",
        "https://lms.example",
        "--auth-login-url",
        "ftp://lms.example/auth",
        *base,
    )
    assert out.exit_code == 1 and "auth_login_url: expected an absolute http(s) URL" in out.output
    good = [
        "--issuer",
        "https://lms.example",
        "--auth-login-url",
        "https://lms.example/auth",
        *base,
    ]
    assert add(runner, *good).exit_code == 0
    again = add(runner, *good)
    assert again.exit_code == 1 and "already registered" in again.output


def test_approve_and_remove(runner, db):
    add(runner, "--preset", "canvas", "--client-id", "k1")
    with db.transaction() as s:
        platform_id = s.scalars(select(Platform.id)).one()
    out = runner.invoke(args=["platforms", "approve-deployment", str(platform_id), "dep-7"])
    assert out.exit_code == 0 and "added and approved" in out.output
    with db.transaction() as s:
        assert s.scalars(select(Deployment.status)).one() == "approved"
    unknown = runner.invoke(args=["platforms", "approve-deployment", "999", "dep-7"])
    assert unknown.exit_code == 1 and "no platform '999'" in unknown.output
    gone = runner.invoke(args=["platforms", "remove", str(platform_id), "--yes"])
    assert gone.exit_code == 0, gone.output
    with db.transaction() as s:
        assert s.scalars(select(Platform)).all() == [] and s.scalars(select(Deployment)).all() == []


def test_invite_prints_a_registration_url(runner, app):
    out = runner.invoke(args=["platforms", "invite", "--hours", "2"])
    assert out.exit_code == 0
    assert out.output.strip().startswith(app.config["BASE_URL"] + "/lti/register?invite=")
