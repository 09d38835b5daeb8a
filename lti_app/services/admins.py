"""Tool administrators (``skillsign admins add|list|remove``).

An entry names a person by issuer + sub (exact: one account on one platform),
or by email, optionally limited to one issuer. A launch matches entries in
``services.launches.is_tool_admin``. Removing an entry ends the matching
people's open launch sessions, so the right is gone at once rather than when
their sessions expire.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, or_, select
from sqlalchemy.orm import Session

from lti_app.db.models import Admin, LaunchSession, User
from lti_app.services import audit
from lti_app.services.errors import AppError, NotFound

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class AdminError(AppError):
    code = "admin.invalid"


@dataclass(frozen=True)
class AddResult:
    admin: Admin
    created: bool


def _clean(value: str | None, limit: int, what: str) -> str | None:
    value = (value or "").strip()
    if len(value) > limit:
        raise AdminError(f"the {what} is {len(value)} characters long; the limit is {limit}")
    return value or None


def add(
    session: Session,
    *,
    issuer: str | None = None,
    sub: str | None = None,
    email: str | None = None,
) -> AddResult:
    """Add an admin; adding the same person again changes nothing (``created`` is False)."""
    issuer = _clean(issuer, 512, "issuer")
    sub = _clean(sub, 255, "sub")
    email = _clean(email, 512, "email")
    if sub and not issuer:
        raise AdminError("a sub is only unique within its platform: give --issuer with --sub")
    if sub and email:
        raise AdminError("give either --issuer with --sub, or --email (optionally with --issuer)")
    if not sub and not email:
        raise AdminError("name the admin by --issuer and --sub, or by --email")
    if email:
        if not _EMAIL.match(email):
            raise AdminError(f"{email!r} is not an email address")
        email = email.lower()
        existing = session.scalar(select(Admin).where(func.lower(Admin.email) == email))
        if existing is not None:
            if existing.issuer != issuer:
                raise AdminError(
                    f"{email} is already an admin"
                    + (f" for issuer {existing.issuer}" if existing.issuer else " for every issuer")
                    + f" (entry {existing.id}); remove it first to change its issuer"
                )
            return AddResult(existing, created=False)
    else:
        existing = session.scalar(select(Admin).where(Admin.issuer == issuer, Admin.sub == sub))
        if existing is not None:
            return AddResult(existing, created=False)
    admin = Admin(issuer=issuer, sub=sub, email=email)
    session.add(admin)
    session.flush()
    audit.record(
        session,
        "admin.add",
        actor_label="cli",  # tool admins are managed from the command line only
        object_type="admin",
        object_id=admin.id,
        details={"issuer": issuer, "sub": sub, "email": email},
    )
    return AddResult(admin, created=True)


def list_admins(session: Session) -> list[Admin]:
    return list(session.scalars(select(Admin).order_by(Admin.id)))


def _matching_users(session: Session, admin: Admin) -> list[int]:
    if admin.sub:
        query = select(User.id).where(User.issuer == admin.issuer, User.sub == admin.sub)
    else:
        query = select(User.id).where(func.lower(User.email) == (admin.email or "").lower())
        if admin.issuer:
            query = query.where(User.issuer == admin.issuer)
    return list(session.scalars(query))


def remove(session: Session, admin_id: int) -> int:
    """Remove an entry; returns how many open launch sessions were ended."""
    admin = session.get(Admin, admin_id)
    if admin is None:
        raise NotFound(f"no admin entry {admin_id}: see `skillsign admins list`")
    users = _matching_users(session, admin)
    ended = 0
    if users:
        result = cast(
            "CursorResult[Any]",  # a DELETE's result: it has rowcount
            session.execute(
                delete(LaunchSession).where(
                    LaunchSession.user_id.in_(users),
                    or_(LaunchSession.is_tool_admin.is_(True), LaunchSession.is_admin.is_(True)),
                )
            ),
        )
        ended = result.rowcount or 0
    details = {"issuer": admin.issuer, "sub": admin.sub, "email": admin.email, "ended": ended}
    session.delete(admin)
    session.flush()
    audit.record(
        session,
        "admin.remove",
        actor_label="cli",
        object_type="admin",
        object_id=admin_id,
        details=details,
    )
    return ended
