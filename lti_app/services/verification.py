"""Verification as this tool runs it: the credentials package's one pipeline, fed with our own
DID document and status lists straight from the database (never over HTTP to ourselves), and,
where the caller allows it, other issuers' documents fetched with care.

Fetching a stranger's URL from the server is a classic way in (SSRF), so remote fetches are
http(s) only, refuse hosts that resolve to private, loopback or link-local addresses, follow at
most a few redirects (each checked the same way), time out, and stop reading at a size cap.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from sqlalchemy.orm import Session

from credentials import verify as pipeline
from credentials.did import did_web_document_url
from credentials.verify import VerificationResult
from lti_app.services import credential_store, status_lists
from lti_app.services import issuer as issuer_service
from lti_app.services.errors import AppError, NotFound
from lti_app.services.issuer import IssuerContext

MAX_FETCH_BYTES = 4 * 1024 * 1024
FETCH_TIMEOUT = (3.05, 10.0)
MAX_REDIRECTS = 3
USER_AGENT = "skillsign-verifier/1"


class FetchError(AppError):
    code = "verify.fetch"


@dataclass(frozen=True)
class RemoteFetcher:
    """Fetches public http(s) resources for verification; see the module note."""

    timeout: tuple[float, float] = FETCH_TIMEOUT
    max_bytes: int = MAX_FETCH_BYTES
    allow_private: bool = False  # tests of a local stranger only

    def _check_host(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise FetchError(f"only http and https URLs can be fetched, not {parts.scheme or '?'}:")
        if not parts.hostname:
            raise FetchError(f"{url!r} has no host")
        if self.allow_private:
            return
        try:
            infos = socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as error:
            raise FetchError(f"cannot resolve {parts.hostname}: {error}") from error
        for info in infos:
            address = ipaddress.ip_address(info[4][0])
            if not address.is_global:
                raise FetchError(
                    f"{parts.hostname} resolves to a non-public address ({address}); "
                    "such URLs are not fetched"
                )

    def get(self, url: str, accept: str = "application/json") -> bytes:
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            self._check_host(current)
            try:
                with requests.get(
                    current,
                    headers={"Accept": accept, "User-Agent": USER_AGENT},
                    timeout=self.timeout,
                    allow_redirects=False,
                    stream=True,
                ) as response:
                    if response.is_redirect and response.headers.get("Location"):
                        current = urljoin(current, response.headers["Location"])
                        continue
                    if response.status_code != 200:
                        raise FetchError(f"{current} answered HTTP {response.status_code}")
                    body = bytearray()
                    for chunk in response.iter_content(64 * 1024):
                        body.extend(chunk)
                        if len(body) > self.max_bytes:
                            raise FetchError(f"{current} is larger than {self.max_bytes} bytes")
                    return bytes(body)
            except requests.RequestException as error:
                raise FetchError(f"fetching {current} failed: {type(error).__name__}") from error
        raise FetchError(f"{url} redirects more than {MAX_REDIRECTS} times")

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

    def did_document(self, did: str) -> Mapping[str, Any] | None:
        if did == self.issuer.web_did:
            return self.issuer.did_document()
        if self.remote is None or not did.startswith("did:web:"):
            return None
        return self.remote.get_json(did_web_document_url(did))

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
        return self.remote.get_json(url)


def verify(
    session: Session,
    data: bytes | str | Mapping[str, Any],
    *,
    remote: RemoteFetcher | None = None,
    now: datetime | None = None,
) -> VerificationResult:
    """Run the pipeline on a credential however it came (JSON, JWT, PNG, SVG)."""
    resolver = Resolver(session, issuer_service.context(session), remote)
    return pipeline.verify(
        data,
        did_documents_fetcher=resolver.did_document,
        status_list_fetcher=resolver.status_list,
        now=now,
    )


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
    now: datetime | None = None,
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
    return verify(session, body, remote=remote, now=now)
