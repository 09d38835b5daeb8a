"""Our credentials, checked by an independent implementation: Digital Bazaar's VC stack
(@digitalbazaar/vc, data-integrity, eddsa-rdfc-2022, bitstring status list) and `jose`, run by
Node with an offline document loader (tests/interop/node). Every verification request goes
through one Node process per module; signing by the reference through one more."""

from __future__ import annotations

import base64
import copy
import json
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from credentials import data_integrity, did, jwt, ob3, status_list
from credentials.verify import verify

NODE_DIR = Path(__file__).resolve().parent / "node"
HOST = "skills.example.edu"
LIST_URL = f"https://{HOST}/status/revocation/1"
TEXTS = {
    **{f"U+{c:04X}": f"ctl[{chr(c)}]end" for c in [*range(0x20), 0x7F]},
    "emoji": "Caring 🧠💊 with 👩🏽‍⚕️ (ZWJ sequence)",
    "rtl": "טכנאי פסיכיאטרי — فني نفسي",
    "cjk": "精神科技术员 精神科技術者 정신과 기술자",
}

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None,
    reason="node is not on PATH, so the Node reference verifier cannot run",
)


def run_node(script: str, request: Any) -> Any:
    completed = subprocess.run(
        ["node", script],
        input=json.dumps(request),
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if completed.returncode != 0:
        pytest.fail(f"node {script} failed ({completed.returncode}):\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout)


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """Install the pinned Node packages once if they are missing (registry only, from the lock)."""
    if not (NODE_DIR / "node_modules" / "@digitalbazaar" / "vc").is_dir():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("node is on PATH but npm is not: cannot install tests/interop/node")
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True, timeout=600
        )
    return NODE_DIR / "node_modules"


class Issuer:
    """A did:web issuer with a rotated key, and a did:key issuer, signing test credentials."""

    def __init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()
        self.old_key = Ed25519PrivateKey.generate()
        self.web_did = did.did_web(HOST)
        self.web_vm = f"{self.web_did}#key-2"
        self.old_vm = f"{self.web_did}#key-1"
        self.did_document = did.did_web_document(
            self.web_did, [("key-1", self.old_key.public_key()), ("key-2", self.key.public_key())]
        )
        self.key_vm = did.did_key_verification_method(self.key.public_key())
        self.key_did = did.split_did_url(self.key_vm)[0]

    def credential(self, issuer_id: str, *, text: str | None = None, **overrides: Any) -> dict:
        name = text or "Psychiatric Technician - Entry level"
        values: dict[str, Any] = {
            "credential_id": "urn:uuid:5d6f0e1a-2b3c-4d5e-8f90-a1b2c3d4e5f6",
            "issuer": ob3.Issuer(id=issuer_id, name="Example College", url=f"https://{HOST}"),
            "achievement": ob3.AchievementInput(
                id=f"https://{HOST}/frameworks/pt/1.0/levels/entry",
                name=name,
                description=f"Every statement met: {name}",
                criteria_narrative=text or "Signed off by an instructor",
                alignments=[
                    ob3.Alignment(f"Competency {i}", f"https://case.example.org/uri/{i}", text)
                    for i in range(1, 4)
                ],
                tags=(name,),
            ),
            "subject": ob3.Subject(
                id="did:example:learner-1", identifier_email="learner@example.edu", salt="s"
            ),
            "valid_from": "2025-01-01T00:00:00Z",
            "status": None,
            "evidence": (ob3.EvidenceItem(name="Sign-offs", narrative=text or "3 of 3"),),
        }
        values.update(overrides)
        return ob3.build_credential(**values)

    def web_credential(self, **overrides: Any) -> dict:
        overrides.setdefault("status", status_list.StatusEntry(LIST_URL, 42))
        return data_integrity.sign(
            self.credential(self.web_did, **overrides), self.key, self.web_vm
        )

    def key_credential(self, **overrides: Any) -> dict:
        return data_integrity.sign(
            self.credential(self.key_did, **overrides), self.key, self.key_vm
        )

    def status_list(self, *revoked: int) -> dict:
        bits = status_list.StatusList()
        for index in revoked:
            bits.set(index)
        unsigned = status_list.build_status_list_credential(
            LIST_URL, self.web_did, bits, "2025-01-01T00:00:00Z"
        )
        return data_integrity.sign(unsigned, self.key, self.web_vm)


@pytest.fixture(scope="module")
def issuer() -> Issuer:
    return Issuer()


def _tampered(credential: dict, change: Callable[[dict], None]) -> dict:
    copied = copy.deepcopy(credential)
    change(copied)
    return copied


@pytest.fixture(scope="module")
def requests(issuer: Issuer) -> dict[str, dict]:
    """Every verification request, by id; the expected outcome is asserted per test."""
    web = {"didDocuments": {issuer.web_did: issuer.did_document}}
    lists_ok = {"statusListCredentials": {LIST_URL: issuer.status_list()}}
    lists_revoked = {"statusListCredentials": {LIST_URL: issuer.status_list(42)}}
    web_credential = issuer.web_credential()
    key_credential = issuer.key_credential()
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_issuer = f"https://{HOST}/issuer"
    rsa_kid = f"{rsa_issuer}#rsa-1"
    rsa_jwk = {**_rsa_public_jwk(rsa_key), "alg": "RS256"}
    jwt_credential = issuer.credential(issuer.key_did, valid_until="2035-01-01T00:00:00Z")
    token = jwt.sign_vc_jwt(jwt_credential, issuer.key, issuer.key_vm)
    header, payload, signature = token.split(".")
    forged_payload = _b64url_json({**_b64url_decode(payload), "name": "Forged"})
    rsa_document = did.did_web_document(
        issuer.web_did, [("key-2", issuer.key.public_key())], [("rsa-1", rsa_key.public_key())]
    )

    found: dict[str, dict] = {
        "did-key": {"credential": key_credential},
        "did-web": {"credential": web_credential, **web, **lists_ok},
        "did-web-rotated-key": {
            "credential": data_integrity.sign(
                issuer.credential(issuer.web_did), issuer.old_key, issuer.old_vm
            ),
            **web,
        },
        "proof-set": {
            "credential": data_integrity.sign(
                issuer.credential(issuer.key_did), issuer.key, issuer.key_vm, proof_set=True
            )
        },
        "revoked": {"credential": web_credential, **web, **lists_revoked},
        "expired": {
            "credential": issuer.key_credential(valid_until="2025-06-01T00:00:00Z"),
        },
        "tampered-name": {
            "credential": _tampered(
                web_credential,
                lambda c: c["credentialSubject"]["achievement"].update(name="Senior level"),
            ),
            **web,
            **lists_ok,
        },
        "tampered-created": {
            "credential": _tampered(
                key_credential, lambda c: c["proof"].update(created="2020-01-01T00:00:00Z")
            ),
        },
        "tampered-subject": {
            "credential": _tampered(
                key_credential, lambda c: c["credentialSubject"].update(id="did:example:mallory")
            ),
        },
        "tampered-alignment": {
            "credential": _tampered(
                key_credential,
                lambda c: c["credentialSubject"]["achievement"]["alignment"].pop(),
            ),
        },
        "tampered-status-list": {
            "credential": web_credential,
            **web,
            "statusListCredentials": {
                LIST_URL: _tampered(
                    issuer.status_list(),
                    lambda c: c["credentialSubject"].update(
                        encodedList=issuer.status_list(42)["credentialSubject"]["encodedList"]
                    ),
                )
            },
        },
        "key-not-in-did-document": {
            "credential": data_integrity.sign(
                issuer.credential(issuer.web_did), Ed25519PrivateKey.generate(), issuer.web_vm
            ),
            **web,
        },
        "jwt-eddsa-did-key": {"jwt": token},
        "jwt-eddsa-did-web": {
            "jwt": jwt.sign_vc_jwt(issuer.credential(issuer.web_did), issuer.key, issuer.web_vm),
            **web,
        },
        "jwt-rs256": {
            "jwt": jwt.sign_vc_jwt(issuer.credential(rsa_issuer), rsa_key, rsa_kid),
            "jwks": {rsa_kid: rsa_jwk},
        },
        "jwt-tampered": {"jwt": f"{header}.{forged_payload}.{signature}"},
        # RS256 with the kid a DID URL whose method in the did:web document is a JWK.
        "jwt-rs256-did-web": {
            "jwt": jwt.sign_vc_jwt(
                issuer.credential(issuer.web_did, valid_until="2035-01-01T00:00:00Z"),
                rsa_key,
                f"{issuer.web_did}#rsa-1",
                algorithm="RS256",
            ),
            "didDocuments": {issuer.web_did: rsa_document},
        },
    }
    for label, text in TEXTS.items():
        found[f"text-{label}"] = {"credential": issuer.key_credential(text=text)}
    # A language- and direction-tagged name (JSON-LD value object): rdfDirection i18n-datatype.
    directed = issuer.credential(issuer.key_did)
    directed["name"] = {"@value": TEXTS["rtl"], "@language": "he", "@direction": "rtl"}
    found["text-direction"] = {
        "credential": data_integrity.sign(directed, issuer.key, issuer.key_vm)
    }
    found["text-direction-tampered"] = {
        "credential": _tampered(
            found["text-direction"]["credential"], lambda c: c["name"].update({"@direction": "ltr"})
        )
    }
    return found


def _rsa_public_jwk(key: rsa.RSAPrivateKey) -> dict:
    numbers = key.public_key().public_numbers()

    def b64(n: int) -> str:
        return (
            base64.urlsafe_b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big"))
            .rstrip(b"=")
            .decode()
        )

    return {"kty": "RSA", "n": b64(numbers.n), "e": b64(numbers.e)}


def _b64url_decode(segment: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def _b64url_json(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def node_results(node_modules: Path, requests: dict[str, dict]) -> dict[str, dict]:
    batch = {"requests": [{"id": key, **value} for key, value in requests.items()]}
    return {result["id"]: result for result in run_node("verify.mjs", batch)}


def _verified(node_results: dict[str, dict], key: str) -> dict:
    result = node_results[key]
    assert result["verified"], f"{key}: {result['errors']}"
    return result


@pytest.mark.parametrize(
    "key", ["did-key", "did-web", "did-web-rotated-key", "proof-set", "text-direction"]
)
def test_our_credentials_verify_in_node(node_results: dict[str, dict], key: str) -> None:
    result = _verified(node_results, key)
    assert result["errors"] == []
    assert result["revoked"] is False


def test_status_list_is_read_and_not_revoked(node_results: dict[str, dict]) -> None:
    result = _verified(node_results, "did-web")
    assert result["statusResults"] == [{"purpose": "revocation", "status": False}]


def test_revoked_shows_in_node_status_results(node_results: dict[str, dict]) -> None:
    result = node_results["revoked"]
    # The reference verifier still says verified: revocation is only in its status results.
    assert result["verified"] is True
    assert result["statusResults"] == [{"purpose": "revocation", "status": True}]
    assert result["revoked"] is True


@pytest.mark.parametrize(
    "key",
    [
        "tampered-name",
        "tampered-created",
        "tampered-subject",
        "tampered-alignment",
        "tampered-status-list",
        "key-not-in-did-document",
        "expired",
        "jwt-tampered",
        "text-direction-tampered",
    ],
)
def test_node_rejects_what_must_be_rejected(node_results: dict[str, dict], key: str) -> None:
    result = node_results[key]
    assert result["verified"] is False
    assert result["errors"], "a rejection should say why"


@pytest.mark.parametrize(
    "key", ["jwt-eddsa-did-key", "jwt-eddsa-did-web", "jwt-rs256", "jwt-rs256-did-web"]
)
def test_vc_jwt_verifies_with_jose(node_results: dict[str, dict], requests: dict, key: str) -> None:
    result = _verified(node_results, key)
    assert result["header"]["typ"] == "JWT"
    credential, _ = jwt.verify_vc_jwt(requests[key]["jwt"], lambda kid: None)
    assert result["credential"]["credentialSubject"] == credential["credentialSubject"]


@pytest.mark.parametrize("label", list(TEXTS))
def test_texts_verify_in_node(node_results: dict[str, dict], requests: dict, label: str) -> None:
    _verified(node_results, f"text-{label}")
    achievement = requests[f"text-{label}"]["credential"]["credentialSubject"]["achievement"]
    assert achievement["name"] == TEXTS[label]


def test_our_verdicts_agree_with_node(
    node_results: dict[str, dict], requests: dict, issuer: Issuer
) -> None:
    def fetch_list(key: str) -> Callable[[str], dict | None]:
        return requests[key].get("statusListCredentials", {}).get

    disagreements = []
    for key, request in requests.items():
        if key == "jwt-rs256":
            continue  # its key is a bare JWK, which the pipeline does not resolve (DIDs only)
        ours = verify(
            request.get("credential") or request["jwt"],
            did_documents_fetcher=request.get("didDocuments", {}).get,
            status_list_fetcher=fetch_list(key),
            now=datetime.now(UTC),
        )
        theirs = node_results[key]
        node_status = (
            "revoked" if theirs["revoked"] else ("valid" if theirs["verified"] else "rejected")
        )
        our_status = ours.status if ours.status in ("valid", "revoked") else "rejected"
        if our_status != node_status:
            disagreements.append((key, ours.status, theirs["errors"]))
    assert not disagreements


def test_reference_signer_produces_our_bytes(node_modules: Path, issuer: Issuer) -> None:
    """Same key, same document, same time: the reference implementation's proof is ours,
    byte for byte, and our verifier accepts what it signed."""
    key = Ed25519PrivateKey.generate()
    raw_seed = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    vm = did.did_key_verification_method(key.public_key())
    unsigned = issuer.credential(did.split_did_url(vm)[0], text="Référence ☃ \x0c\x7f")
    created = "2025-03-04T05:06:07Z"
    theirs = run_node(
        "sign.mjs",
        {
            "credential": unsigned,
            "seedHex": raw_seed.hex(),
            "verificationMethod": vm,
            "created": created,
        },
    )["signed"]
    ours = data_integrity.sign(unsigned, key, vm, created=created)
    assert theirs["proof"]["proofValue"] == ours["proof"]["proofValue"]
    assert {k: v for k, v in theirs.items() if k != "proof"} == unsigned
    assert verify(theirs).status == "valid"


def test_vendored_vc_context_matches_the_reference_package(node_modules: Path) -> None:
    """Our copy of the VC 2.0 context is the one the reference stack ships."""
    ours = json.loads(
        (
            Path(__file__).resolve().parents[2]
            / "credentials"
            / "contexts"
            / "credentials-v2.jsonld"
        ).read_text()
    )
    theirs = json.loads(
        (
            node_modules / "@digitalbazaar" / "credentials-context" / "contexts" / "v2.jsonld"
        ).read_text()
    )
    assert ours == theirs
