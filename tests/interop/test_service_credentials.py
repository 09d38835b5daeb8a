"""Credentials issued by our running service, checked by an independent verifier.

The app is served by werkzeug on 127.0.0.1 in a thread; credentials are issued through the
sign-off service on its database, and everything a verifier needs (the credential, the VC-JWT,
the baked images, the DID document, the status list) is fetched from the server over HTTP, then
handed to the Node verifier (Digital Bazaar's @digitalbazaar/vc and jose, tests/interop/node),
which resolves nothing on its own: did:key from the identifier, did:web from the document we
give its loader.
"""

from __future__ import annotations

import io
import json
import secrets
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image
from support.lti_rows import Course, make_course
from support.servers import ServedApp, serve

from credentials import baking
from lti_app import create_app
from lti_app.db.models import Credential, User
from lti_app.services import awarding, signoffs, verification
from lti_app.services import issuer as issuer_service

NODE_DIR = Path(__file__).resolve().parent / "node"
pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (NODE_DIR / "node_modules").is_dir(),
    reason="needs Node 20 and `npm ci` in tests/interop/node",
)
# A name that exercises the escaping pitfalls (docs/architecture.md §5): a form feed and a backspace, emoji,
# right-to-left and CJK scripts.
HARD_NAME = "Zoë\x0c O\u2019Brien\x08 \U0001f469\u200d\u2695\ufe0f \u0646\u0648\u0631 \u674e\u534e"


def node_verify(requests_: list[dict[str, Any]]) -> list[dict[str, Any]]:
    done = subprocess.run(
        ["node", "verify.mjs"],
        input=json.dumps({"requests": requests_}),
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@dataclass
class Service:
    app: Any
    server: ServedApp
    course: Course

    @property
    def db(self) -> Any:
        return self.app.extensions["skillsign.db"]

    def get(self, url: str, accept: str = "application/ld+json") -> requests.Response:
        assert url.startswith(self.server.url), url  # everything comes from our server
        response = requests.get(url, headers={"Accept": accept}, timeout=30)
        assert response.status_code == 200, (url, response.text[:300])
        return response

    def complete(self, learner: User, key: str = "emerging") -> Credential:
        level = next(lv for lv in self.course.version.levels if lv.key == key)
        with self.db.transaction() as session:
            result = signoffs.sign(
                session,
                actor_id=self.course.instructor.id,
                context_id=self.course.context.id,
                learner_ids=[learner.id],
                statement_ids=[st.id for st in level.statements],
            )
        (credential,) = result.credentials
        return credential

    def fetched(self, credential: Credential) -> dict[str, Any]:
        """What a verifier downloads: the credential, its status list and issuer's DID doc."""
        url = f"{self.server.url}/credentials/{credential.id}"
        document = self.get(url).json()
        status_url = document["credentialStatus"]["statusListCredential"]
        request: dict[str, Any] = {
            "credential": document,
            "statusListCredentials": {status_url: self.get(status_url).json()},
        }
        issuer = document["issuer"]["id"]
        if issuer.startswith("did:web:"):
            request["didDocuments"] = {
                issuer: self.get(f"{self.server.url}/.well-known/did.json").json()
            }
        return request


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (20, 33, 61)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def service_factory(app, database_url: str, tmp_path: Path) -> Iterator[Callable[[str], Service]]:
    """Serve a fresh app (did:web or did:key) on the test database; ``app`` cleans it up."""
    running: list[Service] = []

    def start(method: str) -> Service:
        holder: dict[str, Any] = {}
        server = serve(lambda environ, start_response: holder["app"](environ, start_response))
        served = create_app(
            {
                "ENV": "test",
                "DATABASE_URL": database_url,
                "INSTANCE_DIR": str(tmp_path / f"instance-{method}"),
                "SECRET_KEY": secrets.token_hex(16),
                "BASE_URL": server.url,
                "ISSUER_DID": method,
                "KEYS_DIR": str(tmp_path / "keys"),
            }
        )
        holder["app"] = served
        with served.extensions["skillsign.db"].transaction() as session:
            course = make_course(
                session,
                issuer=f"https://lms-{method}.example.edu",
                client_id=f"client-{method}",
                token_url="https://lms.example.edu/token",
                lineitems_url=None,
                learners=3,
            )
            for level in course.version.levels:
                assert level.statements
            first = session.get(User, course.learners[0].id)
            first.name = HARD_NAME
            first.show_name_on_credentials = True
            awarding.set_wallet_did(session, course.learners[2].id, "did:example:wallet-%E6%9D%8E")
            # The institution's stored profile, logo and all, travels in every credential.
            issuer_service.save_institution(
                session,
                name="Riverside Démo College",
                url="https://riverside.example.edu",
                email="credentials@riverside.example.edu",
                description="A fictional college — “demo” only.",
                image=_png(),
                remove_image=False,
                actor_id=None,
            )
        service = Service(served, server, course)
        running.append(service)
        return service

    yield start
    for service in running:
        service.server.stop()
        service.db.dispose()


@pytest.fixture(params=["key", "web"])
def service(request, service_factory) -> Service:
    return service_factory(request.param)


def test_our_credentials_verify_in_the_reference_verifier(service: Service) -> None:
    credential = service.complete(service.course.learners[0])
    request = service.fetched(credential)
    method = "did:web:" if service.app.config["ISSUER_DID"] == "web" else "did:key:"
    assert request["credential"]["issuer"]["id"].startswith(method)
    identifiers = request["credential"]["credentialSubject"]["identifier"]
    assert {
        "identityType": "name",
        "identityHash": HARD_NAME,
        "hashed": False,
        "type": "IdentityObject",
    } in identifiers
    issuer = request["credential"]["issuer"]
    assert (issuer["name"], issuer["url"], issuer["email"]) == (
        "Riverside Démo College",
        "https://riverside.example.edu",
        "credentials@riverside.example.edu",
    )
    assert issuer["description"] == "A fictional college — “demo” only."
    assert issuer["image"] == {"id": f"{service.server.url}/issuer/image.png", "type": "Image"}
    assert service.get(issuer["image"]["id"], accept="image/png").content == _png()
    # Issued with proof as an array (the OB 3.0 schema's form), which the reference reads.
    assert [p["type"] for p in request["credential"]["proof"]] == ["DataIntegrityProof"]
    (result,) = node_verify([request])
    assert result["verified"] is True, result["errors"]
    assert result["revoked"] is False
    assert result["statusResults"] == [{"purpose": "revocation", "status": False}]
    # ... and in ours, from the same bytes.
    with service.db.transaction() as session:
        assert verification.verify(session, request["credential"]).status == "valid"


def test_tampered_credentials_are_rejected(service: Service) -> None:
    credential = service.complete(service.course.learners[1])
    base = service.fetched(credential)
    tampered = []
    for change in (
        lambda c: c["credentialSubject"]["achievement"].update(name="Expert level"),
        lambda c: c.update(validFrom="2001-01-01T00:00:00Z"),
        lambda c: c["credentialSubject"]["achievement"]["alignment"].pop(),
        lambda c: c["credentialSubject"]["result"][0].update(status="Failed"),
    ):
        request = json.loads(json.dumps(base))
        change(request["credential"])
        tampered.append(request)
    results = node_verify(tampered)
    assert [r["verified"] for r in results] == [False] * len(tampered)


def test_revoked_credentials_are_reported_revoked(service: Service) -> None:
    credential = service.complete(service.course.learners[1])
    with service.db.transaction() as session:
        awarding.revoke(
            session, session.get(Credential, credential.id), reason="Issued in error", actor_id=None
        )
    (result,) = node_verify([service.fetched(credential)])
    # The reference library says "verified" for a revoked credential; its status result says
    # revoked (docs/architecture.md §5), which is what a verifier must read.
    assert result["revoked"] is True
    assert result["statusResults"] == [{"purpose": "revocation", "status": True}]


def test_vc_jwt_and_baked_images_verify(service: Service) -> None:
    learner = service.course.learners[2]  # has a wallet DID: gets a VC-JWT
    credential = service.complete(learner)
    url = f"{service.server.url}/credentials/{credential.id}"
    token = service.get(f"{url}.jwt", "application/jwt").text
    request = service.fetched(credential)
    dids = request.get("didDocuments", {})
    jwt_requests = [
        {"id": "jwt", "jwt": token, "didDocuments": dids},
        {
            "id": "jwt-tampered",
            "jwt": token[:-8] + ("A" * 8 if token[-8:] != "A" * 8 else "B" * 8),
            "didDocuments": dids,
        },
    ]
    images = []
    for fmt, extract in (("png", baking.extract_png), ("svg", baking.extract_svg)):
        body = service.get(f"{url}.{fmt}", f"image/{fmt}").content
        images.append({**request, "id": fmt, "credential": json.loads(extract(body))})
    results = {r["id"]: r for r in node_verify(jwt_requests + images)}
    assert results["jwt"]["verified"] is True, results["jwt"]["errors"]
    assert results["jwt"]["credential"]["credentialSubject"]["id"] == "did:example:wallet-%E6%9D%8E"
    header = results["jwt"]["header"]
    if service.app.config["ISSUER_DID"] == "web":
        # RS256 (SKILLSIGN_VC_JWT_ALG's default): jose found the kid's JWK in our DID document.
        assert header["alg"] == "RS256"
        (method,) = [
            m for m in dids[issuer_did(request)]["verificationMethod"] if m["id"] == header["kid"]
        ]
        assert method["type"] == "JsonWebKey2020" and method["publicKeyJwk"]["kty"] == "RSA"
        assert "d" not in method["publicKeyJwk"]
    else:
        assert header["alg"] == "EdDSA"  # a did:key names one Ed25519 key, nothing else
    assert header["kid"].startswith(issuer_did(request) + "#")
    assert results["jwt-tampered"]["verified"] is False
    for fmt in ("png", "svg"):
        assert results[fmt]["verified"] is True, results[fmt]["errors"]


def issuer_did(request: dict[str, Any]) -> str:
    return request["credential"]["issuer"]["id"]


def test_rs256_vc_jwt_checked_by_jose_against_our_did_document(service_factory) -> None:
    """A did:web service signs VC-JWTs RS256 by default. jose resolves the kid from the DID
    document the service publishes, verifies the signature, and checks the OB 3.0 section 8.2
    payload: the credential's own members (no `vc` wrapper), iss, sub, jti, nbf, exp."""
    service = service_factory("web")
    with service.db.transaction() as session:
        level = next(lv for lv in service.course.version.levels if lv.key == "emerging")
        session.merge(level).credential_valid_days = 365
    credential = service.complete(service.course.learners[2])
    url = f"{service.server.url}/credentials/{credential.id}"
    token = service.get(f"{url}.jwt", "application/jwt").text
    did_document = service.get(f"{service.server.url}/.well-known/did.json").json()
    (result,) = node_verify([{"jwt": token, "didDocuments": {did_document["id"]: did_document}}])
    assert result["verified"] is True, result["errors"]
    payload = result["credential"]
    assert result["header"]["alg"] == "RS256"
    assert "vc" not in payload and payload["type"] == [
        "VerifiableCredential",
        "OpenBadgeCredential",
    ]
    assert payload["iss"] == payload["issuer"]["id"] == did_document["id"]
    assert payload["sub"] == payload["credentialSubject"]["id"]
    assert payload["jti"] == payload["id"] == url
    assert isinstance(payload["nbf"], int) and payload["exp"] > payload["nbf"] + 364 * 86400
    # The same token against a DID document whose JWK was swapped for another key: refused.
    from cryptography.hazmat.primitives.asymmetric import rsa

    from credentials import did as dids

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    forged = json.loads(json.dumps(did_document))
    for method in forged["verificationMethod"]:
        if method["id"] == result["header"]["kid"]:
            method["publicKeyJwk"] = {**dids.public_jwk(other), "alg": "RS256"}
    (refused,) = node_verify([{"jwt": token, "didDocuments": {forged["id"]: forged}}])
    assert refused["verified"] is False


def test_rotated_keys_keep_old_credentials_verifying(service: Service) -> None:
    from keys import KeyKind, KeyStore

    before = service.complete(service.course.learners[0])
    KeyStore(service.app.config["KEYS_DIR"]).rotate(KeyKind.ED25519)
    after = service.complete(service.course.learners[1])
    assert before.signing_kid != after.signing_kid
    results = node_verify([service.fetched(before), service.fetched(after)])
    assert [r["verified"] for r in results] == [True, True], [r["errors"] for r in results]
