"""Deep Linking round trip with the independent platform, and the link it creates."""

from __future__ import annotations

import re

from sqlalchemy import select
from support.lti_platform import INSTRUCTOR, LEARNER, Browser, LaunchSpec, parse_form

from lti_app.db.models import ResourceLink


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_deep_linking_round_trip_creates_a_pinned_link(platform, browser, seed_version, db):
    result = browser.launch(platform, LaunchSpec(roles=[INSTRUCTOR], deep_linking=True))
    page = result.landing
    assert page.status_code == 200 and page.url.endswith("/deep-link"), page.text[:300]
    version_id = str(seed_version["id"])
    levels = seed_version["levels"][1:3]
    answer = browser.http.post(
        page.url,
        data={
            "csrf_token": _csrf(page.text),
            "version": version_id,
            f"scope:{version_id}": "levels",
            f"levels:{version_id}": levels,
        },
    )
    assert answer.status_code == 200
    assert 'src="/static/js/autosubmit.js"' in answer.text and "<script>" not in answer.text
    action, fields = parse_form(answer.text)
    assert action == f"{platform.url}/deep-link-return"
    # The browser's auto-submit: the platform (lti1p3platform) verifies our signature.
    returned = browser.http.post(action, data=fields)
    assert returned.status_code == 200, returned.text
    (items,) = platform.deep_link_items
    (item,) = items
    assert item["type"] == "ltiResourceLink"
    assert item["url"] == f"{platform.tool_url}/lti/launch"
    assert item["custom"] == {
        "skillsign_framework": seed_version["identifier"],
        "skillsign_version": seed_version["version"],
        "skillsign_level": ",".join(levels),
    }
    expected_max = sum(seed_version["counts"][k] for k in levels)
    assert item["lineItem"]["scoreMaximum"] == expected_max
    assert item["lineItem"]["label"] == item["title"]

    # The platform creates the link with those custom parameters; its first launch pins it.
    learner = Browser().launch(
        platform, LaunchSpec(roles=[LEARNER], resource_link_id="dl-link", custom=item["custom"])
    )
    assert learner.landing.status_code == 200 and learner.landing.url.endswith("/checklist")
    with db.transaction() as s:
        link = s.scalars(
            select(ResourceLink).where(ResourceLink.resource_link_id == "dl-link")
        ).one()
        assert link.framework_version_id == seed_version["id"] and link.level_keys == levels


def test_whole_framework_choice_sends_no_level(platform, browser, seed_version):
    result = browser.launch(platform, LaunchSpec(roles=[INSTRUCTOR], deep_linking=True))
    version_id = str(seed_version["id"])
    answer = browser.http.post(
        result.landing.url,
        data={
            "csrf_token": _csrf(result.landing.text),
            "version": version_id,
            f"scope:{version_id}": "all",
        },
    )
    action, fields = parse_form(answer.text)
    browser.http.post(action, data=fields)
    (item,) = platform.deep_link_items[0]
    assert "skillsign_level" not in item["custom"]
    assert item["lineItem"]["scoreMaximum"] == sum(seed_version["counts"].values())


def test_deep_linking_needs_an_instructor(platform, browser, seed_version):
    result = browser.launch(platform, LaunchSpec(roles=[LEARNER], deep_linking=True))
    assert result.landing.status_code == 403


def test_choosing_no_level_is_refused_with_a_message(platform, browser, seed_version):
    result = browser.launch(platform, LaunchSpec(roles=[INSTRUCTOR], deep_linking=True))
    version_id = str(seed_version["id"])
    answer = browser.http.post(
        result.landing.url,
        data={
            "csrf_token": _csrf(result.landing.text),
            "version": version_id,
            f"scope:{version_id}": "levels",
        },
    )
    assert answer.status_code == 400 and "Choose at least one level" in answer.text
    assert platform.deep_link_items == []
