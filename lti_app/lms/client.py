"""LTI Advantage service calls to one platform: NRPS memberships and AGS line items,
scores and results.

pylti1p3 asks for a new token on every call and has no timeouts; here tokens come from
the cache in ``lti_app.lms.tokens``, every call goes through ``lti_app.lms.transport``
(lti_app.outbound: policy PLATFORM, one deadline per call, a byte cap), a 401 gets one
fresh token and one retry, and NRPS/AGS pages are followed through the
``Link: <...>; rel="next"`` header.
"""

from __future__ import annotations

import json as jsonlib
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from keys import KeyStore
from lti_app.lms import tokens as token_grant
from lti_app.lms.tokens import TOKENS, AccessTokenCache, PlatformCredentials
from lti_app.lms.transport import (
    MAX_PAGES,
    TIMEOUT,
    ServiceError,
    error_from,
    json_body,
    send,
)
from lti_app.outbound import PLATFORM, Fetcher, Response, Timeout, as_deadline

SCOPE_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCOPE_LINEITEM_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
SCOPE_RESULT_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
SCOPE_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
SCOPE_NRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"

MEDIA_SCORE = "application/vnd.ims.lis.v1.score+json"
MEDIA_LINEITEM = "application/vnd.ims.lis.v2.lineitem+json"
MEDIA_LINEITEMS = "application/vnd.ims.lis.v2.lineitemcontainer+json"
MEDIA_RESULTS = "application/vnd.ims.lis.v2.resultcontainer+json"
MEDIA_MEMBERSHIPS = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"


def service_url(resource_url: str, suffix: str) -> str:
    """``/scores`` or ``/results`` of a line item URL, keeping its query string.

    Moodle's line item URLs carry ``?type_id=N``; the AGS spec says the path
    gets the suffix, so a naive ``url + "/scores"`` would break them.
    """
    parts = urlsplit(resource_url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + suffix))


class ServicesClient:
    """LTI Advantage calls to one platform, authenticated as the tool.

    ``http`` is the caller's fetcher (the app's bulkhead and deadline); the default, with
    a bulkhead of its own, is for scripts and tests.
    """

    def __init__(
        self,
        creds: PlatformCredentials,
        keys: KeyStore,
        *,
        http: Fetcher | None = None,
        tokens: AccessTokenCache | None = None,
        timeout: Timeout = TIMEOUT,
    ) -> None:
        self.creds = creds
        self.keys = keys
        self.http = http or Fetcher(PLATFORM)
        self.tokens = tokens if tokens is not None else TOKENS
        self.deadline = as_deadline(timeout)

    # -- OAuth2 --------------------------------------------------------------
    def client_assertion(self) -> str:
        """A short-lived JWT proving the tool's identity (private_key_jwt)."""
        return token_grant.client_assertion(self.creds, self.keys)

    def access_token(self, scopes: Iterable[str]) -> str:
        return token_grant.access_token(
            self.http, self.creds, self.keys, scopes, cache=self.tokens, deadline=self.deadline
        )

    # -- HTTP ----------------------------------------------------------------
    def call(
        self,
        method: str,
        url: str,
        *,
        scopes: Iterable[str],
        accept: str,
        json: Any = None,
        content_type: str | None = None,
        params: dict[str, str] | None = None,
    ) -> Response:
        """An authenticated call; a 2xx answer or a ServiceError."""
        scope_set = frozenset(scopes)
        headers = {"Accept": accept}
        body = None
        if json is not None:
            body = jsonlib.dumps(json).encode("utf-8")
            headers["Content-Type"] = content_type or "application/json"
        elif content_type:
            headers["Content-Type"] = content_type
        if params:
            url = f"{url}{'&' if urlsplit(url).query else '?'}{urlencode(params)}"
        for attempt in (1, 2):
            token = self.access_token(scope_set)
            response = send(
                self.http,
                method,
                url,
                headers=headers | {"Authorization": f"Bearer {token}"},
                body=body,
                deadline=self.deadline,
            )
            if response.status == 401 and attempt == 1:
                # Revoked or expired early (platform restart, clock skew): one fresh token.
                self.tokens.invalidate(AccessTokenCache.key(self.creds, scope_set))
                continue
            if 200 <= response.status < 300:
                return response
            raise error_from(response, f"{method} refused")
        raise AssertionError("unreachable")

    def _pages(
        self, url: str, *, scopes: Iterable[str], accept: str, params: dict[str, str] | None
    ) -> Iterator[Any]:
        """Each page's JSON body, following ``Link: rel="next"``."""
        seen: set[str] = set()
        next_url: str | None = url
        first = True
        while next_url:
            if next_url in seen or len(seen) >= MAX_PAGES:
                raise ServiceError("paging does not end", url=next_url)
            seen.add(next_url)
            response = self.call(
                "GET", next_url, scopes=scopes, accept=accept, params=params if first else None
            )
            first = False
            yield json_body(response)
            next_url = response.links.get("next", {}).get("url")

    # -- NRPS ----------------------------------------------------------------
    def memberships(
        self, memberships_url: str, *, role: str | None = None, limit: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every member of the context, page after page."""
        params: dict[str, str] = {}
        if role:
            params["role"] = role
        if limit:
            params["limit"] = str(limit)
        for body in self._pages(
            memberships_url, scopes=[SCOPE_NRPS], accept=MEDIA_MEMBERSHIPS, params=params or None
        ):
            members = body.get("members") if isinstance(body, dict) else None
            if not isinstance(members, list):
                raise ServiceError("membership container has no members list", url=memberships_url)
            yield from (m for m in members if isinstance(m, dict))

    # -- AGS -----------------------------------------------------------------
    def lineitems(
        self,
        lineitems_url: str,
        *,
        scopes: Iterable[str],
        resource_link_id: str | None = None,
        tag: str | None = None,
        resource_id: str | None = None,
    ) -> list[dict[str, Any]]:
        params = {
            k: v
            for k, v in (
                ("resource_link_id", resource_link_id),
                ("tag", tag),
                ("resource_id", resource_id),
            )
            if v
        }
        items: list[dict[str, Any]] = []
        for body in self._pages(
            lineitems_url, scopes=scopes, accept=MEDIA_LINEITEMS, params=params or None
        ):
            if not isinstance(body, list):
                raise ServiceError("line item container is not a list", url=lineitems_url)
            items.extend(item for item in body if isinstance(item, dict))
        return items

    def create_lineitem(
        self, lineitems_url: str, lineitem: dict[str, Any], *, scopes: Iterable[str]
    ) -> dict[str, Any]:
        response = self.call(
            "POST",
            lineitems_url,
            scopes=scopes,
            accept=MEDIA_LINEITEM,
            content_type=MEDIA_LINEITEM,
            json=lineitem,
        )
        created = json_body(response)
        if not isinstance(created, dict) or not isinstance(created.get("id"), str):
            raise ServiceError("created line item has no id", url=lineitems_url)
        return created

    def ensure_lineitem(
        self,
        lineitems_url: str,
        *,
        scopes: Iterable[str],
        resource_link_id: str,
        label: str,
        score_maximum: float,
        tag: str,
        resource_id: str | None = None,
    ) -> str:
        """The URL of the link's line item (ours, by tag), created when missing."""
        scope_set = frozenset(scopes)
        for item in self.lineitems(
            lineitems_url, scopes=scope_set, resource_link_id=resource_link_id, tag=tag
        ):
            # Platforms may ignore the filters: check them ourselves.
            if item.get("resourceLinkId") == resource_link_id and item.get("tag") == tag:
                return str(item["id"])
        lineitem: dict[str, Any] = {
            "label": label,
            "scoreMaximum": score_maximum,
            "resourceLinkId": resource_link_id,
            "tag": tag,
        }
        if resource_id:
            lineitem["resourceId"] = resource_id
        return str(self.create_lineitem(lineitems_url, lineitem, scopes=scope_set)["id"])

    def post_score(
        self, lineitem_url: str, score: dict[str, Any], *, scopes: Iterable[str]
    ) -> None:
        """POST a score. Idempotent: the same body (same timestamp) twice changes nothing."""
        self.call(
            "POST",
            service_url(lineitem_url, "/scores"),
            scopes=scopes,
            accept="application/json",
            content_type=MEDIA_SCORE,
            json=score,
        )

    def results(
        self, lineitem_url: str, *, scopes: Iterable[str], user_id: str | None = None
    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        params = {"user_id": user_id} if user_id else None
        for body in self._pages(
            service_url(lineitem_url, "/results"),
            scopes=scopes,
            accept=MEDIA_RESULTS,
            params=params,
        ):
            if not isinstance(body, list):
                raise ServiceError("result container is not a list", url=lineitem_url)
            out.extend(r for r in body if isinstance(r, dict))
        return out
