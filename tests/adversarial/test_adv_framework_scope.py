"""Frameworks belong to whoever may use them: one platform's upload is invisible to another.

Two independent platforms, A and B, launch into the tool for real. A tool admin publishes
the seed with the CLI (every platform may use it); A's administrator uploads on the admin
page a newer version of the seed and a framework of its own. Then B tries every way an LMS
context names a framework (custom parameters, Deep Linking, the setup page, link pinning,
the upload itself) and must get exactly what a framework that does not exist gets.
"""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

import pytest
from markupsafe import escape
from sqlalchemy import select
from support.adversarial_launch import TOOL_URL, launch
from support.adversarial_world import Caller
from support.lti_platform import INSTITUTION_ADMIN, INSTRUCTOR, LaunchPlatform, LaunchSpec

from frameworks import load
from lti_app.db.models import FrameworkVersion, ResourceLink
from lti_app.request_db import database
from lti_app.services import launches

SEED = Path(__file__).resolve().parents[2] / "frameworks" / "data" / "psychiatric-technicians.json"
NEWER = "v.27.01"  # A's newer version of the seed
PRIVATE_TITLE = "Private Academy Skills"
NOT_LOADED = (
    "The link's custom parameters were not used: framework {!r} is not loaded in skillsign."
)


def _not_loaded(ref: str) -> str:
    return str(escape(NOT_LOADED.format(ref)))  # as the page shows it


def _document(*, version: str | None = None, private: bool = False) -> bytes:
    doc = json.loads(SEED.read_text(encoding="utf-8"))
    if version:
        doc["framework"]["version"] = version
    if private:
        doc["occupation"] |= {"soc": "99-9999.00", "title": PRIVATE_TITLE}
    return json.dumps(doc).encode("utf-8")


SEED_ID = load(_document()).identifier
PRIVATE_ID = load(_document(private=True)).identifier


class Scene:
    def __init__(self, app, a: LaunchPlatform, b: LaunchPlatform) -> None:
        self.app, self.a, self.b = app, a, b

    def caller(self, platform: LaunchPlatform, name: str, **spec: object) -> Caller:
        client = self.app.test_client()
        done = launch(client, platform, LaunchSpec(user_id=name, name=name, **spec))  # type: ignore[arg-type]
        assert done.status == 303, f"{name}: launch answered {done.status}"
        return Caller(name, done.token, 0, client)

    def post(self, caller: Caller, path: str, data: dict[str, object]):
        form = dict(data, csrf_token=caller.csrf(self.app))
        return caller.client.post(caller.url(path), data=form, content_type="multipart/form-data")

    def upload(self, admin: Caller, document: bytes, name: str = "fw.json"):
        return self.post(admin, "/admin/frameworks", {"file": (io.BytesIO(document), name)})

    def versions(self) -> dict[tuple[str, str], FrameworkVersion]:
        with self.app.app_context(), database(self.app).transaction() as db:
            rows = db.scalars(select(FrameworkVersion)).all()
            db.expunge_all()
            return {(r.identifier, r.version): r for r in rows}

    def link(self, platform: LaunchPlatform, link_id: str) -> ResourceLink:
        with self.app.app_context(), database(self.app).transaction() as db:
            found = db.scalars(
                select(ResourceLink).where(ResourceLink.resource_link_id == link_id)
            ).one()
            assert found.context.platform_id == platform.platform_id
            db.expunge_all()
            return found


@pytest.fixture
def scene(app, runner):
    a = LaunchPlatform(client_id="client-a").start().connect(TOOL_URL)
    b = LaunchPlatform(client_id="client-b").start().connect(TOOL_URL)
    a.platform_id, b.platform_id = a.register_in(app), b.register_in(app)
    published = runner.invoke(args=["frameworks", "import", str(SEED)])
    assert published.exit_code == 0, published.output
    made = Scene(app, a, b)
    admin_a = made.caller(a, "admin-a", roles=[INSTITUTION_ADMIN], context_id="course-a1")
    for document in (_document(version=NEWER), _document(private=True)):
        assert made.upload(admin_a, document).status_code == 303
    yield made
    a.stop()
    b.stop()


def test_uploads_belong_to_the_uploading_platform(scene):
    versions = scene.versions()
    assert versions[(SEED_ID, "v.26.05")].owner_platform_id is None  # the CLI: everyone's
    assert versions[(SEED_ID, NEWER)].owner_platform_id == scene.a.platform_id
    assert versions[(PRIVATE_ID, "v.26.05")].owner_platform_id == scene.a.platform_id


def test_custom_parameters_naming_another_platforms_framework_are_not_found(scene):
    teacher = scene.caller(
        scene.b,
        "teacher-b",
        roles=[INSTRUCTOR],
        context_id="course-b1",
        resource_link_id="b-private",
        custom={"skillsign_framework": PRIVATE_ID},
    )
    assert scene.link(scene.b, "b-private").framework_version_id is None
    page = teacher.client.get(teacher.url("/setup"))
    assert page.status_code == 200
    assert _not_loaded(PRIVATE_ID) in page.text
    assert PRIVATE_TITLE not in page.text and NEWER not in page.text
    # ... word for word what a framework that exists nowhere gets: no existence oracle.
    ghost = scene.caller(
        scene.b,
        "teacher-b2",
        roles=[INSTRUCTOR],
        context_id="course-b1",
        resource_link_id="b-ghost",
        custom={"skillsign_framework": "onet-soc:00-0000.00"},
    )
    assert _not_loaded("onet-soc:00-0000.00") in ghost.client.get(ghost.url("/setup")).text
    # With its version named, and by its uuid: the same.
    private = scene.versions()[(PRIVATE_ID, "v.26.05")]
    with scene.app.app_context(), database(scene.app).transaction() as db:
        for framework, version in ((PRIVATE_ID, "v.26.05"), (str(private.id), None)):
            with pytest.raises(launches.LinkChoiceError) as refused:
                launches.resolve_choice(db, scene.b.platform_id, framework, version, None)
            ref = f"{framework}@{version}" if version else framework
            assert str(refused.value) == f"framework {ref!r} is not loaded in skillsign"


def test_an_unversioned_reference_takes_the_newest_version_the_platform_may_use(scene):
    for platform, link_id, expected in (
        (scene.b, "b-seed", "v.26.05"),  # A's newer upload is not B's to use
        (scene.a, "a-seed", NEWER),  # A's own upload is its newest
    ):
        scene.caller(
            platform,
            f"teacher-{link_id}",
            roles=[INSTRUCTOR],
            context_id=f"course-{link_id}",
            resource_link_id=link_id,
            custom={"skillsign_framework": SEED_ID, "skillsign_level": "emerging"},
        )
        pinned = scene.link(platform, link_id).framework_version_id
        assert pinned == scene.versions()[(SEED_ID, expected)].id, link_id
    # Naming A's version outright does not reach it either.
    scene.caller(
        scene.b,
        "teacher-b-newer",
        roles=[INSTRUCTOR],
        context_id="course-b-newer",
        resource_link_id="b-newer",
        custom={"skillsign_framework": SEED_ID, "skillsign_version": NEWER},
    )
    assert scene.link(scene.b, "b-newer").framework_version_id is None


def test_deep_linking_and_setup_list_and_accept_only_what_the_platform_may_use(scene):
    versions = scene.versions()
    foreign = versions[(PRIVATE_ID, "v.26.05")].id
    foreign_newer = versions[(SEED_ID, NEWER)].id
    published = versions[(SEED_ID, "v.26.05")].id
    deep = scene.caller(
        scene.b, "dl-b", roles=[INSTRUCTOR], context_id="course-b1", deep_linking=True
    )
    setup = scene.caller(
        scene.b, "setup-b", roles=[INSTRUCTOR], context_id="course-b1", resource_link_id="b-new"
    )
    for caller, path in ((deep, "/deep-link"), (setup, "/setup")):
        page = caller.client.get(caller.url(path))
        assert page.status_code == 200
        assert str(published) in page.text
        assert str(foreign) not in page.text and PRIVATE_TITLE not in page.text
        assert str(foreign_newer) not in page.text and NEWER not in page.text
        answers = [
            scene.post(caller, path, {"version": str(version), f"scope:{version}": "all"})
            for version in (foreign, foreign_newer, uuid.uuid4())
        ]
        assert [a.status_code for a in answers] == [400, 400, 400], path
        assert "does not exist" in answers[0].text
        # Byte for byte the page a random id gets: nothing tells "exists elsewhere" apart.
        assert answers[0].text == answers[1].text == answers[2].text, path
    assert scene.link(scene.b, "b-new").framework_version_id is None
    assert scene.b.deep_link_items == []
    # The published framework is B's to use: setup pins it.
    done = scene.post(setup, "/setup", {"version": str(published), f"scope:{published}": "all"})
    assert done.status_code == 303
    assert scene.link(scene.b, "b-new").framework_version_id == published


def test_pinning_refuses_a_choice_from_another_platform(scene):
    scene.caller(
        scene.b, "pin-b", roles=[INSTRUCTOR], context_id="course-b1", resource_link_id="b-pin"
    )
    with scene.app.app_context(), database(scene.app).transaction() as db:
        link = db.scalars(
            select(ResourceLink).where(ResourceLink.resource_link_id == "b-pin")
        ).one()
        foreign = db.scalars(
            select(FrameworkVersion).where(FrameworkVersion.identifier == PRIVATE_ID)
        ).one()
        with pytest.raises(launches.LinkChoiceError, match="does not exist"):
            launches.pin_link(db, link, launches.LinkChoice(foreign, []))
        assert link.framework_version_id is None


def test_other_platforms_admins_and_the_public_index_do_not_see_it(scene, client):
    admin_b = scene.caller(scene.b, "admin-b", roles=[INSTITUTION_ADMIN], context_id="course-b1")
    listing = admin_b.client.get(admin_b.url("/admin/frameworks"))
    assert listing.status_code == 200
    assert "Psychiatric Technicians" in listing.text
    assert PRIVATE_TITLE not in listing.text and NEWER not in listing.text
    index = client.get("/").text
    assert "Psychiatric Technicians" in index
    assert PRIVATE_TITLE not in index and NEWER not in index
    # B's admin uploading A's exact file learns only that the pair is taken, and gains nothing.
    taken = scene.upload(admin_b, _document(private=True))
    assert taken.status_code == 409 and "already taken" in taken.text
    assert scene.versions()[(PRIVATE_ID, "v.26.05")].owner_platform_id == scene.a.platform_id


def test_the_cli_publishes_for_every_platform(scene, runner):
    path = Path(scene.app.config["INSTANCE_DIR"]) / "private.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_document(private=True))
    done = runner.invoke(args=["frameworks", "import", str(path)])
    assert done.exit_code == 0 and "published for every platform" in done.output
    assert scene.versions()[(PRIVATE_ID, "v.26.05")].owner_platform_id is None
    scene.caller(
        scene.b,
        "teacher-b-pub",
        roles=[INSTRUCTOR],
        context_id="course-b1",
        resource_link_id="b-pub",
        custom={"skillsign_framework": PRIVATE_ID},
    )
    assert scene.link(scene.b, "b-pub").framework_version_id == (
        scene.versions()[(PRIVATE_ID, "v.26.05")].id
    )
