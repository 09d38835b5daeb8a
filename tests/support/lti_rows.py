"""Factory helpers: the registry, course, people and link rows passback tests need."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from frameworks import load
from lti_app.db.models import (
    Context,
    Deployment,
    FrameworkVersion,
    Membership,
    Platform,
    ResourceLink,
    SignoffEvent,
    User,
)
from lti_app.lms import (
    SCOPE_LINEITEM,
    SCOPE_RESULT_READONLY,
    SCOPE_SCORE,
)
from lti_app.services.frameworks import import_framework

SEED = Path(__file__).resolve().parents[2] / "frameworks" / "data" / "psychiatric-technicians.json"
AGS_SCOPES = [SCOPE_LINEITEM, SCOPE_RESULT_READONLY, SCOPE_SCORE]
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"


@dataclass
class Course:
    platform: Platform
    context: Context
    link: ResourceLink
    version: FrameworkVersion
    instructor: User
    learners: list[User]


def seed_version(session: Session) -> FrameworkVersion:
    return import_framework(session, load(SEED), "ler").version


def add_platform(
    session: Session, *, issuer: str, client_id: str, token_url: str, audience: str | None = None
) -> Platform:
    platform = Platform(
        name="test platform",
        issuer=issuer,
        client_id=client_id,
        auth_login_url=f"{issuer}/auth",
        auth_token_url=token_url,
        jwks_url=f"{issuer}/jwks",
        auth_audience=audience,
    )
    session.add(platform)
    session.flush()
    session.add(Deployment(platform_id=platform.id, deployment_id="d1", status="approved"))
    return platform


def add_user(
    session: Session, issuer: str, sub: str, name: str, context: Context, roles: list[str]
) -> User:
    user = User(issuer=issuer, sub=sub, name=name, email=f"{sub}@example.edu")
    session.add(user)
    session.flush()
    session.add(
        Membership(
            context_id=context.id,
            user_id=user.id,
            roles=roles,
            is_instructor=INSTRUCTOR in roles,
            is_learner=LEARNER in roles,
            active=True,
            source="launch",
            launched=True,
        )
    )
    return user


def make_course(
    session: Session,
    *,
    issuer: str,
    client_id: str,
    token_url: str,
    lineitems_url: str | None,
    lineitem_url: str | None = None,
    level_keys: list[str] | None = None,
    learners: int = 3,
    scopes: list[str] | None = None,
) -> Course:
    version = seed_version(session)
    platform = add_platform(session, issuer=issuer, client_id=client_id, token_url=token_url)
    context = Context(platform_id=platform.id, context_id="course-1", title="Course ünø")
    session.add(context)
    session.flush()
    link = ResourceLink(
        context_id=context.id,
        resource_link_id=f"rl-{uuid.uuid4().hex[:8]}",
        title="Emerging checklist",
        framework_version_id=version.id,
        level_keys=["emerging"] if level_keys is None else level_keys,
        lineitem_url=lineitem_url,
        lineitems_url=lineitems_url,
        ags_scopes=AGS_SCOPES if scopes is None else scopes,
    )
    session.add(link)
    instructor = add_user(session, issuer, "teacher-1", "Ana Núñez", context, [INSTRUCTOR])
    people = [
        add_user(session, issuer, f"learner-{n}", f"Learner {n} Ødegård", context, [LEARNER])
        for n in range(1, learners + 1)
    ]
    session.flush()
    return Course(platform, context, link, version, instructor, people)


def course_on(session: Session, platform: Any, learners: int = 3) -> Course:
    """A course of the independent AGS/NRPS platform (support/services_platform.py): its
    issuer, token, line-items and memberships URLs."""
    from support.services_platform import CLIENT_ID, ISSUER

    course = make_course(
        session,
        issuer=ISSUER,
        client_id=CLIENT_ID,
        token_url=platform.token_url,
        lineitems_url=platform.lineitems_url,
        learners=learners,
    )
    course.context.memberships_url = platform.memberships_url
    session.flush()
    return course


def sign(
    session: Session,
    learner: User,
    statement_id: uuid.UUID,
    *,
    actor: User | None = None,
    action: str = "sign",
    context: Context | None = None,
) -> SignoffEvent:
    event = SignoffEvent(
        learner_id=learner.id,
        statement_id=statement_id,
        actor_id=actor.id if actor else None,
        context_id=context.id if context else None,
        action=action,
    )
    session.add(event)
    session.flush()
    return event
