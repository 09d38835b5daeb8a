"""/verify and /api/v1/verify check that a credential belongs to an email address against its
hashed IdentityObject (OB 3.0), and never echo the address."""

from __future__ import annotations

import io
import json
import re

import jsonschema
import pytest

from lti_app.services import awarding


@pytest.fixture
def csrf_client(app):
    app.config["WTF_CSRF_ENABLED"] = True
    return app.test_client()


def _token(client) -> str:
    form = client.get("/verify").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)


def _schema(client) -> dict:
    spec = client.get("/api/openapi.json").json
    return {"$ref": "#/components/schemas/VerificationResult", "components": spec["components"]}


def test_api_answers_matches_and_does_not_match_without_echoing(client, course, issued) -> None:
    email = course.learners[0].email
    schema = _schema(client)
    for given, expected in (
        (f"  {email.upper()} ", "matches"),  # normalised as issued: trimmed, lower-cased
        ("someone.else@example.edu", "does_not_match"),
    ):
        response = client.post(
            "/api/v1/verify", json={"credential": issued.document, "email": given}
        )
        assert response.status_code == 200
        assert response.json["identity"] == {"email": expected}
        assert response.json["valid"] is True
        assert given.strip().lower() not in response.get_data(as_text=True).lower()
        jsonschema.validate(response.json, schema)
    plain = client.post("/api/v1/verify", json={"credential": issued.document}).json
    assert "identity" not in plain


def test_api_by_url_and_multipart(client, course, issued) -> None:
    email = course.learners[0].email
    url = f"http://localhost/credentials/{issued.id}"
    by_url = client.post("/api/v1/verify", json={"url": url, "email": email}).json
    assert by_url["identity"] == {"email": "matches"}
    png = client.get(f"/credentials/{issued.id}.png").data
    upload = client.post(
        "/api/v1/verify",
        data={"file": (io.BytesIO(png), "badge.png"), "email": "nobody@example.org"},
        content_type="multipart/form-data",
    ).json
    assert upload["identity"] == {"email": "does_not_match"}


def test_a_wallet_bound_credential_has_no_email_identity(client, db, course, sign_level) -> None:
    learner = course.learners[1]
    with db.transaction() as session:
        awarding.set_wallet_did(session, learner.id, "did:example:wallet-7")
    (credential,) = sign_level(learner).credentials
    answer = client.post(
        "/api/v1/verify", json={"credential": credential.document, "email": learner.email}
    ).json
    assert answer["identity"] == {"email": "no_email_identity"}


def test_a_bad_address_is_refused_and_not_echoed(client, issued) -> None:
    bad = "not-an-address<script>"
    response = client.post("/api/v1/verify", json={"credential": issued.document, "email": bad})
    assert response.status_code == 400
    assert bad not in response.get_data(as_text=True)
    wrong_type = client.post("/api/v1/verify", json={"credential": issued.document, "email": 7})
    assert wrong_type.status_code == 400


def test_page_says_matches_or_not_and_never_shows_the_address(csrf_client, course, issued) -> None:
    email = course.learners[0].email
    token = _token(csrf_client)
    text = json.dumps(issued.document)
    yes = csrf_client.post("/verify", data={"text": text, "email": email, "csrf_token": token})
    page = yes.get_data(as_text=True)
    assert yes.status_code == 200 and "Email address: matches." in page
    assert email not in page
    no = csrf_client.post(
        "/verify", data={"text": text, "email": "other@example.org", "csrf_token": token}
    )
    page = no.get_data(as_text=True)
    assert "Email address: does not match." in page and "other@example.org" not in page
    none = csrf_client.post("/verify", data={"text": text, "csrf_token": token})
    assert "email-answer" not in none.get_data(as_text=True)
    bad = csrf_client.post("/verify", data={"text": text, "email": "nope", "csrf_token": token})
    assert bad.status_code == 400 and "not an email address" in bad.get_data(as_text=True)
    assert 'value="nope"' not in bad.get_data(as_text=True)


def test_page_in_spanish(csrf_client, course, issued) -> None:
    token = _token(csrf_client)
    page = csrf_client.post(
        "/verify",
        data={
            "text": json.dumps(issued.document),
            "email": course.learners[0].email,
            "csrf_token": token,
        },
        headers={"Accept-Language": "es"},
    ).get_data(as_text=True)
    assert "Dirección de correo: coincide." in page
