"""W3C Data Integrity ``DataIntegrityProof`` with the ``eddsa-rdfc-2022`` cryptosuite.

Per the spec (VC-DI-EDDSA 3.3): the proof configuration (the proof minus ``proofValue``, with
the document's ``@context``) and the document (minus ``proof``) are each canonicalized with
RDFC-1.0 and hashed with SHA-256; the Ed25519 signature covers
``sha256(canonical proof config) || sha256(canonical document)`` and is written as a base58btc
multibase ``proofValue``.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .errors import CredentialError, CredentialShapeError, KeyResolutionError
from .jsonld import Loader, canonicalize
from .multikey import multibase_decode, multibase_encode
from .timefmt import format_datetime, now_utc, parse_datetime

PROOF_TYPE = "DataIntegrityProof"
CRYPTOSUITE = "eddsa-rdfc-2022"
# The Linked Data Proof suite OB 3.0's first edition named, still signed by many issuers: the
# same Ed25519 signature over the same two RDFC hashes, without `cryptosuite`, and with the
# suite's context in the document. Verified, never issued.
ED25519_2020 = "Ed25519Signature2020"
ED25519_2020_CONTEXT = "https://w3id.org/security/suites/ed25519-2020/v1"
PROOF_PURPOSE = "assertionMethod"  # what verify requires and sign writes by default

PublicKeyResolver = Callable[[str], Ed25519PublicKey]
FailureKind = Literal["document", "shape", "key", "signature", "unsupported"]


@dataclass(frozen=True)
class ProofResult:
    """Outcome of checking one credential's proof. ``failure`` says which stage failed:
    ``document`` (the credential itself does not canonicalize: undefined term, relative IRI),
    ``shape`` (the proof is malformed), ``key`` (the verification method could not be
    resolved), ``signature`` (the signature does not match), ``unsupported`` (another suite)."""

    verified: bool
    reason: str
    verification_method: str | None = None
    failure: FailureKind | None = None


def _hash(document: Mapping[str, Any], loader: Loader | None) -> bytes:
    return hashlib.sha256(canonicalize(document, loader=loader).encode("utf-8")).digest()


def proof_hashes(
    document: Mapping[str, Any], proof_config: Mapping[str, Any], *, loader: Loader | None = None
) -> tuple[bytes, bytes]:
    """``(sha256(canonical proof config), sha256(canonical document))``.

    ``document`` is the unsecured document (no ``proof``); ``proof_config`` is the proof without
    ``proofValue``; its ``@context`` is set to the document's here, as the spec requires.
    """
    config = {key: value for key, value in proof_config.items() if key != "proofValue"}
    config["@context"] = document["@context"]
    if loader is None:
        # A batch signed at one moment shares one proof configuration: hash it once.
        try:
            key = json.dumps(config, sort_keys=True, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError):
            key = None  # not plain JSON: canonicalize reports what is wrong with it
        if key is not None:
            return _config_hash(key), _hash(document, loader)
    return _hash(config, loader), _hash(document, loader)


@functools.lru_cache(maxsize=64)
def _config_hash(config_json: str) -> bytes:
    """sha256 of the canonical form of a proof configuration given as JSON text (the vendored
    contexts only: the result depends on nothing else)."""
    return _hash(json.loads(config_json), None)


def _check_vm(verification_method: object) -> str:
    if not isinstance(verification_method, str) or ":" not in verification_method:
        raise CredentialShapeError(
            f"verificationMethod must be an absolute IRI, got {verification_method!r}",
            path="proof.verificationMethod",
        )
    return verification_method


def sign(
    document: Mapping[str, Any],
    private_key: Ed25519PrivateKey,
    verification_method: str,
    created: datetime | str | None = None,
    proof_purpose: str = PROOF_PURPOSE,
    *,
    proof_set: bool = False,
    loader: Loader | None = None,
) -> dict[str, Any]:
    """Return a copy of ``document`` with an ``eddsa-rdfc-2022`` DataIntegrityProof.

    ``proof_set=True`` writes ``proof`` as a one-element list: the same proof, in the form the
    Open Badges 3.0 JSON schema requires (its ``proof`` is an array). Every OpenBadgeCredential
    we issue is signed so (``bulk.sign_documents`` does it by default). The single object stays
    the default here because it is W3C Data Integrity's and the reference implementation's
    form, which the status list credentials (not OB credentials: the OB schema does not
    apply) and the byte-for-byte comparisons with the reference use.

    Raises :class:`CredentialShapeError` if the document would not sign cleanly (already has a
    proof, undefined terms, relative IRIs...) - nothing is returned half-signed.
    """
    if not isinstance(private_key, Ed25519PrivateKey):
        raise TypeError(f"an Ed25519PrivateKey is required, got {type(private_key).__name__}")
    if not isinstance(document, Mapping):
        raise CredentialShapeError("the document must be a JSON object")
    if "proof" in document:
        raise CredentialShapeError("the document already has a proof", path="proof")
    if "@context" not in document:
        raise CredentialShapeError("missing @context", path="@context")
    proof: dict[str, Any] = {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "created": format_datetime(created if created is not None else now_utc(), field="created"),
        "verificationMethod": _check_vm(verification_method),
        "proofPurpose": proof_purpose,
    }
    config_hash, document_hash = proof_hashes(document, proof, loader=loader)
    signature = private_key.sign(config_hash + document_hash)
    proof["proofValue"] = multibase_encode(signature)
    return {**document, "proof": [proof] if proof_set else proof}


def _unsupported(reason: str, vm: str | None = None) -> ProofResult:
    return ProofResult(False, reason, vm, "unsupported")


def _shape(reason: str, vm: str | None = None) -> ProofResult:
    return ProofResult(False, reason, vm, "shape")


def _verify_one(
    unsecured: Mapping[str, Any],
    proof: object,
    resolve: PublicKeyResolver,
    loader: Loader | None,
) -> ProofResult:
    checked = _read_proof(proof)
    if isinstance(checked, ProofResult):
        return checked
    proof, vm, signature = checked
    hashes = _verify_hashes(unsecured, proof, vm, loader)
    if isinstance(hashes, ProofResult):
        return hashes
    config_hash, document_hash = hashes
    suite = ED25519_2020 if proof.get("type") == ED25519_2020 else CRYPTOSUITE
    return _check_signature(resolve, vm, signature, config_hash + document_hash, suite)


def _read_proof(proof: object) -> tuple[Mapping[str, Any], str, bytes] | ProofResult:
    """The proof, its verificationMethod and signature bytes, or why it cannot be checked."""
    if not isinstance(proof, Mapping):
        return _shape("proof must be a JSON object")
    vm = proof.get("verificationMethod")
    vm = vm if isinstance(vm, str) else None
    if proof.get("type") == ED25519_2020:
        if "cryptosuite" in proof:
            return _shape(f"an {ED25519_2020} proof has no cryptosuite", vm)
    elif proof.get("type") != PROOF_TYPE:
        return _unsupported(
            f"proof type {proof.get('type')!r} is not {PROOF_TYPE} or {ED25519_2020}", vm
        )
    elif proof.get("cryptosuite") != CRYPTOSUITE:
        return _unsupported(f"cryptosuite {proof.get('cryptosuite')!r} is not {CRYPTOSUITE}", vm)
    if proof.get("proofPurpose") != PROOF_PURPOSE:
        return _shape(f"proofPurpose {proof.get('proofPurpose')!r} is not {PROOF_PURPOSE!r}", vm)
    if vm is None:
        return _shape("proof.verificationMethod is missing or not a string")
    proof_value = proof.get("proofValue")
    if not isinstance(proof_value, str) or not proof_value.startswith("z"):
        return _shape("proof.proofValue must be a base58btc multibase string ('z...')", vm)
    try:
        signature = multibase_decode(proof_value)
        if "created" in proof:
            parse_datetime(proof["created"], field="proof.created")
    except (ValueError, CredentialShapeError) as error:
        return _shape(f"proof: {error}", vm)
    if len(signature) != 64:
        return _shape(
            f"proof.proofValue holds {len(signature)} bytes, an Ed25519 signature is 64", vm
        )
    return proof, vm, signature


def _verify_hashes(
    unsecured: Mapping[str, Any], proof: Mapping[str, Any], vm: str, loader: Loader | None
) -> tuple[bytes, bytes] | ProofResult:
    """The proof configuration's and the document's hashes, as signed."""
    options = {key: value for key, value in proof.items() if key != "proofValue"}
    if proof.get("type") == ED25519_2020:
        contexts = unsecured["@context"]
        if ED25519_2020_CONTEXT not in (contexts if isinstance(contexts, list) else [contexts]):
            # What the suite's terms mean comes from its context; without it they are undefined.
            return _shape(f"an {ED25519_2020} proof needs {ED25519_2020_CONTEXT} in @context", vm)
    if "@context" in options:
        # VC-DI-EDDSA: a proof's own @context must be a prefix of the document's.
        proof_ctx = options.pop("@context")
        proof_ctx = proof_ctx if isinstance(proof_ctx, list) else [proof_ctx]
        doc_ctx = unsecured["@context"]
        doc_ctx = doc_ctx if isinstance(doc_ctx, list) else [doc_ctx]
        if doc_ctx[: len(proof_ctx)] != proof_ctx:
            return _shape("proof.@context does not match the start of the document's @context", vm)
    options["@context"] = unsecured["@context"]
    try:
        document_hash = _hash(unsecured, loader)
    except CredentialShapeError as error:
        return ProofResult(False, str(error), vm, "document")
    try:
        config_hash = _hash(options, loader)
    except CredentialShapeError as error:
        return _shape(f"proof: {error}", vm)
    return config_hash, document_hash


def _check_signature(
    resolve: PublicKeyResolver, vm: str, signature: bytes, signed: bytes, suite: str
) -> ProofResult:
    try:
        public_key = resolve(vm)
    except KeyResolutionError as error:
        return ProofResult(False, str(error), vm, "key")
    except CredentialError as error:
        return ProofResult(False, f"could not resolve {vm}: {error}", vm, "key")
    if not isinstance(public_key, Ed25519PublicKey):
        return ProofResult(False, f"{vm} does not resolve to an Ed25519 public key", vm, "key")
    try:
        public_key.verify(signature, signed)
    except InvalidSignature:
        return ProofResult(
            False,
            "signature does not match: the credential or its proof was altered",
            vm,
            "signature",
        )
    return ProofResult(True, f"{suite} signature verified with {vm}", vm)


def verify(
    document: Mapping[str, Any],
    public_key_resolver: PublicKeyResolver,
    *,
    loader: Loader | None = None,
) -> ProofResult:
    """Check the DataIntegrityProof(s) of ``document``; each must have proofPurpose
    assertionMethod. Never raises for a bad document: the result says why it failed. With
    several proofs, every one must verify."""
    if not isinstance(document, Mapping):
        return _shape("the document must be a JSON object")
    if "proof" not in document:
        return _shape("the document has no proof")
    if "@context" not in document:
        return _shape("missing @context")
    unsecured = {key: value for key, value in document.items() if key != "proof"}
    proofs = document["proof"]
    proofs = proofs if isinstance(proofs, list) else [proofs]
    if not proofs:
        return _shape("proof is an empty list")
    result = ProofResult(False, "no proof checked")
    for proof in proofs:
        result = _verify_one(unsecured, proof, public_key_resolver, loader)
        if not result.verified:
            return result
    return result
