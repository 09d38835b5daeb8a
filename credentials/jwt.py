"""VC-JWT as Open Badges 3.0 defines it ("JSON Web Token Proof Format", OB 3.0 section 8.2).

Why this shape and not VC-JOSE-COSE's: OB 3.0 verifiers and the 1EdTech conformance suite
expect the OB profile, which keeps the credential itself as the JWT payload (as VC-JOSE-COSE
does) and adds the registered claims ``iss`` (issuer.id), ``sub`` (credentialSubject.id),
``jti`` (id), ``nbf`` (validFrom) and ``exp`` (validUntil). The JOSE header may carry only
``alg``, ``kid`` (or ``jwk``) and ``typ``, and ``typ`` must be ``JWT`` when present - which rules
out VC-JOSE-COSE's ``typ: vc+jwt`` and its ``cty``. Verification also accepts the VC 1.1 form
that nests the credential in a ``vc`` claim, as OB 3.0 tells verifiers to.

RS256 is what OB 3.0 requires as a minimum (every verifier supports it); EdDSA (Ed25519) is
accepted too. The caller picks (the app: ``SKILLSIGN_VC_JWT_ALG``); without a choice the key's
type decides. ``sub`` is required when the credential's subject has an ``id``; a subject known
only by its ``identifier`` has none to give.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwa import JWSAlgModel
from joserfc.jwk import OKPKey, RSAKey
from joserfc.jws import JWSRegistry

from .data_integrity import ProofResult
from .errors import CredentialShapeError, JwtError, KeyResolutionError
from .timefmt import parse_datetime

PrivateKey = Ed25519PrivateKey | RSAPrivateKey
PublicKey = Ed25519PublicKey | RSAPublicKey
KeyResolver = Callable[[str], PublicKey]

# "Ed25519" is RFC 9864's fully-specified name for what "EdDSA" means with an Ed25519 key.
_ALGORITHMS = {"EdDSA": Ed25519PublicKey, "Ed25519": Ed25519PublicKey, "RS256": RSAPublicKey}
_ALLOWED_HEADERS = {"alg", "kid", "typ"}
_COMPACT_JWS = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
_CLAIMS = ("iss", "sub", "jti", "nbf", "exp")
MAX_TOKEN_LENGTH = 1_000_000


def is_compact_jws(text: str) -> bool:
    return len(text) <= MAX_TOKEN_LENGTH and bool(_COMPACT_JWS.match(text))


def _numeric_date(value: object, field: str) -> int:
    return int(parse_datetime(value, field=field).timestamp())


def _subject_id(credential: Mapping[str, Any]) -> str | None:
    subject = credential.get("credentialSubject")
    if isinstance(subject, Mapping):
        subject_id = subject.get("id")
        if isinstance(subject_id, str):
            return subject_id
    return None


def _issuer_id(credential: Mapping[str, Any]) -> str | None:
    issuer = credential.get("issuer")
    if isinstance(issuer, Mapping):
        issuer = issuer.get("id")
    return issuer if isinstance(issuer, str) else None


def _without_warning(algorithm: JWSAlgModel) -> JWSAlgModel:
    quiet = copy.copy(algorithm)
    quiet.security_warning = None
    return quiet


def _jose_key(key: PrivateKey | PublicKey) -> OKPKey | RSAKey:
    if isinstance(key, Ed25519PrivateKey | Ed25519PublicKey):
        return OKPKey.import_key(key)
    if isinstance(key, RSAPrivateKey | RSAPublicKey):
        return RSAKey.import_key(key)
    raise TypeError(f"an Ed25519 or RSA key is required, got {type(key).__name__}")


class _Registry(JWSRegistry):
    """joserfc's registry with two changes: EdDSA without its RFC 9864 deprecation warning
    (OB verifiers in the field know "EdDSA", not "Ed25519", so we use it deliberately), and
    room for credentials larger than joserfc's 128 kB payload default."""

    # Typed as joserfc declares it (not ClassVar, which mypy refuses for an instance attribute
    # of the base class); a fresh dict, never mutated, so not shared with JWSRegistry's.
    algorithms: dict[str, JWSAlgModel] = {  # noqa: RUF012
        **JWSRegistry.algorithms,
        "EdDSA": _without_warning(JWSRegistry.algorithms["EdDSA"]),
    }
    max_payload_length = MAX_TOKEN_LENGTH


def sign_vc_jwt(
    credential: Mapping[str, Any],
    private_key: PrivateKey,
    kid: str,
    *,
    algorithm: str | None = None,
) -> str:
    """Compact JWS of ``credential`` (OB 3.0 VC-JWT). The subject must have an ``id``: OB
    requires ``sub``. ``kid`` is the verification method URL of the key."""
    if not isinstance(kid, str) or ":" not in kid:
        raise JwtError(f"kid must be an absolute URL or DID URL, got {kid!r}")
    if "proof" in credential and not isinstance(credential["proof"], Mapping | list):
        raise CredentialShapeError("proof must be an object or a list", path="proof")
    subject_id = _subject_id(credential)
    if subject_id is None:
        raise JwtError("a VC-JWT needs credentialSubject.id for the 'sub' claim")
    issuer_id = _issuer_id(credential)
    if issuer_id is None:
        raise JwtError("a VC-JWT needs issuer.id for the 'iss' claim")
    if not isinstance(credential.get("id"), str):
        raise JwtError("a VC-JWT needs the credential id for the 'jti' claim")
    if algorithm is None:
        algorithm = "EdDSA" if isinstance(private_key, Ed25519PrivateKey) else "RS256"
    expected_key = _ALGORITHMS.get(algorithm)
    if expected_key is None:
        raise JwtError(f"unsupported algorithm {algorithm!r}; use one of {sorted(_ALGORITHMS)}")
    if not isinstance(private_key.public_key(), expected_key):
        raise JwtError(f"{algorithm} needs a {expected_key.__name__[:-9]} key")
    if isinstance(private_key, RSAPrivateKey) and private_key.key_size < 2048:
        raise JwtError("RSA keys shorter than 2048 bits are refused")

    payload = dict(credential)
    payload.update(
        iss=issuer_id,
        sub=subject_id,
        jti=credential["id"],
        nbf=_numeric_date(credential.get("validFrom"), "validFrom"),
    )
    if "validUntil" in credential:
        payload["exp"] = _numeric_date(credential["validUntil"], "validUntil")
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    header = {"alg": algorithm, "kid": kid, "typ": "JWT"}
    return jws.serialize_compact(
        header, body, _jose_key(private_key), registry=_Registry(algorithms=[algorithm])
    )


def _b64_json(segment: str, what: str) -> Any:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        return json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (binascii.Error, ValueError, UnicodeDecodeError) as error:
        raise JwtError(f"JWT {what} is not base64url JSON: {error}") from error


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise JwtError(f"duplicate JSON member {key!r}")
        result[key] = value
    return result


def decode_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, payload) of a compact JWS without checking anything - for display only."""
    if not isinstance(token, str) or not is_compact_jws(token.strip()):
        raise JwtError("not a compact JWS (three base64url parts separated by dots)")
    header_b64, payload_b64, _ = token.strip().split(".")
    header = _b64_json(header_b64, "header")
    payload = _b64_json(payload_b64, "payload")
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise JwtError("JWT header and payload must be JSON objects")
    return header, payload


def credential_from_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The OpenBadgeCredential inside a VC-JWT payload (OB 3.0 form, or VC 1.1 ``vc`` claim)."""
    if isinstance(payload.get("vc"), Mapping):
        return dict(payload["vc"])
    return {key: value for key, value in payload.items() if key not in (*_CLAIMS, "iat")}


def _claims_match(payload: Mapping[str, Any], credential: Mapping[str, Any]) -> str | None:
    """The first claim that disagrees with the credential, as a sentence; None if all agree."""
    expected: dict[str, Any] = {
        "iss": _issuer_id(credential),
        "sub": _subject_id(credential),
        "jti": credential.get("id"),
    }
    for claim, value in expected.items():
        if claim == "sub" and value is None and claim not in payload:
            continue  # a subject without an id (identified by `identifier`) has no `sub`
        if claim not in payload:
            return f"the '{claim}' claim is missing"
        if payload[claim] != value:
            return (
                f"the '{claim}' claim {payload[claim]!r} does not match the credential ({value!r})"
            )
    if "nbf" not in payload or not isinstance(payload["nbf"], int):
        return "the 'nbf' claim is missing or not a NumericDate"
    valid_from = credential.get("validFrom", credential.get("issuanceDate"))
    try:
        if payload["nbf"] != _numeric_date(valid_from, "validFrom"):
            return "the 'nbf' claim does not match validFrom"
        valid_until = credential.get("validUntil", credential.get("expirationDate"))
        if "exp" in payload:
            if valid_until is None or payload["exp"] != _numeric_date(valid_until, "validUntil"):
                return "the 'exp' claim does not match validUntil"
        elif valid_until is not None:
            return "the credential has validUntil but the JWT has no 'exp' claim"
    except CredentialShapeError as error:
        return str(error)
    return None


def verify_vc_jwt(
    token: str, key_resolver: KeyResolver
) -> tuple[dict[str, Any] | None, ProofResult]:
    """Check a VC-JWT's signature and claims. Returns ``(credential, result)``; the credential
    is None when the token cannot even be decoded. Validity dates are judged by the caller
    (the verification pipeline), not here."""
    try:
        header, payload = decode_unverified(token)
    except JwtError as error:
        return None, ProofResult(False, str(error), None, "shape")
    kid = header.get("kid") if isinstance(header.get("kid"), str) else None
    credential = credential_from_payload(payload)
    extra = set(header) - _ALLOWED_HEADERS
    if "jwk" in header:
        return credential, ProofResult(
            False,
            "an embedded 'jwk' header is not trusted; the key must be named by 'kid'",
            kid,
            "unsupported",
        )
    if extra:
        return credential, ProofResult(
            False, f"JOSE header has extra members {sorted(extra)}", kid, "shape"
        )
    if header.get("typ", "JWT") != "JWT":
        return credential, ProofResult(
            False, f"typ {header.get('typ')!r} is not 'JWT'", kid, "shape"
        )
    algorithm = header.get("alg")
    if algorithm not in _ALGORITHMS:
        return credential, ProofResult(
            False, f"algorithm {algorithm!r} is not accepted", kid, "unsupported"
        )
    if kid is None:
        return credential, ProofResult(False, "the JOSE header has no 'kid'", None, "shape")
    try:
        public_key = key_resolver(kid)
    except KeyResolutionError as error:
        return credential, ProofResult(False, str(error), kid, "key")
    if not isinstance(public_key, _ALGORITHMS[algorithm]):
        return credential, ProofResult(False, f"{kid} is not a key for {algorithm}", kid, "key")
    try:
        jws.deserialize_compact(
            token.strip(), _jose_key(public_key), registry=_Registry(algorithms=[algorithm])
        )
    except (JoseError, ValueError) as error:
        return credential, ProofResult(
            False, f"JWS signature does not verify: {error}", kid, "signature"
        )
    mismatch = _claims_match(payload, credential)
    if mismatch:
        return credential, ProofResult(False, mismatch, kid, "shape")
    return credential, ProofResult(True, f"{algorithm} JWS verified with {kid}", kid)


def numeric_date_to_datetime(value: int) -> datetime:
    return datetime.fromtimestamp(value, UTC)
