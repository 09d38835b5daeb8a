"""did:key and did:web: identifiers, DID documents and verification-method resolution.

did:key resolves offline from the identifier itself. did:web documents are handed in by the
caller (the app serves its own at ``/.well-known/did.json`` and can pass it straight in); this
module never performs HTTP.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, unquote

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey, RSAPublicNumbers

from .errors import KeyResolutionError
from .jsonld import DID_V1_CONTEXT, MULTIKEY_V1_CONTEXT
from .multikey import b64url_decode, multikey_to_public_key, public_key_to_multikey

PublicKey = Ed25519PublicKey | RSAPublicKey

VERIFICATION_RELATIONSHIPS = (
    "authentication",
    "assertionMethod",
    "capabilityDelegation",
    "capabilityInvocation",
)
_MULTIBASE_TYPES = ("Multikey", "Ed25519VerificationKey2020")
_JWK_TYPES = ("JsonWebKey", "JsonWebKey2020")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$"
)
_FRAGMENT = re.compile(r"^[A-Za-z0-9._~!$&'()*+,;=:@/?-]+$")


# --------------------------------------------------------------------------- did:key


def did_key(public_key: Ed25519PublicKey) -> str:
    """``did:key:z6Mk...`` for an Ed25519 public key."""
    return "did:key:" + public_key_to_multikey(public_key)


def did_key_verification_method(public_key: Ed25519PublicKey) -> str:
    """The verification method id of a did:key (``did:key:z6Mk...#z6Mk...``)."""
    multikey = public_key_to_multikey(public_key)
    return f"did:key:{multikey}#{multikey}"


def did_key_document(public_key: Ed25519PublicKey) -> dict[str, Any]:
    """The DID document a did:key resolves to (Multikey form)."""
    multikey = public_key_to_multikey(public_key)
    did = f"did:key:{multikey}"
    vm_id = f"{did}#{multikey}"
    document: dict[str, Any] = {
        "@context": [DID_V1_CONTEXT, MULTIKEY_V1_CONTEXT],
        "id": did,
        "verificationMethod": [
            {"id": vm_id, "type": "Multikey", "controller": did, "publicKeyMultibase": multikey}
        ],
    }
    for relationship in VERIFICATION_RELATIONSHIPS:
        document[relationship] = [vm_id]
    return document


def _did_key_public_key(did: str, fragment: str | None) -> Ed25519PublicKey:
    multikey = did[len("did:key:") :]
    if not multikey.startswith("z6Mk"):
        raise KeyResolutionError(f"{did!r} is not an Ed25519 did:key (expected 'did:key:z6Mk...')")
    if fragment is not None and fragment != multikey:
        raise KeyResolutionError(
            f"did:key verification method fragment #{fragment} does not match the key {multikey}"
        )
    return multikey_to_public_key(multikey)


# --------------------------------------------------------------------------- did:web


def did_web(host_with_optional_port_and_path: str) -> str:
    """did:web identifier for ``host[:port][/path...]`` (an ``https://`` prefix is accepted).

    ``example.com`` -> ``did:web:example.com``; ``localhost:8443`` -> ``did:web:localhost%3A8443``;
    ``example.com/issuers/1`` -> ``did:web:example.com:issuers:1``.
    """
    value = host_with_optional_port_and_path.strip()
    if "://" in value:
        scheme, _, value = value.partition("://")
        if scheme.lower() != "https":
            raise ValueError(f"did:web is always resolved over https, not {scheme}://")
    value = value.rstrip("/")
    if not value:
        raise ValueError("did:web needs a host name")
    authority, _, path = value.partition("/")
    if any(c in authority for c in "@?#[]"):
        raise ValueError(f"did:web host {authority!r} must be a plain host name with optional port")
    host, _, port = authority.partition(":")
    host = host.lower()
    if not _HOSTNAME.match(host):
        raise ValueError(f"did:web host {host!r} is not a valid host name")
    identifier = "did:web:" + host
    if port:
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"did:web port {port!r} must be a number from 1 to 65535")
        identifier += "%3A" + str(int(port))
    if path:
        segments = path.split("/")
        if any(not segment for segment in segments):
            raise ValueError(f"did:web path {path!r} has an empty segment")
        identifier += "".join(":" + quote(unquote(s), safe="-._~") for s in segments)
    return identifier


def did_web_document_url(did: str) -> str:
    """The https URL a did:web resolves through (``/.well-known/did.json`` without a path)."""
    if not did.startswith("did:web:"):
        raise ValueError(f"{did!r} is not a did:web identifier")
    parts = did[len("did:web:") :].split(":")
    if not parts[0]:
        raise ValueError(f"{did!r} has no host")
    authority = unquote(parts[0])
    if len(parts) == 1:
        return f"https://{authority}/.well-known/did.json"
    return f"https://{authority}/" + "/".join(parts[1:]) + "/did.json"


# The suite context that defines JsonWebKey2020 and publicKeyJwk (DID Specification
# Registries). A DID document is read as JSON by every resolver here (ours and the interop
# verifier's); nothing JSON-LD-processes it, so the context is named, not vendored.
JWS_2020_CONTEXT = "https://w3id.org/security/suites/jws-2020/v1"


def public_jwk(public_key: PublicKey) -> dict[str, str]:
    """The public JWK (RFC 7517) of an Ed25519 or RSA key: public members only."""
    from joserfc.jwk import OKPKey, RSAKey  # only the JWK form needs joserfc

    if isinstance(public_key, RSAPublicKey):
        return {
            str(k): str(v) for k, v in RSAKey.import_key(public_key).as_dict(private=False).items()
        }
    return {str(k): str(v) for k, v in OKPKey.import_key(public_key).as_dict(private=False).items()}


def did_web_document(
    did: str,
    public_keys: Sequence[tuple[str, Ed25519PublicKey]],
    jwt_keys: Sequence[tuple[str, RSAPublicKey]] = (),
) -> dict[str, Any]:
    """DID document listing each ``(fragment, key)`` as a Multikey in ``assertionMethod``,
    and each of ``jwt_keys`` (RSA keys that sign VC-JWTs RS256) as a ``JsonWebKey2020`` with
    its ``publicKeyJwk``, so a JWT's ``kid`` (``did:web:...#fragment``) dereferences to a JWK.

    Pass every key that has not been retired, old ones included: credentials signed with a
    rotated key keep verifying as long as its method stays in the document.
    """
    if not did.startswith("did:web:"):
        raise ValueError(f"{did!r} is not a did:web identifier")
    if not public_keys:
        raise ValueError("a DID document needs at least one key")
    methods: list[dict[str, Any]] = []
    seen: set[str] = set()
    entries: list[tuple[str, PublicKey]] = [*public_keys, *jwt_keys]
    for fragment, public_key in entries:
        if not _FRAGMENT.match(fragment):
            raise ValueError(f"key id fragment {fragment!r} is empty or has invalid characters")
        if fragment in seen:
            raise ValueError(f"key id fragment {fragment!r} is used twice")
        seen.add(fragment)
        if isinstance(public_key, RSAPublicKey):
            jwk = {**public_jwk(public_key), "alg": "RS256", "kid": f"{did}#{fragment}"}
            methods.append(
                {
                    "id": f"{did}#{fragment}",
                    "type": "JsonWebKey2020",
                    "controller": did,
                    "publicKeyJwk": jwk,
                }
            )
            continue
        methods.append(
            {
                "id": f"{did}#{fragment}",
                "type": "Multikey",
                "controller": did,
                "publicKeyMultibase": public_key_to_multikey(public_key),
            }
        )
    ids = [method["id"] for method in methods]
    contexts = [DID_V1_CONTEXT, MULTIKEY_V1_CONTEXT]
    if jwt_keys:
        contexts.append(JWS_2020_CONTEXT)
    return {
        "@context": contexts,
        "id": did,
        "verificationMethod": methods,
        "assertionMethod": ids,
        "authentication": list(ids),
    }


# --------------------------------------------------------------------------- resolution


def split_did_url(vm_id: str) -> tuple[str, str | None]:
    """``did:...#frag`` -> (``did:...``, ``frag``); no fragment -> (did, None)."""
    did, sep, fragment = vm_id.partition("#")
    return did, (fragment if sep else None)


def _b64url(value: Any, what: str) -> bytes:
    try:
        return b64url_decode(value)
    except ValueError as error:
        raise KeyResolutionError(f"publicKeyJwk.{what}: {error}") from error


def public_key_from_jwk(jwk: Mapping[str, Any]) -> PublicKey:
    """An Ed25519 (OKP) or RSA public key from a JWK; a JWK holding private parts is refused."""
    if "d" in jwk or "p" in jwk:
        raise KeyResolutionError("publicKeyJwk contains private key material; refusing it")
    kty = jwk.get("kty")
    if kty == "OKP" and jwk.get("crv") == "Ed25519":
        raw = _b64url(jwk.get("x"), "x")
        if len(raw) != 32:
            raise KeyResolutionError("publicKeyJwk.x must be 32 bytes for Ed25519")
        return Ed25519PublicKey.from_public_bytes(raw)
    if kty == "RSA":
        n = int.from_bytes(_b64url(jwk.get("n"), "n"), "big")
        e = int.from_bytes(_b64url(jwk.get("e"), "e"), "big")
        if n.bit_length() < 2048:
            raise KeyResolutionError("RSA keys shorter than 2048 bits are refused")
        return RSAPublicNumbers(e, n).public_key()
    raise KeyResolutionError(f"unsupported publicKeyJwk (kty={kty!r}, crv={jwk.get('crv')!r})")


def _absolute(ref: str, did: str) -> str:
    return did + ref if ref.startswith("#") else ref


def _method_from_document(
    vm_id: str, did: str, document: Mapping[str, Any], purpose: str | None
) -> Mapping[str, Any]:
    if document.get("id") != did:
        raise KeyResolutionError(f"DID document id {document.get('id')!r} does not match {did!r}")
    method: Mapping[str, Any] | None = None
    for candidate in document.get("verificationMethod") or []:
        if isinstance(candidate, Mapping) and _absolute(str(candidate.get("id")), did) == vm_id:
            method = candidate
            break
    if purpose is not None:
        listed = False
        for entry in document.get(purpose) or []:
            if isinstance(entry, str) and _absolute(entry, did) == vm_id:
                listed = True
            elif isinstance(entry, Mapping) and _absolute(str(entry.get("id")), did) == vm_id:
                listed, method = True, entry  # an embedded method
        if not listed:
            raise KeyResolutionError(
                f"{vm_id} is not listed under {purpose!r} in the DID document of {did}"
            )
    if method is None:
        raise KeyResolutionError(f"{vm_id} is not in the DID document of {did}")
    controller = method.get("controller")
    if controller is not None and controller != did:
        raise KeyResolutionError(f"{vm_id} is controlled by {controller!r}, not {did!r}")
    return method


def _key_from_method(vm_id: str, method: Mapping[str, Any]) -> PublicKey:
    vm_type = method.get("type")
    if vm_type in _MULTIBASE_TYPES and "publicKeyMultibase" in method:
        return multikey_to_public_key(method["publicKeyMultibase"])
    if vm_type in _JWK_TYPES and isinstance(method.get("publicKeyJwk"), Mapping):
        return public_key_from_jwk(method["publicKeyJwk"])
    raise KeyResolutionError(
        f"{vm_id} has unsupported type {vm_type!r} (expected Multikey with publicKeyMultibase, "
        "or JsonWebKey with publicKeyJwk)"
    )


def resolve_public_key(
    vm_id: str,
    did_documents: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    purpose: str | None = "assertionMethod",
) -> PublicKey:
    """The public key of a verification method: did:key offline, did:web (or any DID) from
    ``did_documents`` keyed by DID. ``purpose`` must list the method (None skips that check).
    Raises :class:`KeyResolutionError` saying what is missing."""
    if not isinstance(vm_id, str) or not vm_id.startswith("did:"):
        raise KeyResolutionError(f"verification method {vm_id!r} is not a DID URL")
    did, fragment = split_did_url(vm_id)
    if did.startswith("did:key:"):
        return _did_key_public_key(did, fragment)
    if fragment is None:
        raise KeyResolutionError(f"verification method {vm_id!r} has no #fragment")
    document = (did_documents or {}).get(did)
    if document is None:
        hint = f" (fetch {did_web_document_url(did)})" if did.startswith("did:web:") else ""
        raise KeyResolutionError(f"no DID document available for {did}{hint}")
    return _key_from_method(vm_id, _method_from_document(vm_id, did, document, purpose))


def resolve_verification_method(
    vm_id: str,
    did_documents: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    purpose: str | None = "assertionMethod",
) -> Ed25519PublicKey:
    """Like :func:`resolve_public_key`, but the method must hold an Ed25519 key."""
    key = resolve_public_key(vm_id, did_documents, purpose=purpose)
    if not isinstance(key, Ed25519PublicKey):
        raise KeyResolutionError(f"{vm_id} is not an Ed25519 key")
    return key
