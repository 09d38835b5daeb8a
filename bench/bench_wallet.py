"""Add to a wallet: claiming one credential through OpenID4VCI, server time, against one
signature of the same credential, in one run.

A claim is what the service does for one wallet once the learner has made the offer: serve the
offer URI, exchange the pre-authorized code (and transaction code) at the token endpoint, hand
out a nonce, then check the wallet's key proof and sign a new credential bound to its DID
(eddsa-rdfc-2022, and its VC-JWT). Making the offer (the learner's request) is timed apart. The app runs in this process on SQLite and is called through Flask's test client,
so the figure is server time: the wallet's own work (making keys, signing its proof) happens
between the timed calls and is not counted.

The baseline is one eddsa-rdfc-2022 signature of the same credential (the claimed copy without
its proof, signed with the same key): what a claim cannot avoid. Goal: a claim <= 2 x that.

    .venv/bin/python bench/bench_wallet.py [--claims 50]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from joserfc import jws  # noqa: E402
from joserfc.jwk import OKPKey  # noqa: E402
from joserfc.jws import JWSRegistry  # noqa: E402
from support.lti_rows import make_course  # noqa: E402

from bench.common import Figure, command_line  # noqa: E402
from bench.report import print_figures  # noqa: E402
from credentials import data_integrity  # noqa: E402
from credentials.multikey import public_key_to_multikey  # noqa: E402
from lti_app import create_app  # noqa: E402
from lti_app.migrate import upgrade  # noqa: E402
from lti_app.request_db import database  # noqa: E402
from lti_app.services import issuer as issuer_service  # noqa: E402
from lti_app.services import signoffs, wallet  # noqa: E402

BENCH = "add to a wallet"
BASE_URL = "http://wallet-bench.example"
GRANT = wallet.PRE_AUTHORIZED_GRANT
WARM_UP = 5


def _proof(key: Ed25519PrivateKey, nonce: str) -> str:
    """The wallet's key proof (client work: made outside the timed calls)."""
    multikey = public_key_to_multikey(key.public_key())
    header = {
        "typ": "openid4vci-proof+jwt",
        "alg": "Ed25519",
        "kid": f"did:key:{multikey}#{multikey}",
    }
    payload = {"aud": BASE_URL, "iat": int(time.time()), "nonce": nonce}
    return jws.serialize_compact(
        header,
        json.dumps(payload).encode(),
        OKPKey.import_key(key),
        registry=JWSRegistry(algorithms=["Ed25519"]),
    )


def _claim(
    app: Any, client: Any, credential_id: uuid.UUID, learner_id: int
) -> tuple[float, float, Any]:
    """The learner makes an offer, a wallet claims it; (offer ms, claim ms, the credential),
    both server time."""
    start = time.perf_counter()
    with database(app).transaction() as session:
        offer = wallet.create_offer(
            session,
            issuer_service.context(session),
            credential_id=credential_id,
            learner_id=learner_id,
            tx_code=True,
        )
    offer_ms = (time.perf_counter() - start) * 1000
    elapsed = 0.0
    start = time.perf_counter()
    answer = client.get(offer.offer_uri[len(BASE_URL) :])
    code = answer.get_json()["grants"][GRANT]["pre-authorized_code"]
    token = client.post(
        "/oid4vci/token",
        data={"grant_type": GRANT, "pre-authorized_code": code, "tx_code": offer.tx_code},
    ).get_json()["access_token"]
    nonce = client.post("/oid4vci/nonce").get_json()["c_nonce"]
    elapsed += time.perf_counter() - start
    proof = _proof(Ed25519PrivateKey.generate(), nonce)  # the wallet's work: not counted
    body = {"credential_configuration_id": "OpenBadgeCredential_ldp_vc", "proofs": {"jwt": [proof]}}
    start = time.perf_counter()
    answer = client.post(
        "/oid4vci/credential", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    elapsed += time.perf_counter() - start
    if answer.status_code != 200:
        raise RuntimeError(f"the claim failed: {answer.get_json()}")
    return offer_ms, elapsed * 1000, answer.get_json()["credentials"][0]["credential"]


def measure(claims: int) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="skillsign-bench-") as tmp,
        contextlib.ExitStack() as cleanup,
    ):
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        app = create_app(
            {
                "ENV": "test",
                "DATABASE_URL": url,
                "INSTANCE_DIR": str(Path(tmp) / "instance"),
                "SECRET_KEY": "bench-secret",
                "BASE_URL": BASE_URL,
                "LOG_LEVEL": "WARNING",
                # Raised, not removed: one client makes every claim here.
                "RATELIMIT_WALLET": "100000 per minute",
            }
        )
        cleanup.callback(database(app).dispose)
        with database(app).transaction() as session:
            course = make_course(
                session,
                issuer="https://lms.bench.example",
                client_id="bench",
                token_url="https://lms.bench.example/token",
                lineitems_url=None,
                learners=1,
            )
            level = course.version.levels[0]
            (credential,) = signoffs.sign(
                session,
                actor_id=course.instructor.id,
                context_id=course.context.id,
                learner_ids=[course.learners[0].id],
                statement_ids=[st.id for st in level.statements],
            ).credentials
            credential_id, learner_id = credential.id, credential.learner_id
        client = app.test_client()
        with database(app).transaction() as session:
            signer = issuer_service.context(session).signer()
        offer_ms: list[float] = []
        claim_ms: list[float] = []
        sign_ms: list[float] = []
        document: Any = None
        # Claims and baseline signatures alternate, so drift and other load hit both alike.
        for i in range(claims + WARM_UP):
            made, elapsed, document = _claim(app, client, credential_id, learner_id)
            # The baseline: the credential just claimed, signed once more with the same key.
            unsigned = {k: v for k, v in document.items() if k != "proof"}
            start = time.perf_counter()
            data_integrity.sign(unsigned, signer.private_key, signer.verification_method)
            signed_ms = (time.perf_counter() - start) * 1000
            if i >= WARM_UP:
                offer_ms.append(made)
                claim_ms.append(elapsed)
                sign_ms.append(signed_ms)
        size = len(json.dumps(document))
    return {"offer": offer_ms, "claim": claim_ms, "sign": sign_ms, "size": size}


def figures(claims: int = 50) -> list[Figure]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # joserfc's notes on algorithm names: not figures
        result = measure(claims)
    fig = Figure(
        BENCH,
        "claim one credential (offer URI, token, nonce, credential), server time",
        "ms",
        result["claim"],
        command_line(["bench/bench_wallet.py", "--claims", str(claims)]),
        "one eddsa-rdfc-2022 signature of the same credential",
        result["sign"],
        goal="ratio <= 2.0",
        notes=[f"ldp_vc of {result['size']} bytes; SQLite, in process; VC-JWT signed too"],
    )
    fig.met = fig.ratio is not None and fig.ratio <= 2.0
    offer = Figure(
        BENCH,
        "make the offer (the learner's request: offer, code, tx code, audit row)",
        "ms",
        result["offer"],
        fig.command,
        notes=["the service in its transaction; not part of the claim above"],
    )
    return [fig, offer]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=50)
    args = parser.parse_args()
    if not 1 <= args.claims <= 5000:
        parser.error("--claims: 1 to 5000")
    print_figures(figures(args.claims))


if __name__ == "__main__":
    main()
