"""View models: a learner's checklist, the grid (filters, search, pages, a constant number
of queries), the cohort, the CSV export and the audit trail."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import event
from support.checklist_world import make_world

from lti_app.db.models import ResourceLink
from lti_app.request_db import database
from lti_app.services import checklists, signoff_requests, signoffs


def _scope(app, world, session):
    return checklists.link_scope(session, session.get(ResourceLink, world.link_a))


def _sign(session, world, learners, statements, actor=None):
    return signoffs.sign(
        session,
        actor_id=(actor or world.instructor).id,
        context_id=world.context_a,
        learner_ids=[p.id for p in learners],
        statement_ids=statements,
    )


def test_scope_covers_the_linked_levels_in_order(app, world):
    with app.app_context(), database(app).transaction() as session:
        scope = _scope(app, world, session)
        assert [lv.key for lv in scope.levels] == ["emerging", "developing"]
        assert scope.statement_ids == world.statements
        assert [c.code for c in scope.levels[1].statements][:3] == ["2.1", "2.2", "2.3"]
        assert scope.level_of(world.levels["developing"][4]).key == "developing"


def test_learner_checklist_states(app, world):
    emerging = world.levels["emerging"]
    with app.app_context(), database(app).transaction() as session:
        _sign(session, world, [world.learner], emerging[:2])
        signoff_requests.create(
            session,
            learner_id=world.learner.id,
            context_id=world.context_a,
            statement_id=emerging[2],
            text="done",
            allowed_statements=world.statements,
        )
        declined = signoff_requests.create(
            session,
            learner_id=world.learner.id,
            context_id=world.context_a,
            statement_id=emerging[3],
            text="done too",
            allowed_statements=world.statements,
        )
        signoff_requests.decline(
            session,
            actor_id=world.ta.id,
            context_id=world.context_a,
            request_id=declined.id,
            comment="Missing the date.",
        )
    with app.app_context(), database(app).transaction() as session:
        view = checklists.checklist(session, _scope(app, world, session), world.learner.id)
    level = view.levels[0]
    states = [item.state for item in level.items]
    assert states[:4] == ["met", "met", "requested", "not_yet"]
    assert (level.met, level.total, level.percent) == (2, 10, 20)
    assert level.items[0].signed.by == "Irene Instructor"
    assert level.items[0].signed.note is None
    assert level.items[3].declined.comment == "Missing the date."
    assert level.items[3].declined.decided_by == "Tomás Assistant"
    assert [i.column.id for i in view.pending] == [emerging[2]]
    assert view.credentials == []


def test_completing_a_level_shows_its_credential(app, world):
    with app.app_context(), database(app).transaction() as session:
        result = _sign(session, world, [world.learner], world.levels["emerging"])
        assert len(result.credentials) == 1
    with app.app_context(), database(app).transaction() as session:
        view = checklists.checklist(session, _scope(app, world, session), world.learner.id)
    (level, credential) = view.credentials[0]
    assert level.key == "emerging"
    assert credential.id == result.credentials[0].id and credential.live
    assert view.levels[0].complete and not view.levels[1].complete


def test_grid_filters_search_and_pages(app):
    world = make_world(app, learners=12)
    emerging = world.levels["emerging"]
    with app.app_context(), database(app).transaction() as session:
        _sign(session, world, world.learners[:3], emerging)  # complete on emerging
        _sign(session, world, world.learners[3:5], emerging[:1])  # in progress
    with app.app_context(), database(app).transaction() as session:
        scope = _scope(app, world, session)
        level_grid = checklists.grid(session, scope, level_key="emerging")
        assert level_grid.counts == {"not_started": 7, "in_progress": 2, "complete": 3}
        assert len(level_grid.columns) == 10
        complete = checklists.grid(session, scope, level_key="emerging", status="complete")
        assert {r.learner.id for r in complete.rows} == {p.id for p in world.learners[:3]}
        assert all(r.status == "complete" for r in complete.rows)
        # Over both linked levels nobody is complete.
        both = checklists.grid(session, scope, status="complete")
        assert both.rows == () and both.matching == 0 and len(both.columns) == 20
        # Search ignores case and accents stay as they are (Unicode casefold).
        found = checklists.grid(session, scope, search="ØDEGÅRD")
        assert [r.learner.name for r in found.rows] == ["Zoë Ødegård"]
        by_email = checklists.grid(session, scope, search="learner-a4@")
        assert [r.learner.id for r in by_email.rows] == [world.learners[4].id]
        # Pages: 12 learners, 5 a page.
        pages = [checklists.grid(session, scope, page=n, per_page=5) for n in (1, 2, 3, 9)]
        assert [len(p.rows) for p in pages] == [5, 5, 2, 2]
        assert pages[3].page == 3  # past the end: the last page
        seen = [r.learner.id for p in pages[:3] for r in p.rows]
        assert sorted(seen) == sorted(p.id for p in world.learners)
        # Sorted by family name.
        names = [r.learner.name for p in pages[:3] for r in p.rows]
        assert names[:2] == ["Eli Brown", "Bo Chen"]
        cell = next(r for r in level_grid.rows if r.learner.id == world.learners[0].id).cells[0]
        assert cell.state == "met" and cell.signed.by == "Irene Instructor"


class QueryCounter:
    def __init__(self, engine):
        self.engine = engine
        self.count = 0

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._count)

    def _count(self, *args, **kwargs):
        self.count += 1


def _grid_queries(app, world, client) -> tuple[int, int]:
    teacher = world.caller(client, world.instructor)
    teacher.get("/grid")  # warm: caches of the app (frame origins, ...)
    engine = database(app).engine
    with QueryCounter(engine) as counter:
        page = teacher.get("/grid")
    assert page.status_code == 200
    return counter.count, page.text.count('class="row-select"')


@pytest.mark.parametrize("sizes", [(8, 120)])
def test_grid_page_costs_the_same_queries_for_any_class_size(app, client, sizes):
    """The whole page (session, scope, roster, counts, cells, requests, credentials), for a
    small class and a large one with sign-offs and requests on every shown learner."""
    counts = []
    for size in sizes:
        world = make_world(app, learners=size, tag=f"n{size}-")
        with app.app_context(), database(app).transaction() as session:
            _sign(session, world, world.learners, world.levels["emerging"][:4])
            for learner in world.learners[:50]:
                signoff_requests.create(
                    session,
                    learner_id=learner.id,
                    context_id=world.context_a,
                    statement_id=world.levels["emerging"][5],
                    text="evidence",
                    allowed_statements=world.statements,
                )
        queries, rows = _grid_queries(app, world, client)
        counts.append(queries)
        assert rows == min(size, checklists.PER_PAGE)
    assert counts[0] == counts[1], counts
    assert counts[0] < 25, counts  # a handful, not one per learner or per cell


def test_cohort_percentages_and_level_counts(app, world):
    emerging = world.levels["emerging"]
    with app.app_context(), database(app).transaction() as session:
        _sign(session, world, world.learners, emerging[:1])
        _sign(session, world, world.learners[:1], emerging)
    with app.app_context(), database(app).transaction() as session:
        view = checklists.cohort(session, _scope(app, world, session))
    assert view.learners == 3
    first, second = view.statements[0], view.statements[1]
    assert (first.met, first.percent) == (3, 100.0)
    assert second.met == 1 and round(second.percent, 1) == 33.3
    emerging_stat = view.levels[0]
    assert emerging_stat.counts == {"not_started": 0, "in_progress": 2, "complete": 1}
    assert view.levels[1].counts["not_started"] == 3


def test_progress_csv_rows_dates_and_formula_guard(app, world):
    emerging = world.levels["emerging"]
    with app.app_context(), database(app).transaction() as session:
        from lti_app.db.models import User

        session.get(User, world.learners[2].id).name = '=HYPERLINK("http://x")'
        _sign(session, world, world.learners[:1], emerging)
    with app.app_context(), database(app).transaction() as session:
        text = "".join(checklists.progress_csv(session, _scope(app, world, session)))
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    header, body = rows[0], rows[1:]
    assert header[:4] == ["Name", "Email", "Emerging: met", "Emerging: complete"]
    assert header[6].startswith("1.1 ")
    assert len(body) == 3 and all(len(r) == len(header) for r in body)
    zoe = next(r for r in body if r[0] == "Zoë Ødegård")
    assert zoe[2:4] == ["10/10", "yes"]
    assert zoe[6].endswith("Z") and zoe[6][:4].isdigit()
    assert zoe[16] == ""  # first statement of the second level: not met
    assert any(r[0] == '\'=HYPERLINK("http://x")' for r in body)


def test_audit_trail_tells_the_whole_story(app, world):
    emerging = world.levels["emerging"]
    learner = world.learner
    with app.app_context(), database(app).transaction() as session:
        request = signoff_requests.create(
            session,
            learner_id=learner.id,
            context_id=world.context_a,
            statement_id=emerging[0],
            text="ward 3",
            allowed_statements=world.statements,
        )
        signoff_requests.approve(
            session, actor_id=world.ta.id, context_id=world.context_a, request_id=request.id
        )
        _sign(session, world, [learner], emerging[1:])
        signoffs.undo(
            session,
            actor_id=world.instructor.id,
            context_id=world.context_a,
            learner_id=learner.id,
            statement_id=emerging[4],
            reason="Signed for the wrong learner.",
        )
        # Another learner's and another course's events stay out.
        _sign(session, world, world.learners[1:2], emerging[:1])
    with app.app_context(), database(app).transaction() as session:
        entries = checklists.audit_trail(session, _scope(app, world, session), learner.id)
    actions = [e.action for e in reversed(entries)]
    assert actions[:3] == ["request.create", "signoff.sign", "request.approve"]
    assert actions.count("signoff.sign") == 10
    assert actions.count("credential.issue") == 1
    assert actions[-2:] == ["signoff.undo", "credential.revoke"]
    undo = next(e for e in entries if e.action == "signoff.undo")
    assert undo.actor == "Irene Instructor"
    assert undo.details["reason"] == "Signed for the wrong learner."
    assert undo.column.code == "1.5"
    assert entries[-1].actor == "Zoë Ødegård"  # the learner made the request
