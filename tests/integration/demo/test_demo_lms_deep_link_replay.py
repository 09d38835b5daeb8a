"""The demo LMS acts on a deep linking response once: the same signed response posted again
(a reload, or someone who saw it) is refused, and no second activity appears."""

from __future__ import annotations

import re
import time

from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import func, select
from support.lti_platform import parse_form

from keys import KeyKind, KeyStore
from lti_app.demo.messages import LTI
from lti_app.demo.models import DemoLineItem, DemoLink, DemoUsedDeepLinkResponse
from lti_app.demo.oidc import DL_DATA
from lti_app.demo.seed import COURSE_ID, PRESET_LINK_ID


def _links(lms) -> tuple[int, int]:
    with lms.transaction() as db:
        links = db.scalar(
            select(func.count()).select_from(DemoLink).where(DemoLink.id != PRESET_LINK_ID)
        )
        items = db.scalar(select(func.count()).select_from(DemoLineItem))
    return links, items


def test_a_replayed_deep_linking_response_adds_nothing(browser, lms):
    landing = browser.start_deep_link("demo-instructor")
    assert landing.page is not None and landing.page.status_code == 200
    version_id = re.search(r'name="version" value="([^"]+)"', landing.page.text).group(1)
    answer = browser.submit(
        landing.page,
        {
            "version": version_id,
            f"scope:{version_id}": "levels",
            f"levels:{version_id}": "emerging",
        },
    )
    assert answer.status_code == 200, answer.text[:500]
    action, fields = parse_form(answer.text)  # the tool's self-submitting return form
    assert set(fields) >= {"JWT"}
    before = _links(lms)

    first = browser.http.post(action, data=fields, allow_redirects=False, timeout=10)
    assert first.status_code == 303, first.text[:500]
    after_first = _links(lms)
    assert after_first == (before[0] + 1, before[1] + 1)

    again = browser.http.post(action, data=fields, allow_redirects=False, timeout=10)
    assert again.status_code == 400
    assert "This deep linking response was already used, so nothing was added again." in again.text
    assert _links(lms) == after_first  # no duplicate link, no duplicate line item
    with lms.transaction() as db:
        assert db.scalar(select(func.count()).select_from(DemoUsedDeepLinkResponse)) == 1


def test_a_deep_linking_response_without_jti_is_refused(app, browser, lms):
    """The tool always sends one; a response without it could be replayed, so it is refused."""
    store = KeyStore(app.config["KEYS_DIR"])
    record = store.active(KeyKind.RSA)  # the tool's own key: only the missing jti is wrong
    settings = lms.settings
    now = int(time.time())
    token = jwt.encode(
        {"alg": "RS256", "kid": record.kid},
        {
            "iss": settings.client_id,
            "aud": settings.issuer,
            "iat": now,
            "exp": now + 60,
            "nonce": "n",
            LTI + "message_type": "LtiDeepLinkingResponse",
            LTI + "version": "1.3.0",
            LTI + "deployment_id": settings.deployment_id,
            DL_DATA: lms.make_hint({"type": "dl_data", "course": COURSE_ID}),
        },
        RSAKey.import_key(store.private_key(record.kid)),
    )
    before = _links(lms)
    answer = browser.http.post(browser.lms + "/deep-link-return", data={"JWT": token}, timeout=10)
    assert answer.status_code == 400
    assert "no jti" in answer.text
    assert _links(lms) == before
