"""The built-in demo LMS driving the tool over real HTTP: launches, deep linking, NRPS, AGS."""

from __future__ import annotations

import re

from sqlalchemy import select
from support.lti_rows import sign

from keys import KeyStore
from lti_app.db.models import Context, Membership, OutboxMessage, ResourceLink, User
from lti_app.demo.models import DemoLineItem, DemoLink, DemoScore
from lti_app.demo.seed import PEOPLE, PRESET_LINK_ID
from lti_app.lms import AccessTokenCache
from lti_app.request_db import database
from lti_app.services import gradebook
from lti_app.services.progress import linked_statement_ids
from lti_app.services.roster import sync_roster
from lti_app.worker import Worker


def _landing_text(landing) -> str:
    """The tool's page after a launch; its content belongs to other tests, only its arrival here."""
    assert landing.launch.status_code == 303, landing.launch.text[:500]
    assert landing.page is not None and landing.page.status_code == 200
    assert "/s/" in landing.page.url  # inside a launch session
    return landing.page.text


def test_launch_as_instructor_and_as_learner(app, browser):
    _landing_text(browser.launch(PRESET_LINK_ID, "demo-instructor"))
    _landing_text(browser.launch(PRESET_LINK_ID, "demo-learner-1"))

    with database(app).transaction() as session:
        link = session.scalars(
            select(ResourceLink).where(ResourceLink.resource_link_id == PRESET_LINK_ID)
        ).one()
        # Pinned from the demo link's custom parameters, with the AGS endpoints of the launch.
        assert link.framework_version_id is not None and link.level_keys == ["emerging"]
        assert link.lineitem_url and link.lineitem_url.endswith("/lineitems/1")
        rows = dict(
            session.execute(
                select(User.sub, Membership)
                .join(Membership, Membership.user_id == User.id)
                .where(Membership.context_id == link.context_id)
            ).all()
        )
    assert rows["demo-instructor"].is_instructor and not rows["demo-instructor"].is_learner
    assert rows["demo-learner-1"].is_learner and not rows["demo-learner-1"].is_instructor


def test_institution_roles_grant_nothing_in_the_course(app, browser):
    # demo-learner-4 teaches elsewhere: the launch carries institution Instructor/Faculty roles.
    _landing_text(browser.launch(PRESET_LINK_ID, "demo-learner-4"))
    with database(app).transaction() as session:
        membership = session.scalars(
            select(Membership)
            .join(User, User.id == Membership.user_id)
            .where(User.sub == "demo-learner-4")
        ).one()
    assert membership.is_learner and not membership.is_instructor


def test_deep_linking_round_trip_creates_a_launchable_activity(app, browser, lms):
    landing = browser.start_deep_link("demo-instructor")
    assert landing.page is not None and landing.page.status_code == 200, landing.launch.text[:300]
    choose = landing.page
    version_id = re.search(r'name="version" value="([^"]+)"', choose.text).group(1)
    answer = browser.submit(
        choose,
        {
            "version": version_id,
            f"scope:{version_id}": "levels",
            f"levels:{version_id}": "developing",
        },
    )
    assert answer.status_code == 200, answer.text[:500]
    back = browser.post_form_of(answer)  # the tool's self-submitting return form
    assert back.status_code == 303, back.text[:500]
    home = browser.home().text
    assert "Activity added" in home

    with lms.transaction() as db:
        link = db.scalars(select(DemoLink).where(DemoLink.id != PRESET_LINK_ID)).one()
        item = db.scalars(
            select(DemoLineItem).where(DemoLineItem.resource_link_id == link.id)
        ).one()
        link_id, custom = link.id, dict(link.custom)
    assert custom.get("skillsign_level") == "developing"
    assert item.score_maximum > 0

    # The new activity launches, and a learner lands on its checklist.
    _landing_text(browser.launch(link_id, "demo-learner-2"))
    with database(app).transaction() as session:
        pinned = session.scalars(
            select(ResourceLink).where(ResourceLink.resource_link_id == link_id)
        ).one()
    assert pinned.level_keys == ["developing"]


def test_roster_lists_learners_who_never_launched(app, browser):
    _landing_text(browser.launch(PRESET_LINK_ID, "demo-instructor"))
    with database(app).transaction() as session:
        context = session.scalars(select(Context)).one()
        assert context.memberships_url and context.memberships_url.endswith("/memberships")
        # The instructor's pages may have synced it already; force a fetch to see it here.
        result = sync_roster(
            session,
            context,
            KeyStore(app.config["KEYS_DIR"]),
            tokens=AccessTokenCache(),
            force=True,
        )
        rows = dict(
            session.execute(
                select(User.sub, Membership)
                .join(Membership, Membership.user_id == User.id)
                .where(Membership.context_id == context.id)
            ).all()
        )
        names = dict(session.execute(select(User.sub, User.name)).all())
    assert result.members == len(PEOPLE)
    assert set(rows) == {sub for sub, *_ in PEOPLE}
    never = rows["demo-learner-3"]
    assert never.is_learner and never.active and not never.launched
    assert names["demo-learner-3"] == "Thị Hương Nguyễn"
    assert rows["demo-ta"].is_instructor  # TeachingAssistant is a sub-role of Instructor


def test_a_score_reaches_the_demo_lms_after_a_signoff(app, browser, lms):
    _landing_text(browser.launch(PRESET_LINK_ID, "demo-instructor"))
    _landing_text(browser.launch(PRESET_LINK_ID, "demo-learner-1"))
    with database(app).transaction() as session:
        link = session.scalars(
            select(ResourceLink).where(ResourceLink.resource_link_id == PRESET_LINK_ID)
        ).one()
        users = {u.sub: u for u in session.scalars(select(User))}
        statements = linked_statement_ids(session, link)
        for statement in statements[:3]:
            sign(session, users["demo-learner-1"], statement, actor=users["demo-instructor"])
        assert gradebook.enqueue_score(session, users["demo-learner-1"].id, link.id) is not None

    stats = Worker.from_app(app, tokens=AccessTokenCache()).run_once()
    # The score, and the roster refresh the instructor's first grid view queued (the grid
    # never reads the roster itself).
    assert stats.sent == 2, stats
    with database(app).transaction() as session:
        kinds = sorted(session.scalars(select(OutboxMessage.kind)))
    assert kinds == ["ags_score", "roster_sync"]

    with lms.transaction() as db:
        score = db.scalars(select(DemoScore)).one()
        assert (score.user_id, score.score_given, score.score_maximum) == (
            "demo-learner-1",
            3.0,
            float(len(statements)),
        )
    page = browser.http.get(browser.lms + "/scores", timeout=10).text
    assert "Zoë Ødegård" in page and "3.0 / " in page
