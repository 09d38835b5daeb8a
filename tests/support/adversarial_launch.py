"""Launches driven through Flask's test client (fast: no HTTP server for the tool).

The independent platform (``support.lti_platform.LaunchPlatform``) still runs on
127.0.0.1 and still builds and signs the messages; only the tool side is reached
in-process. ``platform.connect("http://localhost")`` must match the app's BASE_URL.

Forgeries start from ``claims_template``: the claims of a message the platform
really built, so every claim an attacker does not touch is exactly what a real
launch carries and each refusal is caused by the defect under test alone.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from flask.testing import FlaskClient

from lti_app.lti.login import BROWSER_COOKIE
from support.adversarial_tokens import decode_unverified, load_private, sign_rs
from support.lti_platform import LaunchPlatform, LaunchSpec, parse_form

TOOL_URL = "http://localhost"


@dataclass(frozen=True)
class Login:
    state: str
    nonce: str
    auth_url: str


@dataclass(frozen=True)
class Launched:
    token: str  # the launch session token (the /s/<token>/ part)
    form: dict[str, str]  # what the platform posted (id_token, state)
    status: int


def login_params(platform: LaunchPlatform, **extra: str) -> dict[str, str]:
    params = {
        "iss": platform.issuer,
        "login_hint": "hint-" + secrets.token_hex(4),
        "target_link_uri": f"{TOOL_URL}/lti/launch",
        "client_id": platform.client_id,
        "lti_deployment_id": platform.deployment_id,
    }
    params.update(extra)
    return params


def login(client: FlaskClient, platform: LaunchPlatform, **extra: str) -> Login:
    """The OIDC login step: the tool stores a state and redirects to the platform."""
    answer = client.get("/lti/login", query_string=login_params(platform, **extra))
    assert answer.status_code == 302, answer.get_data(as_text=True)[:500]
    location = answer.headers["Location"]
    query = parse_qs(urlsplit(location).query)
    return Login(query["state"][0], query["nonce"][0], location)


def browser_cookie(client: FlaskClient) -> str | None:
    cookie = client.get_cookie(BROWSER_COOKIE)
    return cookie.value if cookie is not None else None


def launch(client: FlaskClient, platform: LaunchPlatform, spec: LaunchSpec) -> Launched:
    """A whole launch: login at the tool, authorization at the platform, launch POST."""
    params = platform.login_params(spec)
    answer = client.get("/lti/login", query_string=params)
    assert answer.status_code == 302, answer.get_data(as_text=True)[:500]
    auth = requests.get(answer.headers["Location"], timeout=10)
    assert auth.status_code == 200, auth.text
    _action, form = parse_form(auth.text)
    posted = client.post("/lti/launch", data=form)
    token = ""
    if posted.status_code == 303:
        token = urlsplit(posted.headers["Location"]).path.split("/")[2]
    return Launched(token=token, form=form, status=posted.status_code)


class Forger:
    """Signs claims as the platform would (its real key and kid), or as an attacker."""

    def __init__(self, platform: LaunchPlatform, client: FlaskClient) -> None:
        self.platform = platform
        self.private = load_private(platform.private_key)
        self.kid = requests.get(platform.jwks_url, timeout=10).json()["keys"][0]["kid"]
        first = launch(client, platform, LaunchSpec())
        assert first.status == 303, "the template launch itself must succeed"
        _header, claims = decode_unverified(first.form["id_token"])
        self.template = claims
        self.spent = first.form  # a launch already completed: its nonce and state are used

    def claims(self, nonce: str, **changes: Any) -> dict[str, Any]:
        now = int(time.time())
        body = dict(self.template, nonce=nonce, iat=now, exp=now + 300)
        body.update(changes)
        return body

    def sign(self, claims: Any) -> str:
        return sign_rs(claims, self.private, self.kid)
