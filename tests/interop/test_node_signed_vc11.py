"""Credentials other issuers sign, in the form OB 3.0 lets verifiers accept: the VC 1.1 context
(`issuanceDate`, `expirationDate`) and an `Ed25519Signature2020` proof, made by Digital Bazaar's
@digitalbazaar/vc with @digitalbazaar/ed25519-signature-2020 (tests/interop/node/sign2020.mjs).
Our pipeline (the library, `/api/v1/verify` and the `/verify` page) accepts what it signs, with
the contexts vendored in credentials/contexts, and refuses anything altered."""

from __future__ import annotations

import copy
import html
import json
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from credentials import did, ob3
from credentials.jsonld import ED25519_2020_CONTEXT, OB_V3_CONTEXT, VC_V1_CONTEXT
from credentials.verify import verify

NODE_DIR = Path(__file__).resolve().parent / "node"
CONTEXTS = Path(__file__).resolve().parents[2] / "credentials" / "contexts"
pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (NODE_DIR / "node_modules").is_dir(),
    reason="needs Node 20 and `npm ci` in tests/interop/node",
)


def _unsigned(issuer_did: str, *, expiration: str = "2034-01-01T00:00:00Z") -> dict[str, Any]:
    credential = ob3.build_credential(
        credential_id="urn:uuid:0b1c2d3e-4f50-4617-8283-94a5b6c7d8e9",
        issuer=ob3.Issuer(id=issuer_did, name="Another College"),
        achievement=ob3.AchievementInput(
            id="https://another.example.org/achievements/wound-care",
            name="Wound care — Ünit 3",
            description="Dressing changes observed by a preceptor.",
            criteria_narrative="Three observed dressing changes.",
        ),
        subject=ob3.Subject(id="did:example:learner-42"),
        valid_from="2024-01-01T00:00:00Z",
    )
    # The VC 1.1 form: its context first, VC 1.1's date names, the suite's context last.
    credential["@context"] = [VC_V1_CONTEXT, OB_V3_CONTEXT, ED25519_2020_CONTEXT]
    credential["issuanceDate"] = credential.pop("validFrom")
    credential["expirationDate"] = expiration
    return credential


def _node_sign(credential: dict[str, Any], key: Ed25519PrivateKey, vm: str) -> dict[str, Any]:
    seed = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()).hex()
    done = subprocess.run(
        ["node", "sign2020.mjs"],
        input=json.dumps(
            {
                "credential": credential,
                "seedHex": seed,
                "verificationMethod": vm,
                "created": "2024-02-02T10:00:00Z",
            }
        ),
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)["signed"]


@pytest.fixture(scope="module")
def signed() -> dict[str, dict[str, Any]]:
    key = Ed25519PrivateKey.generate()
    vm = did.did_key_verification_method(key.public_key())
    issuer = did.split_did_url(vm)[0]
    return {
        "current": _node_sign(_unsigned(issuer), key, vm),
        "expired": _node_sign(_unsigned(issuer, expiration="2024-06-01T00:00:00Z"), key, vm),
    }


def _tampered(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    def changed(change) -> dict[str, Any]:
        copied = copy.deepcopy(document)
        change(copied)
        return copied

    return {
        "name": changed(lambda c: c["credentialSubject"]["achievement"].update(name="Surgery")),
        "subject": changed(lambda c: c["credentialSubject"].update(id="did:example:mallory")),
        "issuanceDate": changed(lambda c: c.update(issuanceDate="2020-01-01T00:00:00Z")),
        "expirationDate": changed(lambda c: c.update(expirationDate="2099-01-01T00:00:00Z")),
        "created": changed(lambda c: c["proof"].update(created="2020-01-01T00:00:00Z")),
        "no suite context": changed(lambda c: c["@context"].remove(ED25519_2020_CONTEXT)),
    }


def test_node_signs_what_we_expect(signed) -> None:
    document = signed["current"]
    assert document["@context"][0] == VC_V1_CONTEXT
    assert document["proof"]["type"] == "Ed25519Signature2020"
    assert "cryptosuite" not in document["proof"]
    assert document["issuanceDate"] == "2024-01-01T00:00:00Z"


def test_our_pipeline_verifies_a_node_signed_ed25519signature2020_credential(signed) -> None:
    result = verify(signed["current"], now=datetime.now(UTC))
    assert result.status == "valid", [c.to_dict() for c in result.checks]
    assert result.check("proof").reason.startswith("Ed25519Signature2020 signature verified")
    assert result.check("validity").reason == (
        "valid from 2024-01-01T00:00:00Z until 2034-01-01T00:00:00Z"
    )
    # VC 1.1's expirationDate is read as the end of validity.
    expired = verify(signed["expired"], now=datetime.now(UTC))
    assert expired.status == "expired" and expired.check("proof").ok is True


def test_tampered_node_signed_credentials_are_refused(signed) -> None:
    for label, document in _tampered(signed["current"]).items():
        result = verify(document, now=datetime.now(UTC))
        assert result.status == "invalid", label
        assert result.valid is False


def test_the_service_verifies_them_through_the_api_and_the_page(client, signed) -> None:
    good = client.post("/api/v1/verify", json=signed["current"])
    assert good.status_code == 200
    assert good.json["status"] == "valid" and good.json["valid"] is True
    assert good.json["issuer"]["id"] == signed["current"]["issuer"]["id"]
    assert good.json["issuer"]["verified"] is True and good.json["issuer"]["ours"] is False
    bad = client.post("/api/v1/verify", json=_tampered(signed["current"])["name"])
    assert bad.status_code == 200
    assert bad.json["status"] == "invalid" and bad.json["valid"] is False
    proof = next(c for c in bad.json["checks"] if c["name"] == "proof")
    assert proof["ok"] is False
    form = client.get("/verify").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    page = client.post("/verify", data={"text": json.dumps(signed["current"]), "csrf_token": token})
    text = html.unescape(page.get_data(as_text=True))
    assert page.status_code == 200 and "Verified" in text and "Wound care — Ünit 3" in text


def test_vendored_contexts_match_the_reference_packages() -> None:
    """Our copies of the VC 1.1 and Ed25519Signature2020 contexts are the npm packages' own
    (credentials/contexts/SOURCES.md), byte for byte as JSON."""
    modules = NODE_DIR / "node_modules"
    pairs = {
        "credentials-v1.jsonld": modules / "@digitalbazaar/credentials-context/contexts/v1.jsonld",
        "ed25519-signature-2020-v1.jsonld": modules
        / "ed25519-signature-2020-context/contexts/ed25519-signature-2020-v1.jsonld",
    }
    index = json.loads((CONTEXTS / "index.json").read_text())
    assert index[VC_V1_CONTEXT] == "credentials-v1.jsonld"
    assert index[ED25519_2020_CONTEXT] == "ed25519-signature-2020-v1.jsonld"
    for ours, theirs in pairs.items():
        assert (CONTEXTS / ours).read_bytes() == theirs.read_bytes(), ours
