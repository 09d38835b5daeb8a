"""OpenID for Verifiable Credential Issuance 1.0: the endpoints a wallet calls.

All public: a wallet has no login here. What it holds instead is the offer's pre-authorized
code (and transaction code), then the access token it was exchanged for; every step is in
``services/wallet.py``. Errors are OAuth/OpenID4VCI JSON (``{"error": ...}``), never a page,
and nothing is cached. The POSTs carry no cookie and no CSRF token: the secrets in their
bodies and headers are their authentication.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, request

from lti_app import request_db
from lti_app.security import exempt
from lti_app.services import issuer as issuer_service
from lti_app.services import wallet
from lti_app.services.errors import NotFound
from lti_app.services.issuer import IssuerContext

bp = Blueprint("oid4vci", __name__)


def _issuer() -> IssuerContext:
    return issuer_service.context(request_db.session())


def _json(data: Any, status: int = 200, *, cache: bool = False) -> Response:
    response = Response(
        json.dumps(data, ensure_ascii=False), status=status, mimetype="application/json"
    )
    # Wallets in browsers (web wallets) read the metadata and offers too.
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = "public, max-age=300" if cache else "no-store"
    return response


def _error(error: wallet.Oid4vciError) -> Response:
    response = _json(error.body(), error.status)
    if error.status == 401:
        # RFC 6750 3: the challenge names the scheme and the error.
        response.headers["WWW-Authenticate"] = (
            f'Bearer error="{error.error}", error_description="{error.description}"'
        )
    return response


@bp.get("/.well-known/openid-credential-issuer")
def issuer_metadata() -> Response:
    issuer = _issuer()
    name = issuer_service.institution(request_db.session(), issuer).name
    return _json(wallet.issuer_metadata(issuer, name), cache=True)


@bp.get("/.well-known/oauth-authorization-server")
def authorization_server_metadata() -> Response:
    return _json(wallet.authorization_server_metadata(_issuer()), cache=True)


@bp.get("/oid4vci/offers/<handle>")
def offer(handle: str) -> Response:
    if len(handle) > 128:
        return _json({"error": "not_found"}, 404)
    try:
        document = wallet.offer_document(request_db.session(), _issuer(), handle)
    except NotFound as error:
        return _json({"error": "not_found", "error_description": error.detail}, 404)
    return _json(document)


@bp.post("/oid4vci/token")
@exempt
def token() -> Response:
    form = request.form
    try:
        granted = wallet.exchange_code(
            request_db.session(),
            grant_type=form.get("grant_type"),
            code=form.get("pre-authorized_code"),
            tx_code=form.get("tx_code"),
        )
    except wallet.Oid4vciError as error:
        return _error(error)
    return _json(
        {"access_token": granted.token, "token_type": "Bearer", "expires_in": granted.expires_in}
    )


@bp.post("/oid4vci/nonce")
@exempt
def nonce() -> Response:
    value, _lifetime = wallet.new_nonce(request_db.session())
    return _json({"c_nonce": value})


def _bearer() -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


@bp.post("/oid4vci/credential")
@exempt
def credential() -> Response:
    token = _bearer()
    try:
        if token is None:
            raise wallet.Oid4vciError("invalid_token", "a Bearer access token is required", 401)
        body = request.get_json(silent=True)
        issued = wallet.issue_to_wallet(
            request_db.session(), _issuer(), access_token=token, body=body
        )
    except wallet.Oid4vciError as error:
        return _error(error)
    return _json(issued)
