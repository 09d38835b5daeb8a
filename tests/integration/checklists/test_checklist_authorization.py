"""Every route of the app x every kind of caller.

The routes come from ``app.url_map``: a new route fails this test until it is
given a policy below, so nothing reaches production unclassified. For each
(route, caller) the answer must be "allowed" (the request got past
authorization: 2xx, 3xx, or a 400/409 about its input) or "denied" (401, 403
or 404 for someone else's object), as the policy says; never a 5xx. Callers of
another course must never see course A's people in any answer.
"""

from __future__ import annotations

import io
import re
import secrets
import uuid

import pytest
from support.checklist_world import World, make_world

from lti_app.db.models import Credential, StatusList
from lti_app.request_db import database
from lti_app.services import signoff_requests, signoffs

CALLERS = (
    "anonymous",
    "other_learner",
    "other_instructor",
    "learner",
    "ta",
    "instructor",
    "admin",
)
STAFF = {"ta", "instructor"}
EVERYONE = set(CALLERS) - {"anonymous"}

# Who may use each launch page (everyone else is denied). Pages outside a launch are public.
LAUNCH_POLICIES: dict[str, set[str]] = {
    "launch.landing": EVERYONE,
    "launch.setup": STAFF | {"other_instructor"},  # their own link (already set up: a redirect)
    "launch.deep_link": set(),  # only a Deep Linking launch, and these are resource link launches
    "launch.sign_out": EVERYONE,  # anyone with a session may end it
    "language.choose": EVERYONE,  # each person's own language
    "learner.checklist": {"learner", "other_learner"},  # each their own
    "learner.request_signoff": {"learner"},  # course A's statement is not in course B's link
    "learner.withdraw": {"learner"},
    "learner.evidence_file": {"learner"} | STAFF,
    "instructor.grid": STAFF | {"other_instructor"},  # each their own course's grid
    "instructor.refresh_roster": STAFF | {"other_instructor"},  # their own course's roster
    "instructor.confirm": STAFF,  # names course A's learners: B's instructor is refused
    "instructor.sign": STAFF,
    "instructor.learner": STAFF,
    "instructor.learner_sign": STAFF,
    "instructor.learner_undo": STAFF,
    "instructor.reissue": STAFF,  # names course A's learner: B's instructor gets 404
    "instructor.audit": STAFF,
    "instructor.requests_queue": STAFF | {"other_instructor"},
    "instructor.approve": STAFF,
    "instructor.decline": STAFF,
    "instructor.decide_requests": STAFF,  # names course A's requests: B's instructor gets 404
    "instructor.cohort": STAFF | {"other_instructor"},
    "instructor.cohort_csv": STAFF | {"other_instructor"},
    # The world's credential is learners[1]'s, who is none of these callers: all are refused.
    "wallet.wallet_page": set(),
    "wallet.make_offer": set(),
    "admin.index": {"admin"},
    "admin.deployment": {"admin"},
    "admin.frameworks": {"admin"},
    "admin.upload_framework": {"admin"},
    "admin.issuer": {"admin"},
    "admin.save_issuer": {"admin"},  # tool administrators only
    "admin.keys": {"admin"},
    "admin.rotate_key": {"admin"},
}
# Blueprints whose pages need no launch: anyone may call them.
PUBLIC_BLUEPRINTS = {
    *("public", "lti", "credentials", "verify", "case", "api", "demo", "static"),
    "oid4vci",  # a wallet's calls (OpenID4VCI): no launch, a secret in each request instead
}


@pytest.fixture
def matrix_world(app):
    world = make_world(app, other_level_keys=["proficient"])
    with app.app_context(), database(app).transaction() as session:
        request = signoff_requests.create(
            session,
            learner_id=world.learner.id,
            context_id=world.context_a,
            statement_id=world.statements[0],
            text="evidence",
            file=signoff_requests.EvidenceFile("e.txt", b"evidence"),
            allowed_statements=world.statements,
        )
        result = signoffs.sign(
            session,
            actor_id=world.instructor.id,
            context_id=world.context_a,
            learner_ids=[world.learners[1].id],
            statement_ids=world.levels["emerging"],
        )
        credential: Credential = result.credentials[0]
        status_list = session.get(StatusList, credential.status_list_id)
        world.extra.update(
            request_id=request.id,
            credential_id=credential.id,
            level_id=credential.level_id,
            list_id=status_list.id,
            kid=credential.signing_kid,
        )
    return world


def _values(world: World, caller: str) -> dict[str, object]:
    return {
        "statement_id": world.statements[1],
        "request_id": world.extra["request_id"],
        "learner_id": world.learner.id,
        "platform_id": world.platform_id,
        "credential_id": world.extra["credential_id"],
        "level_id": world.extra["level_id"],
        "list_id": world.extra["list_id"],
        "kid": world.extra["kid"],
        "fmt": "json",
        "identifier": str(world.version_id),
        "filename": "skillsign.css",
        "handle": "no-such-offer",
    }


def _fill(rule, values: dict[str, object], token: str) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(2)
        if name == "ls":
            return token
        if name not in values:
            raise AssertionError(
                f"route {rule.rule} has a parameter {name!r} this test cannot fill: add a value"
            )
        return str(values[name])

    return re.sub(r"<(?:([a-z_]+)(?:\([^)]*\))?:)?([a-z_]+)>", replace, rule.rule)


def _form(world: World, endpoint: str) -> dict[str, object]:
    """A plausible form for each POST, so 'allowed' callers get past validation."""
    statement = str(world.statements[1])
    return {
        "learner.request_signoff": {"text": "I did it."},
        "language.choose": {"locale": "es"},
        "instructor.confirm": {
            "learner": str(world.learner.id),
            "action": "level",
            "level": "emerging",
        },
        "instructor.sign": {
            "learner": str(world.learner.id),
            "action": "statement",
            "statement": statement,
        },
        "instructor.learner_sign": {"statement": statement},
        "instructor.learner_undo": {"statement": statement, "reason": "test"},
        "instructor.reissue": {"level": "emerging"},
        "instructor.decline": {"comment": "Add the date."},
        "instructor.decide_requests": {
            "request": str(world.extra["request_id"]),
            "decision": "approve",
        },
        "admin.deployment": {"deployment_id": "d1", "decision": "approve"},
        "admin.upload_framework": {"file": (io.BytesIO(b"{}"), "x.json")},
        "admin.rotate_key": {"kind": "rsa"},
        "admin.save_issuer": {"name": "Matrix College", "email": "badges@example.edu"},
    }.get(endpoint, {})


def _token(world: World, client, caller: str) -> tuple[str, object]:
    if caller == "anonymous":
        return secrets.token_urlsafe(32), None
    person = {
        "other_learner": world.other_learner,
        "other_instructor": world.other_instructor,
        "learner": world.learner,
        "ta": world.ta,
        "instructor": world.instructor,
        "admin": world.admin,
    }[caller]
    found = world.caller(client, person, tool_admin=caller == "admin")
    return found.token, found


def _routes(app):
    # Signing out ends the caller's session: it goes last, after every other page.
    order = sorted(
        app.url_map.iter_rules(),
        key=lambda r: (r.endpoint == "launch.sign_out", r.rule, r.endpoint),
    )
    for rule in order:
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield rule, method


def test_every_route_is_classified(app):
    missing = []
    for rule, _method in _routes(app):
        blueprint = rule.endpoint.split(".", 1)[0] if "." in rule.endpoint else rule.endpoint
        if rule.rule.startswith("/s/<"):
            if rule.endpoint not in LAUNCH_POLICIES:
                missing.append(rule.endpoint)
        elif blueprint not in PUBLIC_BLUEPRINTS:
            missing.append(rule.endpoint)
    assert not missing, (
        f"routes without an authorization policy: {sorted(set(missing))}; add them to "
        "LAUNCH_POLICIES (launch pages) or PUBLIC_BLUEPRINTS (pages for anyone)"
    )


def test_every_route_against_every_caller(app, client, matrix_world):
    world = matrix_world
    outsiders_must_not_see = [world.learner.name, world.learners[1].name]
    failures = []
    # Callers that may change things go last, so denied callers meet the original state.
    for caller in CALLERS:
        token, session_caller = _token(world, client, caller)
        values = _values(world, caller)
        for rule, method in _routes(app):
            if rule.endpoint == "static":
                continue
            url = _fill(rule, values, token)
            launch_page = rule.rule.startswith("/s/<")
            if method == "GET":
                response = client.get(url)
            else:
                data = dict(_form(world, rule.endpoint))
                if session_caller is not None:
                    data["csrf_token"] = session_caller.csrf()
                response = client.post(url, data=data, content_type="multipart/form-data")
            status = response.status_code
            where = f"{method} {rule.rule} as {caller}: {status}"
            if status >= 500:
                failures.append(f"{where} (server error)")
                continue
            if not launch_page:
                continue  # public pages: anyone, no 5xx
            allowed = caller in LAUNCH_POLICIES[rule.endpoint]
            denied = status in (401, 403, 404)
            if allowed and denied:
                failures.append(f"{where}, expected to be allowed")
            elif not allowed and not denied:
                failures.append(f"{where}, expected to be denied")
            if caller == "anonymous" and status != 401:
                failures.append(f"{where}, expected 401 without a launch")
            if caller.startswith("other_"):
                body = response.get_data(as_text=True)
                leaked = [name for name in outsiders_must_not_see if name in body]
                if leaked:
                    failures.append(f"{where} shows course A's {leaked}")
    assert not failures, "\n".join(failures)


def test_policies_name_only_existing_routes(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert set(LAUNCH_POLICIES) <= endpoints, set(LAUNCH_POLICIES) - endpoints


def test_a_uuid_route_value_is_really_a_uuid(matrix_world):
    assert isinstance(matrix_world.extra["credential_id"], uuid.UUID)


def test_every_launch_post_needs_the_csrf_token(app, client, matrix_world):
    """Generated from the URL map: a POST without the form's token changes nothing."""
    world = matrix_world
    checked = 0
    for rule, method in _routes(app):
        if method != "POST" or not rule.rule.startswith("/s/<"):
            continue
        allowed = LAUNCH_POLICIES[rule.endpoint]
        caller = next((c for c in CALLERS if c in allowed), None)
        if caller is None:
            continue  # nobody may post here at all: the deny test above covers it
        token, _ = _token(world, client, caller)
        url = _fill(rule, _values(world, caller), token)
        response = client.post(
            url, data=dict(_form(world, rule.endpoint)), content_type="multipart/form-data"
        )
        assert response.status_code == 400, (
            f"POST {rule.rule} without a CSRF token: {response.status_code}"
        )
        assert "CSRF" in response.get_data(as_text=True)
        checked += 1
    assert checked >= 12
