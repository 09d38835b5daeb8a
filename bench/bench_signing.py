"""Signing and verifying one ~3.5 KB OpenBadgeCredential (eddsa-rdfc-2022): ours (pyld) against
the Node reference (@digitalbazaar/vc) signing the same credential with the same key in the
same run. Prints medians, p95, p99 and the ratio ours/reference (goal: <= 1.0).

    .venv/bin/python bench/bench_signing.py [--iterations 50]

Needs node with tests/interop/node/node_modules installed (`make node-deps`); without it only
our figures are printed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from pyld import jsonld as pyld_jsonld

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import Figure, command_line  # noqa: E402
from bench.report import print_figures  # noqa: E402
from credentials import data_integrity, did, jsonld, ob3, status_list  # noqa: E402

BENCH = "signing"

NODE_DIR = ROOT / "tests" / "interop" / "node"
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


def samples_ms(function: Callable[[], object], iterations: int, warmup: int = 5) -> list[float]:
    for _ in range(warmup):
        function()
    samples = []
    for _ in range(iterations):
        start = time.perf_counter()
        function()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


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


def measure(iterations: int) -> dict:
    """Our samples and the reference's (None without node) for one credential."""
    key = Ed25519PrivateKey.generate()
    seed = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    vm = did.did_key_verification_method(key.public_key())
    unsigned = credential(did.split_did_url(vm)[0])

    def sign() -> dict:
        return data_integrity.sign(unsigned, key, vm, created=CREATED)

    signed = sign()

    def verify() -> None:
        assert data_integrity.verify(signed, did.resolve_verification_method).verified

    def sign_cold() -> None:
        jsonld.clear_context_cache()
        sign()

    def sign_stock_pyld() -> bytes:
        """The straightforward way (the starting design's measurement): pyld's normalize twice, pyld's own
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
        "sign": samples_ms(sign, iterations),
        "verify": samples_ms(verify, iterations),
        "sign, contexts not cached": samples_ms(sign_cold, max(10, iterations // 3), warmup=1),
        "sign, stock pyld (baseline)": samples_ms(sign_stock_pyld, iterations),
    }
    jsonld.clear_context_cache()
    theirs_raw = reference(unsigned, seed, vm, iterations)
    return {
        "size": len(json.dumps(unsigned, separators=(",", ":")).encode()),
        "size_signed": len(json.dumps(signed, separators=(",", ":")).encode()),
        "ours": ours,
        "theirs": theirs_raw,
        "same": bool(theirs_raw)
        and theirs_raw["signed"]["proof"]["proofValue"] == signed["proof"]["proofValue"],
    }


def figures(iterations: int = 50) -> list[Figure]:
    result = measure(iterations)
    command = command_line(["bench/bench_signing.py", "--iterations", str(iterations)])
    ours, theirs = result["ours"], result["theirs"]
    size = f"credential {result['size']} bytes unsigned, {result['size_signed']} signed"
    out = []
    for operation, node_key in (("sign", "signMs"), ("verify", "verifyMs")):
        fig = Figure(
            BENCH,
            f"{operation} (eddsa-rdfc-2022)",
            "ms",
            ours[operation],
            command,
            "Node @digitalbazaar/vc" if theirs else None,
            theirs[node_key] if theirs else None,
            goal="ratio <= 1.0" if theirs else None,
            notes=[size] if operation == "sign" else [],
        )
        if fig.ratio is not None:
            fig.met = fig.ratio <= 1.0
        out.append(fig)
    if theirs:
        out[0].notes.append(
            f"proofValue identical to the reference's: {'yes' if result['same'] else 'NO'}"
        )
    else:
        out[0].notes.append(
            "node reference not run: node or tests/interop/node/node_modules missing"
        )
    out.append(
        Figure(
            BENCH,
            "sign (ours) against stock pyld normalize",
            "ms",
            ours["sign"],
            command,
            "stock pyld",
            ours["sign, stock pyld (baseline)"],
        )
    )
    out.append(
        Figure(
            BENCH,
            "sign with the context cache cleared each time",
            "ms",
            ours["sign, contexts not cached"],
            command,
            "cache kept",
            ours["sign"],
        )
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=50)
    args = parser.parse_args()
    if not 1 <= args.iterations <= 10000:
        parser.error("--iterations: 1 to 10000")
    print_figures(figures(args.iterations))


if __name__ == "__main__":
    main()
