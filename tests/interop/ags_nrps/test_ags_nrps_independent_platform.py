"""AGS and NRPS against an independent platform implementation (lti1p3platform 0.1.8)."""

from __future__ import annotations

from sqlalchemy import select
from support.lti_rows import INSTRUCTOR, LEARNER, make_course, sign
from support.services_platform import CLIENT_ID, ISSUER

from keys import KeyStore
from lti_app.db.models import Context, Membership, User
from lti_app.lms import (
    SCOPE_RESULT_READONLY,
    AccessTokenCache,
    PlatformCredentials,
    ServicesClient,
)
from lti_app.request_db import database
from lti_app.services import gradebook
from lti_app.services.progress import linked_statement_ids
from lti_app.services.roster import sync_roster
from lti_app.worker import Worker


def _course(app, independent, **kwargs):
    with database(app).transaction() as session:
        return make_course(
            session,
            issuer=ISSUER,
            client_id=CLIENT_ID,
            token_url=independent.token_url,
            lineitems_url=independent.lineitems_url,
            **kwargs,
        )


def test_an_ags_score_arrives_at_the_independent_platform(app, independent):
    course = _course(app, independent)
    with database(app).transaction() as session:
        statements = linked_statement_ids(session, course.link)
        for learner, met in zip(course.learners, (len(statements), 4), strict=False):
            for statement in statements[:met]:
                sign(session, learner, statement, actor=course.instructor)
            gradebook.enqueue_score(session, learner.id, course.link.id)

    stats = Worker.from_app(app, tokens=AccessTokenCache()).run_once()
    assert stats.sent == 2

    # The platform checked our client assertion against keys it fetched from our JWKS URL.
    assert independent.registration.get_tool_key_set() is not None
    [lineitem_id] = independent.state.lineitems
    first = independent.state.latest(lineitem_id, "learner-1")
    second = independent.state.latest(lineitem_id, "learner-2")
    total = len(statements)
    assert (first["scoreGiven"], first["scoreMaximum"], first["activityProgress"]) == (
        total,
        total,
        "Completed",
    )
    assert (second["scoreGiven"], second["activityProgress"]) == (4, "InProgress")
    assert independent.state.token_requests == 1

    with database(app).transaction() as session:
        link = session.get(type(course.link), course.link.id)
        creds = PlatformCredentials(ISSUER, CLIENT_ID, independent.token_url)
        client = ServicesClient(creds, KeyStore(app.config["KEYS_DIR"]), tokens=AccessTokenCache())
        results = client.results(
            link.lineitem_url, scopes=[*link.ags_scopes, SCOPE_RESULT_READONLY]
        )
    assert {r["userId"]: r["resultScore"] for r in results} == {"learner-1": total, "learner-2": 4}


def test_nrps_roster_from_the_independent_platform(app, independent):
    course = _course(app, independent, learners=1)
    with database(app).transaction() as session:
        session.get(Context, course.context.id).memberships_url = independent.memberships_url
    independent.state.members = [
        {"user_id": "teacher-1", "roles": [INSTRUCTOR], "name": "Ana Núñez"},
        {"user_id": "learner-1", "roles": [LEARNER]},
        *(
            {"user_id": f"quiet-{n}", "roles": [LEARNER], "name": f"Zoë Quiet {n}"}
            for n in range(5)
        ),
    ]
    creds = PlatformCredentials(ISSUER, CLIENT_ID, independent.token_url)
    client = ServicesClient(creds, KeyStore(app.config["KEYS_DIR"]), tokens=AccessTokenCache())
    paged = list(client.memberships(independent.memberships_url, limit=2))
    assert [m["user_id"] for m in paged] == [m["user_id"] for m in independent.state.members]
    assert independent.state.token_requests == 1  # one token for every page

    with database(app).transaction() as session:
        context = session.get(Context, course.context.id)
        result = sync_roster(
            session, context, KeyStore(app.config["KEYS_DIR"]), tokens=AccessTokenCache()
        )
        rows = dict(
            session.execute(
                select(User.sub, Membership)
                .join(Membership, Membership.user_id == User.id)
                .where(Membership.context_id == context.id)
            ).all()
        )
    assert result.members == 7 and result.added == 5
    assert all(rows[f"quiet-{n}"].is_learner and not rows[f"quiet-{n}"].launched for n in range(5))
    assert rows["teacher-1"].is_instructor
