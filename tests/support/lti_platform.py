"""An independent LTI 1.3 platform that launches the tool, built on PyPI ``lti1p3platform``.

The library builds and signs the launch messages (resource link and deep
linking), checks the tool's auth request and validates Deep Linking answers
against the tool's JWKS. This module adds only what a real platform adds
around it: an HTTP server on 127.0.0.1 (OIDC authorization endpoint, JWKS,
deep linking return URL) and per-launch settings. Its framework adapters are
never imported (they need pkg_resources).

Usage::

    platform = LaunchPlatform().start()
    platform.connect(tool_url)            # the tool's /lti/login, /lti/launch, JWKS
    platform.register_in(app)             # the tool's registry (approved deployment)
    browser = Browser()
    result = browser.launch(platform, LaunchSpec(roles=[INSTRUCTOR]))
    result.landing.status_code == 200

Negative cases change the message after the library built it (``tamper``) or
sign with another key (``sign_with``); ``rotate_key()`` models a platform key
rotation.
"""

from __future__ import annotations

import functools
import secrets
import threading
import time
import typing as t
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlencode

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, Response, jsonify, request
from lti1p3platform.jwt_helper import jwt_encode
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.registration import Registration
from lti1p3platform.request import Request, TRequest

from support.servers import serve

LIS = "http://purl.imsglobal.org/vocab/lis/v2"
INSTRUCTOR = f"{LIS}/membership#Instructor"
TEACHING_ASSISTANT = f"{LIS}/membership/Instructor#TeachingAssistant"
LEARNER = f"{LIS}/membership#Learner"
INSTITUTION_INSTRUCTOR = f"{LIS}/institution/person#Instructor"
INSTITUTION_ADMIN = f"{LIS}/institution/person#Administrator"
SYSTEM_ADMIN = f"{LIS}/system/person#Administrator"


def rsa_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@functools.lru_cache(maxsize=64)
def public_pem(private_pem: str) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@dataclass
class LaunchSpec:
    """Who launches, from where, and how the platform should (mis)behave."""

    user_id: str = "learner-1"
    roles: list[str] = field(default_factory=lambda: [LEARNER])
    name: str | None = "Lee Learner"
    email: str | None = "lee@example.edu"
    context_id: str = "course-1"
    context_title: str = "Psychiatric technicians 101"
    resource_link_id: str = "link-1"
    resource_link_title: str = "Competency checklist"
    custom: dict[str, str] | None = None
    deployment_id: str | None = None  # None: the platform's deployment
    deep_linking: bool = False
    ags: bool = True
    nrps: bool = True
    locale: str | None = None
    storage_target: str | None = None  # sent as lti_storage_target at login
    extra_claims: dict[str, t.Any] = field(default_factory=dict)
    # Change the signed message after the library built it (claims already have iat/exp).
    tamper: t.Callable[[dict[str, t.Any]], dict[str, t.Any]] | None = None
    sign_with: str | None = None  # another private key (PEM), same kid header


_PARSED: dict[str, t.Any] = {}
_KIDS: dict[str, str] = {}


class _Registration(Registration):
    """The library's Registration with the private key parsed once, not per launch.

    lti1p3platform re-reads the PEM (and derives the kid through jwcrypto) for
    every message it signs; PyJWT accepts a key object just as well. Without
    this the platform, not the tool, would dominate every launch timing.
    """

    def get_kid(self) -> str | None:
        pem = super().get_platform_private_key()
        if pem is None:
            return None
        if pem not in _KIDS:
            _KIDS[pem] = Registration.get_jwk(pem).get("kid") or ""
        return _KIDS[pem]

    def get_platform_private_key(self) -> t.Any:
        pem = super().get_platform_private_key()
        if pem is None:
            return None
        if pem not in _PARSED:
            _PARSED[pem] = serialization.load_pem_private_key(pem.encode(), password=None)
        return _PARSED[pem]


class _Request(Request):
    def build_metadata(self, req: t.Any) -> TRequest:
        return {
            "method": req.method,
            "form_data": req.form.to_dict(),
            "get_data": req.args.to_dict(),
            "headers": dict(req.headers),
            "content_type": req.content_type,
            "path": req.path,
            "json": None,
        }


class _Config(LTI1P3PlatformConfAbstract):
    def init_platform_config(self, **kwargs: t.Any) -> None:
        self._registration = kwargs["registration"]

    def get_registration_by_params(self, **kwargs: t.Any) -> Registration:
        return self._registration


class _Launch(LTIAdvantageMessageLaunchAbstract):
    spec: LaunchSpec

    def render_launch_form(
        self, launch_data: dict[str, t.Any], **kwargs: t.Any
    ) -> dict[str, t.Any]:
        return launch_data

    def generate_launch_request(self) -> t.Any:
        spec = self.spec
        if spec.tamper is None and spec.sign_with is None:
            return super().generate_launch_request()
        assert self._registration is not None
        if self._dl and self._registration.get_deeplink_launch_url():
            self.set_launch_url(self._registration.get_deeplink_launch_url())
        message, state = self.get_launch_data()
        if self._dl:
            message["https://purl.imsglobal.org/spec/lti/claim/message_type"] = (
                "LtiDeepLinkingRequest"
            )
            message.update(self._deep_linking_launch_data or {})
        now = int(time.time())
        message.update({"iat": now, "exp": now + self.id_token_expiration})
        if spec.tamper is not None:
            message = spec.tamper(message)
        kid = self._registration.get_kid()
        key = spec.sign_with or self._registration.get_platform_private_key()
        token = jwt_encode(message, key, algorithm="RS256", headers={"kid": kid})
        return {"state": state, "id_token": token}


class LaunchPlatform:
    """A platform on 127.0.0.1: OIDC auth endpoint, JWKS, deep linking return."""

    def __init__(
        self, *, client_id: str = "skillsign-client", deployment_id: str = "deployment-1"
    ) -> None:
        self.client_id = client_id
        self.deployment_id = deployment_id
        self.private_key = rsa_pem()
        self.published: list[str] = [self.private_key]  # private PEMs whose public keys are served
        self.pending: dict[str, LaunchSpec] = {}
        self.deep_link_items: list[list[dict[str, t.Any]]] = []
        self.jwks_requests = 0
        self._lock = threading.Lock()
        self.app = self._build_app()
        self._server = None
        self.tool_url = ""

    # -- lifecycle -----------------------------------------------------------
    def start(self) -> LaunchPlatform:
        self._server = serve(self.app)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        return self._server.url

    @property
    def issuer(self) -> str:
        return self.url

    @property
    def auth_url(self) -> str:
        return f"{self.url}/auth"

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/jwks"

    @property
    def token_url(self) -> str:
        return f"{self.url}/token"

    def connect(self, tool_url: str) -> LaunchPlatform:
        self.tool_url = tool_url.rstrip("/")
        return self

    def register_in(self, app: t.Any, **kwargs: t.Any) -> int:
        """Add this platform to the tool's registry, deployment approved; returns its id."""
        from lti_app.request_db import database
        from lti_app.services import registry

        with app.app_context(), database(app).transaction() as db:
            platform = registry.add_platform(
                db,
                issuer=self.issuer,
                client_id=self.client_id,
                auth_login_url=self.auth_url,
                auth_token_url=self.token_url,
                jwks_url=self.jwks_url,
                name="Independent test platform",
                deployment_ids=[self.deployment_id],
                **kwargs,
            )
            return platform.id

    def rotate_key(self, keep_old: bool = False) -> None:
        """A new signing key; the old one stays in the JWKS only if ``keep_old``."""
        with self._lock:
            self.private_key = rsa_pem()
            self.published = [self.private_key, *(self.published if keep_old else [])]

    # -- what the LMS page links to ------------------------------------------
    def login_params(self, spec: LaunchSpec) -> dict[str, str]:
        hint = secrets.token_urlsafe(12)
        with self._lock:
            self.pending[hint] = spec
        params = {
            "iss": self.issuer,
            "login_hint": hint,
            "target_link_uri": f"{self.tool_url}/lti/launch",
            "lti_message_hint": hint,
            "client_id": self.client_id,
            "lti_deployment_id": spec.deployment_id or self.deployment_id,
        }
        if spec.storage_target:
            params["lti_storage_target"] = spec.storage_target
        return params

    def login_url(self, spec: LaunchSpec) -> str:
        return f"{self.tool_url}/lti/login?{urlencode(self.login_params(spec))}"

    # -- the library's side --------------------------------------------------
    def _registration(self, spec: LaunchSpec) -> Registration:
        return (
            _Registration()
            .set_iss(self.issuer)
            .set_client_id(self.client_id)
            .set_deployment_id(spec.deployment_id or self.deployment_id)
            .set_oidc_login_url(f"{self.tool_url}/lti/login")
            .set_launch_url(f"{self.tool_url}/lti/launch")
            .set_deeplink_launch_url(f"{self.tool_url}/lti/launch")
            .set_platform_private_key(self.private_key)
            .set_platform_public_key(public_pem(self.private_key))
            .set_tool_key_set_url(f"{self.tool_url}/.well-known/jwks.json")
        )

    def _launch(self, spec: LaunchSpec) -> dict[str, t.Any]:
        config = _Config(registration=self._registration(spec))
        launch = _Launch(_Request(request), config)
        launch.spec = spec
        launch.set_user_data(spec.user_id, spec.roles, spec.name, spec.email)
        launch.set_launch_context_claim(spec.context_id, context_title=spec.context_title)
        launch.set_launch_presentation_claim("iframe", return_url=f"{self.url}/return")
        if spec.deep_linking:
            launch.set_dl(f"{self.url}/deep-link-return", title="Add skillsign")
        else:
            launch.set_resource_link_claim(spec.resource_link_id, title=spec.resource_link_title)
            if spec.custom:
                launch.set_custom_parameters_claim(dict(spec.custom))
            if spec.ags:
                launch.set_ags(
                    lineitems_url=f"{self.url}/lineitems",
                    lineitem_url=f"{self.url}/lineitems/{spec.resource_link_id}",
                )
        if spec.nrps:
            launch.set_nrps(f"{self.url}/memberships")
        extra = dict(spec.extra_claims)
        if spec.locale:
            extra["locale"] = spec.locale
        if extra:
            launch.set_extra_claims(extra)
        return launch.lti_launch()

    def _build_app(self) -> Flask:
        app = Flask("launch_platform")

        @app.route("/auth", methods=["GET", "POST"])
        def auth() -> Response:
            hint = request.values.get("login_hint", "")
            with self._lock:
                spec = self.pending.pop(hint, None)
            if spec is None:
                return Response("unknown login_hint", status=400)
            data = self._launch(spec)
            fields = "".join(
                f'<input type="hidden" name="{k}" value="{v}">'
                for k, v in (("id_token", data["id_token"]), ("state", data["state"]))
            )
            html = f'<form id="launch" method="post" action="{data["launch_url"]}">{fields}</form>'
            return Response(html, mimetype="text/html")

        @app.get("/jwks")
        def jwks() -> Response:
            self.jwks_requests += 1
            with self._lock:
                keys = [Registration.get_jwk(public_pem(k)) for k in self.published]
            return jsonify({"keys": keys})

        @app.post("/deep-link-return")
        def deep_link_return() -> Response:
            config = _Config(registration=self._registration(LaunchSpec()))
            config.get_registration()
            items = config.validate_deeplinking_resp(request.form.to_dict())
            with self._lock:
                self.deep_link_items.append(items)
            return Response("deep linking response accepted", mimetype="text/plain")

        return app


class _FormParser(HTMLParser):
    """The first form of a page: its action and its hidden inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self._in_form = False
        self._done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form" and not self._done and self.action is None:
            self.action = values.get("action", "")
            self._in_form = True
        elif tag == "input" and self._in_form and values.get("name"):
            self.fields[values["name"]] = values.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._in_form:
            self._in_form = False
            self._done = True


def parse_form(html: str) -> tuple[str, dict[str, str]]:
    parser = _FormParser()
    parser.feed(html)
    assert parser.action is not None, f"no form in: {html[:300]}"
    return parser.action, parser.fields


@dataclass
class LaunchResult:
    login: requests.Response  # the tool's answer to the login request
    form: dict[str, str]  # id_token and state, as the platform posted them
    launch: requests.Response  # the tool's answer to the launch POST
    landing: requests.Response | None  # the page the launch led to (after the 303)

    @property
    def landing_url(self) -> str:
        assert self.landing is not None
        return self.landing.url


class Browser:
    """A cookie-keeping HTTP client that walks the launch as a browser would (no JS)."""

    def __init__(self, verify: t.Any = True, headers: dict[str, str] | None = None) -> None:
        self.http = requests.Session()
        self.http.verify = verify
        # REQUESTS_CA_BUNDLE in the environment would override ``verify`` (a requests
        # quirk); a loopback test browser needs nothing from the environment.
        self.http.trust_env = False
        if headers:
            self.http.headers.update(headers)

    def login(self, platform: LaunchPlatform, spec: LaunchSpec) -> requests.Response:
        return self.http.get(platform.login_url(spec), allow_redirects=False, timeout=10)

    def authorize(self, login: requests.Response) -> tuple[str, dict[str, str]]:
        """Follow the tool's redirect to the platform; return the launch form it answers."""
        assert login.status_code == 302, f"login answered {login.status_code}: {login.text[:300]}"
        auth = self.http.get(login.headers["Location"], allow_redirects=False, timeout=10)
        assert auth.status_code == 200, auth.text
        return parse_form(auth.text)

    def post_launch(self, action: str, form: dict[str, str]) -> requests.Response:
        return self.http.post(action, data=form, allow_redirects=False, timeout=10)

    def follow(self, response: requests.Response) -> requests.Response:
        return self.http.get(
            requests.compat.urljoin(response.url, response.headers["Location"]), timeout=10
        )

    def launch(self, platform: LaunchPlatform, spec: LaunchSpec | None = None) -> LaunchResult:
        """Login, platform auth, launch POST, and the landing page when the launch succeeds."""
        spec = spec or LaunchSpec()
        login = self.login(platform, spec)
        action, form = self.authorize(login)
        launch = self.post_launch(action, form)
        landing = self.follow(launch) if launch.status_code == 303 else None
        return LaunchResult(login=login, form=form, launch=launch, landing=landing)
