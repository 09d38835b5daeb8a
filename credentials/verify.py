"""One verification pipeline for every way a credential arrives: JSON (dict, text or bytes), a
compact VC-JWT, or a baked PNG/SVG holding either.

It never raises for a bad credential: the result has a status and six checks, always all six,
each ``ok`` True/False, or None when skipped (with the reason). No network: DID documents (for
did:web) and status list credentials come from the caller's fetchers, so the app can serve its
own documents without HTTP and decide itself how (and whether) to fetch anyone else's.

A credential that carries a ``credentialStatus`` is only valid when its status list could be
fetched, its proof verified, and its bit read. A status list that cannot be fetched leaves the
revocation status unknown: the result is ``status_unknown``, not valid, and not ``invalid``
either (the signature may well be good; nobody can say whether it was revoked). A status list
that was fetched but is forged, foreign or malformed makes the credential invalid.

OB 3.0 credentials in the VC 1.1 form (``https://www.w3.org/2018/credentials/v1``, with
``issuanceDate`` and ``expirationDate``) and ``Ed25519Signature2020`` proofs are verified too, as
OB 3.0 allows verifiers to; we issue VC 2.0 with ``eddsa-rdfc-2022`` only.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from . import data_integrity, status_list
from .baking import PNG_SIGNATURE, extract_png, extract_svg
from .did import resolve_public_key, split_did_url
from .errors import CredentialError, KeyResolutionError
from .jsonld import VC_V1_CONTEXT, VC_V2_CONTEXT
from .jwt import is_compact_jws, verify_vc_jwt
from .timefmt import now_utc, parse_datetime

CheckName = Literal["format", "well_formed", "proof", "issuer_key", "status", "validity"]
Status = Literal[
    "valid", "invalid", "revoked", "expired", "not_yet_valid", "status_unknown", "unreadable"
]
DidDocumentFetcher = Callable[[str], Mapping[str, Any] | None]
StatusListFetcher = Callable[[str], Mapping[str, Any] | None]

CHECK_NAMES: tuple[CheckName, ...] = (
    "format",
    "well_formed",
    "proof",
    "issuer_key",
    "status",
    "validity",
)
OB_CREDENTIAL_TYPES = ("OpenBadgeCredential", "AchievementCredential")
MAX_INPUT_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class Check:
    name: CheckName
    ok: bool | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "reason": self.reason}


@dataclass(frozen=True)
class VerificationResult:
    valid: bool
    status: Status
    format: str | None
    credential: dict[str, Any] | None
    checks: tuple[Check, ...]
    issuer: str | None = None
    verification_method: str | None = None

    def check(self, name: CheckName) -> Check:
        return next(c for c in self.checks if c.name == name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "status": self.status,
            "format": self.format,
            "issuer": self.issuer,
            "verificationMethod": self.verification_method,
            "credential": self.credential,
            "checks": [c.to_dict() for c in self.checks],
        }


class _Unreadable(Exception):
    pass


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            # Two parsers could each pick a different one: refuse the ambiguity.
            raise _Unreadable(f"duplicate JSON member {key!r}")
        result[key] = value
    return result


def _parse_text(text: str, container: str | None) -> tuple[str, dict[str, Any] | str]:
    text = text.strip().removeprefix("\ufeff")
    prefix = f"{container}+" if container else ""
    if text.startswith("{"):
        try:
            document = json.loads(text, object_pairs_hook=_no_duplicate_keys)
        except ValueError as error:
            raise _Unreadable(f"not valid JSON: {error}") from error
        except RecursionError as error:
            raise _Unreadable("JSON nested too deeply") from error
        return f"{prefix}json", document
    if is_compact_jws(text):
        return f"{prefix}jwt", text
    where = f"the {container.upper()} holds" if container else "the input is"
    raise _Unreadable(f"{where} neither credential JSON nor a compact JWS")


def read_input(data: bytes | str | Mapping[str, Any]) -> tuple[str, dict[str, Any] | str]:
    """(format, JSON object or JWS text). Formats: json, jwt, png+json, png+jwt, svg+json,
    svg+jwt. Raises _Unreadable with the reason."""
    if isinstance(data, Mapping):
        return "json", dict(data)
    if isinstance(data, bytes | bytearray | memoryview):
        raw = bytes(data)
        if len(raw) > MAX_INPUT_BYTES:
            raise _Unreadable(f"input is {len(raw)} bytes; the limit is {MAX_INPUT_BYTES}")
        if raw.startswith(PNG_SIGNATURE):
            return _parse_text(_extract(extract_png, raw), "png")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise _Unreadable("not a PNG, and not UTF-8 text (JSON, JWT or SVG)") from error
    elif isinstance(data, str):
        text = data
    else:
        raise _Unreadable(f"unsupported input type {type(data).__name__}")
    if text.lstrip().startswith("<"):
        return _parse_text(_extract(extract_svg, text), "svg")
    return _parse_text(text, None)


def _extract(extractor: Callable[[Any], str], data: Any) -> str:
    try:
        return extractor(data)
    except CredentialError as error:
        raise _Unreadable(str(error)) from error


def _types(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _date_fields(credential: Mapping[str, Any]) -> tuple[str, str]:
    """The names of the validity dates: VC 2.0's, or VC 1.1's for a credential in that form."""
    contexts = credential.get("@context")
    if isinstance(contexts, list) and contexts and contexts[0] == VC_V1_CONTEXT:
        return "issuanceDate", "expirationDate"
    return "validFrom", "validUntil"


def _well_formed(credential: Mapping[str, Any]) -> str | None:
    """The first structural problem, or None."""
    contexts = credential.get("@context")
    if (
        not isinstance(contexts, list)
        or not contexts
        or contexts[0] not in (VC_V2_CONTEXT, VC_V1_CONTEXT)
    ):
        return (
            f"@context must be a list starting with {VC_V2_CONTEXT} (or VC 1.1's {VC_V1_CONTEXT})"
        )
    types = _types(credential.get("type"))
    if "VerifiableCredential" not in types:
        return "type must include VerifiableCredential"
    if not any(t in types for t in OB_CREDENTIAL_TYPES):
        return "type must include OpenBadgeCredential (or AchievementCredential)"
    if not isinstance(credential.get("id"), str):
        return "the credential has no id"
    if status_list.issuer_id_of(credential) is None:
        return "issuer must be a URI or an object with an id"
    subject = credential.get("credentialSubject")
    if not isinstance(subject, Mapping):
        return "credentialSubject must be an object"
    if not isinstance(subject.get("achievement"), Mapping):
        return "credentialSubject.achievement must be an object"
    start, end = _date_fields(credential)
    try:
        parse_datetime(credential.get(start), field=start)
        if end in credential:
            parse_datetime(credential[end], field=end)
    except CredentialError as error:
        return str(error)
    return None


@dataclass
class _KeyResolver:
    """Resolves verification methods through did:key or the caller's DID document fetcher,
    asking the fetcher once per DID per verification."""

    fetcher: DidDocumentFetcher | None
    documents: dict[str, Mapping[str, Any] | None] = field(default_factory=dict)

    def __call__(self, vm_id: str) -> Any:
        if not isinstance(vm_id, str) or not vm_id.startswith("did:"):
            raise KeyResolutionError(
                f"verification method {vm_id!r} is not a DID URL; only did:key and did:web "
                "issuers are supported"
            )
        did, _ = split_did_url(vm_id)
        if did.startswith("did:key:"):
            return resolve_public_key(vm_id)
        if did not in self.documents:
            if self.fetcher is None:
                raise KeyResolutionError(f"no DID document fetcher was given to resolve {did}")
            try:
                self.documents[did] = self.fetcher(did)
            except Exception as error:  # the fetcher is the caller's code: report, don't crash
                raise KeyResolutionError(
                    f"fetching the DID document of {did} failed: {error}"
                ) from error
        document = self.documents[did]
        if document is None:
            raise KeyResolutionError(f"the DID document of {did} could not be found")
        return resolve_public_key(vm_id, {did: document})


def _check_issuer_binding(vm: str | None, issuer: str | None) -> Check:
    if vm is None:
        return Check("issuer_key", False, "the proof names no verification method")
    controller, _ = split_did_url(vm)
    if controller != issuer:
        return Check(
            "issuer_key", False, f"signed with {vm}, which does not belong to the issuer {issuer}"
        )
    return Check("issuer_key", True, f"{vm} is an assertion key of the issuer {issuer}")


def _status(
    credential: Mapping[str, Any],
    resolver: _KeyResolver,
    fetcher: StatusListFetcher | None,
    now: datetime,
) -> tuple[Check, bool]:
    """(status check, revoked?)."""
    entries = credential.get("credentialStatus")
    if entries is None:
        return Check(
            "status", None, "no credentialStatus: this credential cannot be revoked"
        ), False
    entries = [e for e in _types(entries) if isinstance(e, Mapping)]
    entries = [e for e in entries if e.get("type") == status_list.ENTRY_TYPE]
    if not entries:
        return Check("status", False, "credentialStatus is not a BitstringStatusListEntry"), False
    if fetcher is None:
        return _unknown("no status list fetcher was given"), False
    issuer = status_list.issuer_id_of(credential)
    for entry in entries:
        url = entry.get("statusListCredential")
        if not isinstance(url, str):
            return Check("status", False, "statusListCredential is not a URL"), False
        try:
            list_credential = fetcher(url)
        except Exception as error:  # the caller's fetcher: the list is out of reach
            return _unknown(f"fetching status list {url} failed: {error}"), False
        if list_credential is None:
            return _unknown(f"status list {url} could not be fetched"), False
        proof = data_integrity.verify(list_credential, resolver)
        if not proof.verified:
            return Check(
                "status", False, f"status list {url} is not trusted: {proof.reason}"
            ), False
        if status_list.issuer_id_of(list_credential) != issuer:
            return Check("status", False, f"status list {url} was issued by someone else"), False
        if proof.verification_method and split_did_url(proof.verification_method)[0] != issuer:
            return Check("status", False, f"status list {url} was not signed by the issuer"), False
        try:
            if "validUntil" in list_credential and now > parse_datetime(
                list_credential["validUntil"], field="validUntil"
            ):
                return Check("status", False, f"status list {url} has expired"), False
            set_bit = status_list.check(entry, list_credential)
        except CredentialError as error:
            return Check("status", False, f"status list {url}: {error}"), False
        if set_bit:
            purpose = entry.get("statusPurpose")
            index = entry.get("statusListIndex")
            return Check("status", False, f"{purpose}: bit {index} is set in {url}"), True
    return Check("status", True, "not revoked"), False


def _unknown(why: str) -> Check:
    """A status check that could not be made: neither passed nor failed."""
    return Check("status", None, f"revocation status could not be checked: {why}")


def _validity(credential: Mapping[str, Any], now: datetime) -> tuple[Check, Status | None]:
    start, end = _date_fields(credential)
    try:
        valid_from = parse_datetime(credential.get(start), field=start)
        valid_until = parse_datetime(credential[end], field=end) if end in credential else None
    except CredentialError as error:
        return Check("validity", False, str(error)), "invalid"
    if valid_from > now:
        return Check("validity", False, f"not valid before {credential[start]}"), "not_yet_valid"
    if valid_until is not None and valid_until < now:
        return Check("validity", False, f"expired on {credential[end]}"), "expired"
    until = f" until {credential[end]}" if valid_until else ""
    return Check("validity", True, f"valid from {credential[start]}{until}"), None


def _result(
    fmt: str | None,
    credential: dict[str, Any] | None,
    checks: dict[CheckName, Check],
    status: Status,
    vm: str | None = None,
) -> VerificationResult:
    for name in CHECK_NAMES:
        checks.setdefault(name, Check(name, None, "skipped: an earlier check failed"))
    issuer = status_list.issuer_id_of(credential) if credential else None
    return VerificationResult(
        valid=status == "valid",
        status=status,
        format=fmt,
        credential=credential,
        checks=tuple(checks[name] for name in CHECK_NAMES),
        issuer=issuer,
        verification_method=vm,
    )


def verify(
    input: bytes | str | Mapping[str, Any],
    *,
    did_documents_fetcher: DidDocumentFetcher | None = None,
    status_list_fetcher: StatusListFetcher | None = None,
    now: datetime | None = None,
) -> VerificationResult:
    """Verify a credential however it arrives. ``did_documents_fetcher(did)`` returns the DID
    document of a did:web issuer (or None); ``status_list_fetcher(url)`` returns the status
    list credential at ``url`` (or None). ``now`` defaults to the current time."""
    now = now or now_utc()
    checks: dict[CheckName, Check] = {}
    try:
        fmt, payload = read_input(input)
    except _Unreadable as error:
        checks["format"] = Check("format", False, str(error))
        return _result(None, None, checks, "unreadable")
    checks["format"] = Check("format", True, f"read as {fmt}")
    resolver = _KeyResolver(did_documents_fetcher)

    proof: data_integrity.ProofResult | None = None
    if isinstance(payload, str):  # VC-JWT
        credential, proof = verify_vc_jwt(payload, resolver)
        if credential is None:
            checks["format"] = Check("format", False, proof.reason)
            return _result(fmt, None, checks, "unreadable")
    else:
        credential = payload

    failed, vm = _check_signed(credential, proof, resolver, checks)
    if failed is None:
        failed = _check_current(credential, resolver, status_list_fetcher, now, checks)
    return _result(fmt, credential, checks, failed or "valid", vm)


def _check_signed(
    credential: dict[str, Any],
    proof: data_integrity.ProofResult | None,
    resolver: _KeyResolver,
    checks: dict[CheckName, Check],
) -> tuple[Status | None, str | None]:
    """Well-formed, proof and issuer key checks: (the failing status or None, the proof's
    verification method). ``proof`` is the VC-JWT's, None for an embedded proof."""
    problem = _well_formed(credential)
    if problem:
        checks["well_formed"] = Check("well_formed", False, problem)
        return "invalid", None

    if proof is None:
        if "proof" not in credential:
            checks["well_formed"] = Check("well_formed", True, "an OpenBadgeCredential")
            checks["proof"] = Check("proof", False, "no proof: the credential is not signed")
            return "invalid", None
        proof = data_integrity.verify(credential, resolver)
    vm = proof.verification_method
    if proof.failure == "document":
        checks["well_formed"] = Check("well_formed", False, proof.reason)
        return "invalid", vm
    checks["well_formed"] = Check("well_formed", True, "an OpenBadgeCredential")
    if proof.failure == "key":
        checks["proof"] = Check("proof", None, "skipped: the issuer's key could not be resolved")
        checks["issuer_key"] = Check("issuer_key", False, proof.reason)
        return "invalid", vm
    if not proof.verified:
        checks["proof"] = Check("proof", False, proof.reason)
        return "invalid", vm
    checks["proof"] = Check("proof", True, proof.reason)
    checks["issuer_key"] = _check_issuer_binding(vm, status_list.issuer_id_of(credential))
    return (None if checks["issuer_key"].ok else "invalid"), vm


def _check_current(
    credential: Mapping[str, Any],
    resolver: _KeyResolver,
    status_list_fetcher: StatusListFetcher | None,
    now: datetime,
    checks: dict[CheckName, Check],
) -> Status | None:
    """Status (revocation) and validity period checks: the failing status or None."""
    checks["status"], revoked = _status(credential, resolver, status_list_fetcher, now)
    checks["validity"], validity_status = _validity(credential, now)
    if checks["status"].ok is False and not revoked:
        return "invalid"
    if revoked:
        return "revoked"
    if validity_status is None and _status_unknown(credential, checks["status"]):
        return "status_unknown"
    return validity_status


def _status_unknown(credential: Mapping[str, Any], status: Check) -> bool:
    """The credential can be revoked, and whether it was could not be found out."""
    return status.ok is None and credential.get("credentialStatus") is not None
