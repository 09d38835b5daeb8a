"""A course world made of real launches: every caller got their session by launching from an
independent platform (signed id_token, login state, nonce), so the roles the matrix tests are
the roles the launch pipeline derived, not ones a test wrote into the database.

Course A has an instructor, a TA, two learners (one with a pending request and evidence, one
holding a credential), a user with only an institution-level Instructor role and two
administrators (of the platform; of the tool). Course B has its own instructor and learner.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, session
from flask.testing import FlaskClient
from flask_wtf.csrf import generate_csrf
from sqlalchemy import select

from frameworks import load
from lti_app.db.models import Credential, FrameworkVersion, ResourceLink, User
from lti_app.lti.login import BROWSER_COOKIE
from lti_app.request_db import database
from lti_app.services import admins, signoff_requests, signoffs
from lti_app.services.frameworks import import_framework
from support.adversarial_launch import browser_cookie, launch
from support.lti_platform import (
    INSTITUTION_ADMIN,
    INSTITUTION_INSTRUCTOR,
    INSTRUCTOR,
    LEARNER,
    SYSTEM_ADMIN,
    TEACHING_ASSISTANT,
    LaunchPlatform,
    LaunchSpec,
)

# caller -> (course, roles); course None: launched from course A's link without a course role
CALLERS: dict[str, tuple[str, list[str]]] = {
    "learner": ("a", [LEARNER]),
    "other_learner": ("b", [LEARNER]),
    "other_instructor": ("b", [INSTRUCTOR]),
    "ta": ("a", [TEACHING_ASSISTANT]),
    "instructor": ("a", [INSTRUCTOR]),
    "platform_admin": ("a", [INSTITUTION_ADMIN]),
    "tool_admin": ("a", [SYSTEM_ADMIN]),
    "institution_instructor": ("a", [INSTITUTION_INSTRUCTOR]),
}
TOOL_ADMIN_EMAIL = "ada.admin@example.edu"


@dataclass
class Caller:
    name: str
    token: str
    user_id: int
    client: FlaskClient
    _csrf: str | None = None

    def url(self, path: str) -> str:
        return f"/s/{self.token}{path}"

    def csrf(self, app: Flask) -> str:
        if self._csrf is None:
            # The launch is bound to this browser's cookie: the session opens only with it.
            cookie = f"{BROWSER_COOKIE}={browser_cookie(self.client)}"
            with app.test_request_context(self.url("/"), headers={"Cookie": cookie}):
                self._csrf = generate_csrf()
                # generate_csrf put its secret into this request's (launch) session: keep it.
                app.session_interface.save_session(app, session, app.response_class())
        return self._csrf


@dataclass
class LaunchedWorld:
    app: Flask
    platform: LaunchPlatform
    version_id: uuid.UUID
    statements: list[uuid.UUID]  # course A's linked statements, in order
    callers: dict[str, Caller]
    learner2_id: int
    values: dict[str, Any] = field(default_factory=dict)


def build(app: Flask, platform: LaunchPlatform) -> LaunchedWorld:
    with app.app_context(), database(app).transaction() as db:
        version = import_framework(db, load(_seed()), "ler").version
        version_id = version.id
        admins.add(db, email=TOOL_ADMIN_EMAIL)
    callers: dict[str, Caller] = {}
    people = dict(CALLERS, learner2=("a", [LEARNER]))
    for name, (course, roles) in people.items():
        client = app.test_client()
        spec = LaunchSpec(
            user_id=f"user-{name}",
            roles=roles,
            name=f"Person {name.upper()}",
            email=TOOL_ADMIN_EMAIL if name == "tool_admin" else f"{name}@example.edu",
            context_id=f"course-{course}",
            context_title=f"Course {course.upper()}",
            resource_link_id=f"link-{course}",
        )
        done = launch(client, platform, spec)
        assert done.status == 303, f"{name}: launch answered {done.status}"
        callers[name] = Caller(name, done.token, 0, client)
    with app.app_context(), database(app).transaction() as db:
        for caller in callers.values():
            caller.user_id = db.scalar(select(User.id).where(User.sub == f"user-{caller.name}"))
        # The instructors set their links up: course A with two levels, course B with another.
        for link in db.scalars(select(ResourceLink)):
            link.framework_version_id = version_id
            link.level_keys = (
                ["emerging", "developing"] if link.resource_link_id == "link-a" else ["proficient"]
            )
        db.flush()
        row = db.get(FrameworkVersion, version_id)
        statements = [
            st.id
            for lv in row.levels
            if lv.key in ("emerging", "developing")
            for st in lv.statements
        ]
        emerging = [st.id for lv in row.levels if lv.key == "emerging" for st in lv.statements]
        learner = callers["learner"]
        context_a = db.scalar(
            select(ResourceLink.context_id).where(ResourceLink.resource_link_id == "link-a")
        )
        request = signoff_requests.create(
            db,
            learner_id=learner.user_id,
            context_id=context_a,
            statement_id=statements[0],
            text="I did it on the ward, with Dana watching.",
            file=signoff_requests.EvidenceFile("evidence.txt", b"evidence"),
            allowed_statements=statements,
        )
        learner2 = callers.pop("learner2")
        signed = signoffs.sign(
            db,
            actor_id=callers["instructor"].user_id,
            context_id=context_a,
            learner_ids=[learner2.user_id],
            statement_ids=emerging,
        )
        credential: Credential = signed.credentials[0]
        world = LaunchedWorld(
            app=app,
            platform=platform,
            version_id=version_id,
            statements=statements,
            callers=callers,
            learner2_id=learner2.user_id,
        )
        world.values = {
            "statement_id": statements[1],
            "request_id": request.id,
            "learner_id": learner.user_id,
            "platform_id": platform.platform_id,
            "credential_id": credential.id,
            "level_id": credential.level_id,
            "list_id": credential.status_list_id,
            "kid": credential.signing_kid,
            "identifier": str(version_id),
            "filename": "skillsign.css",
            "handle": "no-such-offer",  # a credential offer's handle (OpenID4VCI)
        }
    return world


def plausible_form(world: LaunchedWorld, endpoint: str) -> dict[str, Any]:
    """A form each POST accepts from a caller allowed to make it."""
    statement = str(world.statements[1])
    return {
        "learner.request_signoff": {"text": "I did it."},
        "language.choose": {"locale": "es"},
        "instructor.confirm": {
            "learner": str(world.values["learner_id"]),
            "action": "level",
            "level": "emerging",
        },
        "instructor.sign": {
            "learner": str(world.values["learner_id"]),
            "action": "statement",
            "statement": statement,
        },
        "instructor.learner_sign": {"statement": statement},
        "instructor.learner_undo": {"statement": statement, "reason": "signed by mistake"},
        "instructor.reissue": {"level": "emerging"},
        "instructor.approve": {"comment": "Seen on the ward."},
        "instructor.decline": {"comment": "Add the date."},
        "instructor.decide_requests": {
            "request": str(world.values["request_id"]),
            "decision": "approve",
        },
        "admin.deployment": {"deployment_id": world.platform.deployment_id, "decision": "approve"},
        "admin.upload_framework": {"file": (io.BytesIO(_seed().read_bytes()), "framework.json")},
        "admin.rotate_key": {"kind": "rsa"},
        "admin.save_issuer": {"name": "Matrix College", "email": "badges@example.edu"},
        "launch.setup": {"version": str(world.version_id)},
        "launch.deep_link": {"version": str(world.version_id)},
        "lti.login": {},
        "verify.verify_page": {"text": "{}"},
    }.get(endpoint, {})


def _seed() -> Path:
    return (
        Path(__file__).resolve().parents[2] / "frameworks" / "data" / "psychiatric-technicians.json"
    )
