"""Fuzzing the launch endpoint: forged, broken and replayed id_tokens are never accepted.

Every generated case carries at least one defect (a forged signature, a wrong claim, a
replayed nonce, a foreign state, ...) on top of an otherwise perfect launch: a fresh login
in the same browser, the platform's real claims, the platform's real key. So a case that
got through would show a check that is missing, not a lucky accident. For each case: the
answer is a 4xx (never a 2xx/3xx, never a 5xx) and no table changed.

A second fuzz sends launches the platform *did* sign, with hostile optional claims (names,
roles, context, custom parameters, service endpoints of every JSON type): they may be
accepted or refused, but never crash the tool.

Examples per run: ``SKILLSIGN_FUZZ_EXAMPLES`` (support/adversarial_figures.py).
"""

from __future__ import annotations

import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_from_bytes

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import adversarial_figures as figures
from support.adversarial_db import checksum, diff, table_counts
from support.adversarial_launch import Forger, login
from support.adversarial_tokens import (
    alg_none,
    b64url,
    b64url_json,
    load_private,
    public_pem,
    sign_hs,
    sign_rs,
)
from support.lti_platform import rsa_pem

from lti_app.lms import claims as c

REMOVE = object()  # a claim the case deletes
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
PLATFORM_ISSUER_MARK = "platform"

# Claims every launch must carry; each can be removed or mistyped by a defect.
REQUIRED = (
    "iss",
    "aud",
    "exp",
    "iat",
    "nonce",
    "sub",
    c.DEPLOYMENT_ID,
    c.MESSAGE_TYPE,
    c.TARGET_LINK_URI,
    c.VERSION,
    c.ROLES,
    c.RESOURCE_LINK,
)
LEEWAY = 60  # the tool's documented clock-skew tolerance (seconds)
HOSTS = ("evil.example", "localhost.evil.example", "127.0.0.1", "localhost:8080", "LOCALHOST:443")

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
non_numbers = json_values.filter(lambda v: isinstance(v, bool) or not isinstance(v, int | float))
non_strings = json_values.filter(lambda v: not isinstance(v, str))


@dataclass
class Case:
    """One forged launch, as data; ``render`` turns it into a POST."""

    changes: dict[str, Any] = field(default_factory=dict)
    signing: str = "platform"
    alg: str = "RS256"
    kid: Any = "platform"
    state: str = "fresh"
    nonce: str = "fresh"
    browser: str = "same"
    raw_token: str | None = None
    raw_body: bytes | None = None
    extra_form: dict[str, str] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)


Defect = Callable[[Case], None]


def _set(label: str, **changes: Any) -> Defect:
    def apply(case: Case) -> None:
        case.changes.update(changes)
        case.labels.append(label)

    return apply


def _claim(label: str, name: str, value: Any) -> Defect:
    def apply(case: Case) -> None:
        case.changes[name] = value
        case.labels.append(label)

    return apply


def _attr(label: str, **values: Any) -> Defect:
    def apply(case: Case) -> None:
        for key, value in values.items():
            setattr(case, key, value)
        case.labels.append(label)

    return apply


now = lambda: int(time.time())  # noqa: E731

bad_urls = st.one_of(
    st.builds(
        lambda scheme, host, path: f"{scheme}://{host}/{path}",
        st.sampled_from(["http", "https", "ftp", "javascript"]),
        st.sampled_from(HOSTS),
        st.text(string.ascii_letters + "/", max_size=20),
    ),
    st.just("http://localhost@evil.example/lti/launch"),
    st.just("//localhost/lti/launch"),
    st.just("https://localhost/lti/launch"),
    st.text(max_size=60).filter(lambda u: not u.lower().startswith("http://localhost/")),
)


def defects(issuer: str, client_id: str) -> st.SearchStrategy[Defect]:
    """Every way a launch can be wrong; each one alone must get the launch refused."""
    wrong_text = st.text(min_size=1, max_size=80)
    return st.one_of(
        # -- signatures ----------------------------------------------------------------
        st.tuples(
            st.sampled_from(["none", "None", "NONE", "nOnE", ""]),
            st.sampled_from(["", "AAAA", "e30"]),
        ).map(lambda t: _attr(f"alg={t[0]!r}", signing="none:" + t[1], alg=t[0])),
        st.sampled_from(["HS256", "HS384", "HS512"]).flatmap(
            lambda alg: st.sampled_from(["pem", "pem-stripped", "der-b64"]).map(
                lambda form: _attr(
                    f"{alg} keyed with public key ({form})", signing="hs:" + form, alg=alg
                )
            )
        ),
        st.just(_attr("signed by another key, platform kid", signing="other")),
        wrong_text.map(lambda kid: _attr("unknown kid", signing="other", kid=kid)),
        st.just(_attr("no kid", kid=None)),
        non_strings.map(lambda kid: _attr("kid not a string", kid=kid)),
        st.sampled_from(["RS384", "RS512", "PS256", "ES256", "EdDSA", "HS256"]).map(
            lambda alg: _attr(f"header says {alg}, signed RS256", signing="mislabelled", alg=alg)
        ),
        st.just(_attr("signature cut", signing="truncated")),
        st.just(_attr("signature of another message", signing="swapped")),
        # -- who issued it, for whom ---------------------------------------------------
        wrong_text.filter(lambda v: v != issuer).map(lambda v: _claim("wrong iss", "iss", v)),
        st.just(_claim("iss with a trailing slash", "iss", issuer + "/")),
        non_strings.map(lambda v: _claim("iss not a string", "iss", v)),
        wrong_text.filter(lambda v: v != client_id).map(
            lambda v: _set("wrong aud", aud=v, azp=REMOVE)
        ),
        st.lists(wrong_text.filter(lambda v: v != client_id), min_size=1, max_size=3).map(
            lambda v: _set("aud list without this tool", aud=v, azp=REMOVE)
        ),
        wrong_text.filter(lambda v: v != client_id).map(
            lambda v: _set("several aud, no azp", aud=[client_id, v], azp=REMOVE)
        ),
        wrong_text.filter(lambda v: v != client_id).map(
            lambda v: _set("azp names another tool", aud=[client_id, v], azp=v)
        ),
        wrong_text.filter(lambda v: v != client_id).map(
            lambda v: _set("azp not an audience", azp=v)
        ),
        non_strings.filter(lambda v: v is not None).map(lambda v: _set("azp not a string", azp=v)),
        non_strings.filter(lambda v: not isinstance(v, list)).map(
            lambda v: _set("aud not a string or list", aud=v, azp=REMOVE)
        ),
        # -- when ----------------------------------------------------------------------
        st.integers(min_value=LEEWAY + 2, max_value=10**9).map(
            lambda ago: _set("expired", exp=now() - ago, iat=now() - ago - 300)
        ),
        st.integers(min_value=LEEWAY + 2, max_value=10**9).map(
            lambda ahead: _set("nbf in the future", nbf=now() + ahead)
        ),
        st.integers(min_value=LEEWAY + 2, max_value=10**9).map(
            lambda ahead: _set("iat in the future", iat=now() + ahead, exp=now() + ahead + 300)
        ),
        non_numbers.map(lambda v: _set("exp not a number", exp=v)),
        non_numbers.filter(lambda v: v is not None).map(lambda v: _set("iat not a number", iat=v)),
        non_numbers.filter(lambda v: v is not None).map(lambda v: _set("nbf not a number", nbf=v)),
        # -- required claims missing or mistyped ---------------------------------------
        st.sampled_from(REQUIRED).map(lambda name: _claim(f"missing {name}", name, REMOVE)),
        non_strings.map(lambda v: _set("nonce not a string", nonce=v)),
        st.integers(min_value=1025, max_value=200_000).map(
            lambda n: _set("huge nonce", nonce="n" * n)
        ),
        st.just(_set("empty nonce", nonce="")),
        non_strings.map(lambda v: _claim("deployment_id not a string", c.DEPLOYMENT_ID, v)),
        st.integers(min_value=256, max_value=100_000).map(
            lambda n: _claim("huge deployment_id", c.DEPLOYMENT_ID, "d" * n)
        ),
        st.just(_claim("empty deployment_id", c.DEPLOYMENT_ID, "")),
        non_strings.filter(lambda v: not v).map(lambda v: _set("sub empty", sub=v)),
        non_strings.filter(lambda v: bool(v)).map(lambda v: _set("sub not a string", sub=v)),
        st.integers(min_value=256, max_value=100_000).map(lambda n: _set("huge sub", sub="s" * n)),
        wrong_text.filter(lambda v: v not in (c.RESOURCE_LINK_REQUEST, c.DEEP_LINKING_REQUEST)).map(
            lambda v: _claim("unsupported message_type", c.MESSAGE_TYPE, v)
        ),
        st.sampled_from(["LtiSubmissionReviewRequest", "DataPrivacyLaunchRequest"]).map(
            lambda v: _claim("message_type the tool does not take", c.MESSAGE_TYPE, v)
        ),
        non_strings.map(lambda v: _claim("message_type not a string", c.MESSAGE_TYPE, v)),
        bad_urls.map(lambda v: _claim("target_link_uri elsewhere", c.TARGET_LINK_URI, v)),
        non_strings.map(lambda v: _claim("target_link_uri not a string", c.TARGET_LINK_URI, v)),
        json_values.filter(lambda v: v != "1.3.0").map(
            lambda v: _claim("wrong version", c.VERSION, v)
        ),
        st.one_of(
            non_strings.filter(lambda v: not isinstance(v, dict)),
            st.just({}),
            st.just({"id": ""}),
            st.just({"id": None}),
        ).map(lambda v: _claim("resource_link without an id", c.RESOURCE_LINK, v)),
        # -- the binding to a login in this browser -------------------------------------
        st.just(_attr("state unknown", state="random")),
        st.just(_attr("state missing", state="missing")),
        st.just(_attr("state already used", state="spent")),
        st.just(_attr("state of another login", state="other_login")),
        st.just(_attr("nonce of another login", nonce="other")),
        st.just(_attr("nonce already used (replay)", nonce="spent")),
        st.just(_attr("another browser", browser="none")),
        st.just(_attr("id_token missing", raw_token="")),
        # -- not a JWT at all ---------------------------------------------------------
        st.text(max_size=300).map(lambda t: _attr("random text", raw_token=t or "x")),
        st.lists(st.text(string.ascii_letters + "-_", max_size=40), min_size=1, max_size=6)
        .filter(lambda parts: len(parts) != 3)
        .map(lambda parts: _attr("wrong number of parts", raw_token=".".join(parts) or ".")),
        st.tuples(json_values, json_values).map(
            lambda hv: _attr(
                "header or body not objects",
                raw_token=f"{b64url_json(hv[0])}.{b64url_json(hv[1])}.AAAA",
            )
        ),
        st.binary(min_size=1, max_size=200).map(
            lambda raw: _attr(
                "parts not JSON", raw_token=f"{b64url(raw)}.{b64url(raw)}.{b64url(raw)}"
            )
        ),
        st.text(min_size=1, max_size=40).map(
            lambda t: _attr("parts not base64", raw_token=f"{t}.{t}.{t}")
        ),
        st.binary(min_size=1, max_size=300).map(
            lambda raw: _attr("bytes that are not UTF-8", raw_body=raw)
        ),
        st.integers(min_value=100_000, max_value=2_000_000).map(
            lambda n: _attr("huge token", raw_token="eyJ" + "A" * n + ".e30.AAAA")
        ),
    )


noise = st.dictionaries(
    st.text(string.ascii_lowercase, min_size=1, max_size=10).map(lambda k: "x-" + k),
    json_values,
    max_size=3,
)


@st.composite
def _cases(draw: st.DrawFn, defect: st.SearchStrategy[Defect]) -> Case:
    case = Case()
    for apply in draw(st.lists(defect, min_size=1, max_size=3)):
        apply(case)
    case.changes.update(draw(noise))
    if draw(st.booleans()):
        case.extra_form = draw(
            st.dictionaries(
                st.sampled_from(["lti_storage_target", "ticket", "utf8", "x"]),
                st.text(max_size=20),
                max_size=2,
            )
        )
    return case


def cases(issuer: str, client_id: str) -> st.SearchStrategy[Case]:
    # Built once per test: constructing the strategy tree is costly, drawing from it is not.
    return _cases(defects(issuer, client_id))


class LaunchFuzzer:
    """Renders cases against one app, one platform and one browser (the test client)."""

    def __init__(self, app: Any, client: Any, forger: Forger) -> None:
        self.app = app
        self.client = client
        self.forger = forger
        self.other = load_private(rsa_pem())
        self.public = public_pem(forger.private)
        self.spent_state = forger.spent["state"]
        self.spent_nonce = forger.template["nonce"]
        self.stranger = app.test_client()  # a browser that never logged in
        self.last_counts: dict[str, int] | None = None

    def token(self, case: Case, claims: dict[str, Any]) -> str:
        kid = self.forger.kid if case.kid == "platform" else case.kid
        signing = case.signing
        if signing == "platform":
            return sign_rs(claims, self.forger.private, kid)
        if signing == "other":
            return sign_rs(claims, self.other, kid)
        if signing.startswith("none"):
            sig = signing.partition(":")[2]
            return alg_none(claims, kid, alg=case.alg, signature=sig)
        if signing.startswith("hs:"):
            form = signing[3:]
            secret = {
                "pem": self.public,
                "pem-stripped": self.public.strip(),
                "der-b64": b"".join(self.public.strip().splitlines()[1:-1]),
            }[form]
            return sign_hs(claims, secret, kid, alg=case.alg)
        if signing == "mislabelled":
            good = sign_rs(claims, self.forger.private, kid)
            header = {"alg": case.alg, "typ": "JWT", "kid": kid}
            return f"{b64url_json(header)}.{good.split('.', 1)[1]}"
        if signing == "truncated":
            good = sign_rs(claims, self.forger.private, kid)
            return good[:-4]
        if signing == "swapped":
            good = sign_rs(claims, self.forger.private, kid)
            other = sign_rs(dict(claims, sub="someone-else"), self.forger.private, kid)
            return ".".join(good.split(".")[:2] + other.split(".")[2:])
        raise AssertionError(f"unknown signing mode {signing}")

    def counts(self) -> dict[str, int]:
        return table_counts(self.app.extensions["skillsign.db"])

    def post(self, case: Case) -> tuple[Any, dict[str, tuple[int, int]]]:
        """Send the case; returns the answer and the tables whose row count changed, other
        than the login states this case itself made (one per login)."""
        before = self.last_counts or self.counts()
        logins = 1
        fresh = login(self.client, self.forger.platform)
        nonce = {
            "fresh": fresh.nonce,
            "spent": self.spent_nonce,
            "other": secrets.token_urlsafe(16),
        }[case.nonce]
        claims = self.forger.claims(nonce)
        for name, value in case.changes.items():
            if value is REMOVE:
                claims.pop(name, None)
            else:
                claims[name] = value
        state = {
            "fresh": fresh.state,
            "random": secrets.token_urlsafe(32),
            "missing": None,
            "spent": self.spent_state,
            "other_login": None,
        }[case.state]
        if case.state == "other_login":
            state = login(self.client, self.forger.platform).state
            logins += 1
        browser = self.client if case.browser == "same" else self.stranger
        if case.raw_body is not None:
            body = (
                b"id_token=" + quote_from_bytes(case.raw_body).encode() + b"&state=" + case.raw_body
            )
            answer = browser.post(
                "/lti/launch", data=body, content_type="application/x-www-form-urlencoded"
            )
        else:
            token = case.raw_token if case.raw_token is not None else self.token(case, claims)
            form = dict(case.extra_form)
            if token:
                form["id_token"] = token
            if state is not None:
                form["state"] = state
            answer = browser.post("/lti/launch", data=form)
        after = self.last_counts = self.counts()
        expected = dict(before, lti_launch_data=before["lti_launch_data"] + logins)
        return answer, diff(expected, after)


def _assert_refused(case: Case, answer: Any, changed: dict[str, Any]) -> None:
    body = answer.get_data(as_text=True)
    assert 400 <= answer.status_code < 500, (
        f"{case.labels}: answered {answer.status_code} (a forged launch must be refused): {body[:300]}"
    )
    assert not changed, f"{case.labels}: a refused launch changed the database: {changed}"
    assert "Traceback" not in body


@pytest.mark.slow
def test_forged_launches_are_refused_and_leave_no_trace(app, client, forger, db):
    fuzzer = LaunchFuzzer(app, client, forger)
    examples = figures.fuzz_share(0.35)
    before = checksum(db, only=_settled_tables())
    seen: list[int] = []

    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases(forger.platform.issuer, forger.platform.client_id))
    def run(case: Case) -> None:
        answer, changed = fuzzer.post(case)
        _assert_refused(case, answer, changed)
        seen.append(answer.status_code)

    with figures.timed("fuzz /lti/launch forged (cases)"):
        run()
    figures.add("fuzz /lti/launch forged (cases)", len(seen))
    assert len(seen) >= examples
    # Everything but the login states this test made is exactly as it was.
    assert checksum(db, only=_settled_tables()) == before


def _settled_tables() -> list[str]:
    from lti_app.db import Base

    return [t.name for t in Base.metadata.sorted_tables if t.name != "lti_launch_data"]


def test_the_fuzzer_own_clean_launch_is_accepted(app, client, forger):
    """Control: with no defect, the fuzzer's launch goes through, so refusals above come from
    the defects and not from a harness that can never succeed."""
    fuzzer = LaunchFuzzer(app, client, forger)
    answer, changed = fuzzer.post(Case())
    assert answer.status_code == 303, answer.get_data(as_text=True)[:500]
    assert changed.get("lti_nonces") and changed.get("launch_sessions")


# --------------------------------------------------------------------------- signed but hostile

url_like = st.one_of(
    st.sampled_from(
        [
            "http://[",
            "http://[::1",
            "https://[::1]:99999/x",
            "http://" + "h" * 3000 + "/",
            "https://example.edu/x#frag",
            "javascript:alert(1)",
            "https://example.edu:-1/",
            "https://user:pass@example.edu/",
            "http://127.0.0.1:1/lineitems",
        ]
    ),
    st.text(max_size=40).map(lambda t: "https://" + t),
    json_values,
)

hostile_claims = st.fixed_dictionaries(
    {},
    optional={
        "name": json_values,
        "given_name": json_values,
        "family_name": json_values,
        "email": json_values,
        "locale": json_values,
        "picture": json_values,
        c.ROLES: json_values | st.lists(st.text(max_size=120), max_size=6),
        c.CONTEXT: json_values | st.fixed_dictionaries({"id": json_values, "title": json_values}),
        c.RESOURCE_LINK: st.fixed_dictionaries(
            {
                "id": st.text(min_size=1, max_size=300)
                | st.integers()
                | st.lists(st.integers(), min_size=1)
            },
            optional={"title": json_values, "description": json_values},
        ),
        c.CUSTOM: json_values,
        c.LAUNCH_PRESENTATION: json_values
        | st.fixed_dictionaries({"return_url": url_like}, optional={"locale": json_values}),
        c.TOOL_PLATFORM: json_values,
        c.AGS_ENDPOINT: json_values
        | st.fixed_dictionaries(
            {"scope": json_values | st.just([SCORE_SCOPE]), "lineitems": url_like},
            optional={"lineitem": url_like},
        ),
        c.NRPS: json_values
        | st.fixed_dictionaries(
            {"context_memberships_url": url_like}, optional={"service_versions": json_values}
        ),
        "https://purl.imsglobal.org/spec/lti/claim/lis": json_values,
        "sub": st.text(min_size=1, max_size=255),
    },
)


@pytest.mark.slow
def test_signed_launches_with_hostile_claims_never_crash_the_tool(app, client, forger):
    examples = figures.fuzz_share(0.07)
    statuses: list[int] = []

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
    @given(changes=hostile_claims)
    def run(changes: dict[str, Any]) -> None:
        fresh = login(client, forger.platform)
        token = forger.sign(forger.claims(fresh.nonce, **changes))
        answer = client.post("/lti/launch", data={"id_token": token, "state": fresh.state})
        body = answer.get_data(as_text=True)
        assert answer.status_code < 500, f"{changes!r} crashed the launch: {body[:500]}"
        assert "Traceback" not in body
        statuses.append(answer.status_code)

    with figures.timed("fuzz /lti/launch signed, hostile claims (cases)"):
        run()
    figures.add("fuzz /lti/launch signed, hostile claims (cases)", len(statuses))
    assert len(statuses) >= examples
