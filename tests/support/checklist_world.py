"""Courses, people and launch sessions for the checklist pages' tests.

Two courses on one platform: course A (the one under test: an instructor, a
TA, learners, a link to two levels of the seed) and course B (its own
instructor and learner, the "other course" callers). Launch sessions are made
with the tool's own ``lti.sessions.create``, as a launch would make them; a
test that needs the whole launch drives one through ``support.lti_platform``.
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from flask_wtf.csrf import generate_csrf

from frameworks import load
from lti_app.db.models import Context, Deployment, Membership, Platform, ResourceLink, User
from lti_app.lms.roles import classify
from lti_app.lti import sessions
from lti_app.request_db import database
from lti_app.services.frameworks import import_framework
from lti_app.services.launches import LaunchRecord

SEED = Path(__file__).resolve().parents[2] / "frameworks" / "data" / "psychiatric-technicians.json"
LIS = "http://purl.imsglobal.org/vocab/lis/v2"
INSTRUCTOR = f"{LIS}/membership#Instructor"
TEACHING_ASSISTANT = f"{LIS}/membership/Instructor#TeachingAssistant"
LEARNER = f"{LIS}/membership#Learner"
SYSTEM_ADMIN = f"{LIS}/system/person#Administrator"
ISSUER = "https://lms.example.edu"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Person:
    id: int
    name: str
    roles: list[str]
    context_id: int | None
    link_id: int | None


@dataclass
class World:
    app: Flask
    platform_id: int
    version_id: uuid.UUID
    context_a: int
    link_a: int
    context_b: int
    link_b: int
    levels: dict[str, list[uuid.UUID]]  # level key -> statement ids (course A's link)
    instructor: Person
    ta: Person
    learners: list[Person]
    other_instructor: Person
    other_learner: Person
    admin: Person
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def learner(self) -> Person:
        return self.learners[0]

    @property
    def statements(self) -> list[uuid.UUID]:
        return [s for ids in self.levels.values() for s in ids]

    def caller(self, client: FlaskClient, person: Person, **kwargs: Any) -> Caller:
        return Caller(
            client, launch_token(self.app, person, platform_id=self.platform_id, **kwargs)
        )


class Caller:
    """A browser holding one launch session: paths are relative to ``/s/<token>``."""

    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client = client
        self.token = token
        self._csrf: str | None = None

    def url(self, path: str) -> str:
        return f"/s/{self.token}{path}"

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(self.url(path), **kwargs)

    def csrf(self) -> str:
        if self._csrf is None:
            app = self.client.application
            with app.test_request_context(self.url("/")):
                self._csrf = generate_csrf()
        return self._csrf

    def post(self, path: str, data: Any = None, *, csrf: bool = True, **kwargs: Any) -> Any:
        payload = dict(data or {}) if not isinstance(data, list) else data
        if csrf:
            if isinstance(payload, list):
                payload = [*payload, ("csrf_token", self.csrf())]
            else:
                payload.setdefault("csrf_token", self.csrf())
        if isinstance(payload, list):
            from werkzeug.datastructures import MultiDict

            payload = MultiDict(payload)
        return self.client.post(self.url(path), data=payload, **kwargs)


def launch_token(
    app: Flask,
    person: Person,
    *,
    platform_id: int,
    locale: str | None = None,
    tool_admin: bool = False,
) -> str:
    """A launch session as the tool makes one after a launch of ``person`` in their course."""
    roles = classify(person.roles)
    record = LaunchRecord(
        user_id=person.id,
        platform_id=platform_id,
        context_id=person.context_id or 0,
        resource_link_id=person.link_id,
        roles=roles,
        is_tool_admin=tool_admin,
        locale=locale,
        message_type="LtiResourceLinkRequest",
    )
    with app.app_context(), database(app).transaction() as db:
        # The CSRF secret lives in the launch session; tests sign it with the app's key.
        return sessions.create(
            db,
            record,
            browser_hash=None,
            pending=False,
            data={"csrf_token": secrets.token_hex(20)},
        )


def _user(db: Any, sub: str, name: str, context_id: int | None, roles: list[str]) -> int:
    given, _, family = name.partition(" ")
    user = User(
        issuer=ISSUER,
        sub=sub,
        name=name,
        given_name=given,
        family_name=family or None,
        email=f"{sub}@example.edu",
    )
    db.add(user)
    db.flush()
    if context_id is not None:
        parsed = classify(roles)
        db.add(
            Membership(
                context_id=context_id,
                user_id=user.id,
                roles=list(parsed.membership),
                is_instructor=parsed.is_instructor,
                is_learner=parsed.is_learner,
                active=True,
                source="launch",
                launched=True,
            )
        )
    return user.id


LEARNER_NAMES = ["Zoë Ødegård", "Ana Núñez", "Bo Chen", "Ciarán Walsh", "Dana Ito", "Eli Brown"]


def make_world(
    app: Flask,
    *,
    learners: int = 3,
    level_keys: list[str] | None = None,
    other_level_keys: list[str] | None = None,
    tag: str = "",
) -> World:
    """Two courses; ``tag`` keeps several worlds apart in one database. Course B links
    ``other_level_keys`` (default: the same levels as course A)."""
    keys = ["emerging", "developing"] if level_keys is None else level_keys
    keys_b = keys if other_level_keys is None else other_level_keys
    with app.app_context(), database(app).transaction() as db:
        version = import_framework(db, load(SEED), "ler").version
        platform = Platform(
            name="Example LMS",
            issuer=ISSUER,
            client_id=f"skillsign{tag}",
            auth_login_url=f"{ISSUER}/auth",
            auth_token_url=f"{ISSUER}/token",
            jwks_url=f"{ISSUER}/jwks",
        )
        db.add(platform)
        db.flush()
        db.add(Deployment(platform_id=platform.id, deployment_id="d1", status="approved"))
        contexts, links = [], []
        for label, linked in (("a", keys), ("b", keys_b)):
            ctx = Context(
                platform_id=platform.id,
                context_id=f"course-{label}",
                title=f"Course {label.upper()}",
            )
            db.add(ctx)
            db.flush()
            link = ResourceLink(
                context_id=ctx.id,
                resource_link_id=f"link-{label}",
                title="Checklist",
                framework_version_id=version.id,
                level_keys=list(linked),
            )
            db.add(link)
            db.flush()
            contexts.append(ctx.id)
            links.append(link.id)
        a, b = contexts
        la, lb = links

        def person(
            sub: str, name: str, ctx: int | None, link: int | None, roles: list[str]
        ) -> Person:
            return Person(_user(db, tag + sub, name, ctx, roles), name, roles, ctx, link)

        world = World(
            app=app,
            platform_id=platform.id,
            version_id=version.id,
            context_a=a,
            link_a=la,
            context_b=b,
            link_b=lb,
            levels={
                lv.key: [st.id for st in lv.statements]
                for lv in version.levels
                if not keys or lv.key in keys
            },
            instructor=person("teacher-a", "Irene Instructor", a, la, [INSTRUCTOR]),
            ta=person("ta-a", "Tomás Assistant", a, la, [TEACHING_ASSISTANT]),
            learners=[
                person(
                    f"learner-a{n}",
                    LEARNER_NAMES[n] if n < len(LEARNER_NAMES) else f"Learner{n:04d} Number{n:04d}",
                    a,
                    la,
                    [LEARNER],
                )
                for n in range(learners)
            ],
            other_instructor=person("teacher-b", "Otto Other", b, lb, [INSTRUCTOR]),
            other_learner=person("learner-b1", "Olga Outsider", b, lb, [LEARNER]),
            # A platform administrator launching from course A without a course role.
            admin=person("admin-1", "Ada Admin", None, la, [SYSTEM_ADMIN]),
        )
        world.admin.context_id = a
        return world


def csrf_from(html: str) -> str:
    found = CSRF_RE.search(html)
    assert found, "no CSRF token in the page"
    return found.group(1)
