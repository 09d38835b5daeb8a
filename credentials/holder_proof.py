"""A wallet's proof of possession of its key: the OpenID4VCI 1.0 ``jwt`` proof type
(Appendix F.1), and the DID the credential is then bound to.

The proof is a JWS with ``typ: openid4vci-proof+jwt`` whose payload names us as ``aud``, is
fresh (``iat``) and carries a ``c_nonce`` from our nonce endpoint. The key is named either by
``kid``, a DID URL (``did:key`` or ``did:jwk``: both resolve offline from the identifier), or
given as a ``jwk`` header, which becomes a ``did:jwk``. Exactly one of the two: a proof with a
``kid`` naming an honest key and a ``jwk`` of the signer's own must not be able to pick.

Pure: no HTTP, no database. Whether the nonce was ours and unused is the caller's question
(:attr:`HolderProof.nonce`); everything else is decided here.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwa import JWSAlgModel
from joserfc.jwk import ECKey, OKPKey
from joserfc.jws import JWSRegistry

from .errors import JwtError, KeyResolutionError
from .jwt import decode_unverified, is_compact_jws
from .multikey import b64url_decode, multibase_decode, raw_public_key

PROOF_TYP = "openid4vci-proof+jwt"
# RFC 7515 4.1.9: a media type may be written with its "application/" prefix.
_TYPS = (PROOF_TYP, "application/" + PROOF_TYP)
# Algorithm -> the key type it needs. "Ed25519" is RFC 9864's name for EdDSA over Ed25519.
ALGORITHMS = {"EdDSA": "Ed25519", "Ed25519": "Ed25519", "ES256": "P-256"}
MAX_AGE_SECONDS = 300  # a proof older than this is stale
FUTURE_SKEW_SECONDS = 60  # clocks of phones drift
MAX_PROOF_LENGTH = 16_384
_P256_MULTICODEC = b"\x80\x24"  # varint of 0x1200, p256-pub (compressed point)
_ED25519_MULTICODEC = b"\xed\x01"

ProofErrorCode = Literal["invalid_proof", "invalid_nonce"]


class ProofError(Exception):
    """Why a key proof was refused, with the OpenID4VCI error code to answer with."""

    def __init__(self, message: str, code: ProofErrorCode = "invalid_proof") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class HolderProof:
    holder_did: str  # the DID the credential is bound to (credentialSubject.id)
    nonce: str  # the c_nonce the wallet signed; the caller checks it is ours and unused
    algorithm: str


# --------------------------------------------------------------------------- keys


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _public_jwk(jwk: Mapping[str, Any]) -> dict[str, str]:
    """Only the public members that name the key (RFC 7638's), so a DID made from it is stable
    and carries nothing else the wallet sent (no private ``d``: that is refused)."""
    if "d" in jwk:
        raise ProofError("the proof's key holds private key material")
    kty, crv = jwk.get("kty"), jwk.get("crv")
    if kty == "OKP" and crv == "Ed25519" and isinstance(jwk.get("x"), str):
        return {"crv": "Ed25519", "kty": "OKP", "x": jwk["x"]}
    if kty == "EC" and crv == "P-256" and isinstance(jwk.get("x"), str):
        if not isinstance(jwk.get("y"), str):
            raise ProofError("a P-256 key needs 'y'")
        return {"crv": "P-256", "kty": "EC", "x": jwk["x"], "y": jwk["y"]}
    raise ProofError(f"unsupported key (kty={kty!r}, crv={crv!r}): use Ed25519 or P-256")


def _did_key_jwk(method_specific: str) -> dict[str, str]:
    try:
        data = multibase_decode(method_specific)
    except ValueError as error:
        raise ProofError(f"not a did:key: {error}") from error
    if data[:2] == _ED25519_MULTICODEC and len(data) == 34:
        return {"crv": "Ed25519", "kty": "OKP", "x": _b64url(data[2:])}
    if data[:2] == _P256_MULTICODEC and len(data) == 35:
        try:
            point = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), data[2:])
        except ValueError as error:
            raise ProofError(f"not a P-256 point: {error}") from error
        numbers = point.public_numbers()
        return {
            "crv": "P-256",
            "kty": "EC",
            "x": _b64url(numbers.x.to_bytes(32, "big")),
            "y": _b64url(numbers.y.to_bytes(32, "big")),
        }
    raise ProofError("a did:key must hold an Ed25519 or P-256 key")


def did_jwk(jwk: Mapping[str, Any]) -> str:
    """``did:jwk:`` + base64url of the key's public members (the did:jwk method)."""
    text = json.dumps(_public_jwk(jwk), separators=(",", ":"), sort_keys=True)
    return "did:jwk:" + _b64url(text.encode("utf-8"))


def resolve_kid(kid: str) -> tuple[str, dict[str, str]]:
    """``(DID, public JWK)`` of a did:key or did:jwk DID URL; did:jwk's method uses ``#0``."""
    did, sep, fragment = kid.partition("#")
    if not sep or not fragment:
        raise ProofError("'kid' must be a DID URL with a #fragment naming the key")
    if did.startswith("did:key:"):
        method_specific = did[len("did:key:") :]
        if fragment != method_specific:
            raise ProofError("the did:key fragment does not name the DID's own key")
        return did, _did_key_jwk(method_specific)
    if did.startswith("did:jwk:"):
        if fragment != "0":
            raise ProofError("a did:jwk key is named '#0'")
        try:
            jwk = json.loads(b64url_decode(did[len("did:jwk:") :]).decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as error:
            raise ProofError(f"not a did:jwk: {error}") from error
        if not isinstance(jwk, dict):
            raise ProofError("a did:jwk must hold a JWK object")
        _public_jwk(jwk)  # refuses private or unsupported keys
        return did, jwk
    raise ProofError("'kid' must be a did:key or did:jwk DID URL (other DID methods need HTTP)")


# --------------------------------------------------------------------------- the proof


def _quiet(algorithm: JWSAlgModel) -> JWSAlgModel:
    quiet = copy.copy(algorithm)
    quiet.security_warning = None
    return quiet


class _Registry(JWSRegistry):
    """joserfc's registry without its RFC 9864 warning on "EdDSA": wallets in the field sign
    with "EdDSA", and our tests turn warnings into errors."""

    algorithms: dict[str, JWSAlgModel] = {  # noqa: RUF012 - typed as joserfc declares it
        **JWSRegistry.algorithms,
        "EdDSA": _quiet(JWSRegistry.algorithms["EdDSA"]),
    }


def _header(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    if len(token) > MAX_PROOF_LENGTH or not is_compact_jws(token):
        raise ProofError("the proof is not a compact JWS")
    try:
        return decode_unverified(token)
    except JwtError as error:
        raise ProofError(str(error)) from error


def _key(header: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
    kid, jwk = header.get("kid"), header.get("jwk")
    if "x5c" in header or "trust_chain" in header or "key_attestation" in header:
        raise ProofError("only 'kid' (a did:key or did:jwk) or 'jwk' name the key here")
    if (kid is None) == (jwk is None):
        raise ProofError("the proof must name its key by exactly one of 'kid' and 'jwk'")
    if jwk is not None:
        if not isinstance(jwk, Mapping):
            raise ProofError("'jwk' must be a JSON object")
        public = _public_jwk(jwk)
        return did_jwk(public), public
    if not isinstance(kid, str):
        raise ProofError("'kid' must be a string")
    return resolve_kid(kid)


def _check_signature(token: str, algorithm: str, jwk: dict[str, str]) -> None:
    if ALGORITHMS[algorithm] != jwk["crv"]:
        raise ProofError(f"{algorithm} does not go with a {jwk['crv']} key")
    try:
        members: dict[str, str | list[str]] = dict(jwk)
        key = OKPKey.import_key(members) if jwk["kty"] == "OKP" else ECKey.import_key(members)
        jws.deserialize_compact(token, key, registry=_Registry(algorithms=[algorithm]))
    except (JoseError, ValueError, KeyResolutionError) as error:
        raise ProofError(f"the proof's signature does not verify: {error}") from error


def _check_claims(payload: Mapping[str, Any], audience: str, now: int) -> str:
    aud = payload.get("aud")
    if not (aud == audience or (isinstance(aud, list) and audience in aud)):
        raise ProofError(f"the proof's 'aud' must be this credential issuer ({audience})")
    iat = payload.get("iat")
    if not isinstance(iat, int | float) or isinstance(iat, bool):
        raise ProofError("the proof has no numeric 'iat'")
    if iat < now - MAX_AGE_SECONDS:
        raise ProofError("the proof is stale: ask for a new nonce and sign again")
    if iat > now + FUTURE_SKEW_SECONDS:
        raise ProofError("the proof's 'iat' is in the future")
    exp = payload.get("exp")
    if isinstance(exp, int | float) and not isinstance(exp, bool) and exp < now:
        raise ProofError("the proof has expired")
    nonce = payload.get("nonce")
    if not isinstance(nonce, str) or not nonce:
        raise ProofError(
            "the proof carries no nonce: get one from the nonce endpoint", "invalid_nonce"
        )
    return nonce


def verify_jwt_proof(token: str, *, audience: str, now: int) -> HolderProof:
    """Check a ``jwt`` key proof; the holder's DID and the nonce it signed, or
    :class:`ProofError` with the error code to answer with. ``now`` is in epoch seconds."""
    if not isinstance(token, str):
        raise ProofError("the jwt proof must be a string")
    token = token.strip()
    header, payload = _header(token)
    if header.get("typ") not in _TYPS:
        raise ProofError(f"the proof's 'typ' must be {PROOF_TYP!r}")
    algorithm = header.get("alg")
    if algorithm not in ALGORITHMS:
        raise ProofError(
            f"algorithm {algorithm!r} is not accepted; use one of {sorted(ALGORITHMS)}"
        )
    if "crit" in header:
        raise ProofError("no 'crit' header extensions are understood")
    holder_did, jwk = _key(header)
    _check_signature(token, algorithm, jwk)
    nonce = _check_claims(payload, audience, now)
    return HolderProof(holder_did=holder_did, nonce=nonce, algorithm=algorithm)


def ed25519_public_jwk(public_key: Ed25519PublicKey) -> dict[str, str]:
    """The public JWK of an Ed25519 key (tests and the benchmark play wallets with it)."""
    return {"crv": "Ed25519", "kty": "OKP", "x": _b64url(raw_public_key(public_key))}
