"""Every form we issue validates against 1EdTech's OB 3.0 AchievementCredential JSON schema
(tests/data/ob_v3p0_achievementcredential_schema.json, provenance in tests/data/SOURCES.md):
the JSON-LD with its Data Integrity proof, the same document baked into the PNG and the SVG,
and the VC-JWT's payload. The credentials are issued by the app through the sign-off service
and every form is downloaded from its public address."""

from __future__ import annotations

import base64
import json
from typing import Any

import jsonschema
import pytest

from credentials import baking
from lti_app.db.models import Credential, User
from lti_app.services import awarding

SCHEMA = "ob_v3p0_achievementcredential_schema.json"


@pytest.fixture(scope="module")
def validator(test_data) -> jsonschema.Draft201909Validator:
    # A missing copy fails here: the schema is part of the repository, never skipped.
    schema = json.loads((test_data / SCHEMA).read_text(encoding="utf-8"))
    jsonschema.Draft201909Validator.check_schema(schema)
    return jsonschema.Draft201909Validator(
        schema, format_checker=jsonschema.Draft201909Validator.FORMAT_CHECKER
    )


def _errors(validator: jsonschema.Draft201909Validator, document: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
        for e in sorted(validator.iter_errors(document), key=str)
    ]


def _jwt_payload(token: str) -> dict[str, Any]:
    segment = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def _forms(client, credential: Credential) -> dict[str, Any]:
    """Each form of the credential, as a verifier downloads it."""
    url = f"/credentials/{credential.id}"
    forms: dict[str, Any] = {}
    negotiated = client.get(url, headers={"Accept": "application/ld+json"})
    assert negotiated.status_code == 200
    forms["ld+json"] = negotiated.get_json()
    download = client.get(f"{url}.json")
    assert download.status_code == 200
    forms["json"] = json.loads(download.data)
    png = client.get(f"{url}.png")
    assert png.status_code == 200 and png.mimetype == "image/png"
    forms["png"] = json.loads(baking.extract_png(png.data))
    svg = client.get(f"{url}.svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    forms["svg"] = json.loads(baking.extract_svg(svg.data))
    if credential.jwt:
        token = client.get(f"{url}.jwt")
        assert token.status_code == 200
        forms["jwt"] = _jwt_payload(token.get_data(as_text=True))
    return forms


def test_every_issued_form_validates_against_the_1edtech_schema(
    client, db, course, sign_level, validator
) -> None:
    wallet, named, plain = course.learners
    with db.transaction() as session:
        awarding.set_wallet_did(session, wallet.id, "did:example:wallet-schema-1")
        person = session.get(User, named.id)
        person.show_name_on_credentials = True
        person.name = "Zoë O’Brien"
    credentials = [
        *sign_level(wallet).credentials,  # credentialSubject.id + VC-JWT
        *sign_level(named).credentials,  # hashed email + name identifier
        *sign_level(plain).credentials,  # hashed email only
        *sign_level(wallet, "developing").credentials,  # a second level
    ]
    assert len(credentials) == 4
    validated: dict[str, int] = {}
    for credential in credentials:
        for form, document in _forms(client, credential).items():
            assert _errors(validator, document) == [], (credential.id, form)
            validated[form] = validated.get(form, 0) + 1
            if form != "jwt":
                # proof is an ARRAY in what we issue: what the schema requires.
                assert isinstance(document["proof"], list) and len(document["proof"]) == 1
                assert document["proof"][0]["cryptosuite"] == "eddsa-rdfc-2022"
            else:
                assert document["iss"] == document["issuer"]["id"]
                assert document["sub"] == document["credentialSubject"]["id"]
                assert document["jti"] == document["id"]
    assert validated == {"ld+json": 4, "json": 4, "png": 4, "svg": 4, "jwt": 2}


def test_the_schema_catches_what_it_is_there_to_catch(
    client, db, course, issued, validator
) -> None:
    """The check can fail: the forms OB 3.0 forbids (proof as one object, no validFrom, a
    subject without a type) are refused by the same validator."""
    document = client.get(f"/credentials/{issued.id}.json").get_json(force=True)
    assert _errors(validator, document) == []
    single = {**document, "proof": document["proof"][0]}
    assert any(e.startswith("proof:") for e in _errors(validator, single))
    undated = {k: v for k, v in document.items() if k != "validFrom"}
    assert _errors(validator, undated)
    untyped = json.loads(json.dumps(document))
    del untyped["credentialSubject"]["type"]
    assert _errors(validator, untyped)
