"""LTI endpoints: OIDC login, launch, platform-storage confirmation, JWKS, dynamic registration.

None of these POSTs carries a CSRF token: each is authenticated otherwise (a
platform-signed id_token bound to a state, a one-time ticket, a platform's
registration token), so they are exempt from CSRFProtect.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
from typing import Any

from flask import (
    Blueprint,
    current_app,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from lti_app import request_db
from lti_app.config import PRODUCTION
from lti_app.db.models import Platform
from lti_app.lms import claims as c
from lti_app.lti import login as oidc
from lti_app.lti import registration as dynamic
from lti_app.lti import registry_cache, sessions, storage
from lti_app.lti.errors import LaunchError
from lti_app.lti.jwks import platform_keys
from lti_app.lti.launch import LaunchPolicy, ToolMessageLaunch
from lti_app.lti.tool_conf import RegistryToolConf
from lti_app.lti.tool_keys import tool_keys
from lti_app.security import exempt, forget_frame_origins
from lti_app.services import launches, registry

bp = Blueprint("lti", __name__)
log = logging.getLogger("skillsign.lti")


def base_url() -> str:
    return current_app.config["BASE_URL"]


def launch_url() -> str:
    return base_url() + "/lti/launch"


def _params() -> dict[str, str]:
    # Platforms initiate login by GET or POST; take the first value of each name.
    return {k: v for k, v in request.values.items(multi=False)}  # type: ignore[call-overload]  # multi=False: items()


def _set_browser_cookie(response: Response, browser_id: str) -> None:
    secure = request.is_secure
    response.set_cookie(
        oidc.BROWSER_COOKIE,
        browser_id,
        max_age=oidc.BROWSER_COOKIE_MAX_AGE,
        path="/",
        secure=secure,
        httponly=True,
        samesite="None" if secure else "Lax",
    )


@bp.route("/lti/login", methods=["GET", "POST"])
@exempt
def login() -> Response:
    db = request_db.session()
    storage.maybe_purge(db)
    params = _params()
    browser_cookie = request.cookies.get(oidc.BROWSER_COOKIE) or None
    start = _start_login(db, params, browser_cookie)
    platform_origin = registry.origin(start.platform.auth_login_url)
    response, mode = _login_response(start, params, browser_cookie is not None, platform_origin)
    _set_browser_cookie(response, start.browser_id)
    g.extra_frame_origins = [platform_origin]
    log.info(
        "lti login",
        extra={"iss": start.platform.issuer, "platform": start.platform.id, "mode": mode},
    )
    return response


def _start_login(
    db: Session, params: dict[str, str], browser_cookie: str | None
) -> oidc.LoginStart:
    def start_login() -> oidc.LoginStart:
        return oidc.start_login(
            db,
            params,
            base_url=base_url(),
            launch_url=launch_url(),
            browser_id=browser_cookie,
            auto_approve_deployments=current_app.config["AUTO_APPROVE_DEPLOYMENTS"],
        )

    # The platform and its deployments may come from this process's cache; the state write
    # brings back the registry's stamp, and a changed registry (or a refusal the cache may
    # have caused) runs the login once more on fresh rows (lti/registry_cache.py).
    try:
        start = start_login()
    except LaunchError as exc:
        if exc.code not in registry_cache.REGISTRY_REFUSALS or not registry_cache.forget(
            db, params.get("iss")
        ):
            raise
        start = start_login()
    if not registry_cache.is_current(db, start.registry_stamp):
        # The first state is already committed (its own autocommit write): drop it, so a
        # login leaves exactly one state behind, made from the fresh rows.
        storage.take_state(db, start.state)
        start = start_login()
    return start


def _login_response(
    start: oidc.LoginStart, params: dict[str, str], has_browser_cookie: bool, platform_origin: str
) -> tuple[Response, str]:
    """The login's answer and its mode: a page that keeps the state in the platform's
    storage, a page that checks the browser keeps our cookie, or the redirect itself."""
    if start.storage_target:
        response = make_response(
            render_template(
                "lti/login_storage.html",
                auth_url=start.auth_url,
                state=start.state,
                nonce=start.nonce,
                target=start.storage_target,
                platform_origin=platform_origin,
            )
        )
        return response, "storage"
    if not params.get("new_window") and oidc.needs_cookie_check(
        request.headers,  # type: ignore[arg-type]  # Headers: .get() as a Mapping's
        has_browser_cookie,
    ):
        new_window = url_for("lti.login", **oidc.new_window_params(params), _external=False)
        response = make_response(
            render_template(
                "lti/cookie_check.html", auth_url=start.auth_url, new_window_url=new_window
            )
        )
        return response, "cookie_check"
    return redirect(start.auth_url, 302), "redirect"


def _record_pending(platform_id: int, deployment_id: str) -> None:
    """Keep the unknown deployment as pending even though this launch is refused."""
    with request_db.database().transaction() as db:
        platform = db.get(Platform, platform_id)
        if platform is not None:
            registry.record_deployment(db, platform, deployment_id, approved=False)


def _frame_origins(claims: dict[str, Any]) -> list[str]:
    found = []
    for url in (
        c.obj(claims, c.LAUNCH_PRESENTATION).get("return_url"),
        c.obj(claims, c.DL_SETTINGS).get("deep_link_return_url"),
    ):
        if c.url(url, 2048):
            assert isinstance(url, str)  # c.url() accepted it
            found.append(registry.origin(url))
    return sorted(set(found))


def _validated_launch(db: Session, browser_id: str | None) -> ToolMessageLaunch:
    """The launch POST validated, against fresh registry rows if the cached ones are stale.

    The platform and deployment may come from this process's cache; the nonce statement
    brings back the registry's stamp. When it changed, or when the launch was refused for a
    reason a stale cache could cause, the transaction is rolled back (the nonce and state
    with it) and the launch validated once more on rows read now (lti/registry_cache.py)."""

    def validate() -> ToolMessageLaunch:
        return ToolMessageLaunch(
            request.form,
            db=db,
            tool_conf=RegistryToolConf(db, tool_keys()),
            keys=platform_keys(),
            policy=LaunchPolicy(
                base_url=base_url(),
                auto_approve_deployments=current_app.config["AUTO_APPROVE_DEPLOYMENTS"],
            ),
            browser_id=browser_id,
            secure=request.is_secure,
            record_pending=_record_pending,
        ).validate()

    def again() -> ToolMessageLaunch:
        db.rollback()
        db.expunge_all()  # nothing from the first attempt is reused
        return validate()

    try:
        message = validate()
    except LaunchError as exc:
        issuer = exc_issuer(request.form.get("id_token", ""))
        if exc.code not in registry_cache.REGISTRY_REFUSALS or not registry_cache.forget(
            db, issuer
        ):
            raise
        return again()
    if not registry_cache.is_current(db, message.registry_stamp):
        return again()
    return message


def exc_issuer(id_token: str) -> str | None:
    """The unverified ``iss`` of an id_token, only to pick which cached issuer to drop."""
    try:
        body = id_token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (IndexError, ValueError, UnicodeDecodeError):
        return None
    issuer = claims.get("iss") if isinstance(claims, dict) else None
    return issuer if isinstance(issuer, str) else None


def _first_page(record: launches.LaunchRecord, token: str) -> str:
    """Where the launch's 303 leads: a set-up link's learners and instructors straight to
    their page (what the landing page would redirect them to, one request and its session
    read earlier), everyone else to the landing page, which knows the other cases.

    A 303 and not the page in the launch's answer: a refresh or Back then repeats a GET
    under /s/<token>/, never the launch POST, whose nonce is spent (a replay error)."""
    if record.message_type == c.RESOURCE_LINK_REQUEST and record.link_pinned:
        if record.roles.is_instructor:
            return url_for("instructor.grid", ls=token)
        if record.roles.is_learner:
            return url_for("learner.checklist", ls=token)
    return url_for("launch.landing", ls=token)


@bp.post("/lti/launch")
@exempt
def launch() -> Response:
    db = request_db.session()
    browser_id = request.cookies.get(oidc.BROWSER_COOKIE) or None
    message = _validated_launch(db, browser_id)
    claims = message.claims
    frames_before = set((message.platform.details or {}).get("frame_origins", []))
    record = launches.record_launch(db, claims, message.platform, message.deployment)
    if set((message.platform.details or {}).get("frame_origins", [])) != frames_before:
        forget_frame_origins(current_app._get_current_object())  # type: ignore[attr-defined]

    data: dict[str, Any] = {
        "_frame_origins": _frame_origins(claims),
        # The CSRF secret is made here, in the row the launch writes anyway: made by the
        # first page with a form instead, it costs that page a second transaction to save
        # the session (Flask-WTF keeps it in the session, and generates it when missing).
        current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"): secrets.token_hex(20),
    }
    if record.message_type == c.DEEP_LINKING_REQUEST:
        data["_launch_id"] = message.get_launch_id()
    if record.link_setup and record.link_setup != "pinned":
        data["_link_notice"] = record.link_setup
        if record.link_problem:  # the same reason, shown in the page's language
            data["_link_problem"] = record.link_problem
    # The pages' "Back to course" link (launch_presentation.return_url, http(s) only).
    return_url = c.url(c.obj(claims, c.LAUNCH_PRESENTATION).get("return_url"), 2048)
    if return_url:
        data["_return_url"] = return_url
    bound_by_cookie = message.binding == "cookie"
    token = sessions.create(
        db,
        record,
        browser_hash=storage.digest(browser_id) if bound_by_cookie and browser_id else None,
        pending=not bound_by_cookie,
        data=data,
    )
    log.info(
        "lti launch",
        extra={
            "iss": message.platform.issuer,
            "platform": message.platform.id,
            "deployment": message.deployment.deployment_id,
            "message_type": record.message_type,
            "role": record.roles.label,
            "binding": message.binding,
        },
    )
    g.extra_frame_origins = data["_frame_origins"]
    if bound_by_cookie:
        return redirect(_first_page(record, token), 303)
    record_state = message.state_record
    return make_response(
        render_template(
            "lti/launch_check.html",
            state=request.form.get("state", ""),
            nonce=claims["nonce"],
            target=record_state.get("storage_target") or "",
            platform_origin=registry.origin(message.platform.auth_login_url),
            ticket=token,
        )
    )


@bp.post("/lti/launch/confirm")
@exempt
def confirm() -> Response:
    """The launch page proved the state against the platform's storage: open the session."""
    ticket = request.form.get("ticket", "")
    if not ticket or not sessions.activate(request_db.session(), ticket):
        raise LaunchError(
            "lti.confirm_failed",
            "This launch could not be completed (it expired or was already completed). "
            "Launch skillsign again from your course.",
            status=401,
        )
    return redirect(url_for("launch.landing", ls=ticket), 303)


@bp.get("/.well-known/jwks.json")
def jwks() -> Response:
    response = jsonify(tool_keys().jwks())
    # Platforms may cache it; a rotation keeps the old key published for days, so a
    # few minutes of caching is safe.
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/lti/register")
def register() -> Response:
    db = request_db.session()
    result = dynamic.register(
        db,
        openid_configuration=request.args.get("openid_configuration", ""),
        registration_token=request.args.get("registration_token"),
        invite=request.args.get("invite"),
        base_url=base_url(),
        auto_approve=current_app.config["AUTO_APPROVE_DEPLOYMENTS"],
        # Plain http to a loopback platform serves development and tests, never production.
        allow_http_loopback=current_app.config["ENV"] != PRODUCTION,
        # In production an uninvited registration reaches public addresses only.
        private_networks=current_app.config["ENV"] != PRODUCTION,
    )
    forget_frame_origins(current_app._get_current_object())  # type: ignore[attr-defined]
    log.info(
        "lti dynamic registration",
        extra={
            "iss": result.platform.issuer,
            "platform": result.platform.id,
            "product": result.platform.product,
            "deployment": result.deployment_id,
            "approved": result.approved,
        },
    )
    return make_response(render_template("lti/registered.html", result=result))
