"""Revoked credentials as instructors and learners see them, and re-issuing one once its cause
is fixed: the grid and the learner page show the revocation with its reason; the re-issue POST
(CSRF-protected) issues a new credential only while the level is complete from the stored
sign-offs and nothing stands; the learner is told what happened and what comes next."""

from __future__ import annotations

import html

from sqlalchemy import select
from support.checklist_world import make_world

from lti_app.db.models import AuditEvent, Credential
from lti_app.request_db import database
from lti_app.services import awarding

REASON = "Signed off in the wrong course section"


def _credentials(app, learner_id: int) -> list[Credential]:
    with app.app_context(), database(app).transaction() as session:
        rows = session.scalars(
            select(Credential)
            .where(Credential.learner_id == learner_id)
            .order_by(Credential.issued_at, Credential.id)
        ).all()
        session.expunge_all()
        return list(rows)


def _complete_and_revoke(app, teacher, world, learner) -> Credential:
    done = teacher.post(f"/learners/{learner.id}/sign", {"level": "emerging", "confirmed": "1"})
    assert done.status_code == 303
    (credential,) = _credentials(app, learner.id)
    with app.app_context(), database(app).transaction() as session:
        awarding.revoke(
            session, session.get(Credential, credential.id), reason=REASON, actor_id=None
        )
    return credential


def test_instructor_sees_the_revocation_and_reissues(app, client) -> None:
    world = make_world(app, learners=2)
    teacher = world.caller(client, world.instructor)
    learner = world.learners[0]
    revoked = _complete_and_revoke(app, teacher, world, learner)

    grid = html.unescape(teacher.get("/grid").text)
    assert 'class="revoked-mark"' in grid and REASON in grid
    page = html.unescape(teacher.get(f"/learners/{learner.id}").text)
    assert "Credential revoked on" in page and f"Reason: {REASON}" in page
    assert "Re-issue the Emerging credential" in page

    # Without its CSRF token the POST is refused and nothing is issued.
    refused = teacher.post(f"/learners/{learner.id}/reissue", {"level": "emerging"}, csrf=False)
    assert refused.status_code == 400
    assert len(_credentials(app, learner.id)) == 1

    done = teacher.post(f"/learners/{learner.id}/reissue", {"level": "emerging"})
    assert done.status_code == 303
    both = _credentials(app, learner.id)
    assert len(both) == 2
    old = next(c for c in both if c.id == revoked.id)
    new = next(c for c in both if c.id != revoked.id)
    assert old.revoked_at is not None  # stays revoked
    assert new.revoked_at is None and new.live_key is not None and new.id != old.id
    assert new.document["credentialSubject"]["achievement"]["id"].endswith(str(new.level_id))
    with app.app_context(), database(app).transaction() as session:
        audit = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "credential.reissue")
        ).one()
        assert audit.details["replaces"] == str(old.id)
        assert audit.details["revocation_reason"] == REASON
        assert audit.actor_id == world.instructor.id
    after = html.unescape(teacher.get(f"/learners/{learner.id}").text)
    assert "A new credential for Emerging was issued; the revoked one stays revoked." in after
    assert "Re-issue the Emerging credential" not in after

    # Once it stands, a second re-issue is refused and issues nothing.
    again = teacher.post(f"/learners/{learner.id}/reissue", {"level": "emerging"})
    assert again.status_code == 409
    assert "stands already" in html.unescape(again.text)
    assert len(_credentials(app, learner.id)) == 2


def test_reissue_needs_the_level_complete_from_stored_signoffs(app, client) -> None:
    world = make_world(app, learners=2)
    teacher = world.caller(client, world.instructor)
    learner = world.learners[1]
    teacher.post(f"/learners/{learner.id}/sign", {"level": "emerging", "confirmed": "1"})
    first = world.levels["emerging"][0]
    # Undoing a sign-off revokes the credential (with the reason) and leaves the level short.
    undone = teacher.post(
        f"/learners/{learner.id}/undo", {"statement": str(first), "reason": REASON}
    )
    assert undone.status_code == 303
    page = html.unescape(teacher.get(f"/learners/{learner.id}").text)
    assert f"Reason: {REASON}" in page
    assert "Re-issue the Emerging credential" not in page
    assert "issued automatically once every statement of this level is signed off again" in page
    refused = teacher.post(f"/learners/{learner.id}/reissue", {"level": "emerging"})
    assert refused.status_code == 409
    assert "The level is not complete" in html.unescape(refused.text)
    (only,) = _credentials(app, learner.id)
    assert only.revoked_at is not None
    # The learner is told what happened and what comes next.
    own = html.unescape(world.caller(client, learner).get("/checklist").text)
    assert "A credential for this level was revoked on" in own and REASON in own
    assert "once every statement of this level is signed off again, a new credential" in own
    # Signing the statement again completes the level: a new credential, no button needed.
    teacher.post(f"/learners/{learner.id}/sign", {"statement": str(first), "confirmed": "1"})
    now = _credentials(app, learner.id)
    assert sorted(c.revoked_at is None for c in now) == [False, True]
    assert next(c for c in now if c.revoked_at is None).id != only.id


def test_learner_of_a_complete_level_is_told_the_instructor_can_reissue(app, client) -> None:
    world = make_world(app, learners=2)
    teacher = world.caller(client, world.instructor)
    learner = world.learners[0]
    _complete_and_revoke(app, teacher, world, learner)
    own = html.unescape(world.caller(client, learner).get("/checklist").text)
    assert f"Reason: {REASON}" in own
    assert "your instructor can issue the credential again" in own
    # A learner cannot re-issue: the route is the instructor's.
    learner_post = world.caller(client, learner).post(
        f"/learners/{learner.id}/reissue", {"level": "emerging"}
    )
    assert learner_post.status_code == 403
    assert len(_credentials(app, learner.id)) == 1


def test_an_unknown_level_is_refused(app, client) -> None:
    world = make_world(app, learners=1)
    teacher = world.caller(client, world.instructor)
    learner = world.learners[0]
    answer = teacher.post(f"/learners/{learner.id}/reissue", {"level": "no-such-level"})
    assert answer.status_code == 400
    assert _credentials(app, learner.id) == []
