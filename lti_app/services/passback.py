"""Delivering an ``ags_score`` outbox row to the LMS (the worker's handler).

The score is computed again from the stored sign-offs just before sending:
two sign-offs committed at the same moment each queue a score computed
without seeing the other, and whichever row goes last must still carry the
true state. When the score did not change, the queued timestamp is kept, so a
retried POST is byte for byte the one the platform may already have (AGS
scores are idempotent by timestamp).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from lti_app.db.models import Platform, ResourceLink, User
from lti_app.lms import PlatformCredentials, ServiceError, ServicesClient
from lti_app.services import gradebook
from lti_app.services.outbox import (
    Claimed,
    Delivered,
    DeliveryContext,
    PermanentFailure,
    RetryLater,
)

log = logging.getLogger("skillsign.passback")

# Threads of one worker process must not create a link's line item twice; across
# processes the row lock taken in _lineitem_url does it on PostgreSQL.
_LINEITEM_LOCKS: dict[int, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _lineitem_lock(link_pk: int) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LINEITEM_LOCKS.setdefault(link_pk, threading.Lock())


def _refresh(ctx: DeliveryContext, payload: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """(payload to send or None if it should not go, reason) from the current state."""
    with ctx.db.transaction() as session:
        link = session.get(ResourceLink, payload.get("resource_link_pk"))
        learner = session.get(User, payload.get("learner_id"))
        if link is None or learner is None:
            # The link or learner was deleted: send what was queued, it was true then.
            return payload, ""
        fresh = gradebook.score_payload(session, learner, link)
        if fresh is None:
            blocker = gradebook.passback_blocker(session, learner.id, link) or "no score"
            return None, blocker
    old, new = payload.get("score", {}), fresh["score"]
    same = (old.get("scoreGiven"), old.get("scoreMaximum")) == (
        new["scoreGiven"],
        new["scoreMaximum"],
    )
    if same and old.get("timestamp"):
        new["timestamp"] = old["timestamp"]
    return fresh, ""


def _lineitem_url(ctx: DeliveryContext, client: ServicesClient, payload: dict[str, Any]) -> str:
    """The link's line item URL; found or created (once) when the launch gave none."""
    link_pk = payload["resource_link_pk"]
    with _lineitem_lock(link_pk), ctx.db.transaction() as session:
        link = session.get(ResourceLink, link_pk, with_for_update=True)
        if link is not None and link.lineitem_url:
            return link.lineitem_url
        if not payload.get("lineitems_url"):
            raise PermanentFailure("the link has no line item and no line items URL")
        url = client.ensure_lineitem(
            payload["lineitems_url"],
            scopes=payload["scopes"],
            resource_link_id=payload["resource_link_id"],
            label=payload["label"],
            score_maximum=payload["score"]["scoreMaximum"],
            tag=payload["tag"],
            resource_id=payload.get("resource_id"),
        )
        if link is not None:
            link.lineitem_url = url
        return url


def classify(exc: ServiceError) -> Exception | Delivered:
    """Map an LMS answer onto an outbox outcome (Canvas's quirks included)."""
    body = exc.body.lower()
    if exc.transient:
        return RetryLater(str(exc), exc.retry_after)
    if exc.status == 409 or (exc.status == 400 and "timestamp" in body):
        # The platform holds a score with a later timestamp: ours is superseded.
        return Delivered(note=f"superseded: the LMS already has a newer score ({exc})")
    if exc.status == 401:
        # Our key may not be known yet (a platform caching our JWKS): worth a few retries.
        return RetryLater(f"not authorised: {exc}")
    if "not a student" in body:
        return PermanentFailure(
            f"the LMS refuses scores for this user: not a student in the course ({exc})"
        )
    if "unpublished" in body:
        return PermanentFailure(
            "the assignment is unpublished in the LMS: publish it, then requeue this "
            f"message with `skillsign outbox requeue` ({exc})"
        )
    if exc.status == 404:
        return PermanentFailure(f"the line item no longer exists in the LMS ({exc})")
    return PermanentFailure(f"the LMS refused the score: {exc}: {exc.body[:300]}")


def deliver_score(message: Claimed, ctx: DeliveryContext) -> Delivered:
    payload, reason = _refresh(ctx, message.payload)
    if payload is None:
        return Delivered(note=f"not sent: {reason}")
    with ctx.db.transaction() as session:
        platform = session.get(Platform, payload["platform_id"])
        if platform is None:
            raise PermanentFailure(f"platform {payload['platform_id']} is no longer registered")
        creds = PlatformCredentials.from_platform(platform)
    client = ServicesClient(creds, ctx.keys, http=ctx.http, tokens=ctx.tokens, timeout=ctx.timeout)
    try:
        lineitem_url = payload.get("lineitem_url") or _lineitem_url(ctx, client, payload)
        payload["lineitem_url"] = lineitem_url
        client.post_score(lineitem_url, payload["score"], scopes=payload["scopes"])
    except ServiceError as exc:
        outcome = classify(exc)
        if isinstance(outcome, Delivered):
            return Delivered(payload=payload, note=outcome.note)
        raise outcome from exc
    log.info(
        "score delivered",
        extra={
            "outbox_id": message.id,
            "learner_id": payload["learner_id"],
            "resource_link_pk": payload["resource_link_pk"],
            "score": f"{payload['score']['scoreGiven']}/{payload['score']['scoreMaximum']}",
        },
    )
    return Delivered(payload=payload)
