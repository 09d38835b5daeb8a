"""Public surfaces: the credential page and downloads, DID document, status lists, CASE URIs,
OB 2.0 objects, the verifier page and API, and the OpenAPI document."""

from __future__ import annotations

import base64
import html
import io
import json
import re
import uuid

import jsonschema
import pytest
from defusedxml import ElementTree
from issuance_helpers import issue_backdated, level_of
from PIL import Image

from credentials import status_list as bitstring
from lti_app.db.models import Credential, User
from lti_app.services import awarding
from lti_app.services import issuer as issuer_service


def _doc(client, path: str, accept: str = "application/json"):
    response = client.get(path, headers={"Accept": accept})
    assert response.status_code == 200, (path, response.data[:300])
    return response


def test_page_shows_the_credential(client, db, course, issued) -> None:
    page = client.get(f"/credentials/{issued.id}", headers={"Accept": "text/html"})
    assert page.status_code == 200
    text = html.unescape(page.get_data(as_text=True))
    achievement = issued.document["credentialSubject"]["achievement"]
    assert f'<h1 id="credential-title">{achievement["name"]}</h1>' in text
    assert "Verified" in text
    for alignment in achievement["alignment"]:
        assert alignment["targetName"] in text
    assert "What was observed" in text  # the evidence, one line per statement
    for item in issued.document["evidence"]:
        assert f"<strong>{item['name']}</strong> — {item['description']}" in text
    assert course.instructor.name not in text  # instructors have not agreed to be named
    assert course.learners[0].name not in text  # the learner has not allowed their name
    url = f"http://localhost/credentials/{issued.id}"
    assert f'<meta property="og:url" content="{url}">' in text
    # The preview image is the credential's own badge, as it stands (REVOKED when revoked).
    assert f'<meta property="og:image" content="{url}/badge.png">' in text
    assert "<svg" in text and 'class="qr"' in text
    linkedin = re.search(r'href="(https://www\.linkedin\.com/profile/add\?[^"]+)"', text)
    assert linkedin and "certId=" + str(issued.id) in linkedin.group(1)
    for ext in ("json", "png", "svg"):
        assert f'href="{url}.{ext}"' in text
    assert f"{url}.jwt" not in text  # no wallet DID, no VC-JWT


def test_page_shows_the_name_only_when_allowed(client, db, course, issued) -> None:
    with db.transaction() as session:
        session.get(User, course.learners[0].id).show_name_on_credentials = True
    text = html.unescape(client.get(f"/credentials/{issued.id}").get_data(as_text=True))
    assert f"Awarded to {course.learners[0].name}" in text


def test_page_shows_revocation_with_its_reason(client, db, issued) -> None:
    with db.transaction() as session:
        awarding.revoke(
            session,
            session.get(Credential, issued.id),
            reason="Awarded to the wrong learner",
            actor_id=None,
        )
    text = client.get(f"/credentials/{issued.id}").get_data(as_text=True)
    assert "Revoked on" in text and "Awarded to the wrong learner" in text
    assert 'class="verdict verdict-revoked"' in text
    gone = client.get(f"/ob2/assertions/{issued.id}")
    assert gone.status_code == 410
    assert gone.json["revoked"] is True
    assert gone.json["revocationReason"] == "Awarded to the wrong learner"


def test_content_negotiation_and_downloads(client, issued) -> None:
    as_json = _doc(client, f"/credentials/{issued.id}", "application/ld+json")
    assert as_json.mimetype == "application/ld+json"
    assert as_json.json == issued.document
    assert _doc(client, f"/credentials/{issued.id}.json").json == issued.document
    png = client.get(f"/credentials/{issued.id}.png")
    assert png.mimetype == "image/png"
    assert "attachment" in png.headers["Content-Disposition"]
    assert Image.open(io.BytesIO(png.data)).size == (600, 600)
    assert client.get(f"/credentials/{issued.id}.jwt").status_code == 404
    assert client.get(f"/credentials/{issued.id}.exe").status_code == 404
    assert client.get(f"/credentials/{uuid.uuid4()}").status_code == 404


def test_issuer_did_document_and_status_list(client, db, issued) -> None:
    with db.transaction() as session:
        issuer = issuer_service.context(session)
    did_doc = _doc(client, "/.well-known/did.json").json
    assert did_doc["id"] == "did:web:localhost"
    assert [m["id"] for m in did_doc["verificationMethod"]] == [
        f"did:web:localhost#{issued.signing_kid}"
    ]
    assert _doc(client, "/did.json").json == did_doc
    profile = _doc(client, "/issuer", "application/ld+json").json
    assert profile["id"] == "did:web:localhost"
    # did:key mode (the test default): the credential's issuer is listed as another identifier.
    assert issued.document["issuer"]["id"] in {
        entry["identifier"] for entry in profile["otherIdentifier"]
    }
    url = issued.document["credentialStatus"]["statusListCredential"]
    assert issuer.parse_status_list_url(url) == (issued.status_list_id, issued.signing_kid)
    listed = _doc(client, url.removeprefix("http://localhost")).json
    assert listed["id"] == url
    assert listed["issuer"] == issued.document["issuer"]["id"]
    bits = bitstring.decode(listed["credentialSubject"]["encodedList"])
    assert len(bits) * 8 == bitstring.MIN_BITS
    assert client.get("/credentials/status/999").status_code == 404
    assert client.get(f"/credentials/status/{issued.status_list_id}/nosuchkey1").status_code == 404


def test_every_alignment_and_achievement_url_resolves(client, issued) -> None:
    achievement = issued.document["credentialSubject"]["achievement"]
    for alignment in achievement["alignment"]:
        item = _doc(client, alignment["targetUrl"].removeprefix("http://localhost")).json
        assert item["uri"] == alignment["targetUrl"]
        assert item["fullStatement"] == alignment["targetDescription"]
        document = _doc(client, item["CFDocumentURI"]["uri"].removeprefix("http://localhost")).json
        assert document["identifier"] == str(issued.framework_version_id)
    package = _doc(client, f"/case/v1p0/CFPackages/{issued.framework_version_id}").json
    association = package["CFAssociations"][0]
    assert _doc(client, association["uri"].removeprefix("http://localhost")).json == association
    item_type = package["CFDefinitions"]["CFItemTypes"][0]
    assert _doc(client, item_type["uri"].removeprefix("http://localhost")).json == item_type
    assert client.get(f"/case/v1p0/CFItems/{uuid.uuid4()}").status_code == 404
    served = _doc(client, achievement["id"].removeprefix("http://localhost"), LD).json
    assert {k: v for k, v in served.items() if k != "@context"} == achievement
    badge = client.get(achievement["image"]["id"].removeprefix("http://localhost"))
    assert badge.mimetype == "image/png"


LD = "application/ld+json"


def test_badge_svg_is_self_contained(client, course, issued) -> None:
    response = client.get(f"/achievements/{issued.level_id}/badge.svg")
    assert response.mimetype == "image/svg+xml"
    root = ElementTree.fromstring(response.data)
    texts = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    assert "Emerging" in texts and "LEVEL 1 OF 4" in texts
    body = response.get_data(as_text=True)
    assert "href" not in body and "url(" not in body and "@import" not in body


def test_ob2_objects(client, issued) -> None:
    assertion = _doc(client, f"/ob2/assertions/{issued.id}").json
    badge = _doc(client, assertion["badge"].removeprefix("http://localhost")).json
    issuer = _doc(client, badge["issuer"].removeprefix("http://localhost")).json
    assert assertion["verification"] == {"type": "hosted"}
    hashed = issued.document["credentialSubject"]["identifier"][0]
    assert assertion["recipient"]["identity"] == hashed["identityHash"]
    assert badge["name"] == issued.document["credentialSubject"]["achievement"]["name"]
    assert issuer["type"] == "Issuer" and issuer["email"] == "credentials@localhost"


# --------------------------------------------------------------------------- verify


def _csrf(client) -> str:
    page = client.get("/verify").get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match
    return match.group(1)


@pytest.fixture
def csrf_client(app):
    app.config["WTF_CSRF_ENABLED"] = True
    return app.test_client()


def test_verify_page_needs_its_csrf_token(csrf_client, issued) -> None:
    refused = csrf_client.post("/verify", data={"text": json.dumps(issued.document)})
    assert refused.status_code == 400
    token = _csrf(csrf_client)
    ok = csrf_client.post(
        "/verify", data={"text": json.dumps(issued.document), "csrf_token": token}
    )
    assert ok.status_code == 200
    assert 'class="verdict verdict-valid"' in ok.get_data(as_text=True)


def test_verify_page_upload_and_url(csrf_client, issued) -> None:
    token = _csrf(csrf_client)
    png = csrf_client.get(f"/credentials/{issued.id}.png").data
    upload = csrf_client.post(
        "/verify",
        data={"file": (io.BytesIO(png), "badge.png"), "csrf_token": token},
        content_type="multipart/form-data",
    )
    assert upload.status_code == 200
    assert "verdict-valid" in upload.get_data(as_text=True)
    by_url = csrf_client.post(
        "/verify", data={"url": f"http://localhost/credentials/{issued.id}", "csrf_token": token}
    )
    assert "verdict-valid" in by_url.get_data(as_text=True)
    tampered = json.loads(json.dumps(issued.document))
    tampered["validFrom"] = "2020-01-01T00:00:00Z"
    bad = csrf_client.post("/verify", data={"text": json.dumps(tampered), "csrf_token": token})
    page = bad.get_data(as_text=True)
    assert "verdict-invalid" in page and "signature does not match" in page
    neither = csrf_client.post("/verify", data={"csrf_token": token})
    assert neither.status_code == 400 and "Give exactly one" in neither.get_data(as_text=True)


def test_verify_api(client, issued) -> None:
    document = issued.document
    bare = client.post("/api/v1/verify", json=document)
    assert bare.status_code == 200 and bare.json["status"] == "valid"
    wrapped = client.post("/api/v1/verify", json={"credential": document})
    assert wrapped.json["status"] == "valid"
    png = client.get(f"/credentials/{issued.id}.png").data
    as_image = client.post("/api/v1/verify", json={"image": base64.b64encode(png).decode()})
    assert (as_image.json["status"], as_image.json["format"]) == ("valid", "png+json")
    raw = client.post("/api/v1/verify", data=png, content_type="image/png")
    assert raw.json["status"] == "valid"
    multipart = client.post(
        "/api/v1/verify",
        data={"file": (io.BytesIO(png), "b.png")},
        content_type="multipart/form-data",
    )
    assert multipart.json["status"] == "valid"
    ours = client.post(
        "/api/v1/verify", json={"url": f"http://localhost/credentials/{issued.id}.svg"}
    )
    assert (ours.json["status"], ours.json["format"]) == ("valid", "svg+json")
    garbage = client.post("/api/v1/verify", data=b"hello", content_type="text/plain")
    assert garbage.status_code == 200 and garbage.json["status"] == "unreadable"


def test_verify_api_refuses_bad_requests(client, app) -> None:
    cases = [
        ({"json": {"credential": 5}}, "'credential' must be"),
        ({"json": {"url": "ftp://x.example/c.json"}}, "only http"),
        ({"json": {"url": "a", "credential": {}}}, "exactly one"),
        ({"json": {"image": "***"}}, "not valid base64"),
        ({"data": b"{", "content_type": "application/json"}, "not valid JSON"),
        ({"data": b"x", "content_type": "application/xml"}, "unsupported Content-Type"),
        ({"json": {"url": "http://localhost/issuer"}}, "not a credential address"),
    ]
    for kwargs, message in cases:
        response = client.post("/api/v1/verify", **kwargs)
        assert response.status_code == 400, (kwargs, response.json)
        assert response.mimetype == "application/problem+json"
        assert message in response.json["detail"], (message, response.json)
    big = client.post(
        "/api/v1/verify", data=b"x" * (4 * 1024 * 1024 + 1), content_type="text/plain"
    )
    assert big.status_code == 413


def test_remote_urls_to_private_addresses_are_not_fetched(app, client) -> None:
    app.config["VERIFY_FETCH_REMOTE"] = True
    response = client.post("/api/v1/verify", json={"url": "http://127.0.0.1:9/credential.json"})
    assert response.status_code == 400
    assert "non-public address" in response.json["detail"]


def test_openapi_document_is_valid_and_accurate(app, client, issued) -> None:
    from openapi_spec_validator import validate

    spec = client.get("/api/openapi.json").json
    validate(spec)
    routes = {
        re.sub(r"<(?:[a-z]+:)?([A-Za-z_]+)>", r"{\1}", rule.rule)
        for rule in app.url_map.iter_rules()
    }
    for path in spec["paths"]:
        pattern = re.sub(r"\{[A-Za-z]+\}", "{x}", path)
        assert any(re.sub(r"\{[A-Za-z_]+\}", "{x}", r) == pattern for r in routes), path
    # The verify response conforms to its schema, valid and not.
    schema = {
        "$ref": "#/components/schemas/VerificationResult",
        "components": spec["components"],
    }
    for body in (issued.document, {"@context": ["x"], "type": "nothing"}):
        result = client.post("/api/v1/verify", json=body).json
        jsonschema.validate(result, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"valid": "yes"}, schema)


def test_page_shows_an_expired_credential_as_expired(client, db, course, sign_level) -> None:
    learner = course.learners[1]
    sign_level(learner, positions=list(range(1, 10)))
    credential = issue_backdated(db, learner.id, level_of(course).id, valid_days=5, age_days=9)
    text = client.get(f"/credentials/{credential.id}").get_data(as_text=True)
    assert 'class="verdict verdict-expired"' in text
    assert f"Expired on {credential.valid_until:%Y-%m-%d}" in text
    assert "validUntil" in json.dumps(credential.document)
