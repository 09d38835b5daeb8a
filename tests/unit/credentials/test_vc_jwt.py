"""VC-JWT (OB 3.0 profile): EdDSA and RS256, claims, and refusal of tampered tokens."""

from __future__ import annotations

import base64
import json
import warnings

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from credentials import did, jwt, ob3
from credentials.errors import JwtError
from credentials.timefmt import parse_datetime


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def resolve(did_document: dict):
    return lambda kid: did.resolve_public_key(kid, {did_document["id"]: did_document})


@pytest.fixture
def credential(make_credential) -> dict:
    return make_credential(valid_until="2030-01-01T00:00:00Z")


def _segments(token: str) -> list[dict | str]:
    header, payload, signature = token.split(".")
    decode = lambda s: json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))  # noqa: E731
    return [decode(header), decode(payload), signature]


def _encode(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def test_eddsa_token_shape_and_round_trip(
    credential, signing_key, verification_method, resolve
) -> None:
    token = jwt.sign_vc_jwt(credential, signing_key, verification_method)
    header, payload, _ = _segments(token)
    assert header == {"alg": "EdDSA", "kid": verification_method, "typ": "JWT"}
    assert payload["iss"] == credential["issuer"]["id"]
    assert payload["sub"] == "did:example:learner-1"
    assert payload["jti"] == credential["id"]
    assert payload["nbf"] == 1735689600  # 2025-01-01T00:00:00Z
    assert payload["exp"] == 1893456000  # 2030-01-01T00:00:00Z
    assert payload["credentialSubject"] == credential["credentialSubject"]
    decoded, result = jwt.verify_vc_jwt(token, resolve)
    assert result.verified, result.reason
    assert decoded == credential


def test_rs256_round_trip(credential, rsa_key) -> None:
    kid = "https://skills.example.edu/keys/rsa-1"
    token = jwt.sign_vc_jwt(credential, rsa_key, kid)
    assert _segments(token)[0]["alg"] == "RS256"
    decoded, result = jwt.verify_vc_jwt(token, lambda k: rsa_key.public_key())
    assert result.verified and decoded == credential


def test_vc_1_1_style_vc_claim_is_accepted(
    credential, signing_key, verification_method, resolve
) -> None:
    token = jwt.sign_vc_jwt(credential, signing_key, verification_method)
    _, payload, _ = _segments(token)
    assert (
        jwt.credential_from_payload({"vc": credential, **{k: payload[k] for k in ("iss", "sub")}})
        == credential
    )


def test_subject_without_id_cannot_be_a_jwt(
    make_credential, signing_key, verification_method
) -> None:
    from credentials import ob3

    credential = make_credential(subject=ob3.Subject(identifier_email="a@b.example"))
    with pytest.raises(JwtError, match=r"credentialSubject\.id"):
        jwt.sign_vc_jwt(credential, signing_key, verification_method)


def test_wrong_algorithm_for_key_is_refused(
    credential, signing_key, rsa_key, verification_method
) -> None:
    with pytest.raises(JwtError, match="needs a RSA"):
        jwt.sign_vc_jwt(credential, signing_key, verification_method, algorithm="RS256")
    with pytest.raises(JwtError, match="unsupported"):
        jwt.sign_vc_jwt(credential, rsa_key, verification_method, algorithm="HS256")


def test_tampered_payload_is_refused(credential, signing_key, verification_method, resolve) -> None:
    token = jwt.sign_vc_jwt(credential, signing_key, verification_method)
    header, _, signature = token.split(".")
    claims = _segments(token)[1]
    claims["credentialSubject"]["achievement"]["name"] = "Senior level"
    forged = f"{header}.{_encode(claims)}.{signature}"
    decoded, result = jwt.verify_vc_jwt(forged, resolve)
    assert not result.verified and result.failure == "signature"
    assert (
        decoded["credentialSubject"]["achievement"]["name"] == "Senior level"
    )  # shown, not trusted


def test_tampered_signature_is_refused(
    credential, signing_key, verification_method, resolve
) -> None:
    token = jwt.sign_vc_jwt(credential, signing_key, verification_method)
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    assert jwt.verify_vc_jwt(flipped, resolve)[1].failure == "signature"


def test_key_from_another_issuer_is_refused(credential, other_key, issuer_did, resolve) -> None:
    # key-1 is in the DID document, so the signature is fine; the pipeline checks the issuer.
    token = jwt.sign_vc_jwt(credential, other_key, f"{issuer_did}#key-1")
    assert jwt.verify_vc_jwt(token, resolve)[1].verified
    stranger = did.did_key_verification_method(other_key.public_key())
    token = jwt.sign_vc_jwt(credential, other_key, stranger)
    _, result = jwt.verify_vc_jwt(token, lambda kid: did.resolve_public_key(kid))
    assert result.verified  # the signature alone is valid ...
    assert result.verification_method == stranger  # ... so the caller must bind kid to iss


@pytest.mark.parametrize(
    ("header", "failure"),
    [
        ({"alg": "none", "typ": "JWT"}, "unsupported"),
        ({"alg": "HS256", "kid": "x:y", "typ": "JWT"}, "unsupported"),
        ({"alg": "EdDSA", "kid": "x:y", "typ": "vc+jwt"}, "shape"),
        ({"alg": "EdDSA", "kid": "x:y", "typ": "JWT", "cty": "vc"}, "shape"),
        ({"alg": "EdDSA", "typ": "JWT"}, "shape"),
        ({"alg": "EdDSA", "jwk": {"kty": "OKP"}, "typ": "JWT"}, "unsupported"),
    ],
)
def test_bad_headers_are_refused(
    credential, signing_key, verification_method, resolve, header, failure
) -> None:
    token = jwt.sign_vc_jwt(credential, signing_key, verification_method)
    _, payload, signature = token.split(".")
    _, result = jwt.verify_vc_jwt(f"{_encode(header)}.{payload}.{signature}", resolve)
    assert not result.verified and result.failure == failure


@pytest.mark.parametrize("claim", ["iss", "sub", "jti", "nbf", "exp"])
def test_claims_must_match_the_credential(
    credential, signing_key, verification_method, resolve, claim
) -> None:
    # Re-sign a payload whose claim disagrees, so only the claim check can catch it.
    from joserfc import jws
    from joserfc.jwk import OKPKey

    token = jwt.sign_vc_jwt(credential, signing_key, verification_method)
    header, payload, _ = _segments(token)
    payload[claim] = payload[claim] + 1 if isinstance(payload[claim], int) else payload[claim] + "x"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # joserfc's note that "EdDSA" has a newer name
        token = jws.serialize_compact(
            header,
            json.dumps(payload).encode(),
            OKPKey.import_key(signing_key),
            algorithms=["EdDSA"],
        )
    _, result = jwt.verify_vc_jwt(token, resolve)
    assert not result.verified
    assert f"'{claim}'" in result.reason


@pytest.mark.parametrize(
    "garbage", ["", "abc", "a.b", "a.b.c.d", "e30.e30.!!", "eyJhIjoxfQ.bm90IGpzb24.sig"]
)
def test_garbage_is_unreadable(garbage: str) -> None:
    credential, result = jwt.verify_vc_jwt(garbage, lambda kid: None)
    assert credential is None and result.failure == "shape"


def _resign(payload: dict, signing_key, kid: str) -> str:
    from joserfc import jws
    from joserfc.jwk import OKPKey

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # joserfc's note that "EdDSA" has a newer name
        return jws.serialize_compact(
            {"alg": "EdDSA", "kid": kid, "typ": "JWT"},
            json.dumps(payload).encode(),
            OKPKey.import_key(signing_key),
            algorithms=["EdDSA"],
        )


def _nbf(credential: dict) -> int:
    return int(parse_datetime(credential["validFrom"]).timestamp())


def test_sub_is_required_only_when_the_subject_has_an_id(
    make_credential, signing_key, verification_method, resolve
) -> None:
    """OB 3.0 section 8.2: `sub` is credentialSubject.id. A subject known only by a hashed
    identifier has none; its token verifies without `sub`, and fails with one."""
    anonymous = make_credential(subject=ob3.Subject(identifier_email="a@b.example", salt="s"))
    payload = {**anonymous, "iss": anonymous["issuer"]["id"], "jti": anonymous["id"]}
    payload["nbf"] = _nbf(anonymous)
    token = _resign(payload, signing_key, verification_method)
    _, result = jwt.verify_vc_jwt(token, resolve)
    assert result.verified, result.reason
    token = _resign({**payload, "sub": "did:example:someone"}, signing_key, verification_method)
    _, result = jwt.verify_vc_jwt(token, resolve)
    assert not result.verified and "'sub'" in result.reason
    # With an id, a missing `sub` is refused.
    identified = make_credential()
    payload = {**identified, "iss": identified["issuer"]["id"], "jti": identified["id"]}
    payload["nbf"] = _nbf(identified)
    _, result = jwt.verify_vc_jwt(_resign(payload, signing_key, verification_method), resolve)
    assert not result.verified and "'sub' claim is missing" in result.reason


def test_rs256_kid_dereferences_to_a_jwk_in_a_did_web_document(
    make_credential, signing_key, rsa_key
) -> None:
    """The RS256 key is published in the issuer's did:web document as a JsonWebKey2020 with
    publicKeyJwk (public members only), listed under assertionMethod; the JWT's kid names it
    and the pipeline's resolver finds it there."""
    issuer = did.did_web("issuer.example.edu")
    document = did.did_web_document(
        issuer, [("ed-1", signing_key.public_key())], [("rsa-1", rsa_key.public_key())]
    )
    method = next(m for m in document["verificationMethod"] if m["id"] == f"{issuer}#rsa-1")
    assert method["type"] == "JsonWebKey2020"
    assert set(method["publicKeyJwk"]) == {"kty", "n", "e", "alg", "kid"}
    assert method["publicKeyJwk"]["alg"] == "RS256"
    assert f"{issuer}#rsa-1" in document["assertionMethod"]
    assert did.JWS_2020_CONTEXT in document["@context"]
    credential = make_credential(issuer=ob3.Issuer(id=issuer, name="Example College"))
    token = jwt.sign_vc_jwt(credential, rsa_key, f"{issuer}#rsa-1", algorithm="RS256")
    header, _, _ = _segments(token)
    assert header == {"alg": "RS256", "kid": f"{issuer}#rsa-1", "typ": "JWT"}
    resolve = lambda kid: did.resolve_public_key(kid, {issuer: document})  # noqa: E731
    _, result = jwt.verify_vc_jwt(token, resolve)
    assert result.verified, result.reason
    # The Ed25519 method of the same document cannot stand in for RS256.
    forged = token.split(".")
    forged[0] = _encode({"alg": "RS256", "kid": f"{issuer}#ed-1", "typ": "JWT"})
    _, result = jwt.verify_vc_jwt(".".join(forged), resolve)
    assert not result.verified and result.failure == "key"
