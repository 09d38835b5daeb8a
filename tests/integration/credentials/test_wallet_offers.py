"""Add to a wallet (OpenID4VCI 1.0), against the app and its database: the learner's offer page,
the metadata, and every refusal of the token and credential endpoints. Each refusal answers
with the OpenID4VCI / OAuth error code a wallet acts on, and issues nothing.

The wallet here is a few lines of Python over the app's test client (keys made in the test,
proofs signed with joserfc); the independent wallet library runs end to end in
tests/interop/test_wallet_openid4vci.py.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from issuance_helpers import issue_backdated, level_of
from joserfc import jws
from joserfc.jwk import OKPKey
from joserfc.jws import JWSRegistry
from sqlalchemy import func, select
from support.checklist_world import make_world

from credentials import data_integrity, did, holder_proof
from credentials.multikey import public_key_to_multikey
from credentials.timefmt import now_utc
from lti_app.db.models import AuditEvent, Credential, User, WalletNonce, WalletOffer
from lti_app.services import awarding, signoffs, wallet
from lti_app.services import issuer as issuer_service

ISSUER = "http://localhost"  # the test app's BASE_URL: our credential issuer identifier
LDP = "OpenBadgeCredential_ldp_vc"
JWT = "OpenBadgeCredential_jwt_vc_json"
GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"


class Wallet:
    """Just enough of a wallet: an Ed25519 did:key and the three calls."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.key = Ed25519PrivateKey.generate()
        multikey = public_key_to_multikey(self.key.public_key())
        self.did = f"did:key:{multikey}"
        self.kid = f"{self.did}#{multikey}"

    def token(self, code: str, tx_code: str | None = None) -> Any:
        form = {"grant_type": GRANT, "pre-authorized_code": code}
        if tx_code is not None:
            form["tx_code"] = tx_code
        return self.client.post("/oid4vci/token", data=form)

    def nonce(self) -> str:
        answer = self.client.post("/oid4vci/nonce")
        assert answer.status_code == 200
        assert answer.headers["Cache-Control"] == "no-store"
        return answer.get_json()["c_nonce"]

    def proof(
        self,
        nonce: str | None,
        *,
        aud: str = ISSUER,
        iat: int | None = None,
        header: dict[str, Any] | None = None,
        key: Ed25519PrivateKey | None = None,
    ) -> str:
        payload: dict[str, Any] = {"aud": aud, "iat": int(time.time()) if iat is None else iat}
        if nonce is not None:
            payload["nonce"] = nonce
        protected = {"typ": "openid4vci-proof+jwt", "alg": "Ed25519", "kid": self.kid}
        protected.update(header or {})
        protected = {k: v for k, v in protected.items() if v is not None}
        return jws.serialize_compact(
            protected,
            json.dumps(payload).encode(),
            OKPKey.import_key(key or self.key),
            registry=JWSRegistry(algorithms=[protected["alg"]]),
        )

    def credential(self, token: str | None, body: Any) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.client.post("/oid4vci/credential", json=body, headers=headers)

    def claim(self, offer: wallet.NewOffer, config: str = LDP) -> Any:
        answer = self.token(offer.pre_authorized_code, offer.tx_code)
        assert answer.status_code == 200, answer.get_json()
        token = answer.get_json()["access_token"]
        body = {
            "credential_configuration_id": config,
            "proofs": {"jwt": [self.proof(self.nonce())]},
        }
        return self.credential(token, body)


def _offer(db: Any, credential: Credential, *, tx_code: bool = False, **kw: Any) -> wallet.NewOffer:
    with db.transaction() as session:
        return wallet.create_offer(
            session,
            issuer_service.context(session),
            credential_id=credential.id,
            learner_id=credential.learner_id,
            tx_code=tx_code,
            **kw,
        )


def _copies(db: Any, credential: Credential) -> int:
    with db.transaction() as session:
        return session.scalar(
            select(func.count())
            .select_from(Credential)
            .where(Credential.copy_of_id == credential.id)
        )


def _error(answer: Any, status: int, code: str) -> None:
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.get_json()["error"] == code, answer.get_json()
    assert answer.headers["Cache-Control"] == "no-store"


# --------------------------------------------------------------------------- metadata


def test_metadata_names_the_endpoints_and_both_formats(client) -> None:
    issuer = client.get("/.well-known/openid-credential-issuer").get_json()
    assert issuer["credential_issuer"] == ISSUER
    assert issuer["credential_endpoint"] == f"{ISSUER}/oid4vci/credential"
    assert issuer["nonce_endpoint"] == f"{ISSUER}/oid4vci/nonce"
    configs = issuer["credential_configurations_supported"]
    assert {c["format"] for c in configs.values()} == {"ldp_vc", "jwt_vc_json"}
    assert configs[LDP]["credential_signing_alg_values_supported"] == ["eddsa-rdfc-2022"]
    assert configs[LDP]["proof_types_supported"]["jwt"]["proof_signing_alg_values_supported"]
    assert "OpenBadgeCredential" in configs[JWT]["credential_definition"]["type"]
    server = client.get("/.well-known/oauth-authorization-server").get_json()
    assert server["issuer"] == ISSUER
    assert server["token_endpoint"] == f"{ISSUER}/oid4vci/token"
    assert server["grant_types_supported"] == [GRANT]
    assert server["pre-authorized_grant_anonymous_access_supported"] is True


# --------------------------------------------------------------------------- the happy path


def test_the_offer_uri_serves_the_offer_until_the_code_is_used(client, db, issued) -> None:
    offer = _offer(db, issued, tx_code=True)
    query = parse_qs(urlsplit(offer.link).query)
    assert offer.link.startswith("openid-credential-offer://?")
    uri = unquote(query["credential_offer_uri"][0])
    assert uri == offer.offer_uri and uri.startswith(f"{ISSUER}/oid4vci/offers/")
    document = client.get(urlsplit(uri).path).get_json()
    assert document["credential_issuer"] == ISSUER
    assert document["credential_configuration_ids"] == [LDP, JWT]
    grant = document["grants"][GRANT]
    assert grant["pre-authorized_code"] == offer.pre_authorized_code
    assert grant["tx_code"] == {
        "input_mode": "numeric",
        "length": 6,
        "description": "The code shown next to the QR code",
    }
    assert Wallet(client).token(offer.pre_authorized_code, offer.tx_code).status_code == 200
    assert client.get(urlsplit(uri).path).status_code == 404  # used: the offer is gone


def test_a_claimed_credential_is_a_new_signed_credential_bound_to_the_wallet(
    client, db, issued
) -> None:
    holder = Wallet(client)
    answer = holder.claim(_offer(db, issued))
    assert answer.status_code == 200, answer.get_json()
    assert answer.headers["Cache-Control"] == "no-store"
    (item,) = answer.get_json()["credentials"]
    document = item["credential"]
    assert document["credentialSubject"]["id"] == holder.did
    assert document["id"] != issued.document["id"]
    result = data_integrity.verify(document, lambda vm: did.resolve_verification_method(vm))
    assert result.verified, result.reason
    with db.transaction() as session:
        copy = session.get(Credential, uuid.UUID(document["id"].rsplit("/", 1)[-1]))
        assert copy.copy_of_id == issued.id and copy.holder_did == holder.did
        assert copy.live_key is None and copy.revoked_at is None
        assert copy.status_index != issued.status_index
        offer = session.scalar(select(WalletOffer))
        assert offer.issued_credential_id == copy.id


def test_wallet_copies_and_metadata_name_the_saved_institution(client, db, issued) -> None:
    with db.transaction() as session:
        issuer_service.save_institution(
            session,
            name="Riverside Demo College",
            url="https://riverside.example.edu",
            email="credentials@riverside.example.edu",
            description=None,
            image=None,
            remove_image=False,
            actor_id=None,
        )
    answer = Wallet(client).claim(_offer(db, issued))
    assert answer.status_code == 200, answer.get_json()
    issuer = answer.get_json()["credentials"][0]["credential"]["issuer"]
    assert (issuer["name"], issuer["url"]) == (
        "Riverside Demo College",
        "https://riverside.example.edu",
    )
    metadata = client.get("/.well-known/openid-credential-issuer").get_json()
    assert metadata["display"] == [{"name": "Riverside Demo College", "locale": "en"}]


def test_jwt_vc_json_is_a_vc_jwt_whose_subject_is_the_wallet(client, db, issued) -> None:
    holder = Wallet(client)
    answer = holder.claim(_offer(db, issued), config=JWT)
    assert answer.status_code == 200, answer.get_json()
    token = answer.get_json()["credentials"][0]["credential"]
    header, payload = holder_proof.decode_unverified(token)
    assert header["typ"] == "JWT"
    assert payload["sub"] == holder.did == payload["credentialSubject"]["id"]


# --------------------------------------------------------------------------- token endpoint


def test_an_expired_offer_gives_invalid_grant(client, db, issued) -> None:
    offer = _offer(db, issued, now=now_utc() - wallet.OFFER_TTL - timedelta(seconds=1))
    _error(Wallet(client).token(offer.pre_authorized_code), 400, "invalid_grant")
    with db.transaction() as session:
        assert session.scalar(select(WalletOffer.redeemed_at)) is None


def test_a_used_code_gives_invalid_grant(client, db, issued) -> None:
    offer = _offer(db, issued)
    holder = Wallet(client)
    assert holder.token(offer.pre_authorized_code).status_code == 200
    _error(holder.token(offer.pre_authorized_code), 400, "invalid_grant")
    _error(holder.token("not-a-code"), 400, "invalid_grant")


def test_a_wrong_or_missing_transaction_code_gives_invalid_grant(client, db, issued) -> None:
    offer = _offer(db, issued, tx_code=True)
    assert offer.tx_code is not None and re.fullmatch(r"\d{6}", offer.tx_code)
    holder = Wallet(client)
    wrong = f"{(int(offer.tx_code) + 1) % 1_000_000:06d}"
    _error(holder.token(offer.pre_authorized_code, wrong), 400, "invalid_grant")
    _error(holder.token(offer.pre_authorized_code), 400, "invalid_grant")
    # Nothing was used up: the right code still works.
    assert holder.token(offer.pre_authorized_code, offer.tx_code).status_code == 200


def test_another_grant_type_is_unsupported(client, db, issued) -> None:
    offer = _offer(db, issued)
    answer = client.post(
        "/oid4vci/token",
        data={"grant_type": "authorization_code", "pre-authorized_code": offer.pre_authorized_code},
    )
    _error(answer, 400, "unsupported_grant_type")


# --------------------------------------------------------------------------- credential endpoint


@pytest.fixture
def granted(client, db, issued) -> tuple[Wallet, str]:
    holder = Wallet(client)
    answer = holder.token(_offer(db, issued).pre_authorized_code)
    return holder, answer.get_json()["access_token"]


def _body(proof: str, config: str = LDP) -> dict[str, Any]:
    return {"credential_configuration_id": config, "proofs": {"jwt": [proof]}}


def test_a_missing_or_unknown_token_is_401_invalid_token(client, db, issued, granted) -> None:
    holder, _token = granted
    for token in (None, "not-a-token"):
        answer = holder.credential(token, _body(holder.proof(holder.nonce())))
        _error(answer, 401, "invalid_token")
        assert answer.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    assert _copies(db, issued) == 0


def test_a_token_buys_one_credential(client, db, issued, granted) -> None:
    holder, token = granted
    assert holder.credential(token, _body(holder.proof(holder.nonce()))).status_code == 200
    _error(holder.credential(token, _body(holder.proof(holder.nonce()))), 401, "invalid_token")
    assert _copies(db, issued) == 1


def test_an_expired_token_is_refused(client, db, issued, granted) -> None:
    holder, token = granted
    with db.transaction() as session:
        offer = session.scalar(select(WalletOffer))
        offer.token_expires_at = now_utc() - timedelta(seconds=1)
    _error(holder.credential(token, _body(holder.proof(holder.nonce()))), 401, "invalid_token")
    assert _copies(db, issued) == 0


def test_a_nonce_not_ours_or_used_gives_invalid_nonce(client, db, issued, granted) -> None:
    holder, token = granted
    _error(holder.credential(token, _body(holder.proof("made-up"))), 400, "invalid_nonce")
    _error(holder.credential(token, _body(holder.proof(None))), 400, "invalid_nonce")
    nonce = holder.nonce()
    assert holder.credential(token, _body(holder.proof(nonce))).status_code == 200
    # The same nonce, with a fresh token: a replayed proof.
    other = holder.token(_offer(db, issued).pre_authorized_code).get_json()["access_token"]
    _error(holder.credential(other, _body(holder.proof(nonce))), 400, "invalid_nonce")
    with db.transaction() as session:
        used = session.scalar(select(WalletNonce.used_at).where(WalletNonce.used_at.is_not(None)))
        assert used is not None
    assert _copies(db, issued) == 1


def test_an_expired_nonce_gives_invalid_nonce(client, db, issued, granted) -> None:
    holder, token = granted
    nonce = holder.nonce()
    with db.transaction() as session:
        for row in session.scalars(select(WalletNonce)):
            row.expires_at = now_utc() - timedelta(seconds=1)
    _error(holder.credential(token, _body(holder.proof(nonce))), 400, "invalid_nonce")


@pytest.mark.parametrize(
    "change",
    [
        {"aud": "https://another-issuer.example"},
        {"iat": int(time.time()) - holder_proof.MAX_AGE_SECONDS - 60},
        {"iat": int(time.time()) + 3600},
        {"header": {"typ": "JWT"}},
        {"header": {"typ": None}},
        {"header": {"jwk": {"kty": "OKP", "crv": "Ed25519", "x": "A" * 43}}},  # kid and jwk
        {"header": {"kid": "did:web:wallet.example#key-1"}},
        {"key": Ed25519PrivateKey.generate()},  # signed by a key that is not the kid's
    ],
    ids=["audience", "stale", "future", "typ", "no-typ", "kid-and-jwk", "did-web", "wrong-key"],
)
def test_a_bad_proof_gives_invalid_proof(client, db, issued, granted, change) -> None:
    holder, token = granted
    answer = holder.credential(token, _body(holder.proof(holder.nonce(), **change)))
    _error(answer, 400, "invalid_proof")
    assert _copies(db, issued) == 0


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"credential_configuration_id": "UniversityDegree"}, "unknown_credential_configuration"),
        ({"format": "mso_mdoc"}, "unsupported_credential_format"),
        ({}, "invalid_credential_request"),
        ({"credential_identifier": "x"}, "unknown_credential_identifier"),
    ],
)
def test_an_unknown_configuration_or_format_is_refused(
    client, db, issued, granted, body, code
) -> None:
    holder, token = granted
    answer = holder.credential(token, {**body, "proofs": {"jwt": [holder.proof(holder.nonce())]}})
    _error(answer, 400, code)
    assert _copies(db, issued) == 0


def test_proofs_must_be_one_jwt_in_proofs(client, db, issued, granted) -> None:
    holder, token = granted
    proof = holder.proof(holder.nonce())
    legacy = {"credential_configuration_id": LDP, "proof": {"proof_type": "jwt", "jwt": proof}}
    _error(holder.credential(token, legacy), 400, "invalid_credential_request")
    two = {"credential_configuration_id": LDP, "proofs": {"jwt": [proof, proof]}}
    _error(holder.credential(token, two), 400, "invalid_proof")
    _error(holder.credential(token, {"credential_configuration_id": LDP}), 400, "invalid_proof")
    assert _copies(db, issued) == 0


def test_a_credential_revoked_after_the_offer_is_not_issued(client, db, issued, granted) -> None:
    holder, token = granted
    with db.transaction() as session:
        awarding.revoke(session, session.get(Credential, issued.id), reason="x", actor_id=None)
    answer = holder.credential(token, _body(holder.proof(holder.nonce())))
    _error(answer, 400, "credential_request_denied")
    assert _copies(db, issued) == 0


def test_a_revoked_credential_cannot_be_offered(db, issued) -> None:
    with db.transaction() as session:
        awarding.revoke(session, session.get(Credential, issued.id), reason="x", actor_id=None)
    with pytest.raises(wallet.OfferError, match="revoked"):
        _offer(db, issued)


def test_an_expired_credential_cannot_be_offered_and_a_copy_keeps_the_end_date(
    client, db, course
) -> None:
    expired = issue_backdated(
        db, course.learners[1].id, level_of(course).id, valid_days=30, age_days=31
    )
    with pytest.raises(wallet.OfferError, match="expired"):
        _offer(db, expired)
    standing = issue_backdated(
        db, course.learners[2].id, level_of(course).id, valid_days=30, age_days=1
    )
    document = Wallet(client).claim(_offer(db, standing)).get_json()["credentials"][0]
    assert document["credential"]["validUntil"] == standing.document["validUntil"]


def test_only_the_credentials_learner_can_make_an_offer(db, issued, course) -> None:
    with db.transaction() as session, pytest.raises(wallet.NotFound):
        wallet.create_offer(
            session,
            issuer_service.context(session),
            credential_id=issued.id,
            learner_id=course.learners[1].id,
            tx_code=False,
        )


def test_the_token_endpoint_is_rate_limited(make_app, db, issued) -> None:
    limited = make_app(RATELIMIT_WALLET="3 per minute")
    client = limited.test_client()
    answers = [
        client.post("/oid4vci/token", data={"grant_type": GRANT, "pre-authorized_code": "guess"})
        for _ in range(4)
    ]
    assert [a.status_code for a in answers] == [400, 400, 400, 429]
    assert int(answers[-1].headers["Retry-After"]) > 0


# --------------------------------------------------------------------------- the holder's name


def test_the_name_choice_applies_to_later_copies(client, db, issued, course) -> None:
    learner_id = course.learners[0].id
    with db.transaction() as session:
        session.get(User, learner_id).name = "Nadia Named"
        wallet.set_name_choice(session, learner_id, False)
    hidden = Wallet(client).claim(_offer(db, issued)).get_json()["credentials"][0]["credential"]
    assert "identifier" not in hidden["credentialSubject"]
    with db.transaction() as session:
        wallet.set_name_choice(session, learner_id, True)
    shown = Wallet(client).claim(_offer(db, issued)).get_json()["credentials"][0]["credential"]
    assert {
        "type": "IdentityObject",
        "identityHash": "Nadia Named",
        "identityType": "name",
        "hashed": False,
    } in shown["credentialSubject"]["identifier"]


# --------------------------------------------------------------------------- the learner's page


@pytest.fixture
def page_world(app, client):
    world = make_world(app)
    with app.app_context(), app.extensions["skillsign.db"].transaction() as session:
        (credential,) = signoffs.sign(
            session,
            actor_id=world.instructor.id,
            context_id=world.context_a,
            learner_ids=[world.learner.id],
            statement_ids=world.levels["emerging"],
        ).credentials
        world.extra["credential_id"] = credential.id
    return world


def test_the_learner_chooses_then_gets_a_qr_code_and_a_link(app, client, db, page_world) -> None:
    world = page_world
    credential_id = world.extra["credential_id"]
    learner = world.caller(client, world.learner)
    checklist = learner.get("/checklist").get_data(as_text=True)
    assert f"/credentials/{credential_id}/wallet" in checklist
    page = learner.get(f"/credentials/{credential_id}/wallet").get_data(as_text=True)
    assert 'name="show_name"' in page and "openid-credential-offer://" not in page
    path = f"/credentials/{credential_id}/wallet"
    # No choice made: refused, nothing stored.
    assert learner.post(path, {"tx_code": "on"}).status_code == 400
    # No CSRF token: refused.
    assert learner.post(path, {"show_name": "yes"}, csrf=False).status_code == 400
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(WalletOffer)) == 0
        assert session.get(User, world.learner.id).name_choice_at is None
    answer = learner.post(path, {"show_name": "yes", "tx_code": "on"})
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    link = re.search(r'href="(openid-credential-offer://[^"]+)"', html).group(1)
    assert "credential_offer_uri=" in link
    assert '<div role="img" aria-labelledby="qr-caption"><svg' in html
    assert 'id="qr-caption"' in html
    tx_code = re.search(r'id="tx-code" class="code">(\d{6})<', html).group(1)
    handle = unquote(link.split("credential_offer_uri=")[1]).rsplit("/", 1)[1]
    with db.transaction() as session:
        user = session.get(User, world.learner.id)
        assert user.show_name_on_credentials is True and user.name_choice_at is not None
    # The shown offer works, with the shown code.
    holder = Wallet(client)
    assert holder.token(wallet.code_for(handle), tx_code).status_code == 200
    # Changing the choice later is remembered.
    assert learner.post(path, {"show_name": "no"}).status_code == 200
    with db.transaction() as session:
        assert session.get(User, world.learner.id).show_name_on_credentials is False


def test_a_revoked_credentials_page_refuses_an_offer(app, client, db, page_world) -> None:
    world = page_world
    credential_id = world.extra["credential_id"]
    with db.transaction() as session:
        awarding.revoke(session, session.get(Credential, credential_id), reason="x", actor_id=None)
    learner = world.caller(client, world.learner)
    assert f"/credentials/{credential_id}/wallet" not in learner.get("/checklist").get_data(
        as_text=True
    )
    answer = learner.post(f"/credentials/{credential_id}/wallet", {"show_name": "no"})
    assert answer.status_code == 400
    assert "revoked" in answer.get_data(as_text=True)
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(WalletOffer)) == 0
        # The request reported an error: the name choice made with it is not kept either.
        assert session.get(User, world.learner.id).name_choice_at is None


def test_another_learner_cannot_offer_someone_elses_credential(app, client, db, page_world) -> None:
    world = page_world
    path = f"/credentials/{world.extra['credential_id']}/wallet"
    other = world.caller(client, world.learners[1])
    assert other.get(path).status_code == 404
    assert other.post(path, {"show_name": "yes"}).status_code == 404
    instructor = world.caller(client, world.instructor)
    assert instructor.post(path, {"show_name": "yes"}).status_code == 404
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(WalletOffer)) == 0


# --------------------------------------------------------------------------- the command line


def test_the_cli_prints_a_fresh_offer_and_tx_code(runner, client, db, issued) -> None:
    done = runner.invoke(args=["credentials", "offer", str(issued.id), "--tx-code", "--json"])
    assert done.exit_code == 0, done.output
    printed = json.loads(done.output)
    assert printed["credential_id"] == str(issued.id)
    assert printed["offer"].startswith("openid-credential-offer://?credential_offer_uri=")
    assert re.fullmatch(r"\d{6}", printed["tx_code"])
    path = urlsplit(printed["credential_offer_uri"]).path
    code = client.get(path).get_json()["grants"][GRANT]["pre-authorized_code"]
    assert Wallet(client).token(code, printed["tx_code"]).status_code == 200
    plain = runner.invoke(args=["credentials", "offer", str(issued.id)])
    assert plain.exit_code == 0 and plain.output.startswith("openid-credential-offer://")
    assert "transaction code" not in plain.output


# --------------------------------------------------------------------------- races


def _race(*calls: Any) -> list[Any]:
    """Run each call in its own thread, started together; each one's result or exception."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int, call: Any) -> None:
        barrier.wait()
        try:
            results[i] = call()
        except Exception as error:  # the outcome under test
            results[i] = error

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_two_wallets_racing_one_code_get_one_token(db, issued) -> None:
    for _ in range(3):
        code = _offer(db, issued).pre_authorized_code

        def exchange(code: str = code) -> wallet.AccessToken:
            with db.transaction() as session:
                return wallet.exchange_code(session, grant_type=GRANT, code=code, tx_code=None)

        results = _race(exchange, exchange)
        granted = [r for r in results if isinstance(r, wallet.AccessToken)]
        refused = [r for r in results if isinstance(r, wallet.Oid4vciError)]
        assert len(granted) == 1 and len(refused) == 1, results
        assert refused[0].error == "invalid_grant"


def test_a_claim_racing_a_revocation_never_leaves_a_live_copy(
    client, db, course, sign_level
) -> None:
    """Whichever goes first, a copy never outlives the credential it copies."""
    holder = Wallet(client)
    with db.transaction() as session:
        issuer = issuer_service.context(session)
    for learner in course.learners:
        (original,) = sign_level(learner).credentials
        token = holder.token(_offer(db, original).pre_authorized_code).get_json()["access_token"]
        body = _body(holder.proof(holder.nonce()))

        def claim(token: str = token, body: dict[str, Any] = body) -> dict[str, Any]:
            with db.transaction() as session:
                return wallet.issue_to_wallet(session, issuer, access_token=token, body=body)

        def revoke(credential_id: uuid.UUID = original.id) -> Credential:
            with db.transaction() as session:
                row = session.get(Credential, credential_id)
                return awarding.revoke(session, row, reason="Raced", actor_id=None)

        results = _race(claim, revoke)
        assert not isinstance(results[1], Exception), results
        with db.transaction() as session:
            copies = session.scalars(
                select(Credential).where(Credential.copy_of_id == original.id)
            ).all()
            assert all(copy.revoked_at is not None for copy in copies), results
            if isinstance(results[0], wallet.Oid4vciError):
                assert results[0].error == "credential_request_denied"
                assert copies == []
            else:
                assert len(copies) == 1


def test_a_reissue_replaces_the_learners_credential_not_its_wallet_copy(
    client, db, issued, course
) -> None:
    Wallet(client).claim(_offer(db, issued))
    with db.transaction() as session:
        awarding.revoke(session, session.get(Credential, issued.id), reason="x", actor_id=None)
        # The copy is revoked after its original: a second later here, to make it certain.
        copy = session.scalar(select(Credential).where(Credential.copy_of_id == issued.id))
        copy.revoked_at = copy.revoked_at + timedelta(seconds=1)
    with db.transaction() as session:
        new = awarding.reissue(
            session,
            learner_id=issued.learner_id,
            level_id=issued.level_id,
            context_id=course.context.id,
            actor_id=course.instructor.id,
        )
        event = session.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "credential.reissue", AuditEvent.object_id == str(new.id)
            )
        )
        assert event is not None and event.details["replaces"] == str(issued.id)


def test_the_cli_lists_and_shows_a_wallet_copy_as_such(runner, client, db, issued) -> None:
    holder = Wallet(client)
    document = holder.claim(_offer(db, issued)).get_json()["credentials"][0]["credential"]
    copy_id = document["id"].rsplit("/", 1)[-1]
    listed = {
        i["id"]: i for i in json.loads(runner.invoke(args=["credentials", "list", "--json"]).output)
    }
    assert listed[copy_id]["copy_of"] == str(issued.id)
    assert listed[copy_id]["holder_did"] == holder.did
    assert listed[str(issued.id)]["copy_of"] is None
    plain = runner.invoke(args=["credentials", "list"]).output
    assert f"(wallet copy of {issued.id})" in plain
    shown = runner.invoke(args=["credentials", "show", copy_id]).output
    assert f"wallet copy of {issued.id}, bound to {holder.did}" in shown
