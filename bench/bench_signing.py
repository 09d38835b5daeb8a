"""Signing and verifying one ~3.5 KB OpenBadgeCredential (eddsa-rdfc-2022): ours (pyld) against
the Node reference (@digitalbazaar/vc) signing the same credential with the same key in the
same run. Prints medians and the ratio ours/reference (goal: <= 1.0).

    .venv/bin/python bench/bench_signing.py [--iterations 50]

Needs node with tests/interop/node/node_modules installed (`make node-deps`); without it only
our figures are printed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from pyld import jsonld as pyld_jsonld

from credentials import data_integrity, did, jsonld, ob3, status_list

NODE_DIR = Path(__file__).resolve().parents[1] / "tests" / "interop" / "node"
CREATED = "2025-01-02T03:04:05Z"


def credential(issuer_id: str) -> dict:
    """A level of eight statements, as the app issues them (about 3.5 KB)."""
    host = "https://skills.example.edu"
    return ob3.build_credential(
        credential_id="urn:uuid:1f0c2a4e-6b8d-4e2f-9a1c-3b5d7f9e1a2c",
        issuer=ob3.Issuer(id=issuer_id, name="Example College of Health", url=host),
        achievement=ob3.AchievementInput(
            id=f"{host}/frameworks/psychiatric-technicians/1.0/levels/entry",
            name="Psychiatric Technician - Entry level",
            description="Meets every competency statement of the entry level of the framework.",
            criteria_narrative="An instructor signed off each statement of the level.",
            alignments=[
                ob3.Alignment(
                    target_name=f"Competency {i}",
                    target_url=f"https://case.example.org/uri/5e3c{i:04d}",
                    target_description=f"Competency {i} - performs the task to the standard",
                    target_code=f"PT.1.{i}",
                )
                for i in range(1, 9)
            ],
        ),
        subject=ob3.Subject(identifier_email="learner@example.edu", salt="0f1e2d3c4b5a6978"),
        valid_from="2025-01-01T00:00:00Z",
        status=status_list.StatusEntry(f"{host}/status/revocation/1", 4711),
        evidence=[ob3.EvidenceItem(name="Sign-offs", narrative="8 of 8 statements signed off")],
    )


def median_ms(function: Callable[[], object], iterations: int, warmup: int = 5) -> float:
    for _ in range(warmup):
        function()
    samples = []
    for _ in range(iterations):
        start = time.perf_counter()
        function()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def reference(unsigned: dict, seed: bytes, vm: str, iterations: int) -> dict | None:
    if shutil.which("node") is None or not (NODE_DIR / "node_modules").is_dir():
        return None
    request = {
        "credential": unsigned,
        "seedHex": seed.hex(),
        "verificationMethod": vm,
        "created": CREATED,
        "iterations": iterations,
        "warmup": 20,
    }
    completed = subprocess.run(
        ["node", "sign.mjs"],
        input=json.dumps(request),
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(completed.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=50)
    args = parser.parse_args()

    key = Ed25519PrivateKey.generate()
    seed = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    vm = did.did_key_verification_method(key.public_key())
    unsigned = credential(did.split_did_url(vm)[0])
    size = len(json.dumps(unsigned, separators=(",", ":")).encode())

    def sign() -> dict:
        return data_integrity.sign(unsigned, key, vm, created=CREATED)

    signed = sign()
    size_signed = len(json.dumps(signed, separators=(",", ":")).encode())

    def verify() -> None:
        assert data_integrity.verify(signed, did.resolve_verification_method).verified

    def sign_cold() -> None:
        jsonld.clear_context_cache()
        sign()

    def sign_stock_pyld() -> bytes:
        """The straightforward way (what DESIGN measured): pyld's normalize twice, pyld's own
        context cache, no safe mode, no escaping fix."""
        options = {
            "algorithm": "URDNA2015",
            "format": "application/n-quads",
            "base": None,
            "documentLoader": jsonld.document_loader,
        }
        config = {k: v for k, v in signed["proof"].items() if k != "proofValue"}
        config["@context"] = unsigned["@context"]
        digest = hashlib.sha256(pyld_jsonld.normalize(config, options).encode()).digest()
        digest += hashlib.sha256(pyld_jsonld.normalize(unsigned, options).encode()).digest()
        return key.sign(digest)

    ours = {
        "sign": median_ms(sign, args.iterations),
        "verify": median_ms(verify, args.iterations),
        "sign, contexts not cached": median_ms(sign_cold, max(10, args.iterations // 3), warmup=1),
        "sign, stock pyld (baseline)": median_ms(sign_stock_pyld, args.iterations),
    }
    jsonld.clear_context_cache()
    theirs_raw = reference(unsigned, seed, vm, args.iterations)
    theirs = {}
    if theirs_raw:
        theirs = {
            "sign": statistics.median(theirs_raw["signMs"]),
            "verify": statistics.median(theirs_raw["verifyMs"]),
        }
        same = theirs_raw["signed"]["proof"]["proofValue"] == signed["proof"]["proofValue"]
    print(f"credential: {size} bytes unsigned, {size_signed} signed; {args.iterations} runs each")
    print(f"{'operation':28} {'ours ms':>9} {'node ms':>9} {'ours/node':>10}")
    for operation, value in ours.items():
        other = theirs.get(operation)
        ratio = f"{value / other:10.2f}" if other else f"{'-':>10}"
        other_text = f"{other:9.2f}" if other else f"{'-':>9}"
        print(f"{operation:28} {value:9.2f} {other_text} {ratio}")
    if theirs_raw:
        print(f"proofValue identical to the reference's: {'yes' if same else 'NO'}")
    else:
        print("node reference not run: node or tests/interop/node/node_modules missing")


if __name__ == "__main__":
    main()
