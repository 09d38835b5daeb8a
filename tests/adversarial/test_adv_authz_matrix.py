"""The authorization matrix: every route of ``app.url_map`` x every kind of caller.

Callers got their sessions from real launches (support/adversarial_world.py): anonymous,
a learner, a learner of another course, an instructor of another course, a TA, an
instructor, a platform administrator, a tool administrator, and a user whose only
Instructor role is institution-level (Canvas sends those whatever the course role is).

``EXPECTED`` is the one table of outcomes: the exact status for each (endpoint, method) and
caller. A route missing from it fails ``test_every_route_has_an_expected_outcome``, so a new
route cannot escape the matrix. Beyond the status, every refusal (401/403/404) must leave
the database as it was, no answer may be a 5xx, and callers from the other course never see
course A's people.

Callers run in ``ORDER``: refused ones first, so they meet the original state, then those
allowed to change it (a TA approves the request before the instructor finds it decided).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from support import adversarial_figures as figures
from support.adversarial_db import checksum, diff, table_counts
from support.adversarial_world import LaunchedWorld, build, plausible_form

from lti_app.db import Base

ORDER = (
    "anonymous",
    "learner",
    "other_learner",
    "other_instructor",
    "institution_instructor",
    "ta",
    "instructor",
    "platform_admin",
    "tool_admin",
)
DENIED = {401, 403, 404}


def row(default: int, **overrides: int) -> dict[str, int]:
    """Outcomes of one route: ``default`` for every caller but those named."""
    unknown = set(overrides) - set(ORDER)
    assert not unknown, f"unknown callers {unknown}"
    return {caller: overrides.get(caller, default) for caller in ORDER}


def public(status: int) -> dict[str, int]:
    """A route outside any launch: the same answer whoever asks (no session in its path)."""
    return row(status)


def course_a_staff(ok: int, *, other_instructor: int = 403) -> dict[str, int]:
    """Instructors and TAs of course A; course B's instructor gets ``other_instructor``."""
    return row(403, anonymous=401, ta=ok, instructor=ok, other_instructor=other_instructor)


def admins(ok: int, *, platform_admin: int | None = None) -> dict[str, int]:
    return row(
        403,
        anonymous=401,
        tool_admin=ok,
        platform_admin=ok if platform_admin is None else platform_admin,
    )


EXPECTED: dict[tuple[str, str], dict[str, int]] = {
    # -- public: credentials, verification, LTI endpoints, static files -------------------------
    ("public.index", "GET"): public(200),
    ("public.healthz", "GET"): public(200),
    ("static", "GET"): public(200),
    ("lti.jwks", "GET"): public(200),
    ("lti.login", "GET"): public(400),  # no login parameters
    ("lti.login", "POST"): public(400),
    ("lti.launch", "POST"): public(400),  # no id_token
    ("lti.confirm", "POST"): public(401),  # no ticket
    ("lti.register", "GET"): public(400),  # no openid_configuration
    ("verify.verify_page", "GET"): public(200),
    ("verify.verify_page", "POST"): public(400),  # "{}" is not a credential
    ("verify.verify_api", "POST"): public(400),  # an empty body
    ("verify.openapi", "GET"): public(200),
    ("credentials.did_document", "GET"): public(200),
    ("credentials.issuer_profile", "GET"): public(200),
    ("credentials.achievement", "GET"): public(200),
    ("credentials.badge_image", "GET"): public(200),
    ("credentials.credential_page", "GET"): public(200),
    ("credentials.credential_download", "GET"): public(200),
    ("credentials.credential_badge", "GET"): public(200),  # the badge as the credential stands
    ("credentials.status_list", "GET"): public(200),
    ("credentials.status_list_for_key", "GET"): public(200),
    ("credentials.ob2_assertion", "GET"): public(200),
    ("credentials.ob2_badge_class", "GET"): public(200),
    ("credentials.ob2_issuer", "GET"): public(200),
    ("credentials.issuer_image", "GET"): public(404),  # the world's institution has no logo
    # OpenID4VCI: a wallet has no session. Metadata is for anyone; an offer needs its secret
    # handle, the token endpoint a pre-authorized code (an empty form: 400), the credential
    # endpoint an access token (none: 401, and nothing changes). A nonce is for anyone.
    ("oid4vci.issuer_metadata", "GET"): public(200),
    ("oid4vci.authorization_server_metadata", "GET"): public(200),
    ("oid4vci.offer", "GET"): public(404),
    ("oid4vci.token", "POST"): public(400),
    ("oid4vci.nonce", "POST"): public(200),
    ("oid4vci.credential", "POST"): public(401),
    ("case.cf_document", "GET"): public(200),
    ("case.cf_package", "GET"): public(200),
    ("case.cf_item", "GET"): public(404),  # the version id is not an item's id
    ("case.cf_item_type", "GET"): public(404),
    ("case.cf_association", "GET"): public(404),
    # -- a launch's pages ---------------------------------------------------------------------
    # Everyone with a session lands; each role is sent on to its page (303), except a user
    # with no course role, who gets the landing page itself.
    ("launch.landing", "GET"): row(303, anonymous=401, institution_instructor=200),
    ("launch.setup", "GET"): course_a_staff(302, other_instructor=302),  # already set up
    ("launch.setup", "POST"): course_a_staff(409, other_instructor=409),  # links stay pinned
    ("launch.deep_link", "GET"): row(403, anonymous=401),  # resource link launches only
    ("launch.deep_link", "POST"): row(403, anonymous=401),
    # Anyone with a session may end it (it runs last for each caller: see _routes).
    ("launch.sign_out", "POST"): row(200, anonymous=401),
    # The language menu: anyone with a session chooses their own language (users.ui_locale).
    ("language.choose", "POST"): row(303, anonymous=401),
    # -- the learner's pages: their own records only ------------------------------------------
    ("learner.checklist", "GET"): row(403, anonymous=401, learner=200, other_learner=200),
    ("learner.request_signoff", "GET"): row(403, anonymous=401, learner=200, other_learner=404),
    ("learner.request_signoff", "POST"): row(403, anonymous=401, learner=303, other_learner=404),
    ("learner.withdraw", "POST"): row(403, anonymous=401, learner=303, other_learner=404),
    # A request's file: its learner and course A's staff; nobody else learns it exists.
    ("learner.evidence_file", "GET"): row(404, anonymous=401, learner=200, ta=200, instructor=200),
    # "Add to a wallet": only the credential's own learner (learner2, who has no session here);
    # to everyone else the credential does not exist.
    ("wallet.wallet_page", "GET"): row(404, anonymous=401),
    ("wallet.make_offer", "POST"): row(404, anonymous=401),
    # -- the instructor's pages: course A's staff; course B's instructor sees only course B -----
    ("instructor.grid", "GET"): course_a_staff(200, other_instructor=200),
    ("instructor.cohort", "GET"): course_a_staff(200, other_instructor=200),
    ("instructor.cohort_csv", "GET"): course_a_staff(200, other_instructor=200),
    ("instructor.requests_queue", "GET"): course_a_staff(200, other_instructor=200),
    ("instructor.refresh_roster", "POST"): course_a_staff(303, other_instructor=303),
    ("instructor.confirm", "POST"): course_a_staff(200, other_instructor=404),
    ("instructor.sign", "POST"): course_a_staff(303, other_instructor=404),
    ("instructor.learner", "GET"): course_a_staff(200, other_instructor=404),
    ("instructor.audit", "GET"): course_a_staff(200, other_instructor=404),
    ("instructor.learner_sign", "POST"): course_a_staff(303, other_instructor=404),
    ("instructor.learner_undo", "POST"): course_a_staff(303, other_instructor=404),
    # Re-issue: the world's learner has no revoked credential, so staff are told so (409) and
    # nothing is issued; course B's instructor does not learn the learner exists.
    ("instructor.reissue", "POST"): course_a_staff(409, other_instructor=404),
    ("instructor.approve", "POST"): course_a_staff(303, other_instructor=404),
    ("instructor.decline", "POST"): course_a_staff(303, other_instructor=404),
    # Bulk decisions: the request is decided (by the one-request route) before it runs.
    ("instructor.decide_requests", "POST"): course_a_staff(303, other_instructor=404),
    # -- administration: tool admins everything; a platform's admins their platform's share -----
    ("admin.index", "GET"): admins(200),
    ("admin.frameworks", "GET"): admins(200),
    ("admin.upload_framework", "POST"): admins(303),
    ("admin.issuer", "GET"): admins(200),
    # The issuer profile is tool-wide: a platform's administrators may read it, not change it.
    ("admin.save_issuer", "POST"): admins(303, platform_admin=403),
    ("admin.deployment", "POST"): admins(303),  # their own platform's deployment
    ("admin.keys", "GET"): admins(200, platform_admin=403),  # tool-wide: tool admins only
    ("admin.rotate_key", "POST"): admins(303, platform_admin=403),
}
# Route values that need more than the world's ids.
FORMATS = {
    "credentials.badge_image": "png",
    "credentials.credential_badge": "png",
    "credentials.credential_download": "json",
}
LEAK_NAMES = ("Person LEARNER",)  # course A's learners


def _routes(app: Any) -> list[tuple[Any, str]]:
    found = []
    # Signing out ends the caller's session: it goes last, after every other page.
    last = "launch.sign_out"
    for rule in sorted(
        app.url_map.iter_rules(), key=lambda r: (r.endpoint == last, r.rule, r.endpoint)
    ):
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((rule, method))
    return found


def _url(rule: Any, world: LaunchedWorld, token: str) -> str:
    values = dict(world.values, fmt=FORMATS.get(rule.endpoint, "json"))

    def fill(match: re.Match[str]) -> str:
        name = match.group(2)
        if name == "ls":
            return token
        assert name in values, f"route {rule.rule}: no test value for <{name}>; add one"
        return str(values[name])

    return re.sub(r"<(?:([a-z_]+)(?:\([^)]*\))?:)?([a-z_]+)>", fill, rule.rule)


def test_every_route_has_an_expected_outcome(app):
    routes = {(rule.endpoint, method) for rule, method in _routes(app)}
    missing = sorted(routes - set(EXPECTED))
    assert not missing, (
        f"routes with no row in the authorization matrix: {missing}; add each to EXPECTED "
        "with the status every caller must get"
    )
    stale = sorted(set(EXPECTED) - routes)
    assert not stale, f"EXPECTED names routes that no longer exist: {stale}"


@pytest.fixture
def world(app, lti_platform) -> LaunchedWorld:
    return build(app, lti_platform)


def _stable_tables() -> list[str]:
    # Launch sessions slide their expiry and hold CSRF secrets: not part of "what changed".
    return [
        t.name
        for t in Base.metadata.sorted_tables
        if t.name not in ("launch_sessions", "lti_launch_data")
    ]


@pytest.mark.slow
def test_every_route_against_every_caller(app, db, world):
    failures: list[str] = []
    cells = 0
    for caller_name in ORDER:
        caller = world.callers.get(caller_name)
        client = caller.client if caller else app.test_client()
        token = caller.token if caller else "A" * 43  # well-formed, never issued
        for rule, method in _routes(app):
            expected = EXPECTED[(rule.endpoint, method)][caller_name]
            url = _url(rule, world, token)
            before_counts, before_sum = table_counts(db), checksum(db, only=_stable_tables())
            if method == "GET":
                answer = client.get(url)
            else:
                form = dict(plausible_form(world, rule.endpoint))
                if caller is not None:
                    form["csrf_token"] = caller.csrf(app)
                answer = client.post(url, data=form, content_type="multipart/form-data")
            cells += 1
            body = answer.get_data()  # read it all (static files stream), then let go
            answer.close()
            status = answer.status_code
            where = f"{method} {rule.rule} ({rule.endpoint}) as {caller_name}"
            if status != expected:
                failures.append(f"{where}: {status}, expected {expected}")
            if status >= 500:
                failures.append(f"{where}: server error")
            if status in DENIED:
                changed = diff(before_counts, table_counts(db))
                if changed or checksum(db, only=_stable_tables()) != before_sum:
                    failures.append(f"{where}: refused, but the database changed ({changed})")
            if caller_name.startswith("other_"):
                leaked = [name for name in LEAK_NAMES if name.encode() in body]
                if leaked:
                    failures.append(f"{where}: shows course A's {leaked}")
    figures.add("authorization matrix cells (routes x callers)", cells)
    assert not failures, "\n".join(failures)
    assert cells == len(_routes(app)) * len(ORDER)


def test_institution_instructor_role_grants_nothing_in_the_course(app, world):
    """Canvas sends institution roles whatever the course role: they must not make staff."""
    caller = world.callers["institution_instructor"]
    for path in ("/grid", "/requests", "/cohort", f"/learners/{world.values['learner_id']}"):
        assert caller.client.get(caller.url(path)).status_code == 403, path
    answer = caller.client.post(
        caller.url(f"/learners/{world.values['learner_id']}/sign"),
        data={"statement": str(world.statements[2]), "csrf_token": caller.csrf(app)},
    )
    assert answer.status_code == 403
