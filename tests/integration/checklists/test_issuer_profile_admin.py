"""The institution's profile: tool administrators edit it (CSRF-protected form, per-field
errors, a PNG logo only), platform administrators read it, and the public issuer page, the
issuer's JSON-LD and OB 2.0 profiles, and credentials issued afterwards carry it."""

from __future__ import annotations

import html
import io

from PIL import Image
from sqlalchemy import select

from lti_app.db.models import AuditEvent, IssuerProfile
from lti_app.request_db import database

VALID = {
    "name": "Riverside Demo College",
    "url": "https://riverside.example.edu",
    "email": "credentials@riverside.example.edu",
    "description": "A fictional college.",
}


def _png(size: tuple[int, int] = (16, 16)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (20, 33, 61)).save(buffer, "PNG")
    return buffer.getvalue()


def _stored(app) -> IssuerProfile | None:
    with app.app_context(), database(app).transaction() as session:
        row = session.get(IssuerProfile, 1)
        if row is not None:
            session.expunge(row)
        return row


def test_the_form_starts_from_the_settings_and_saves_the_profile(app, client, world) -> None:
    admin = world.caller(client, world.learner, tool_admin=True)
    page = admin.get("/admin/issuer").text
    assert 'name="csrf_token"' in page and 'id="issuer-name"' in page
    assert 'value="localhost"' in page  # SKILLSIGN_ISSUER_NAME's default: the host
    logo = _png()
    saved = admin.post(
        "/admin/issuer",
        {**VALID, "logo": (io.BytesIO(logo), "logo.png")},
        content_type="multipart/form-data",
    )
    assert saved.status_code == 303, saved.text[:500]
    row = _stored(app)
    assert row is not None and (row.name, row.url, row.email, row.description) == tuple(
        VALID.values()
    )
    assert row.image == logo
    with app.app_context(), database(app).transaction() as session:
        actions = session.scalars(select(AuditEvent.action)).all()
    assert "issuer.profile" in actions
    # The public surfaces carry it.
    public = html.unescape(client.get("/issuer").get_data(as_text=True))
    assert '<h1 id="issuer-title">Riverside Demo College</h1>' in public
    assert "A fictional college." in public and "https://riverside.example.edu" in public
    profile = client.get("/issuer", headers={"Accept": "application/ld+json"}).get_json()
    assert profile["name"] == VALID["name"] and profile["url"] == VALID["url"]
    assert profile["image"] == {"id": "http://localhost/issuer/image.png", "type": "Image"}
    image = client.get("/issuer/image.png")
    assert image.status_code == 200 and image.mimetype == "image/png" and image.data == logo
    assert image.headers["X-Content-Type-Options"] == "nosniff"
    ob2 = client.get("/ob2/issuer").get_json()
    assert (ob2["name"], ob2["url"], ob2["email"]) == (VALID["name"], VALID["url"], VALID["email"])
    # Editing again keeps the logo unless asked to remove it.
    admin.post("/admin/issuer", {**VALID, "name": "Riverside College"})
    assert _stored(app).image == logo
    admin.post("/admin/issuer", {**VALID, "remove_logo": "1"})
    assert _stored(app).image is None
    assert client.get("/issuer/image.png").status_code == 404


def test_each_field_says_what_is_wrong_and_nothing_is_stored(app, client, world) -> None:
    admin = world.caller(client, world.learner, tool_admin=True)
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    bad = admin.post(
        "/admin/issuer",
        {
            "name": "",
            "url": "javascript:alert(1)",
            "email": "not-an-address",
            "description": "x" * 2001,
            "logo": (io.BytesIO(svg), "logo.svg"),
        },
        content_type="multipart/form-data",
    )
    assert bad.status_code == 400
    text = html.unescape(bad.text)
    for field, message in {
        "name": "Give the institution's name.",
        "url": "Give a full web address, starting with https://.",
        "email": "That is not an email address.",
        "description": "At most 2000 characters.",
        "logo": "The logo must be a PNG image (SVG is not accepted).",
    }.items():
        assert f'<p id="issuer-{field}-error" class="field-error">{message}</p>' in text
    assert 'value="not-an-address"' in text  # what was typed comes back to be corrected
    assert _stored(app) is None
    big = admin.post(
        "/admin/issuer",
        {**VALID, "logo": (io.BytesIO(_png((3000, 10))), "wide.png")},
        content_type="multipart/form-data",
    )
    assert big.status_code == 400 and "larger than 2048 pixels a side" in big.text
    huge = admin.post(
        "/admin/issuer",
        {**VALID, "logo": (io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"0" * 600_000), "h.png")},
        content_type="multipart/form-data",
    )
    assert huge.status_code == 400 and "larger than 512 KB" in huge.text
    huge.close()
    huge.request.input_stream.close()  # the test client spooled the large body to a file
    assert _stored(app) is None


def test_only_tool_admins_change_it_and_only_with_the_token(app, client, world) -> None:
    platform_admin = world.caller(client, world.admin)
    page = platform_admin.get("/admin/issuer")
    assert page.status_code == 200 and 'id="issuer-name"' not in page.text
    assert "Only tool administrators can change the issuer profile." in page.text
    assert platform_admin.post("/admin/issuer", VALID).status_code == 403
    tool_admin = world.caller(client, world.learner, tool_admin=True)
    assert tool_admin.post("/admin/issuer", VALID, csrf=False).status_code == 400
    assert _stored(app) is None


def test_errors_in_spanish(app, client, world) -> None:
    admin = world.caller(client, world.learner, tool_admin=True)
    admin.post("/language", {"locale": "es"})
    bad = admin.post("/admin/issuer", {**VALID, "email": "nope"})
    assert bad.status_code == 400
    assert "Eso no es una dirección de correo." in html.unescape(bad.text)
