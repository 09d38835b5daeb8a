"""Admin pages and ``skillsign admins``: deployments, framework upload, issuer, keys."""

from __future__ import annotations

import io
import json

from sqlalchemy import select
from support.checklist_world import ISSUER

from keys import KeyKind, KeyStore
from lti_app.db.models import Admin, AuditEvent, Deployment, FrameworkVersion, LaunchSession
from lti_app.request_db import database


def _rows(app, model, *where):
    with app.app_context(), database(app).transaction() as session:
        return list(session.scalars(select(model).where(*where)))


def test_admins_cli_add_list_remove(app, runner, world):
    added = runner.invoke(args=["admins", "add", "--issuer", ISSUER, "--sub", "teacher-a"])
    assert added.exit_code == 0, added.output
    assert "admin 1 added: sub teacher-a (issuer https://lms.example.edu)" in added.output
    again = runner.invoke(args=["admins", "add", "--issuer", ISSUER, "--sub", "teacher-a"])
    assert "already an admin" in again.output
    by_email = runner.invoke(args=["admins", "add", "--email", "Ada@Example.EDU", "--json"])
    assert json.loads(by_email.output)["email"] == "ada@example.edu"
    assert "trusts every platform's email claim" not in by_email.output  # --json prints data only
    listed = runner.invoke(args=["admins", "list", "--json"])
    assert [row["sub"] or row["email"] for row in json.loads(listed.output)] == [
        "teacher-a",
        "ada@example.edu",
    ]
    # A launch session of that person with admin rights ends when the entry goes.
    world.caller(runner.app.test_client(), world.instructor, tool_admin=True)
    removed = runner.invoke(args=["admins", "remove", "1"])
    assert removed.exit_code == 0
    assert "1 open session(s) ended" in removed.output
    assert _rows(app, LaunchSession, LaunchSession.user_id == world.instructor.id) == []
    assert [a.email for a in _rows(app, Admin)] == ["ada@example.edu"]
    actions = [e.action for e in _rows(app, AuditEvent)]
    assert actions == ["admin.add", "admin.add", "admin.remove"]


def test_admins_cli_says_what_is_wrong(runner):
    cases = {
        ("--sub", "x"): "give --issuer with --sub",
        (): "name the admin by --issuer and --sub, or by --email",
        ("--email", "not-an-email"): "is not an email address",
        ("--issuer", ISSUER, "--sub", "x", "--email", "a@b.cd"): "give either",
    }
    for args, message in cases.items():
        result = runner.invoke(args=["admins", "add", *args])
        assert result.exit_code == 1
        assert message in result.output
    missing = runner.invoke(args=["admins", "remove", "42"])
    assert missing.exit_code == 1 and "no admin entry 42" in missing.output


def test_launch_of_a_listed_admin_opens_admin_pages(client, world):
    admin = world.caller(client, world.admin)
    page = admin.get("/admin/")
    assert page.status_code == 200
    assert "Deployments waiting for approval" in page.text
    # A platform admin (not listed) sees only their platform and no key management.
    assert admin.get("/admin/keys").status_code == 403
    tool_admin = world.caller(client, world.learner, tool_admin=True)
    assert tool_admin.get("/admin/keys").status_code == 200


def test_pending_deployment_approve(app, client, world):
    with app.app_context(), database(app).transaction() as session:
        session.add(
            Deployment(platform_id=world.platform_id, deployment_id="canvas-42", status="pending")
        )
    admin = world.caller(client, world.admin)
    assert "canvas-42" in admin.get("/admin/").text
    done = admin.post(
        f"/admin/platforms/{world.platform_id}/deployments",
        {"deployment_id": "canvas-42", "decision": "approve"},
    )
    assert done.status_code == 303
    (row,) = _rows(app, Deployment, Deployment.deployment_id == "canvas-42")
    assert row.status == "approved"
    assert "Deployment canvas-42 approved." in admin.get("/admin/").text
    assert (
        admin.post(
            "/admin/platforms/999/deployments",
            {"deployment_id": "canvas-42", "decision": "approve"},
        ).status_code
        == 404
    )


def test_framework_upload_lists_every_problem(app, client, world, seed_path):
    admin = world.caller(client, world.admin)
    broken = json.loads(seed_path.read_text(encoding="utf-8"))
    broken["framework"]["levels"]["emerging"]["statements"][2] = 42
    broken["framework"]["levels"]["developing"]["label"] = ""
    page = admin.post(
        "/admin/frameworks",
        {"file": (io.BytesIO(json.dumps(broken).encode()), "broken.json")},
        content_type="multipart/form-data",
    )
    assert page.status_code == 400
    assert "broken.json was not imported" in page.text
    assert page.text.count("<li><code>") >= 2
    assert "emerging" in page.text and "developing" in page.text
    not_json = admin.post(
        "/admin/frameworks",
        {"file": (io.BytesIO(b'{"framework": {,}}'), "bad.json")},
        content_type="multipart/form-data",
    )
    assert not_json.status_code == 400 and "line 1 column" in not_json.text

    changed = json.loads(seed_path.read_text(encoding="utf-8"))
    changed["framework"]["version"] = "2099.1"
    done = admin.post(
        "/admin/frameworks",
        {"file": (io.BytesIO(json.dumps(changed).encode()), "new.json")},
        content_type="multipart/form-data",
    )
    assert done.status_code == 303
    versions = sorted(v.version for v in _rows(app, FrameworkVersion))
    assert len(versions) == 2 and "2099.1" in versions
    assert "2099.1 was imported." in admin.get("/admin/frameworks").text


def test_issuer_profile_and_key_rotation(app, client, world):
    tool_admin = world.caller(client, world.learner, tool_admin=True)
    issuer = tool_admin.get("/admin/issuer")
    assert issuer.status_code == 200
    assert "did:key:" in issuer.text and "/issuer" in issuer.text
    store = KeyStore(app.config["KEYS_DIR"])
    before = store.active(KeyKind.ED25519).kid
    rotated = tool_admin.post("/admin/keys/rotate", {"kind": "ed25519"})
    assert rotated.status_code == 303
    after = store.active(KeyKind.ED25519).kid
    assert after != before
    assert before in {r.kid for r in store.published(KeyKind.ED25519)}  # old one still verifies
    page = tool_admin.get("/admin/keys").text
    assert after in page and "retiring" in page


def test_people_without_admin_rights_are_refused(client, world):
    for person in (world.learner, world.instructor, world.ta):
        caller = world.caller(client, person)
        assert caller.get("/admin/").status_code == 403
        assert caller.post("/admin/keys/rotate", {"kind": "rsa"}).status_code == 403
