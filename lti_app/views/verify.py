"""Verification for people (``/verify``) and machines (``/api/v1/verify``), and the API's
OpenAPI document. Both run the one pipeline (lti_app.services.verification)."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request
from flask_babel import gettext

from credentials import ob3
from credentials import verify as pipeline
from credentials.fields import EMAIL
from credentials.verify import VerificationResult
from lti_app import request_db
from lti_app.lti import http as outbound
from lti_app.security import exempt
from lti_app.services import issuer as issuer_service
from lti_app.services import verification
from lti_app.services.errors import AppError
from lti_app.services.messages import N_, UserError
from lti_app.views import checklist_pages as pages
from lti_app.views.openapi import openapi_document

bp = Blueprint("verify", __name__)

MAX_UPLOAD_BYTES = 4 * 1024 * 1024
URL_LIMIT = 2048
RAW_TYPES = (
    "application/jwt",
    "text/plain",
    "image/png",
    "image/svg+xml",
    "application/octet-stream",
)


class VerifyRequestError(UserError):
    """A request the verifier cannot read: English for the API, translated on the page
    where the message was marked with ``N_``."""

    code = "verify.request"


class TooLarge(AppError):
    status = 413
    title = "Too large"
    code = "verify.too_large"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.extensions = {"limit": {"name": "body_bytes", "value": MAX_UPLOAD_BYTES}}


# What a credential may hold: far beyond any real one (ours nest 7 deep, with one alignment per
# statement), far below what would make checking it costly (JSON-LD expansion and RDF
# canonicalisation grow with every value). The first limit hit is named in the answer.
LIMITS = {
    "json_depth": 32,  # nested objects and arrays
    "array_items": 1000,  # in any one array: alignments (statements), results, evidence...
    "object_members": 1000,  # in any one object
    "string_length": 256 * 1024,  # characters in any one string (data: URI images fit)
    "json_values": 100_000,  # values in the whole credential
}


class InputLimit(AppError):
    title = "Input over a limit"
    code = "verify.limit"

    def __init__(self, name: str, detail: str) -> None:
        super().__init__(f"{detail}; the limit ({name}) is {LIMITS[name]}")
        self.extensions = {"limit": {"name": name, "value": LIMITS[name]}}


def _where(path: str) -> str:
    return (path[:120] + "…" if len(path) > 120 else path) or "the credential"


def check_limits(value: Any) -> None:
    """InputLimit for the first limit ``value`` (parsed JSON) exceeds; iterative, so any
    depth is measured without recursion."""
    stack: list[tuple[Any, int, str]] = [(value, 1, "")]
    seen = 0
    while stack:
        node, depth, path = stack.pop()
        seen += 1
        if seen > LIMITS["json_values"]:
            raise InputLimit("json_values", f"the credential holds more than {seen - 1} values")
        if isinstance(node, str):
            if len(node) > LIMITS["string_length"]:
                raise InputLimit("string_length", f"{_where(path)} is {len(node)} characters")
            continue
        if not isinstance(node, dict | list):
            continue
        if depth > LIMITS["json_depth"]:
            raise InputLimit("json_depth", f"{_where(path)} is nested {depth} deep")
        if isinstance(node, list):
            if len(node) > LIMITS["array_items"]:
                raise InputLimit("array_items", f"{_where(path)} has {len(node)} items")
            stack.extend((item, depth + 1, f"{path}[{i}]") for i, item in enumerate(node))
            continue
        if len(node) > LIMITS["object_members"]:
            raise InputLimit("object_members", f"{_where(path)} has {len(node)} members")
        for key, item in node.items():
            if len(key) > LIMITS["string_length"]:
                raise InputLimit("string_length", f"a member name in {_where(path)} is too long")
            stack.append((item, depth + 1, f"{path}.{key}" if path else key))


def _check_input(data: bytes | str | dict[str, Any]) -> None:
    """The limits, for a credential however it came; what does not read as JSON is left to
    the pipeline to report."""
    parsed: dict[str, Any] | str = data if isinstance(data, dict) else ""
    if not isinstance(data, dict):
        try:
            _, parsed = pipeline.read_input(data)
        except Exception:  # unreadable: the pipeline reports why
            return
    if isinstance(parsed, dict):  # not a VC-JWT, whose payload only the body size bounds
        check_limits(parsed)


def remote_fetcher() -> verification.RemoteFetcher | None:
    """Other issuers' documents are fetched unless the app says not to (tests, air-gapped)."""
    if current_app.config.get("VERIFY_FETCH_REMOTE", True) is False:
        return None
    return verification.RemoteFetcher(outbound.verifier())


def _body() -> bytes:
    limit = MAX_UPLOAD_BYTES
    if request.content_length is not None and request.content_length > limit:
        raise TooLarge(f"the request is {request.content_length} bytes; the limit is {limit}")
    data = request.stream.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"the request is larger than {limit} bytes")
    return data


def _check_url(url: str) -> str:
    url = url.strip()
    if len(url) > URL_LIMIT:
        raise VerifyRequestError(N_("the URL is longer than %(limit)d characters"), limit=URL_LIMIT)
    if not url.startswith(("https://", "http://")):
        raise VerifyRequestError(N_("only http:// and https:// URLs can be verified"))
    return url


EMAIL_LIMIT = 320


def _email(value: object) -> str | None:
    """An optional email address to check the credential against; never echoed back."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise VerifyRequestError(N_("the email address must be a string"))
    value = value.strip()
    if not value:
        return None
    if len(value) > EMAIL_LIMIT or not EMAIL.match(value):
        raise VerifyRequestError(N_("that is not an email address"))
    return value


def _email_answer(result: VerificationResult, email: str | None) -> ob3.EmailAnswer | None:
    """Whether the credential names ``email`` (hashed, per OB 3.0); None if none was given."""
    if email is None:
        return None
    return ob3.email_identity_answer(result.credential, email)


def _assess(result: VerificationResult) -> verification.IssuerAssessment:
    session = request_db.session()
    issuer = issuer_service.context(session)
    name = issuer_service.institution(session, issuer).name
    return verification.assess_issuer(issuer, result, name)


def _run(data: bytes | str | dict[str, Any] | None, url: str | None) -> VerificationResult:
    session = request_db.session()
    remote = remote_fetcher()
    if url is not None:
        return verification.verify_url(session, _check_url(url), remote=remote)
    assert data is not None
    _check_input(data)
    return verification.verify(session, data, remote=remote)


# --------------------------------------------------------------------------- people


@bp.route("/verify", methods=["GET", "POST"])
def verify_page() -> tuple[str, int] | str:
    if request.method == "GET":
        prefill = request.args.get("url", "")
        return render_template("credentials/verify.html", result=None, error=None, url=prefill)
    upload = request.files.get("file")
    pasted = (request.form.get("text") or "").strip()
    url = (request.form.get("url") or "").strip()
    given = [bool(upload and upload.filename), bool(pasted), bool(url)]
    error: str | None = None
    result = None
    email: str | None = None
    try:
        email = _email(request.form.get("email"))
    except AppError as problem:
        error = pages.message(problem)
    if error is None and sum(given) != 1:
        error = gettext("Give exactly one: a file, a URL, or pasted JSON or JWT text.")
    elif error is None:
        try:
            if upload and upload.filename:
                data = upload.stream.read(MAX_UPLOAD_BYTES + 1)
                if len(data) > MAX_UPLOAD_BYTES:
                    raise TooLarge(f"the file is larger than {MAX_UPLOAD_BYTES} bytes")
                result = _run(data, None)
            elif pasted:
                result = _run(pasted, None)
            else:
                result = _run(None, url)
        except AppError as problem:
            error = pages.message(problem)  # in the page's language where it was marked
    status = 200 if result is not None else 400
    issuer = _assess(result) if result is not None else None
    # The answer about the address, never the address: the form comes back without it.
    email_answer = _email_answer(result, email) if result is not None else None
    return (
        render_template(
            "credentials/verify.html",
            result=result,
            issuer=issuer,
            error=error,
            url=url,
            email_answer=email_answer,
        ),
        status,
    )


# --------------------------------------------------------------------------- machines


def _from_json(
    raw: bytes,
) -> tuple[bytes | str | dict[str, Any] | None, str | None, str | None]:
    try:
        payload = json.loads(raw)
    except ValueError as error:
        raise VerifyRequestError(f"the body is not valid JSON: {error}") from None
    except RecursionError:  # e.g. 100,000 nested arrays: refused, never a crash
        raise InputLimit("json_depth", "the body's JSON is nested too deeply") from None
    if not isinstance(payload, dict):
        raise VerifyRequestError("the body must be a JSON object")
    if "@context" in payload:  # a bare credential
        return payload, None, None
    email = _email(payload.get("email"))
    keys = [k for k in ("credential", "url", "image") if k in payload]
    if len(keys) != 1:
        raise VerifyRequestError(
            "give exactly one of 'credential' (a credential object or a VC-JWT string), "
            "'url', or 'image' (a base64 PNG or SVG); or post the credential itself"
        )
    value = payload[keys[0]]
    if keys[0] == "credential":
        if not isinstance(value, dict | str):
            raise VerifyRequestError("'credential' must be a JSON object or a JWT string")
        return value, None, email
    if not isinstance(value, str):
        raise VerifyRequestError(f"'{keys[0]}' must be a string")
    if keys[0] == "url":
        return None, value, email
    try:
        return base64.b64decode(value, validate=True), None, email
    except (binascii.Error, ValueError):
        raise VerifyRequestError("'image' is not valid base64") from None


@bp.post("/api/v1/verify")
@exempt  # a JSON API: no cookie session, no form, so nothing for CSRF to protect
def verify_api() -> Response:
    mimetype = request.mimetype
    if mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise VerifyRequestError("a multipart request needs a 'file' part")
        data: bytes | str | dict[str, Any] | None  # declared apart: bytes here, for len()
        data = upload.stream.read(MAX_UPLOAD_BYTES + 1)
        if len(data) > MAX_UPLOAD_BYTES:
            raise TooLarge(f"the file is larger than {MAX_UPLOAD_BYTES} bytes")
        url = None
        email = _email(request.form.get("email"))
    elif mimetype in ("application/json", "application/ld+json", "application/vc+ld+json"):
        data, url, email = _from_json(_body())
    elif mimetype in RAW_TYPES:
        data, url, email = _body(), None, None
    else:
        raise VerifyRequestError(
            f"unsupported Content-Type {mimetype or '(none)'}: send application/json, "
            "application/jwt, image/png, image/svg+xml or multipart/form-data"
        )
    if not data and url is None:
        raise VerifyRequestError("the request is empty")
    result = _run(data, url)
    # "issuer" says who signed and whether it is us, never just the claimed id.
    answer: dict[str, Any] = {**result.to_dict(), "issuer": _assess(result).to_dict()}
    email_answer = _email_answer(result, email)
    if email_answer is not None:  # the answer only: the address is never echoed
        answer["identity"] = {"email": email_answer}
    response = jsonify(answer)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/api/openapi.json")
def openapi() -> Response:
    response = jsonify(openapi_document(current_app.config["BASE_URL"]))
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
