"""Verification as this tool runs it: the credentials package's one pipeline, fed with our own
DID document and status lists straight from the database (never over HTTP to ourselves), and,
where the caller allows it, other issuers' documents fetched with care.

Fetching a stranger's URL from the server is a classic way in (SSRF), so remote fetches go
through lti_app.outbound with the PUBLIC policy: http(s) only, one strict URL parser, the host
resolved once and connected to at the address that was checked (never private, loopback or
link-local), at most a few redirects (each checked the same way), one deadline and a size cap.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from credentials import verify as pipeline
from credentials.did import did_web_document_url
from credentials.errors import CredentialError
from credentials.timefmt import now_utc, parse_datetime
from credentials.verify import VerificationResult
from keys import KeyKind
from lti_app.db.models import Credential
from lti_app.outbound import PUBLIC, Fetcher, OutboundBusy, OutboundError
from lti_app.services import credential_store, status_lists
from lti_app.services import issuer as issuer_service
from lti_app.services.errors import AppError, NotFound
from lti_app.services.issuer import IssuerContext

MAX_FETCH_BYTES = 4 * 1024 * 1024
USER_AGENT = "skillsign-verifier/1"


class FetchError(AppError):
    code = "verify.fetch"


@dataclass(frozen=True)
class RemoteFetcher:
    """Fetches public http(s) resources for verification; see the module note. The web app
    passes its own fetcher (lti_app.lti.http.verifier: the app's bulkhead)."""

    fetcher: Fetcher = field(default_factory=lambda: Fetcher(PUBLIC, user_agent=USER_AGENT))
    max_bytes: int = MAX_FETCH_BYTES

    def get(self, url: str, accept: str = "application/json") -> bytes:
        # OutboundBusy is not an OutboundError: it passes, and becomes a 503.
        try:
            response = self.fetcher.fetch(
                "GET", url, headers={"Accept": accept}, max_bytes=self.max_bytes
            )
        except OutboundError as error:
            raise FetchError(f"{url[:200]} was not fetched: {error.message}") from error
        if response.status != 200:
            raise FetchError(f"{url[:200]} answered HTTP {response.status}")
        return response.body

    def get_json(self, url: str) -> dict[str, Any]:
        raw = self.get(url, "application/ld+json, application/json")
        try:
            data = json.loads(raw)
        except ValueError as error:
            raise FetchError(f"{url} did not return JSON: {error}") from error
        if not isinstance(data, dict):
            raise FetchError(f"{url} did not return a JSON object")
        return data


class Resolver:
    """DID documents and status lists: ours from the database, others' through ``remote``."""

    def __init__(
        self, session: Session, issuer: IssuerContext, remote: RemoteFetcher | None = None
    ) -> None:
        self.session = session
        self.issuer = issuer
        self.remote = remote
        # The pipeline reports a fetcher's exceptions as failed checks; "we are busy" must
        # not read as "this credential failed", so it is kept and raised after the pipeline.
        self.busy: OutboundBusy | None = None

    def _remote_json(self, url: str) -> dict[str, Any]:
        assert self.remote is not None
        try:
            return self.remote.get_json(url)
        except OutboundBusy as busy:
            self.busy = busy
            raise

    def did_document(self, did: str) -> Mapping[str, Any] | None:
        if did == self.issuer.web_did:
            return self.issuer.did_document()
        if self.remote is None or not did.startswith("did:web:"):
            return None
        return self._remote_json(did_web_document_url(did))

    def status_list(self, url: str) -> Mapping[str, Any] | None:
        ours = self.issuer.parse_status_list_url(url)
        if ours is not None:
            list_id, kid = ours
            try:
                return status_lists.signed_list(self.session, self.issuer, list_id, kid)
            except NotFound:
                return None
        if self.issuer.is_ours(url) or self.remote is None:
            return None
        return self._remote_json(url)


def verify(
    session: Session,
    data: bytes | str | Mapping[str, Any],
    *,
    remote: RemoteFetcher | None = None,
    now: datetime | None = None,
) -> VerificationResult:
    """Run the pipeline on a credential however it came (JSON, JWT, PNG, SVG)."""
    resolver = Resolver(session, issuer_service.context(session), remote)
    result = pipeline.verify(
        data,
        did_documents_fetcher=resolver.did_document,
        status_list_fetcher=resolver.status_list,
        now=now,
    )
    if resolver.busy is not None:
        raise resolver.busy
    return result


def local_download(session: Session, issuer: IssuerContext, url: str) -> bytes | None:
    """The bytes behind one of our credential URLs, read from the database; None if the URL
    is not a credential of ours."""
    prefix = issuer.url("/credentials/")
    if not url.startswith(prefix):
        return None
    tail = url[len(prefix) :].split("?", 1)[0].split("#", 1)[0]
    stem, _, ext = tail.partition(".")
    if "/" in stem:
        return None
    credential = credential_store.get(session, stem)
    return credential_store.export(session, credential, ext or "json").body


def verify_url(
    session: Session,
    url: str,
    *,
    remote: RemoteFetcher | None,
) -> VerificationResult:
    """Verify what a URL holds; our own URLs are answered from the database."""
    url = url.strip()
    issuer = issuer_service.context(session)
    if issuer.is_ours(url):
        body = local_download(session, issuer, url)
        if body is None:
            raise FetchError(f"{url} is not a credential address of this tool")
    elif remote is None:
        raise FetchError("fetching other sites is switched off here")
    else:
        body = remote.get(url, "application/ld+json, application/json, image/png, */*")
    return verify(session, body, remote=remote)


# --------------------------------------------------------------------------- who issued it


@dataclass(frozen=True)
class IssuerAssessment:
    """Who issued a verified credential, as a reader must be told it.

    Anyone can put our name in ``issuer.name`` and copy our achievements; only the DID whose
    key signed the credential says who issued it. So the page and the API name that DID,
    say whether it is ours, and show a ``name`` only as what the issuer calls itself.
    """

    id: str | None  # the DID that signed: set only when the issuer key check passed
    claimed_id: str | None  # the issuer id the credential claims, verified or not
    verified: bool
    ours: bool
    self_asserted_name: str | None
    our_name: str
    our_id: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "claimedId": self.claimed_id,
            "verified": self.verified,
            "ours": self.ours,
            "selfAssertedName": self.self_asserted_name,
            "summary": self.summary(),
        }

    def summary(self) -> str:
        """One English sentence for machines' logs; the page says it in the reader's language."""
        if self.ours:
            return f"Issued by {self.our_name} ({self.our_id})"
        calls = f'; it calls itself "{self.self_asserted_name}"' if self.self_asserted_name else ""
        if self.verified:
            return f"Issued by {self.id}, not by {self.our_name} ({self.our_id}){calls}"
        return f"The issuer could not be verified{calls}"


def _self_asserted_name(credential: Mapping[str, Any] | None) -> str | None:
    issuer = credential.get("issuer") if credential else None
    name = issuer.get("name") if isinstance(issuer, Mapping) else None
    if isinstance(name, Mapping):  # a language map: any one value is as unchecked as another
        name = next((v for v in name.values() if isinstance(v, str)), None)
    return (name.strip()[:200] or None) if isinstance(name, str) else None


def assess_issuer(
    issuer: IssuerContext, result: VerificationResult, our_name: str | None = None
) -> IssuerAssessment:
    """``our_name``: the institution's stored name (issuer.institution), else the settings'."""
    # issuer_key passes only after the proof verified with a key the issuer DID controls.
    verified = result.check("issuer_key").ok is True and result.issuer is not None
    our_id = issuer.web_did if issuer.did_method == "web" else issuer.signer().issuer_did
    return IssuerAssessment(
        id=result.issuer if verified else None,
        claimed_id=result.issuer,
        verified=verified,
        ours=verified and result.issuer in issuer.issuer_ids(),
        self_asserted_name=_self_asserted_name(result.credential),
        our_name=our_name or issuer.name,
        our_id=our_id,
    )


# --------------------------------------------------------------------------- our credentials' pages

# Verification results of our own credentials, per process. A result depends only on the signed
# document (never changes), its status bit, the clock crossing validFrom/validUntil, and our
# published keys (they sign the status list and make up the DID document); the key below holds
# each of those as read for this view: the bit from the database in the query that loads the
# credential, the keys from the shared key store. So a revocation or a key rotation made by any
# worker or host changes the key at the next view everywhere; nothing needs invalidating.
_VERIFIED: OrderedDict[tuple[Any, ...], VerificationResult] = OrderedDict()
_VERIFIED_SIZE = 4096
_VERIFIED_LOCK = threading.Lock()


def _verified_key(
    issuer: IssuerContext, credential: Credential, status_bit: bool, now: datetime
) -> tuple[Any, ...]:
    published = tuple(sorted(r.kid for r in issuer.keys.published(KeyKind.ED25519, now)))
    active = issuer.keys.active(KeyKind.ED25519).kid if published else None
    document = credential.document
    try:
        started = parse_datetime(document.get("validFrom"), field="validFrom") <= now
        ended = (
            "validUntil" in document
            and parse_datetime(document["validUntil"], field="validUntil") < now
        )
    except CredentialError:
        started = ended = False  # the pipeline reports it; the key only has to be stable
    return (
        issuer.base_url,
        issuer.did_method,
        issuer.keys_dir,
        credential.id,
        credential.signing_kid,
        status_bit,
        started,
        ended,
        active,
        published,
    )


def verify_issued(
    session: Session, credential: Credential, status_bit: bool, *, now: datetime | None = None
) -> VerificationResult:
    """The full verification of one of our credentials, reused while nothing it depends on
    changed; ``status_bit`` is the credential's bit as just read from the database. The
    result's ``credential`` is None: the caller has the document."""
    issuer = issuer_service.context(session)
    moment = now or now_utc()
    key = _verified_key(issuer, credential, status_bit, moment)
    with _VERIFIED_LOCK:
        cached = _VERIFIED.get(key)
        if cached is not None:
            _VERIFIED.move_to_end(key)
            return cached
    # Kept without the document (the caller holds it): a cached entry is a few hundred bytes.
    result = replace(verify(session, credential.document, now=moment), credential=None)
    with _VERIFIED_LOCK:
        _VERIFIED[key] = result
        while len(_VERIFIED) > _VERIFIED_SIZE:
            _VERIFIED.popitem(last=False)
    return result
