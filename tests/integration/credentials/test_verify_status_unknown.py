"""A credential whose status list cannot be fetched: its signature is good, whether it was
revoked is unknown, and `/api/v1/verify` and `/verify` say exactly that, distinctly from
"invalid" (a forged status list still makes it invalid)."""

from __future__ import annotations

import html
import json
import re

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from credentials import data_integrity, did, ob3, status_list

# The outbound policy never connects to a loopback address: this list is out of reach.
UNREACHABLE = "https://127.0.0.1:9/status/1"


def _credential(list_url: str) -> tuple[dict, Ed25519PrivateKey, str]:
    key = Ed25519PrivateKey.generate()
    vm = did.did_key_verification_method(key.public_key())
    issuer = did.split_did_url(vm)[0]
    unsigned = ob3.build_credential(
        credential_id="urn:uuid:7a1b2c3d-4e5f-4607-8819-2a3b4c5d6e7f",
        issuer=ob3.Issuer(id=issuer, name="Another College"),
        achievement=ob3.AchievementInput(
            id="https://another.example.org/achievements/1",
            name="Medication rounds",
            description="Observed medication rounds.",
            criteria_narrative="Five observed rounds.",
        ),
        subject=ob3.Subject(id="did:example:learner-7"),
        valid_from="2024-01-01T00:00:00Z",
        status=status_list.StatusEntry(list_url, 7),
    )
    return data_integrity.sign(unsigned, key, vm, proof_set=True), key, vm


def _checks(answer) -> dict[str, dict]:
    return {c["name"]: c for c in answer.json["checks"]}


def test_api_reports_status_unknown_not_invalid(client) -> None:
    document, _, _ = _credential(UNREACHABLE)
    answer = client.post("/api/v1/verify", json=document)
    assert answer.status_code == 200
    assert answer.json["status"] == "status_unknown"
    assert answer.json["valid"] is False
    checks = _checks(answer)
    assert checks["proof"]["ok"] is True and checks["issuer_key"]["ok"] is True
    assert checks["status"]["ok"] is None
    assert "could not be checked" in checks["status"]["reason"]
    assert checks["validity"]["ok"] is True
    # Altered, the same credential is invalid: unknown status never hides a bad signature.
    forged = json.loads(json.dumps(document))
    forged["credentialSubject"]["achievement"]["name"] = "Surgery"
    refused = client.post("/api/v1/verify", json=forged)
    assert refused.json["status"] == "invalid" and _checks(refused)["proof"]["ok"] is False


def test_page_shows_status_unknown_clearly(client) -> None:
    document, _, _ = _credential(UNREACHABLE)
    form = client.get("/verify").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    page = client.post("/verify", data={"text": json.dumps(document), "csrf_token": token})
    assert page.status_code == 200
    text = html.unescape(page.get_data(as_text=True))
    assert 'class="verdict verdict-status_unknown"' in text
    assert "Signature valid, revocation status unknown" in text
    assert "could not be fetched, so nobody can say whether this credential was revoked" in text
    assert "Not valid" not in text and ">Verified<" not in text


def test_openapi_lists_the_status(client) -> None:
    spec = client.get("/api/openapi.json").get_json()
    assert "status_unknown" in json.dumps(spec)
