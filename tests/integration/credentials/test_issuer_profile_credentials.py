"""Credentials issued after the institution's profile is saved carry it as their OB 3.0
Profile (name, url, email, description, image), valid against 1EdTech's schema; those issued
before keep theirs. The demo names a demo institution; achievement pages name the course's."""

from __future__ import annotations

import html
import io
import json

import jsonschema
from issuance_helpers import level_of
from PIL import Image

from lti_app.db.models import FrameworkVersion, IssuerProfile, Platform
from lti_app.demo.seed import DEMO_INSTITUTION, ensure_institution
from lti_app.services import issuer as issuer_service
from lti_app.services import verification


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def test_new_credentials_carry_the_stored_profile(client, db, course, sign_level, test_data):
    before = sign_level(course.learners[0]).credentials[0]
    assert before.document["issuer"]["name"] == "localhost"  # the settings' default
    with db.transaction() as session:
        issuer_service.save_institution(
            session,
            name="Riverside Demo College",
            url="https://riverside.example.edu",
            email="credentials@riverside.example.edu",
            description="A fictional college.",
            image=_png(),
            remove_image=False,
            actor_id=None,
        )
    (after,) = sign_level(course.learners[1]).credentials
    issuer = after.document["issuer"]
    assert issuer["type"] == ["Profile"]
    assert (issuer["name"], issuer["url"], issuer["email"], issuer["description"]) == (
        "Riverside Demo College",
        "https://riverside.example.edu",
        "credentials@riverside.example.edu",
        "A fictional college.",
    )
    assert issuer["image"] == {"id": "http://localhost/issuer/image.png", "type": "Image"}
    schema = json.loads(
        (test_data / "ob_v3p0_achievementcredential_schema.json").read_text(encoding="utf-8")
    )
    validator = jsonschema.Draft201909Validator(schema)
    assert list(validator.iter_errors(after.document)) == []
    with db.transaction() as session:
        assert verification.verify(session, after.document).status == "valid"
        assert verification.verify(session, before.document).status == "valid"
    # The credential page names the institution its credential names.
    page = html.unescape(client.get(f"/credentials/{after.id}").get_data(as_text=True))
    assert "by Riverside Demo College on" in page
    old_page = html.unescape(client.get(f"/credentials/{before.id}").get_data(as_text=True))
    assert "by localhost on" in old_page


def test_the_demo_names_a_demo_institution_once(db) -> None:
    with db.transaction() as session:
        assert ensure_institution(session) is True
        assert ensure_institution(session) is False  # an administrator's edits stay
        row = session.get(IssuerProfile, 1)
        assert row.name == DEMO_INSTITUTION["name"] == "Riverside Demo College"
        assert row.url.endswith(".example.edu") and "127.0.0.1" not in str(DEMO_INSTITUTION)


def test_achievement_page_names_the_course_institution(client, db, course) -> None:
    level = level_of(course)
    page = html.unescape(client.get(f"/achievements/{level.id}").get_data(as_text=True))
    assert "Offered and issued by localhost." in page
    with db.transaction() as session:
        version = session.get(FrameworkVersion, course.version.id)
        platform = session.get(Platform, course.platform.id)
        platform.name = "Lakeside University LMS"
        version.owner_platform_id = platform.id
    page = html.unescape(client.get(f"/achievements/{level.id}").get_data(as_text=True))
    assert "Taught at Lakeside University LMS; credentials issued by localhost." in page


def test_the_verifier_names_the_stored_institution(client, db, issued) -> None:
    with db.transaction() as session:
        issuer_service.save_institution(
            session,
            name="Riverside Demo College",
            url=None,
            email="credentials@riverside.example.edu",
            description=None,
            image=None,
            remove_image=False,
            actor_id=None,
        )
    answer = client.post("/api/v1/verify", json={"credential": issued.document}).get_json()
    assert answer["issuer"]["ours"] is True
    assert answer["issuer"]["summary"].startswith("Issued by Riverside Demo College (")
