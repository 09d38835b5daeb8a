"""Learners' requests for sign-off: create, withdraw, approve, decline.

A request carries the learner's evidence: a text, optionally a link (http or
https only) and a file (PDF, PNG, JPEG or plain text up to 5 MB, recognised
by its content, never by the type or name the browser sent). Every change is
audited in the caller's transaction. Approving signs the statement off through
``signoffs.sign`` (same rules, awards and scores), with the request's id on
the event.

Decisions are serialised per learner (``signoffs.lock_learners``) and the
request is read again after the lock, so two instructors deciding the same
request at once cannot both succeed: the second is told who was first.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath, PureWindowsPath
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from lti_app.db import utcnow
from lti_app.db.models import Membership, SignoffRequest, User
from lti_app.services import audit, progress, signoffs
from lti_app.services.errors import AppError
from lti_app.services.messages import N_, UserError

TEXT_LIMIT = 4000
COMMENT_LIMIT = 4000
URL_LIMIT = 2048
FILE_LIMIT = 5 * 1024 * 1024
FILE_NAME_LIMIT = 255

PENDING, APPROVED, DECLINED, WITHDRAWN = "pending", "approved", "declined", "withdrawn"

# Sniffed type -> the extension its download gets.
ALLOWED_TYPES = {
    "application/pdf": ".pdf",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "text/plain": ".txt",
}
_EXTENSIONS = {
    "application/pdf": {".pdf"},
    "image/png": {".png"},
    "image/jpeg": {".jpg", ".jpeg", ".jpe"},
    "text/plain": {".txt", ".text", ".md", ".csv", ".log"},
}
# Text may hold tabs, line breaks and form feeds; any other C0 control (or DEL) means binary.
_BINARY_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
# Lists and decisions never need the (up to 5 MB) file itself.
_NO_FILE = defer(SignoffRequest.evidence_file)
_DECISION = ["status", "decided_by_id", "decided_at", "decision_comment"]


class RequestError(UserError):
    code = "request.invalid"


@dataclass(frozen=True)
class EvidenceFile:
    """A file as the browser sent it; only ``name`` and ``data`` are used."""

    name: str
    data: bytes


@dataclass
class Decision:
    request: SignoffRequest
    result: signoffs.SignResult | None = None
    already_met: bool = False
    notes: list[str] = field(default_factory=list)


def sniff_type(data: bytes) -> str | None:
    """The allowed type the content really is, or None (whatever its name says)."""
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if _BINARY_CONTROLS.search(text):
        return None
    return "text/plain"


def clean_url(value: str | None) -> str | None:
    """An absolute http(s) URL with a host, or None for an empty value; else RequestError."""
    url = (value or "").strip()
    if not url:
        return None
    if len(url) > URL_LIMIT:
        raise RequestError(
            N_("The link is %(length)d characters long; the limit is %(limit)d."),
            length=len(url),
            limit=URL_LIMIT,
        )
    if any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in url):
        raise RequestError(N_("The link must not contain spaces or control characters."))
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a malformed port
    except ValueError:
        raise RequestError(N_("The link is not a valid web address.")) from None
    if parts.scheme.lower() not in ("http", "https"):
        raise RequestError(N_("The link must start with http:// or https://."))
    if not parts.hostname or port == 0:
        raise RequestError(N_("The link has no host name."))
    if parts.username or parts.password:
        raise RequestError(N_("The link must not contain a user name or password."))
    return url


def clean_file_name(name: str, content_type: str) -> str:
    """A safe download name: no directories or control characters; the extension matches
    the sniffed type."""
    base = PureWindowsPath(PurePosixPath(name or "").name).name
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip(" .")
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    if f".{ext.lower()}" not in _EXTENSIONS[content_type]:
        stem, ext = base, ALLOWED_TYPES[content_type].lstrip(".")
    stem = (stem or "evidence")[: FILE_NAME_LIMIT - len(ext) - 1]
    return f"{stem}.{ext}"


def check_file(file: EvidenceFile) -> tuple[str, str]:
    """(content type, download name) for an acceptable file; RequestError otherwise."""
    size = len(file.data)
    if size == 0:
        raise RequestError(N_("The file is empty."))
    if size > FILE_LIMIT:
        raise RequestError(
            N_("The file is %(size)s; the limit is %(limit)s."),
            status=413,
            size=_megabytes(size),
            limit=_megabytes(FILE_LIMIT),
        )
    content_type = sniff_type(file.data)
    if content_type is None:
        raise RequestError(
            N_("The file is not a PDF, PNG, JPEG or plain text file (judged by its content).")
        )
    return content_type, clean_file_name(file.name, content_type)


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def _clean_text(value: str | None, limit: int, what: str) -> str:
    text = (value or "").strip()
    if len(text) > limit:
        if what == "comment":
            raise RequestError(
                N_("The comment is %(length)d characters long; the limit is %(limit)d."),
                length=len(text),
                limit=limit,
            )
        raise RequestError(
            N_("The evidence text is %(length)d characters long; the limit is %(limit)d."),
            length=len(text),
            limit=limit,
        )
    return text


def _learner_membership(session: Session, learner_id: int, context_id: int) -> Membership:
    membership = session.scalar(
        select(Membership).where(
            Membership.context_id == context_id, Membership.user_id == learner_id
        )
    )
    if membership is None or not membership.active or not membership.is_learner:
        raise RequestError(N_("Only learners of this course can request sign-off."), status=403)
    return membership


def pending_request(
    session: Session, learner_id: int, statement_id: uuid.UUID
) -> SignoffRequest | None:
    return session.scalar(
        select(SignoffRequest).where(
            SignoffRequest.learner_id == learner_id,
            SignoffRequest.statement_id == statement_id,
            SignoffRequest.status == PENDING,
        )
    )


def create(
    session: Session,
    *,
    learner_id: int,
    context_id: int,
    statement_id: uuid.UUID,
    text: str,
    url: str | None = None,
    file: EvidenceFile | None = None,
    allowed_statements: Collection[uuid.UUID],
) -> SignoffRequest:
    """A learner asks for a statement of their checklist to be signed off."""
    _learner_membership(session, learner_id, context_id)
    if statement_id not in set(allowed_statements):
        raise RequestError(N_("This statement is not part of your checklist."), status=404)
    text = _clean_evidence_text(text)
    url = clean_url(url)
    file_type = file_name = None
    if file is not None:
        file_type, file_name = check_file(file)
    _lock_and_refuse_repeat(session, learner_id, statement_id)
    request = SignoffRequest(
        learner_id=learner_id,
        statement_id=statement_id,
        context_id=context_id,
        evidence_text=text,
        evidence_url=url,
        evidence_file_name=file_name,
        evidence_file_type=file_type,
        evidence_file=file.data if file is not None else None,
        status=PENDING,
        created_at=utcnow(),
    )
    session.add(request)
    session.flush()
    audit.record(
        session,
        "request.create",
        actor_id=learner_id,
        context_id=context_id,
        subject_user_id=learner_id,
        object_type="statement",
        object_id=statement_id,
        details={
            "request_id": request.id,
            "url": url,
            "file": None if file is None else _file_audit(file, file_name, file_type),
        },
    )
    return request


def _clean_evidence_text(text: str) -> str:
    text = _clean_text(text, TEXT_LIMIT, "text")
    if not text:
        raise RequestError(
            N_("Describe your evidence: what you did, when and where, and who saw it.")
        )
    return text


def _lock_and_refuse_repeat(session: Session, learner_id: int, statement_id: uuid.UUID) -> None:
    """Refuse a request for a statement already met or already asked for.

    One decision at a time per learner: a double-clicked "send" makes one request.
    """
    signoffs.lock_learners(session, [learner_id])
    if statement_id in progress.met_statement_ids(session, learner_id, [statement_id]):
        raise RequestError(N_("This statement is already signed off."), status=409)
    if pending_request(session, learner_id, statement_id) is not None:
        raise RequestError(
            N_("You already asked for this statement; wait for the answer or withdraw it."),
            status=409,
        )


def _file_audit(file: EvidenceFile, name: str | None, file_type: str | None) -> dict[str, object]:
    return {
        "name": name,
        "type": file_type,
        "bytes": len(file.data),
        "sha256": hashlib.sha256(file.data).hexdigest(),
    }


def _decided_error(session: Session, request: SignoffRequest) -> RequestError:
    who = session.get(User, request.decided_by_id) if request.decided_by_id else None
    name = (who.name if who else None) or "?"
    when: datetime | str = request.decided_at or "?"
    if request.status == APPROVED:
        return RequestError(
            N_("This request was already approved by %(name)s at %(when)s."),
            status=409,
            name=name,
            when=when,
        )
    if request.status == DECLINED:
        return RequestError(
            N_("This request was already declined by %(name)s at %(when)s."),
            status=409,
            name=name,
            when=when,
        )
    return RequestError(N_("The learner withdrew this request at %(when)s."), status=409, when=when)


def _for_decision(session: Session, context_id: int, request_id: int) -> SignoffRequest:
    request = session.get(SignoffRequest, request_id, options=[_NO_FILE])
    if request is None or request.context_id != context_id:
        raise RequestError(N_("There is no such request in this course."), status=404)
    signoffs.lock_learners(session, [request.learner_id])
    session.refresh(request, _DECISION)  # after the lock: another decision may have committed
    if request.status != PENDING:
        raise _decided_error(session, request)
    return request


def withdraw(session: Session, *, learner_id: int, request_id: int) -> SignoffRequest:
    """The learner takes back their own pending request."""
    request = session.get(SignoffRequest, request_id, options=[_NO_FILE])
    if request is None or request.learner_id != learner_id:
        raise RequestError(N_("There is no such request of yours."), status=404)
    signoffs.lock_learners(session, [learner_id])
    session.refresh(request, _DECISION)
    if request.status != PENDING:
        raise _decided_error(session, request)
    request.status = WITHDRAWN
    request.decided_at = utcnow()
    request.decided_by_id = learner_id
    session.flush()
    audit.record(
        session,
        "request.withdraw",
        actor_id=learner_id,
        context_id=request.context_id,
        subject_user_id=learner_id,
        object_type="statement",
        object_id=request.statement_id,
        details={"request_id": request.id},
    )
    return request


def approve(
    session: Session,
    *,
    actor_id: int,
    context_id: int,
    request_id: int,
    comment: str | None = None,
    allowed_statements: Collection[uuid.UUID] | None = None,
) -> Decision:
    """Approve a pending request: the statement is signed off with the request's evidence."""
    signoffs.instructor_membership(session, actor_id, context_id)
    comment = _clean_text(comment, COMMENT_LIMIT, "comment") or None
    request = _for_decision(session, context_id, request_id)
    evidence = {
        "request_id": request.id,
        "text": request.evidence_text,
        "url": request.evidence_url,
        "file": request.evidence_file_name,
    }
    result = signoffs.sign(
        session,
        actor_id=actor_id,
        context_id=context_id,
        learner_ids=[request.learner_id],
        statement_ids=[request.statement_id],
        note=comment,
        evidence={k: v for k, v in evidence.items() if v},
        request_id=request.id,
        allowed_statements=allowed_statements,
    )
    _decide(
        session,
        request,
        APPROVED,
        actor_id=actor_id,
        context_id=context_id,
        comment=comment,
        already_met=bool(result.already_met),
    )
    return Decision(request=request, result=result, already_met=bool(result.already_met))


def _decide(
    session: Session,
    request: SignoffRequest,
    status: str,
    *,
    actor_id: int,
    context_id: int,
    comment: str | None,
    **details: object,
) -> None:
    """Record an instructor's decision on a request, with its audit row."""
    request.status = status
    request.decided_by_id = actor_id
    request.decided_at = utcnow()
    request.decision_comment = comment
    session.flush()
    audit.record(
        session,
        f"request.{'approve' if status == APPROVED else 'decline'}",
        actor_id=actor_id,
        context_id=context_id,
        subject_user_id=request.learner_id,
        object_type="statement",
        object_id=request.statement_id,
        details={"request_id": request.id, "comment": comment, **details},
    )


def decline(
    session: Session,
    *,
    actor_id: int,
    context_id: int,
    request_id: int,
    comment: str,
) -> Decision:
    """Decline a pending request; the comment (required) tells the learner what is missing."""
    signoffs.instructor_membership(session, actor_id, context_id)
    comment = _clean_text(comment, COMMENT_LIMIT, "comment")
    if not comment:
        raise RequestError(N_("Say why you decline, so the learner knows what is missing."))
    request = _for_decision(session, context_id, request_id)
    _decide(session, request, DECLINED, actor_id=actor_id, context_id=context_id, comment=comment)
    return Decision(request=request)


def settle_met(
    session: Session,
    *,
    actor_id: int,
    context_id: int,
    learner_ids: Collection[int],
    statement_ids: Collection[uuid.UUID],
) -> list[SignoffRequest]:
    """Approve the pending requests whose statements are now met (signed from the grid or a
    learner's page), so the queue holds only what still needs a decision. Call it in the
    transaction that signed (the learners are locked)."""
    if not learner_ids or not statement_ids:
        return []
    pending = list(
        session.scalars(
            select(SignoffRequest)
            .options(_NO_FILE)
            .where(
                SignoffRequest.context_id == context_id,
                SignoffRequest.learner_id.in_(sorted(set(learner_ids))),
                SignoffRequest.statement_id.in_(sorted(set(statement_ids))),
                SignoffRequest.status == PENDING,
            )
        )
    )
    if not pending:
        return []
    met = progress.cohort_met(
        session, {r.learner_id for r in pending}, {r.statement_id for r in pending}
    )
    settled = []
    now = utcnow()
    for request in pending:
        if request.statement_id not in met[request.learner_id]:
            continue
        request.status = APPROVED
        request.decided_by_id = actor_id
        request.decided_at = now
        settled.append(request)
        audit.record(
            session,
            "request.approve",
            actor_id=actor_id,
            context_id=context_id,
            subject_user_id=request.learner_id,
            object_type="statement",
            object_id=request.statement_id,
            details={"request_id": request.id, "via": "signoff"},
        )
    session.flush()
    return settled


def statuses(session: Session, *, context_id: int, request_ids: Collection[int]) -> dict[int, str]:
    """The status of each of these requests that belongs to the course (others are absent)."""
    if not request_ids:
        return {}
    rows = session.execute(
        select(SignoffRequest.id, SignoffRequest.status).where(
            SignoffRequest.context_id == context_id,
            SignoffRequest.id.in_(sorted(set(request_ids))),
        )
    )
    return {request_id: status for request_id, status in rows}


def declined_pairs(
    session: Session,
    *,
    context_id: int,
    learner_ids: Collection[int],
    statement_ids: Collection[uuid.UUID],
) -> set[tuple[int, uuid.UUID]]:
    """(learner, statement) pairs whose latest request was declined: a bulk action leaves
    them out, so only an instructor who picks such a cell signs it."""
    if not learner_ids or not statement_ids:
        return set()
    rows = session.execute(
        select(SignoffRequest.learner_id, SignoffRequest.statement_id, SignoffRequest.status)
        .where(
            SignoffRequest.context_id == context_id,
            SignoffRequest.learner_id.in_(sorted(set(learner_ids))),
            SignoffRequest.statement_id.in_(sorted(set(statement_ids))),
        )
        .order_by(SignoffRequest.id)
    )
    latest = {(learner, statement): status for learner, statement, status in rows}
    return {pair for pair, status in latest.items() if status == DECLINED}


def evidence_file(
    session: Session, *, request_id: int, context_id: int, viewer_id: int
) -> SignoffRequest:
    """The request whose file a viewer may download: its learner or the course's staff."""
    missing = RequestError(N_("There is no such file."), status=404)
    request = session.get(SignoffRequest, request_id)
    if request is None or request.context_id != context_id or request.evidence_file is None:
        raise missing
    if request.learner_id != viewer_id:
        try:
            signoffs.instructor_membership(session, viewer_id, context_id)
        except AppError:
            raise missing from None
    return request
