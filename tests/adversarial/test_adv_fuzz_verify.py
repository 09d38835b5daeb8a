"""Fuzzing verification (``/api/v1/verify`` and the ``/verify`` page): forged credentials never
verify, hostile input never crashes, and verifying writes nothing.

The forgeries start from a credential the tool really issued (and checks as valid here, as
the control): one string of it changed, its proof changed or removed, its VC-JWT re-signed
with ``alg: none``, with HS256 keyed by the issuer's public key, or by a stranger's key under
the issuer's kid; each as JSON, as text, or baked into the tool's own PNG and SVG badges.
Random input comes with every content type the API names, and some it does not.

Each request comes from its own client address, so the rate limit (tested elsewhere) does
not turn the fuzz into a test of 429s.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import io
import itertools
import json
import re
from typing import Any

import base58
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import adversarial_figures as figures
from support.adversarial_db import diff, table_counts
from support.adversarial_tokens import b64url, b64url_json
from support.adversarial_uploads import PNG_SIGNATURE, png, png_chunk
from support.checklist_world import make_world
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from credentials.baking import bake_png, bake_svg
from lti_app.request_db import database
from lti_app.services import awarding, signoffs

_addresses = itertools.count(1)
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def _address() -> dict[str, str]:
    n = next(_addresses)
    return {"REMOTE_ADDR": f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"}


class Issued:
    """A credential issued by the tool, in each form a verifier may receive it."""

    def __init__(self, app: Any, client: Any) -> None:
        world = make_world(app, learners=1)
        with app.app_context(), database(app).transaction() as session:
            awarding.set_wallet_did(session, world.learner.id, "did:example:learner-wallet")
            result = signoffs.sign(
                session,
                actor_id=world.instructor.id,
                context_id=world.context_a,
                learner_ids=[world.learner.id],
                statement_ids=world.levels["emerging"],
            )
            credential = result.credentials[0]
            self.id = credential.id
            self.document: dict[str, Any] = copy.deepcopy(credential.document)
            self.jwt: str = credential.jwt
            level_id = credential.level_id
        self.badge_png = client.get(f"/achievements/{level_id}/badge.png").data
        self.badge_svg = client.get(f"/achievements/{level_id}/badge.svg").data
        header = json.loads(base64.urlsafe_b64decode(self.jwt.split(".")[0] + "=="))
        self.kid = header["kid"]
        # did:key:z6Mk...: the multibase string, and the raw Ed25519 public key it encodes.
        self.multibase = self.kid.split("#")[-1]

        self.public_raw = base58.b58decode(self.multibase[1:])[2:]


@pytest.fixture
def issued(app, client) -> Issued:
    return Issued(app, client)


def api(client, body: bytes, content_type: str) -> Any:
    return client.post(
        "/api/v1/verify", data=body, content_type=content_type, environ_overrides=_address()
    )


def test_the_untouched_credential_verifies_in_every_form(client, issued):
    """Control: what the fuzz changes is a credential that verifies as it was issued."""
    document = json.dumps(issued.document).encode()
    forms = {
        "json": (document, "application/json"),
        "jwt": (issued.jwt.encode(), "application/jwt"),
        "png": (bake_png(issued.badge_png, document.decode()), "image/png"),
        "svg": (bake_svg(issued.badge_svg, document.decode()), "image/svg+xml"),
    }
    for name, (body, content_type) in forms.items():
        answer = api(client, body, content_type)
        assert answer.status_code == 200, (name, answer.get_data(as_text=True)[:300])
        assert answer.json["valid"] is True, (name, answer.json["checks"])


# --------------------------------------------------------------------------- forgeries


def _string_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, str) and value:
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _string_paths(v, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _string_paths(v, (*path, i))]
    return []


def _replace(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    copied = copy.deepcopy(document)
    target = copied
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return copied


@st.composite
def forged_documents(draw: st.DrawFn, original: dict[str, Any]) -> tuple[str, Any]:
    kind = draw(st.sampled_from(["string", "string", "string", "proof", "type", "drop"]))
    if kind == "string":
        path = draw(st.sampled_from(_string_paths(original)))
        old = _get(original, path)
        new = draw(st.text(min_size=1, max_size=40).filter(lambda t: t != old))
        return f"changed {'.'.join(map(str, path))}", _replace(original, path, new)
    if kind == "proof":
        # Issued credentials carry proof as an array (OB 3.0's schema); a single object too.
        where: tuple[Any, ...] = ("proof", 0) if isinstance(original["proof"], list) else ("proof",)
        proof = _get(original, where)
        field = draw(st.sampled_from(sorted(proof)))
        value = draw(st.sampled_from([None, "", 0, [], {}, "z" + "1" * 80]))
        return f"proof.{field}={value!r}", _replace(original, (*where, field), value)
    if kind == "type":
        value = draw(st.sampled_from([None, [], "VerifiableCredential", ["OpenBadgeCredential"]]))
        return f"type={value!r}", _replace(original, ("type",), value)
    forged = copy.deepcopy(original)
    name = draw(st.sampled_from(sorted(k for k in forged if k != "@context")))
    del forged[name]
    return f"without {name}", forged


def _get(document: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        document = document[step]
    return document


def _jws(header: dict[str, Any], payload_b64: str, signature: bytes) -> str:
    return f"{b64url_json(header)}.{payload_b64}.{b64url(signature)}"


@st.composite
def forged_jwts(draw: st.DrawFn, issued: Issued) -> tuple[str, str]:
    header_b64, payload_b64, _sig = issued.jwt.split(".")
    header = json.loads(base64.urlsafe_b64decode(header_b64 + "=="))
    kind = draw(st.sampled_from(["none", "hs", "stranger", "payload", "kid", "garbage"]))
    if kind == "none":
        alg = draw(st.sampled_from(["none", "None", "NONE"]))
        return f"alg {alg}", f"{b64url_json(dict(header, alg=alg))}.{payload_b64}."
    if kind == "hs":
        alg = draw(st.sampled_from(["HS256", "HS384", "HS512"]))
        secret = draw(
            st.sampled_from([issued.public_raw, issued.multibase.encode(), issued.kid.encode()])
        )
        forged_header = b64url_json(dict(header, alg=alg))
        digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
        mac = hmac.new(secret, f"{forged_header}.{payload_b64}".encode(), digest).digest()
        return f"{alg} keyed with the public key", f"{forged_header}.{payload_b64}.{b64url(mac)}"
    if kind == "stranger":
        key = Ed25519PrivateKey.generate()
        signing_input = f"{header_b64}.{payload_b64}".encode()
        return (
            "signed by a stranger under the issuer's kid",
            f"{header_b64}.{payload_b64}.{b64url(key.sign(signing_input))}",
        )
    if kind == "payload":
        payload = json.loads(base64.urlsafe_b64decode(payload_b64 + "=="))
        claim = draw(
            st.sampled_from(["sub", "iss", "nbf", "exp", "jti", "name", "credentialSubject"])
        )
        payload[claim] = draw(st.text(max_size=20) | st.integers())
        return f"payload {claim} changed", f"{header_b64}.{b64url_json(payload)}.{_sig}"
    if kind == "kid":
        other = Ed25519PrivateKey.generate()
        raw = other.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

        stranger_did = "did:key:z" + base58.b58encode(b"\xed\x01" + raw).decode()
        forged_header = b64url_json(
            dict(header, kid=issued.kid.replace(issued.kid.split("#")[0], stranger_did))
        )
        signing_input = f"{forged_header}.{payload_b64}".encode()
        return (
            "signed by a stranger naming its own key",
            f"{forged_header}.{payload_b64}.{b64url(other.sign(signing_input))}",
        )
    return (
        "garbage signature",
        f"{header_b64}.{payload_b64}.{draw(st.text('ABCDEFabcdef0123456789-_', min_size=1, max_size=90))}",
    )


@pytest.mark.slow
def test_forged_credentials_never_verify(app, client, db, issued):
    examples = figures.fuzz_share(0.12)
    before = table_counts(db)
    seen: list[str] = []
    carriers = st.sampled_from(["json", "wrapped", "text", "png", "svg", "image-b64"])

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
    @given(forgery=forged_documents(issued.document) | forged_jwts(issued), carrier=carriers)
    def run(forgery: tuple[str, Any], carrier: str) -> None:
        label, forged = forgery
        text = forged if isinstance(forged, str) else json.dumps(forged)
        if carrier == "json" and not isinstance(forged, str):
            answer = api(client, text.encode(), "application/json")
        elif carrier in ("json", "wrapped"):
            answer = api(client, json.dumps({"credential": forged}).encode(), "application/json")
        elif carrier == "text":
            answer = api(client, text.encode(), "text/plain")
        elif carrier == "png":
            answer = api(client, bake_png(issued.badge_png, text), "image/png")
        elif carrier == "svg":
            answer = api(client, bake_svg(issued.badge_svg, text), "image/svg+xml")
        else:
            image = base64.b64encode(bake_png(issued.badge_png, text)).decode()
            answer = api(client, json.dumps({"image": image}).encode(), "application/json")
        assert answer.status_code < 500, (label, answer.get_data(as_text=True)[:300])
        if answer.status_code == 200:
            assert answer.json["valid"] is False, f"forgery accepted: {label} ({carrier})"
        else:
            assert answer.status_code in (400, 413, 422), (label, answer.status_code)
        seen.append(label)

    with figures.timed("fuzz /api/v1/verify forged credentials (cases)"):
        run()
    figures.add("fuzz /api/v1/verify forged credentials (cases)", len(seen))
    assert len(seen) >= examples
    assert not diff(before, table_counts(db)), "verification wrote to the database"


# --------------------------------------------------------------------------- random input

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=15,
)
CONTENT_TYPES = [
    "application/json",
    "application/ld+json",
    "application/vc+ld+json",
    "application/jwt",
    "text/plain",
    "image/png",
    "image/svg+xml",
    "application/octet-stream",
    "multipart/form-data",
    "application/x-www-form-urlencoded",
    "text/html",
    "",
]
png_like = st.builds(
    lambda chunks, w, h: png(*chunks, width=w, height=h),
    st.lists(
        st.builds(
            lambda kind, body, lie: png_chunk(kind, body, crc=None if lie is None else lie),
            st.sampled_from([b"tEXt", b"iTXt", b"zTXt", b"IDAT", b"abcd", b"iTXt"]),
            st.binary(max_size=80) | st.just(b"openbadgecredential\x00\x00\x00\x00\x00{}"),
            st.none() | st.integers(min_value=0, max_value=2**32 - 1),
        ),
        max_size=4,
    ),
    st.integers(min_value=0, max_value=2**32 - 1),
    st.integers(min_value=0, max_value=2**32 - 1),
) | st.binary(max_size=100).map(lambda tail: PNG_SIGNATURE + tail)
svg_like = st.builds(
    lambda doctype, inner: (
        f'<?xml version="1.0"?>{doctype}<svg xmlns="http://www.w3.org/2000/svg" '
        f'xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0">'
        f"<openbadges:credential>{inner}</openbadges:credential></svg>"
    ).encode(),
    st.sampled_from(
        [
            "",
            '<!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa">]>',
            '<!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
            '<!DOCTYPE svg SYSTEM "http://127.0.0.1:9/x.dtd">',
            '<!DOCTYPE svg [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p">%p;]>',
        ]
    ),
    st.text(max_size=60) | st.sampled_from(["&a;", "&x;", "<![CDATA[{}]]>", "<a><b></a>"]),
)
bodies = st.one_of(
    st.binary(max_size=400),
    json_values.map(lambda v: json.dumps(v).encode()),
    json_values.map(lambda v: json.dumps({"credential": v}).encode()),
    json_values.map(lambda v: json.dumps({"url": v}).encode()),
    st.binary(max_size=200).map(
        lambda b: json.dumps({"image": base64.b64encode(b).decode()}).encode()
    ),
    st.text(max_size=80).map(lambda t: json.dumps({"image": t}).encode()),
    st.sampled_from(
        ["http://127.0.0.1/x", "http://localhost/credentials/x", "file:///etc/passwd", "ftp://x"]
    ).map(lambda u: json.dumps({"url": u}).encode()),
    png_like,
    svg_like,
    st.integers(min_value=1, max_value=200_000).map(
        lambda n: b'{"credential":' + b"[" * n + b"]" * n + b"}"
    ),
    st.integers(min_value=1, max_value=50_000).map(lambda n: b"{" + b'"a":{' * n + b"}" * (n + 1)),
    st.lists(st.text("abcXYZ-_=", max_size=30), min_size=2, max_size=5).map(
        lambda p: ".".join(p).encode()
    ),
)


@pytest.mark.slow
def test_random_input_to_the_verify_api_is_answered_never_crashes(app, client, db, issued):
    examples = figures.fuzz_share(0.12)
    before = table_counts(db)
    statuses: list[int] = []

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
    @given(body=bodies, content_type=st.sampled_from(CONTENT_TYPES))
    def run(body: bytes, content_type: str) -> None:
        answer = api(client, body, content_type)
        text = answer.get_data(as_text=True)
        assert answer.status_code < 500, text[:300]
        assert answer.mimetype in ("application/json", "application/problem+json"), answer.mimetype
        if answer.status_code == 200:
            assert answer.json["valid"] is False, f"random input verified: {body[:200]!r}"
        statuses.append(answer.status_code)

    with figures.timed("fuzz /api/v1/verify random input (cases)"):
        run()
    figures.add("fuzz /api/v1/verify random input (cases)", len(statuses))
    assert len(statuses) >= examples
    assert not diff(before, table_counts(db)), "verification wrote to the database"


@pytest.mark.slow
def test_random_input_to_the_verify_page_is_answered_never_crashes(app, client, db, issued):
    examples = figures.fuzz_share(0.08)
    page = client.get("/verify").get_data(as_text=True)
    token = CSRF_RE.search(page).group(1)
    before = table_counts(db)
    statuses: list[int] = []
    forged = json.dumps(
        _replace(issued.document, ("credentialSubject", "id"), "did:example:mallory")
    )

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        field=st.sampled_from(["file", "text", "url", "file+text", "none"]),
        body=bodies | st.just(forged.encode()),
        name=st.text(max_size=30) | st.sampled_from(["badge.png", "../../etc/passwd", "x.svg"]),
    )
    def run(field: str, body: bytes, name: str) -> None:

        data: dict[str, Any] = {"csrf_token": token}
        text = body.decode("utf-8", "replace")
        if field in ("file", "file+text"):
            data["file"] = FileStorage(io.BytesIO(body), filename=name or "upload")
        if field in ("text", "file+text"):
            data["text"] = text
        if field == "url":
            data["url"] = text[:3000]
        # Encoded here: the test client would spool a large body to a file it never closes.
        boundary, encoded = encode_multipart(data)
        answer = client.post(
            "/verify",
            data=encoded,
            content_type=f"multipart/form-data; boundary={boundary}",
            environ_overrides=_address(),
        )
        html = answer.get_data(as_text=True)
        assert answer.status_code in (200, 400, 413), (answer.status_code, html[:300])
        assert "verdict-valid" not in html, f"the page called random input valid: {body[:100]!r}"
        statuses.append(answer.status_code)

    with figures.timed("fuzz /verify page (cases)"):
        run()
    figures.add("fuzz /verify page (cases)", len(statuses))
    assert len(statuses) >= examples
    assert not diff(before, table_counts(db)), "verification wrote to the database"
