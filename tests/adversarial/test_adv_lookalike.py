"""A look-alike is never presented as ours.

A stranger copies one of our credentials: our issuer name, our achievement (name,
description, criteria, alignments), and signs it with a key of its own (did:key). The
signature is good, so the credential verifies; the page and the API must still say plainly
that the stranger's DID issued it, not us, and show our name only as "not by ...", the
copied one only as what the issuer "calls itself".
"""

from __future__ import annotations

import copy
import html
import itertools
import json
import re
import secrets
import uuid
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from support.checklist_world import csrf_from, make_world

from credentials import data_integrity, did
from lti_app import create_app
from lti_app.request_db import database
from lti_app.services import signoffs

OUR_NAME = "Northfield College of Nursing"
_addresses = itertools.count(1)


def _address() -> dict[str, str]:
    n = next(_addresses)
    return {"REMOTE_ADDR": f"10.77.{n // 250}.{n % 250 + 1}"}


@pytest.fixture
def ours(app, database_url, tmp_path):
    """The tool under a distinctive issuer name (the ``app`` fixture empties the database)."""
    named = create_app(
        {
            "ENV": "test",
            "TESTING": True,
            "DATABASE_URL": database_url,
            "INSTANCE_DIR": str(tmp_path / "named"),
            "SECRET_KEY": "test-secret-" + secrets.token_hex(8),
            "BASE_URL": "http://localhost",
            "ISSUER_NAME": OUR_NAME,
            "VERIFY_FETCH_REMOTE": False,
        }
    )
    yield named
    named.extensions["skillsign.db"].dispose()


@pytest.fixture
def issued(ours) -> dict[str, Any]:
    world = make_world(ours, learners=1)
    with ours.app_context(), database(ours).transaction() as session:
        result = signoffs.sign(
            session,
            actor_id=world.instructor.id,
            context_id=world.context_a,
            learner_ids=[world.learner.id],
            statement_ids=world.levels["emerging"],
        )
        return copy.deepcopy(result.credentials[0].document)


def _lookalike(document: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """Our credential, re-issued by the holder of ``key``: our name, our achievement."""
    copied = {k: copy.deepcopy(v) for k, v in document.items() if k != "proof"}
    copied.pop("credentialStatus", None)  # the status list is ours: it would not be theirs
    copied["id"] = f"urn:uuid:{uuid.uuid4()}"
    copied["issuer"] = {**copied["issuer"], "id": did.did_key(key.public_key())}
    assert copied["issuer"]["name"] == OUR_NAME
    return data_integrity.sign(copied, key, did.did_key_verification_method(key.public_key()))


def _page(client, document: dict[str, Any]) -> str:
    form = client.get("/verify", environ_overrides=_address())
    answer = client.post(
        "/verify",
        data={"text": json.dumps(document), "csrf_token": csrf_from(form.get_data(as_text=True))},
        environ_overrides=_address(),
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)[:400]
    return html.unescape(answer.get_data(as_text=True))


def _result_section(page: str) -> str:
    found = re.search(r'<section class="card result".*?</section>', page, re.S)
    assert found, "no result on the page"
    return found.group(0)


def test_a_stranger_signing_our_name_and_achievement_is_shown_as_not_ours(ours, issued):
    client = ours.test_client()
    stranger = Ed25519PrivateKey.generate()
    fake = _lookalike(issued, stranger)
    stranger_did = fake["issuer"]["id"]
    our_did = issued["issuer"]["id"]

    answer = client.post("/api/v1/verify", json=fake, environ_overrides=_address())
    assert answer.status_code == 200
    body = answer.json
    assert body["valid"] is True  # a good signature: the lie is only in the name
    assert body["issuer"]["ours"] is False
    assert body["issuer"]["verified"] is True
    assert body["issuer"]["id"] == stranger_did
    assert body["issuer"]["selfAssertedName"] == OUR_NAME
    assert body["issuer"]["summary"].startswith(f"Issued by {stranger_did}, not by {OUR_NAME}")

    result = _result_section(_page(client, fake))
    assert (
        f"Issued by {stranger_did}, not by {OUR_NAME} ({our_did})." in result
    )  # the warning, with both DIDs
    assert 'role="alert"' in result and "issuer-not-ours" in result
    assert f"It calls itself “{OUR_NAME}”" in result
    # Our name appears only inside the warning: never as the issuer.
    assert f"Issued by {OUR_NAME}" not in result
    assert result.count(OUR_NAME) == 2  # "not by ..." and "calls itself ..."


def test_our_own_credential_says_it_is_ours(ours, issued):
    client = ours.test_client()
    body = client.post("/api/v1/verify", json=issued, environ_overrides=_address()).json
    assert body["valid"] is True
    assert body["issuer"]["ours"] is True and body["issuer"]["id"] == issued["issuer"]["id"]
    result = _result_section(_page(client, issued))
    assert f"Issued by {OUR_NAME}" in result
    assert "issuer-not-ours" not in result


def test_claiming_our_did_with_a_stranger_key_is_neither_valid_nor_ours(ours, issued):
    client = ours.test_client()
    stranger = Ed25519PrivateKey.generate()
    copied = {k: copy.deepcopy(v) for k, v in issued.items() if k != "proof"}
    copied.pop("credentialStatus", None)
    # Our issuer id, but signed with the stranger's did:key method.
    forged = data_integrity.sign(
        copied, stranger, did.did_key_verification_method(stranger.public_key())
    )
    body = client.post("/api/v1/verify", json=forged, environ_overrides=_address()).json
    assert body["valid"] is False
    assert body["issuer"] == {
        "id": None,
        "claimedId": issued["issuer"]["id"],
        "verified": False,
        "ours": False,
        "selfAssertedName": OUR_NAME,
        "summary": f'The issuer could not be verified; it calls itself "{OUR_NAME}"',
    }
    result = _result_section(_page(client, forged))
    assert f"Issued by {OUR_NAME}" not in result
    assert "The issuer could not be verified" in result
