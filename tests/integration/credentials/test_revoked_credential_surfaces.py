"""A revoked or expired credential cannot be mistaken for a valid one: its public page offers
no "Add to LinkedIn", its badge (on the page, in link previews, and the baked PNG and SVG
downloads) says REVOKED or EXPIRED where "LEVEL COMPLETE" stood, and its JSON is still there
for audit with the status beside the link."""

from __future__ import annotations

import html
import io
import json

from issuance_helpers import issue_backdated
from PIL import Image

from credentials import baking
from lti_app.db.models import Credential
from lti_app.services import awarding

RIBBON = (100, 466)  # a point inside the badge's ribbon, clear of its text
RED = (185, 28, 28)  # the REVOKED ribbon
AMBER = (146, 64, 14)  # the EXPIRED ribbon


def _page(client, credential) -> str:
    page = client.get(f"/credentials/{credential.id}", headers={"Accept": "text/html"})
    assert page.status_code == 200
    return html.unescape(page.get_data(as_text=True))


def _pixel(png: bytes) -> tuple[int, int, int]:
    return Image.open(io.BytesIO(png)).convert("RGB").getpixel(RIBBON)


def _close(found: tuple[int, int, int], wanted: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= 6 for a, b in zip(found, wanted, strict=True))


def _svg_text(svg: bytes) -> str:
    return svg.decode("utf-8")


def test_valid_credential_is_offered_for_sharing(client, issued) -> None:
    text = _page(client, issued)
    assert "https://www.linkedin.com/profile/add?" in text
    assert "download-status" not in text
    image = client.get(f"/credentials/{issued.id}/badge.svg")
    assert image.status_code == 200 and image.mimetype == "image/svg+xml"
    assert ">LEVEL COMPLETE<" in _svg_text(image.data)
    assert f'src="/credentials/{issued.id}/badge.png"' in text
    assert f'content="http://localhost/credentials/{issued.id}/badge.png"' in text  # og:image


def test_revoked_credential_says_so_everywhere(client, db, issued) -> None:
    valid_png = client.get(f"/credentials/{issued.id}/badge.png").data
    with db.transaction() as session:
        awarding.revoke(
            session, session.get(Credential, issued.id), reason="Issued in error", actor_id=None
        )
    text = _page(client, issued)
    assert "linkedin.com" not in text
    assert "This credential was revoked: it can no longer be shared" in text
    assert "Reason: Issued in error" in text
    # The JSON stays downloadable for audit, its status beside the link (and beside each file).
    assert text.count('class="download-status state-revoked"') == 3  # json, png, svg (no JWT)
    assert "Open Badges 3.0 JSON</a> <span" in text and "(revoked on " in text
    download = client.get(f"/credentials/{issued.id}.json")
    assert download.status_code == 200 and json.loads(download.data) == issued.document

    # The page's badge and the link preview image: REVOKED, on red, not LEVEL COMPLETE.
    svg = client.get(f"/credentials/{issued.id}/badge.svg").data
    assert ">REVOKED<" in _svg_text(svg) and "LEVEL COMPLETE" not in _svg_text(svg)
    png = client.get(f"/credentials/{issued.id}/badge.png")
    assert png.headers["Cache-Control"] == "public, max-age=60"
    assert png.data != valid_png and _close(_pixel(png.data), RED)
    assert not _close(_pixel(valid_png), RED)

    # The baked downloads are marked too, and still carry the signed credential.
    baked_png = client.get(f"/credentials/{issued.id}.png").data
    assert _close(_pixel(baked_png), RED)
    assert json.loads(baking.extract_png(baked_png)) == issued.document
    baked_svg = client.get(f"/credentials/{issued.id}.svg").data
    assert ">REVOKED<" in _svg_text(baked_svg) and "LEVEL COMPLETE" not in _svg_text(baked_svg)
    assert json.loads(baking.extract_svg(baked_svg)) == issued.document

    # The level's own badge (the Achievement's image) is unchanged: it is not this credential.
    level_svg = client.get(f"/achievements/{issued.level_id}/badge.svg").data
    assert ">LEVEL COMPLETE<" in _svg_text(level_svg)


def test_expired_credential_says_so_everywhere(client, db, course) -> None:
    expired = issue_backdated(
        db, course.learners[1].id, course.version.levels[0].id, valid_days=30, age_days=40
    )
    text = _page(client, expired)
    assert "linkedin.com" not in text
    assert "This credential has expired" in text
    assert text.count('class="download-status state-expired"') == 3
    svg = client.get(f"/credentials/{expired.id}/badge.svg").data
    assert ">EXPIRED<" in _svg_text(svg) and "LEVEL COMPLETE" not in _svg_text(svg)
    assert _close(_pixel(client.get(f"/credentials/{expired.id}/badge.png").data), AMBER)
    baked = client.get(f"/credentials/{expired.id}.png").data
    assert _close(_pixel(baked), AMBER)
    assert json.loads(baking.extract_png(baked)) == expired.document


def test_credential_badge_route_refuses_other_formats(client, issued) -> None:
    assert client.get(f"/credentials/{issued.id}/badge.gif").status_code == 404
    missing = "00000000-0000-4000-8000-000000000000"
    assert client.get(f"/credentials/{missing}/badge.png").status_code == 404
