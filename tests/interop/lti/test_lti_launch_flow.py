"""Complete launches from an independent platform (lti1p3platform) over real HTTP."""

from __future__ import annotations

import re

from sqlalchemy import select
from support.lti_platform import (
    INSTITUTION_ADMIN,
    INSTITUTION_INSTRUCTOR,
    INSTRUCTOR,
    LEARNER,
    TEACHING_ASSISTANT,
    Browser,
    LaunchSpec,
)

from lti_app.db.models import Context, LaunchSession, Membership, ResourceLink, User


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_learner_launch_records_the_course_and_lands_on_not_set_up(platform, browser, db):
    result = browser.launch(
        platform, LaunchSpec(user_id="s-1", roles=[LEARNER], name="Ana Learner", locale="es-MX")
    )
    assert result.launch.status_code == 303, result.launch.text
    assert re.match(r"^/s/[A-Za-z0-9_-]{43}/$", result.launch.headers["Location"])
    assert result.landing.status_code == 200
    # The launch's locale claim picks the language (g.launch_locale), here Spanish.
    assert '<html lang="es">' in result.landing.text and "Ana Learner" in result.landing.text
    with db.transaction() as s:
        user = s.scalars(select(User).where(User.sub == "s-1")).one()
        assert (user.issuer, user.name, user.email) == (
            platform.issuer,
            "Ana Learner",
            "lee@example.edu",
        )
        assert user.locale == "es-MX"
        membership = s.scalars(select(Membership).where(Membership.user_id == user.id)).one()
        assert membership.is_learner and not membership.is_instructor
        assert membership.roles == [LEARNER] and membership.launched
        link = s.scalars(select(ResourceLink)).one()
        assert link.resource_link_id == "link-1" and link.title == "Competency checklist"
        assert link.lineitem_url == f"{platform.url}/lineitems/link-1"
        assert link.lineitems_url == f"{platform.url}/lineitems"
        assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in link.ags_scopes
        context = s.scalars(select(Context)).one()
        assert context.context_id == "course-1"
        assert context.title == "Psychiatric technicians 101"
        assert context.memberships_url == f"{platform.url}/memberships"
        ls = s.scalars(select(LaunchSession)).one()
        assert ls.is_learner and not ls.is_instructor and ls.browser_hash
        # Only the token's hash is stored: the URL's token is not in the table.
        token = result.launch.headers["Location"].split("/")[2]
        assert ls.key != token and len(ls.key) == 64


def test_instructor_sets_up_the_link_then_learners_see_it(platform, browser, seed_version, db):
    teacher = browser.launch(platform, LaunchSpec(user_id="t-1", roles=[INSTRUCTOR], name="Tess"))
    setup = teacher.landing
    assert setup.url.endswith("/setup") and "Choose what this activity covers" in setup.text
    version_id = str(seed_version["id"])
    keys = seed_version["levels"][:2]
    # Without the CSRF token the form is refused.
    refused = browser.http.post(
        setup.url,
        data={"version": version_id, f"scope:{version_id}": "levels", f"levels:{version_id}": keys},
    )
    assert refused.status_code == 400 and "CSRF" in refused.text
    done = browser.http.post(
        setup.url,
        data={
            "csrf_token": _csrf(setup.text),
            "version": version_id,
            f"scope:{version_id}": "levels",
            f"levels:{version_id}": keys,
        },
        allow_redirects=False,
    )
    # Set up: back to the landing page, which sends each role to its own page.
    token = setup.url.split("/")[4]
    assert done.status_code == 303 and done.headers["Location"] == f"/s/{token}/"
    landing = browser.http.get(setup.url.rsplit("/", 1)[0] + "/", allow_redirects=False)
    assert landing.status_code == 303 and landing.headers["Location"].endswith(f"/s/{token}/grid")
    with db.transaction() as s:
        link = s.scalars(select(ResourceLink)).one()
        assert link.framework_version_id == seed_version["id"] and link.level_keys == keys

    learner = Browser().launch(platform, LaunchSpec(user_id="s-2", roles=[LEARNER]))
    assert learner.landing.status_code == 200 and learner.landing.url.endswith("/checklist")
    assert token not in learner.landing.url  # every launch has its own session


def test_teaching_assistant_is_an_instructor(platform, browser, seed_version):
    result = browser.launch(platform, LaunchSpec(user_id="ta-1", roles=[TEACHING_ASSISTANT]))
    assert result.landing.url.endswith("/setup")


def test_institution_instructor_role_grants_nothing(platform, browser, seed_version, db):
    result = browser.launch(platform, LaunchSpec(user_id="inst-1", roles=[INSTITUTION_INSTRUCTOR]))
    assert result.launch.status_code == 303
    assert not result.landing.url.endswith("/setup")
    assert "not set up yet" in result.landing.text
    setup = browser.http.get(result.landing.url + "setup")
    assert setup.status_code == 403
    with db.transaction() as s:
        membership = s.scalars(select(Membership)).one()
        assert membership.roles == [] and not membership.is_instructor
        ls = s.scalars(select(LaunchSession)).one()
        assert not (ls.is_admin or ls.is_instructor or ls.is_learner)


def test_institution_administrator_is_an_admin_of_that_platform_only(platform, browser, db):
    spec = LaunchSpec(user_id="adm-1", roles=[INSTITUTION_INSTRUCTOR, INSTITUTION_ADMIN])
    assert browser.launch(platform, spec).launch.status_code == 303
    with db.transaction() as s:
        ls = s.scalars(select(LaunchSession)).one()
        assert ls.is_admin and not ls.is_tool_admin and not ls.is_instructor


def test_custom_parameters_pin_a_link_on_its_first_launch(platform, browser, seed_version, db):
    level = seed_version["levels"][-1]
    custom = {
        "skillsign_framework": seed_version["identifier"],
        "skillsign_version": seed_version["version"],
        "skillsign_level": level,
    }
    result = browser.launch(platform, LaunchSpec(roles=[LEARNER], custom=custom))
    assert result.landing.url.endswith("/checklist")
    with db.transaction() as s:
        link = s.scalars(select(ResourceLink)).one()
        assert link.level_keys == [level] and link.framework_version_id == seed_version["id"]
    # Later parameters never move a pinned link.
    other = dict(custom, skillsign_level=seed_version["levels"][0])
    Browser().launch(platform, LaunchSpec(user_id="s-9", roles=[LEARNER], custom=other))
    with db.transaction() as s:
        assert s.scalars(select(ResourceLink)).one().level_keys == [level]


def test_bad_custom_parameters_leave_the_link_for_the_setup_page(platform, browser, seed_version):
    custom = {"skillsign_framework": seed_version["identifier"], "skillsign_level": "no-such-level"}
    result = browser.launch(platform, LaunchSpec(roles=[INSTRUCTOR], custom=custom))
    assert result.landing.url.endswith("/setup")
    assert "no level &#39;no-such-level&#39;" in result.landing.text


def test_launch_pages_carry_security_headers(platform, browser):
    result = browser.launch(platform, LaunchSpec())
    headers = result.landing.headers
    csp = headers["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in csp and platform.url in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert "Strict-Transport-Security" not in headers  # plain HTTP
    cookie = result.login.headers["Set-Cookie"]
    assert "skillsign_browser=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_a_launch_url_does_not_work_in_another_browser(platform, browser):
    result = browser.launch(platform, LaunchSpec())
    stranger = Browser().http.get(result.landing.url)
    assert stranger.status_code == 401
    assert "belongs to another browser" in stranger.text


def test_unknown_session_token_gets_a_launch_again_page(tool, browser):
    page = browser.http.get(f"{tool.url}/s/{'A' * 43}/")
    assert page.status_code == 401
    assert "Launch skillsign again from your course" in page.text


def test_two_launches_in_two_tabs_stay_apart(platform, browser, db):
    first = browser.launch(platform, LaunchSpec(context_id="course-A", roles=[LEARNER]))
    second = browser.launch(platform, LaunchSpec(context_id="course-B", roles=[INSTRUCTOR]))
    assert first.landing.url != second.landing.url
    again = browser.http.get(first.landing.url)
    assert "not set up yet" in again.text  # still the learner of course A
    with db.transaction() as s:
        assert len(s.scalars(select(Context)).all()) == 2


def test_admins_table_makes_a_tool_admin(platform, browser, db):
    from lti_app.db.models import Admin

    with db.transaction() as s:
        s.add(Admin(issuer=platform.issuer, sub="boss-1"))
        s.add(Admin(email="Chief@Example.edu"))
    browser.launch(platform, LaunchSpec(user_id="boss-1", roles=[LEARNER]))
    browser.launch(
        platform, LaunchSpec(user_id="chief", email="chief@example.edu", roles=[LEARNER])
    )
    browser.launch(
        platform, LaunchSpec(user_id="other", email="other@example.edu", roles=[LEARNER])
    )
    with db.transaction() as s:
        flags = {
            u.sub: (ls.is_admin, ls.is_tool_admin)
            for ls, u in s.execute(
                select(LaunchSession, User).join(User, User.id == LaunchSession.user_id)
            )
        }
    assert flags == {"boss-1": (True, True), "chief": (True, True), "other": (False, False)}
