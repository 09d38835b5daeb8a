"""Add to a wallet: OpenID for Verifiable Credential Issuance 1.0, pre-authorized code flow.

The learner makes an offer for one of their credentials (:func:`create_offer`); the wallet
fetches it, exchanges its pre-authorized code (and the transaction code, when there is one) at
the token endpoint for an access token (:func:`exchange_code`), asks the nonce endpoint for a
``c_nonce`` (:func:`new_nonce`), and sends the credential endpoint a key proof over that nonce
(:func:`issue_to_wallet`). What it receives is a NEW credential for the same achievement, bound
to the wallet's DID, with its own status index: revocable alone, and revoked with the learner's
credential it copies (awarding.revoke).

Every secret is single-use and short-lived, and each step is a conditional UPDATE, so two
wallets racing with one code (or one token, or one nonce) get one credential between them.
We are our own authorization server: the credential issuer identifier is the base URL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, cast
from urllib.parse import quote

from sqlalchemy import CursorResult, and_, delete, select, update
from sqlalchemy.orm import Session

from credentials import bulk, holder_proof, ob3
from credentials import jwt as vc_jwt
from credentials.jsonld import OB_V3_CONTEXT, VC_V2_CONTEXT
from credentials.status_list import StatusEntry
from credentials.timefmt import now_utc
from lti_app.db.models import Credential, FrameworkLevel, User, WalletNonce, WalletOffer
from lti_app.services import audit, status_lists
from lti_app.services import issuer as issuer_service
from lti_app.services.errors import NotFound
from lti_app.services.issuer import IssuerContext, Signer
from lti_app.services.messages import N_, UserError

OFFER_TTL = timedelta(minutes=10)
TOKEN_TTL = timedelta(minutes=5)
NONCE_TTL = timedelta(minutes=5)
TX_CODE_LENGTH = 6
SWEEP_EVERY = 16  # new_nonce deletes expired nonces about once in this many calls
PRE_AUTHORIZED_GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
OFFER_SCHEME = "openid-credential-offer://"
OFFER_PATH = "/oid4vci/offers/"

Format = Literal["ldp_vc", "jwt_vc_json"]
# credential_configuration_id -> format. One achievement type, two ways to carry it.
CONFIGURATIONS: dict[str, Format] = {
    "OpenBadgeCredential_ldp_vc": "ldp_vc",
    "OpenBadgeCredential_jwt_vc_json": "jwt_vc_json",
}
_TYPES = ["VerifiableCredential", "OpenBadgeCredential"]


class Oid4vciError(Exception):
    """An OpenID4VCI / OAuth error answer: ``error`` code, description and HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


class OfferError(UserError):
    code = "wallet.offer"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _execute(session: Session, statement: Any) -> int:
    """Run a conditional UPDATE; the number of rows it changed (0: someone else was first)."""
    result = cast("CursorResult[Any]", session.execute(statement))
    return int(result.rowcount)


def code_for(handle: str) -> str:
    """The pre-authorized code of an offer, derived from its handle (the last part of the
    offer URI). Whoever can fetch the offer can read the code in it anyway, so deriving it
    loses nothing; it keeps the two apart and lets us store only their hashes."""
    digest = hashlib.sha256(b"skillsign-oid4vci-pre-authorized-code\n" + handle.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


# --------------------------------------------------------------------------- metadata


def issuer_id(issuer: IssuerContext) -> str:
    return issuer.base_url


def _jwt_algorithm(issuer: IssuerContext) -> str:
    # The rule of issuer.jwt_signer, without loading a key to answer a metadata request.
    if issuer.vc_jwt_alg == "EdDSA" or issuer.did_method != "web":
        return "EdDSA"
    return "RS256"


def _configuration(fmt: Format, issuer: IssuerContext, name: str) -> dict[str, Any]:
    definition: dict[str, Any] = {"type": list(_TYPES)}
    if fmt == "ldp_vc":
        definition = {"@context": [VC_V2_CONTEXT, OB_V3_CONTEXT], "type": list(_TYPES)}
    return {
        "format": fmt,
        "credential_definition": definition,
        "cryptographic_binding_methods_supported": ["did:key", "did:jwk"],
        # ldp_vc names the Data Integrity cryptosuite; jwt_vc_json the JOSE algorithm.
        "credential_signing_alg_values_supported": (
            ["eddsa-rdfc-2022"] if fmt == "ldp_vc" else [_jwt_algorithm(issuer)]
        ),
        "proof_types_supported": {
            "jwt": {"proof_signing_alg_values_supported": sorted(holder_proof.ALGORITHMS)}
        },
        "credential_metadata": {
            "display": [
                {
                    "name": "Open Badge",
                    "locale": "en",
                    "description": f"A skills credential from {name}",
                }
            ]
        },
    }


def issuer_metadata(issuer: IssuerContext, name: str) -> dict[str, Any]:
    """Credential Issuer Metadata (OpenID4VCI 1.0 section 12.2); ``name`` is the
    institution's, as wallets show it."""
    return {
        "credential_issuer": issuer_id(issuer),
        "authorization_servers": [issuer_id(issuer)],
        "credential_endpoint": issuer.url("/oid4vci/credential"),
        "nonce_endpoint": issuer.url("/oid4vci/nonce"),
        "display": [{"name": name, "locale": "en"}],
        "credential_configurations_supported": {
            config_id: _configuration(fmt, issuer, name)
            for config_id, fmt in CONFIGURATIONS.items()
        },
    }


def authorization_server_metadata(issuer: IssuerContext) -> dict[str, Any]:
    """RFC 8414 metadata: only the pre-authorized code grant, with no client authentication
    (the wallet is anonymous; the code and transaction code are what it holds)."""
    return {
        "issuer": issuer_id(issuer),
        "token_endpoint": issuer.url("/oid4vci/token"),
        "grant_types_supported": [PRE_AUTHORIZED_GRANT],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": ["none"],
        "pre-authorized_grant_anonymous_access_supported": True,
    }


# --------------------------------------------------------------------------- offers


@dataclass(frozen=True)
class NewOffer:
    credential_id: uuid.UUID
    offer_uri: str  # where the wallet fetches the offer JSON
    link: str  # openid-credential-offer://?credential_offer_uri=...
    pre_authorized_code: str
    tx_code: str | None
    expires_at: datetime


def _original(session: Session, credential_id: uuid.UUID | str) -> Credential:
    try:
        key = (
            credential_id if isinstance(credential_id, uuid.UUID) else uuid.UUID(str(credential_id))
        )
    except ValueError:
        raise NotFound(f"{credential_id!r} is not a credential id") from None
    credential = session.get(Credential, key)
    if credential is None:
        raise NotFound(f"no credential {credential_id}")
    return credential


def create_offer(
    session: Session,
    issuer: IssuerContext,
    *,
    credential_id: uuid.UUID | str,
    learner_id: int | None,
    tx_code: bool,
    now: datetime | None = None,
) -> NewOffer:
    """An offer of the credential to a wallet. ``learner_id`` must be the credential's learner
    (None: an administrator at the command line). A wallet copy is offered as the credential
    it copies: a wallet never receives a copy of a copy."""
    credential = _original(session, credential_id)
    if credential.copy_of_id is not None:
        credential = _original(session, credential.copy_of_id)
    if learner_id is not None and credential.learner_id != learner_id:
        # Same answer as an unknown id: a learner cannot probe other learners' credentials.
        raise NotFound(f"no credential {credential_id}")
    moment = now or now_utc()
    if credential.revoked_at is not None:
        raise OfferError(N_("This credential was revoked: it cannot go to a wallet."))
    if credential.valid_until is not None and credential.valid_until <= moment:
        raise OfferError(N_("This credential has expired: it cannot go to a wallet."))
    handle = secrets.token_urlsafe(32)
    code = code_for(handle)
    pin = "".join(secrets.choice("0123456789") for _ in range(TX_CODE_LENGTH)) if tx_code else None
    offer = WalletOffer(
        credential_id=credential.id,
        learner_id=credential.learner_id,
        handle_hash=_hash(handle),
        code_hash=_hash(code),
        tx_code_hash=_hash(pin) if pin else None,
        created_at=moment,
        expires_at=moment + OFFER_TTL,
    )
    session.add(offer)
    session.flush()
    audit.record(
        session,
        "credential.wallet_offer",
        actor_id=learner_id,
        actor_label=None if learner_id is not None else "cli",
        subject_user_id=credential.learner_id,
        object_type="credential",
        object_id=credential.id,
        details={"offer_id": offer.id, "tx_code": pin is not None},
    )
    offer_uri = issuer.url(OFFER_PATH + handle)
    return NewOffer(
        credential_id=credential.id,
        offer_uri=offer_uri,
        link=f"{OFFER_SCHEME}?credential_offer_uri={quote(offer_uri, safe='')}",
        pre_authorized_code=code,
        tx_code=pin,
        expires_at=offer.expires_at,
    )


def _offer_json(issuer: IssuerContext, code: str, with_tx_code: bool) -> dict[str, Any]:
    grant: dict[str, Any] = {"pre-authorized_code": code}
    if with_tx_code:
        grant["tx_code"] = {
            "input_mode": "numeric",
            "length": TX_CODE_LENGTH,
            "description": "The code shown next to the QR code",
        }
    return {
        "credential_issuer": issuer_id(issuer),
        "credential_configuration_ids": list(CONFIGURATIONS),
        "grants": {PRE_AUTHORIZED_GRANT: grant},
    }


def offer_document(
    session: Session, issuer: IssuerContext, handle: str, now: datetime | None = None
) -> dict[str, Any]:
    """The Credential Offer behind an offer URI, while the offer is open (not expired, its
    code not yet exchanged)."""
    moment = now or now_utc()
    offer = session.scalar(select(WalletOffer).where(WalletOffer.handle_hash == _hash(handle)))
    if offer is None or offer.redeemed_at is not None or offer.expires_at <= moment:
        raise NotFound("this credential offer is unknown, used or expired: make a new one")
    return _offer_json(issuer, code_for(handle), offer.tx_code_hash is not None)


# --------------------------------------------------------------------------- token endpoint


@dataclass(frozen=True)
class AccessToken:
    token: str
    expires_in: int


def exchange_code(
    session: Session,
    *,
    grant_type: str | None,
    code: str | None,
    tx_code: str | None,
    now: datetime | None = None,
) -> AccessToken:
    """The token endpoint: a pre-authorized code (and its transaction code) for an access
    token that buys one credential. A code works once, while the offer is open."""
    if grant_type != PRE_AUTHORIZED_GRANT:
        raise Oid4vciError(
            "unsupported_grant_type", f"only the {PRE_AUTHORIZED_GRANT} grant is supported"
        )
    if not code:
        raise Oid4vciError("invalid_request", "pre-authorized_code is missing")
    moment = now or now_utc()
    offer = session.scalar(select(WalletOffer).where(WalletOffer.code_hash == _hash(code)))
    if offer is None or offer.expires_at <= moment:
        raise Oid4vciError("invalid_grant", "the pre-authorized code is unknown or expired")
    if offer.redeemed_at is not None:
        raise Oid4vciError("invalid_grant", "the pre-authorized code was already used")
    if offer.tx_code_hash is not None:
        if not tx_code or not hmac.compare_digest(_hash(tx_code), offer.tx_code_hash):
            raise Oid4vciError("invalid_grant", "the transaction code is wrong")
    elif tx_code:
        raise Oid4vciError("invalid_request", "this offer has no transaction code")
    token = secrets.token_urlsafe(32)
    # Conditional: of two requests racing with one code, one gets a token.
    done = _execute(
        session,
        update(WalletOffer)
        .where(and_(WalletOffer.id == offer.id, WalletOffer.redeemed_at.is_(None)))
        .values(redeemed_at=moment, token_hash=_hash(token), token_expires_at=moment + TOKEN_TTL)
        .execution_options(synchronize_session=False),
    )
    if done != 1:
        raise Oid4vciError("invalid_grant", "the pre-authorized code was already used")
    return AccessToken(token, int(TOKEN_TTL.total_seconds()))


# --------------------------------------------------------------------------- nonce endpoint


def new_nonce(session: Session, now: datetime | None = None) -> tuple[str, int]:
    """A fresh ``c_nonce`` and its lifetime in seconds. About one call in ``SWEEP_EVERY``
    also deletes the expired nonces: the table keeps only the last few minutes' worth, and
    most calls pay for one INSERT only."""
    moment = now or now_utc()
    nonce = secrets.token_urlsafe(32)
    if secrets.randbelow(SWEEP_EVERY) == 0:
        session.execute(
            delete(WalletNonce)
            .where(WalletNonce.expires_at < moment - NONCE_TTL)
            .execution_options(synchronize_session=False)
        )
    session.add(WalletNonce(nonce_hash=_hash(nonce), expires_at=moment + NONCE_TTL))
    session.flush()
    return nonce, int(NONCE_TTL.total_seconds())


def _use_nonce(session: Session, nonce: str, moment: datetime) -> None:
    done = _execute(
        session,
        update(WalletNonce)
        .where(
            and_(
                WalletNonce.nonce_hash == _hash(nonce),
                WalletNonce.used_at.is_(None),
                WalletNonce.expires_at > moment,
            )
        )
        .values(used_at=moment)
        .execution_options(synchronize_session=False),
    )
    if done != 1:
        raise Oid4vciError(
            "invalid_nonce", "the proof's nonce is not one of ours, used or expired: get a new one"
        )


# --------------------------------------------------------------------------- credential endpoint


def _offer_for_token(
    session: Session, token: str | None, moment: datetime
) -> tuple[WalletOffer, Credential, User]:
    """The offer a token was granted for, with its credential and learner: one query (the
    credential endpoint's fixed cost is mostly round trips). The credential's row is locked
    until the request ends (the whole database on SQLite): a revocation running at the same
    time either waits and then revokes the new copy with it, or goes first and this request
    sees it revoked."""
    if not token:
        raise Oid4vciError("invalid_token", "an access token is required", 401)
    postgres = session.get_bind().dialect.name == "postgresql"
    if not postgres:
        # SQLite has no row locks: a first write takes the database's write lock, so what is
        # read next cannot change before this request ends (signoffs.lock_learners does the
        # same). It changes nothing.
        session.execute(
            update(WalletOffer)
            .where(WalletOffer.token_hash == _hash(token))
            .values(id=WalletOffer.id)
            .execution_options(synchronize_session=False)
        )
    query = (
        select(WalletOffer, Credential, User)
        .join(Credential, Credential.id == WalletOffer.credential_id)
        .join(User, User.id == Credential.learner_id)
        .where(WalletOffer.token_hash == _hash(token))
    )
    row = session.execute(query.with_for_update(of=Credential) if postgres else query).one_or_none()
    if row is None:
        raise Oid4vciError("invalid_token", "the access token is unknown or expired", 401)
    offer, original, learner = row
    if offer.token_expires_at is None or offer.token_expires_at <= moment:
        raise Oid4vciError("invalid_token", "the access token is unknown or expired", 401)
    if offer.issued_credential_id is not None:
        raise Oid4vciError("invalid_token", "the access token was already used", 401)
    return offer, original, learner


def _requested_format(body: Mapping[str, Any]) -> Format:
    config_id = body.get("credential_configuration_id")
    if config_id is None:
        if "credential_identifier" in body:
            raise Oid4vciError(
                "unknown_credential_identifier", "no credential identifiers are issued here"
            )
        if "format" in body:  # a pre-1.0 request
            raise Oid4vciError(
                "unsupported_credential_format",
                "ask by credential_configuration_id (OpenID4VCI 1.0), not by format",
            )
        raise Oid4vciError("invalid_credential_request", "credential_configuration_id is missing")
    if not isinstance(config_id, str) or config_id not in CONFIGURATIONS:
        raise Oid4vciError(
            "unknown_credential_configuration",
            f"unknown credential_configuration_id; offered: {', '.join(CONFIGURATIONS)}",
        )
    return CONFIGURATIONS[config_id]


def _proof_jwt(body: Mapping[str, Any]) -> str:
    proofs = body.get("proofs")
    if proofs is None:
        if "proof" in body:
            raise Oid4vciError(
                "invalid_credential_request", "send the key proof in 'proofs' (OpenID4VCI 1.0)"
            )
        raise Oid4vciError("invalid_proof", "a key proof is required ('proofs': {'jwt': [...]})")
    if not isinstance(proofs, Mapping) or set(proofs) != {"jwt"}:
        raise Oid4vciError("invalid_proof", "only the 'jwt' proof type is supported")
    jwts = proofs["jwt"]
    if not isinstance(jwts, list) or len(jwts) != 1 or not isinstance(jwts[0], str):
        raise Oid4vciError("invalid_proof", "send exactly one jwt proof: one credential per offer")
    return jwts[0]


def issue_to_wallet(
    session: Session,
    issuer: IssuerContext,
    *,
    access_token: str | None,
    body: Any,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The credential endpoint: check the token, the request and the key proof, then sign a
    new credential bound to the wallet's DID. Any failure raises :class:`Oid4vciError` and
    nothing is issued (the request's transaction rolls back)."""
    moment = now or now_utc()
    offer, original, learner = _offer_for_token(session, access_token, moment)
    if not isinstance(body, Mapping):
        raise Oid4vciError("invalid_credential_request", "the request body must be a JSON object")
    fmt = _requested_format(body)
    token = _proof_jwt(body)
    try:
        proof = holder_proof.verify_jwt_proof(
            token, audience=issuer_id(issuer), now=int(moment.timestamp())
        )
    except holder_proof.ProofError as error:
        raise Oid4vciError(error.code, str(error)) from None
    _use_nonce(session, proof.nonce, moment)
    if original.revoked_at is not None or (
        original.valid_until is not None and original.valid_until <= moment
    ):
        raise Oid4vciError("credential_request_denied", "this credential was revoked or expired")
    copy = _sign_copy(session, issuer, original, learner, proof.holder_did, moment)
    done = _execute(
        session,
        update(WalletOffer)
        .where(and_(WalletOffer.id == offer.id, WalletOffer.issued_credential_id.is_(None)))
        .values(issued_credential_id=copy.id)
        .execution_options(synchronize_session=False),
    )
    if done != 1:  # another request with the same token won the race
        raise Oid4vciError("invalid_token", "the access token was already used", 401)
    issued: Any = copy.document if fmt == "ldp_vc" else copy.jwt
    return {"credentials": [{"credential": issued}]}


def _evidence(document: Mapping[str, Any]) -> list[ob3.EvidenceItem]:
    return [
        ob3.EvidenceItem(
            name=entry["name"],
            narrative=entry.get("narrative"),
            description=entry.get("description"),
            genre=entry.get("genre"),
        )
        for entry in document.get("evidence") or []
        if isinstance(entry, Mapping) and isinstance(entry.get("name"), str)
    ]


def _vc_jwt(issuer: IssuerContext, signer: Signer, unsigned: Mapping[str, Any]) -> str:
    """The copy's VC-JWT, signed as every VC-JWT of ours is (issuer.jwt_signer: RS256 under
    did:web by default, EdDSA for a did:key issuer)."""
    jwt_signer = issuer.jwt_signer(signer)
    return vc_jwt.sign_vc_jwt(
        unsigned, jwt_signer.private_key, jwt_signer.kid, algorithm=jwt_signer.algorithm
    )


def _sign_copy(
    session: Session,
    issuer: IssuerContext,
    original: Credential,
    learner: User,
    holder_did: str,
    moment: datetime,
) -> Credential:
    """A new credential for the original's achievement (the level's, pinned to its framework
    version), bound to ``holder_did``: the original's evidence and end date, the learner's name
    only if they allow it now, and a status bit of its own."""
    level = session.get(FrameworkLevel, original.level_id)
    if level is None:  # a foreign key: cannot happen
        raise Oid4vciError("credential_request_denied", "the credential's records are gone")
    signer = issuer.signer()
    status_row, index = status_lists.allocate(session)
    credential_id = uuid.uuid4()
    valid_until = original.valid_until
    unsigned = _copy_document(
        issuer,
        issuer_service.institution(session, issuer),
        signer,
        original,
        level,
        learner,
        credential_id=credential_id,
        holder_did=holder_did,
        status_list_id=status_row.id,
        status_index=index,
        moment=moment,
    )
    (signed,) = bulk.sign_documents(
        [unsigned], signer.private_key, signer.verification_method, created=moment
    )
    copy = Credential(
        id=credential_id,
        learner_id=original.learner_id,
        framework_version_id=original.framework_version_id,
        level_id=original.level_id,
        context_id=original.context_id,
        live_key=None,
        status_list_id=status_row.id,
        status_index=index,
        issued_at=moment,
        valid_until=valid_until,
        document=signed,
        jwt=_vc_jwt(issuer, signer, unsigned),
        signing_kid=signer.kid,
        copy_of_id=original.id,
        holder_did=holder_did,
    )
    session.add(copy)
    session.flush()
    _audit_wallet_copy(session, original, copy)
    return copy


def _copy_document(
    issuer: IssuerContext,
    institution: issuer_service.Institution,
    signer: Signer,
    original: Credential,
    level: FrameworkLevel,
    learner: User,
    *,
    credential_id: uuid.UUID,
    holder_did: str,
    status_list_id: int,
    status_index: int,
    moment: datetime,
) -> dict[str, Any]:
    """The unsigned credential of a wallet copy."""
    from lti_app.services import awarding  # awarding -> wallet would be a cycle at import

    return ob3.build_credential(
        credential_id=issuer.credential_url(credential_id),
        # The institution's saved profile, as on the learner's own credential.
        issuer=awarding.issuer_profile(issuer, signer.issuer_did, institution),
        achievement=awarding.achievement_for(issuer, level.framework_version, level),
        subject=ob3.Subject(
            id=holder_did,
            name=learner.name if learner.show_name_on_credentials and learner.name else None,
        ),
        valid_from=moment,
        valid_until=original.valid_until,
        status=StatusEntry(issuer.status_list_url(status_list_id, signer), status_index),
        evidence=_evidence(original.document),
    )


def _audit_wallet_copy(session: Session, original: Credential, copy: Credential) -> None:
    audit.record(
        session,
        "credential.issue_wallet",
        actor_id=None,
        actor_label="wallet",
        context_id=original.context_id,
        subject_user_id=original.learner_id,
        object_type="credential",
        object_id=copy.id,
        details={
            "copy_of": str(original.id),
            "holder_did": copy.holder_did,
            "status_list_id": copy.status_list_id,
            "status_index": copy.status_index,
            "kid": copy.signing_kid,
        },
    )


# --------------------------------------------------------------------------- the holder's choice


def set_name_choice(
    session: Session, user_id: int, show_name: bool, now: datetime | None = None
) -> User:
    """Remember whether the learner's name appears on their credentials and public pages.
    Public pages follow it at once; credentials already signed cannot change, so it applies
    to the copies made from now on."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user with id {user_id}")
    previous = user.show_name_on_credentials if user.name_choice_at is not None else None
    user.show_name_on_credentials = show_name
    user.name_choice_at = now or now_utc()
    session.flush()
    audit.record(
        session,
        "user.name_choice",
        actor_id=user_id,
        subject_user_id=user_id,
        object_type="user",
        object_id=user_id,
        details={"previous": previous, "show_name": show_name},
    )
    return user
