"""Add to a wallet, end to end: an independent OpenID4VCI 1.0 client claims credentials from our
running service, and an independent verifier checks what it received.

The wallet is @openid4vc/openid4vci 0.4.6 (with @openid4vc/oauth2), run by Node from
tests/interop/node/wallet.mjs: from the ``openid-credential-offer://`` link alone it fetches the
offer, both metadata documents, exchanges the pre-authorized code (and transaction code) at the
token endpoint, gets a nonce, signs an ``openid4vci-proof+jwt`` with a key it made, and asks for
the credential. The ldp_vc result is verified by Digital Bazaar's @digitalbazaar/vc and the
jwt_vc_json result with ``jose`` (verify.mjs). The app is served by werkzeug on 127.0.0.1.

Node and the packages are required, never optional: CI installs them (``make node-deps``), and a
missing one fails these tests instead of skipping them.
"""

from __future__ import annotations

import base64
import json
import secrets
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from support.lti_rows import Course, make_course
from support.servers import ServedApp, serve

from lti_app import create_app
from lti_app.db.models import Credential, User, WalletOffer
from lti_app.services import awarding, signoffs, status_lists, wallet
from lti_app.services import issuer as issuer_service

NODE_DIR = Path(__file__).resolve().parent / "node"
PACKAGES = ("@openid4vc/openid4vci", "@openid4vc/oauth2", "@digitalbazaar/vc", "jose")


def node(script: str, request: Any) -> Any:
    if shutil.which("node") is None:
        pytest.fail("node is not on PATH: the wallet interop tests need Node 20")
    missing = [p for p in PACKAGES if not (NODE_DIR / "node_modules" / p).is_dir()]
    if missing:
        pytest.fail(f"missing Node packages {missing}: run `make node-deps`")
    done = subprocess.run(
        ["node", script],
        input=json.dumps(request),
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@dataclass
class Service:
    app: Any
    server: ServedApp
    course: Course

    @property
    def db(self) -> Any:
        return self.app.extensions["skillsign.db"]

    def get(self, url: str) -> requests.Response:
        assert url.startswith(self.server.url), url
        response = requests.get(url, headers={"Accept": "application/ld+json"}, timeout=30)
        assert response.status_code == 200, (url, response.text[:300])
        return response

    def complete(self, learner_index: int) -> Credential:
        learner = self.course.learners[learner_index]
        level = self.course.version.levels[0]
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

    def offer(self, credential: Credential, *, tx_code: bool = False) -> wallet.NewOffer:
        with self.db.transaction() as session:
            return wallet.create_offer(
                session,
                issuer_service.context(session),
                credential_id=credential.id,
                learner_id=credential.learner_id,
                tx_code=tx_code,
            )

    def status_lists_for(self, document: dict[str, Any]) -> dict[str, Any]:
        url = document["credentialStatus"]["statusListCredential"]
        return {url: self.get(url).json()}


@pytest.fixture
def service(app, database_url: str, tmp_path: Path) -> Iterator[Service]:
    yield from _service(database_url, tmp_path, "key")


@pytest.fixture
def web_service(app, database_url: str, tmp_path: Path) -> Iterator[Service]:
    """A did:web issuer: its VC-JWTs are RS256, named by a kid in its DID document."""
    yield from _service(database_url, tmp_path, "web")


def _service(database_url: str, tmp_path: Path, method: str) -> Iterator[Service]:
    holder: dict[str, Any] = {}
    server = serve(lambda environ, start_response: holder["app"](environ, start_response))
    served = create_app(
        {
            "ENV": "test",
            "DATABASE_URL": database_url,
            "INSTANCE_DIR": str(tmp_path / "instance"),
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
            issuer="https://lms-wallet.example.edu",
            client_id="client-wallet",
            token_url="https://lms.example.edu/token",
            lineitems_url=None,
            learners=3,
        )
        for level in course.version.levels:  # loaded now: the tests read them later
            assert level.statements
        first = session.get(User, course.learners[0].id)
        first.name = "Zoë Wallet"
    yield Service(served, server, course)
    server.stop()
    served.extensions["skillsign.db"].dispose()


def claim(service: Service, offer: wallet.NewOffer, **options: Any) -> dict[str, Any]:
    result = node("wallet.mjs", {"offer": offer.link, **options})
    assert "error" not in result, result
    return result


def test_a_wallet_claims_an_ldp_vc_bound_to_its_did_key(service: Service) -> None:
    original = service.complete(0)
    result = claim(
        service,
        service.offer(original),
        configurationId="OpenBadgeCredential_ldp_vc",
        key="Ed25519",
        binding="did:key",
    )
    # The library read our metadata as OpenID4VCI 1.0 (not a draft) and used a did:key kid.
    assert result["version"] == "V1"
    assert result["proofHeader"]["typ"] == "openid4vci-proof+jwt"
    assert result["proofHeader"]["kid"].startswith(result["holderDid"] + "#")
    document = result["credential"]
    assert document["credentialSubject"]["id"] == result["holderDid"]
    assert document["id"] != original.document["id"]  # a new credential, not the learner's
    assert (
        document["credentialSubject"]["achievement"]["id"]
        == original.document["credentialSubject"]["achievement"]["id"]
    )
    verdict = node(
        "verify.mjs",
        {"credential": document, "statusListCredentials": service.status_lists_for(document)},
    )
    assert verdict["verified"] is True, verdict["errors"]
    assert verdict["statusResults"] == [{"purpose": "revocation", "status": False}]
    with service.db.transaction() as session:
        copy = session.get(Credential, wallet_copy_id(document))
        assert copy is not None and copy.copy_of_id == original.id
        assert copy.holder_did == result["holderDid"]
        assert (copy.status_list_id, copy.status_index) != (
            original.status_list_id,
            original.status_index,
        )


def wallet_copy_id(document: dict[str, Any]) -> uuid.UUID:
    return uuid.UUID(document["id"].rsplit("/", 1)[-1])


def test_a_wallet_claims_a_jwt_vc_json_with_a_transaction_code_and_did_jwk(
    service: Service,
) -> None:
    original = service.complete(0)
    offer = service.offer(original, tx_code=True)
    assert offer.tx_code is not None and len(offer.tx_code) == 6
    result = claim(
        service,
        offer,
        txCode=offer.tx_code,
        configurationId="OpenBadgeCredential_jwt_vc_json",
        key="P-256",
        binding="did:jwk",
    )
    assert result["format"] == "jwt_vc_json"
    token = result["credential"]
    assert isinstance(token, str) and token.count(".") == 2
    verdict = node("verify.mjs", {"jwt": token})
    assert verdict["verified"] is True, verdict["errors"]
    assert verdict["credential"]["sub"] == result["holderDid"]
    assert verdict["credential"]["credentialSubject"]["id"].startswith("did:jwk:")


def test_a_did_web_issuer_sends_an_rs256_vc_jwt_that_jose_verifies(web_service: Service) -> None:
    original = web_service.complete(2)
    result = claim(
        web_service,
        web_service.offer(original),
        configurationId="OpenBadgeCredential_jwt_vc_json",
        key="Ed25519",
        binding="did:key",
    )
    metadata = web_service.get(f"{web_service.server.url}/.well-known/openid-credential-issuer")
    configs = metadata.json()["credential_configurations_supported"]
    assert configs["OpenBadgeCredential_jwt_vc_json"][
        "credential_signing_alg_values_supported"
    ] == ["RS256"]
    did_document = web_service.get(f"{web_service.server.url}/.well-known/did.json").json()
    verdict = node(
        "verify.mjs",
        {"jwt": result["credential"], "didDocuments": {did_document["id"]: did_document}},
    )
    assert verdict["verified"] is True, verdict["errors"]
    assert verdict["header"]["alg"] == "RS256"
    assert verdict["credential"]["sub"] == result["holderDid"]


def test_a_jwk_header_binds_the_credential_to_that_keys_did_jwk(service: Service) -> None:
    original = service.complete(1)
    result = claim(
        service,
        service.offer(original),
        configurationId="OpenBadgeCredential_ldp_vc",
        key="Ed25519",
        binding="jwk",
    )
    assert "jwk" in result["proofHeader"] and "kid" not in result["proofHeader"]
    subject = result["credential"]["credentialSubject"]["id"]
    assert subject.startswith("did:jwk:")
    jwk = json.loads(_b64url(subject[len("did:jwk:") :]))
    assert jwk["x"] == result["holderJwk"]["x"]


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_the_same_offer_cannot_be_claimed_twice(service: Service) -> None:
    original = service.complete(0)
    offer = service.offer(original)
    claim(service, offer, configurationId="OpenBadgeCredential_ldp_vc")
    again = node("wallet.mjs", {"offer": offer.link})
    assert "error" in again  # the offer URI is closed once its code was exchanged
    with service.db.transaction() as session:
        assert session.query(WalletOffer).count() == 1
        copies = session.query(Credential).filter(Credential.copy_of_id == original.id).count()
        assert copies == 1


def test_undoing_the_achievement_revokes_every_wallet_copy(service: Service) -> None:
    original = service.complete(0)
    claimed = [
        claim(service, service.offer(original), configurationId=config)["credential"]
        for config in ("OpenBadgeCredential_ldp_vc", "OpenBadgeCredential_ldp_vc")
    ]
    level = service.course.version.levels[0]
    with service.db.transaction() as session:
        signoffs.undo(
            session,
            actor_id=service.course.instructor.id,
            context_id=service.course.context.id,
            learner_id=original.learner_id,
            statement_id=level.statements[0].id,
            reason="Signed off in error",
        )
    for document in claimed:
        verdict = node(
            "verify.mjs",
            {"credential": document, "statusListCredentials": service.status_lists_for(document)},
        )
        assert verdict["revoked"] is True, verdict
    with service.db.transaction() as session:
        rows = session.query(Credential).filter(Credential.copy_of_id == original.id).all()
        assert len(rows) == 2
        assert all(row.revoked_at is not None for row in rows)
        for row in rows:
            assert status_lists.is_set(row.status_list, row.status_index) is True


def test_a_copy_revoked_alone_leaves_the_learners_credential_standing(service: Service) -> None:
    original = service.complete(0)
    document = claim(service, service.offer(original))["credential"]
    with service.db.transaction() as session:
        copy = session.get(Credential, wallet_copy_id(document))
        awarding.revoke(session, copy, reason="Wallet lost", actor_id=None)
    with service.db.transaction() as session:
        assert session.get(Credential, original.id).revoked_at is None
        assert awarding.live_credentials(
            session, learner_id=original.learner_id, level_ids=[original.level_id]
        )
