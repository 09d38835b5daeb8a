"""Platforms and deployments are cached per process, yet a change is seen at the next step.

The cache (lti_app/lti/registry_cache.py) is checked against the registry's stamp, which
every login and launch statement brings back; the change here is made outside the app, on a
connection of its own, as another process (the CLI, another worker) would make it.
"""

from __future__ import annotations

from support.lti_platform import LEARNER, Browser, LaunchSpec

from lti_app.db.engine import Database
from lti_app.db.models import Platform
from lti_app.services import registry


def _remove_deployment(database_url: str, platform_id: int, deployment_id: str) -> None:
    other = Database(database_url)  # another process's engine: nothing shared with the app
    try:
        with other.transaction() as session:
            platform = session.get(Platform, platform_id)
            assert platform is not None
            assert registry.remove_deployment(session, platform, deployment_id)
    finally:
        other.dispose()


def test_a_removed_deployment_is_refused_at_once(platform, database_url) -> None:
    spec = LaunchSpec(user_id="s-1", roles=[LEARNER])
    assert Browser().launch(platform, spec).launch.status_code == 303  # cached now
    # A login made before the removal, whose launch arrives after it.
    browser = Browser()
    action, form = browser.authorize(browser.login(platform, spec))

    _remove_deployment(database_url, platform.platform_id, platform.deployment_id)

    late = browser.post_launch(action, form)
    assert late.status_code == 403, late.text[:300]
    assert "waits for a skillsign administrator" in late.text
    login = Browser().login(platform, spec)
    assert login.status_code == 403, login.text[:300]


def test_a_new_deployment_is_accepted_without_waiting(platform, database_url) -> None:
    """A cached refusal does not outlive the change that lifts it (an approval)."""
    spec = LaunchSpec(user_id="s-2", roles=[LEARNER])
    _remove_deployment(database_url, platform.platform_id, platform.deployment_id)
    assert Browser().login(platform, spec).status_code == 403  # refused, and cached
    other = Database(database_url)
    try:
        with other.transaction() as session:
            found = session.get(Platform, platform.platform_id)
            assert found is not None
            registry.record_deployment(session, found, platform.deployment_id, approved=True)
    finally:
        other.dispose()
    assert Browser().launch(platform, spec).launch.status_code == 303


def test_unknown_issuers_are_not_kept(tool, db) -> None:
    """Anyone can send logins naming random issuers: none of them stays in the cache."""
    import requests

    from lti_app.lti import registry_cache

    registry_cache.clear()  # what earlier tests left (a stale stamp) would hide the point
    for n in range(3):
        answer = requests.get(
            f"{tool.url}/lti/login",
            params={
                "iss": f"https://stranger-{n}.example",
                "login_hint": "x",
                "target_link_uri": f"{tool.url}/lti/launch",
            },
            allow_redirects=False,
            timeout=10,
        )
        assert answer.status_code == 403
    assert not [key for key in registry_cache._cache if key[1].startswith("https://stranger-")]


def test_a_login_after_a_registry_change_leaves_one_state(platform, database_url, db) -> None:
    """The stamp says the cache is stale, so the login runs again on fresh rows: the state
    its first run committed is dropped, and exactly one state stays behind."""
    from sqlalchemy import func, select

    from lti_app.db.models import LaunchData

    spec = LaunchSpec(user_id="s-3", roles=[LEARNER])
    assert Browser().launch(platform, spec).launch.status_code == 303  # cached now
    other = Database(database_url)
    try:  # a change elsewhere (here: the platform's name) moves the registry's stamp
        with other.transaction() as session:
            found = session.get(Platform, platform.platform_id)
            assert found is not None
            found.name = "Renamed elsewhere"
    finally:
        other.dispose()

    def states() -> int:
        with db.transaction() as session:
            return session.scalar(select(func.count()).select_from(LaunchData)) or 0

    before = states()
    assert Browser().login(platform, spec).status_code in (200, 302)
    assert states() == before + 1
