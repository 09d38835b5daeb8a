"""Over HTTPS (a self-signed certificate made here): cookie flags and the browser binding.

pylti1p3's cache storage changes behaviour between HTTP and HTTPS (docs/architecture.md §4),
so the binding is tested where it matters: on TLS, with SameSite=None cookies.
"""

from __future__ import annotations

import re

import pytest
from support.lti_platform import INSTRUCTOR, Browser, LaunchPlatform, LaunchSpec
from support.servers import self_signed_cert, serve, server_ssl_context


@pytest.fixture
def https(app, tmp_path):
    cert, key = self_signed_cert(tmp_path)
    server = serve(app, ssl_context=server_ssl_context(cert, key))
    app.config["BASE_URL"] = server.url
    platform = LaunchPlatform().start().connect(server.url)
    platform.register_in(app)
    yield server, platform, cert
    platform.stop()
    server.stop()


def _cookie_attributes(header: str) -> set[str]:
    return {part.strip().split("=")[0].lower() for part in header.split(";")}


def test_cookies_are_samesite_none_secure_httponly(https):
    _server, platform, cert = https
    browser = Browser(verify=str(cert))
    result = browser.launch(platform, LaunchSpec())
    set_cookie = result.login.headers["Set-Cookie"]
    assert set_cookie.startswith("skillsign_browser=")
    assert {"secure", "httponly", "samesite"} <= _cookie_attributes(set_cookie)
    assert "SameSite=None" in set_cookie
    assert result.launch.status_code == 303
    assert result.landing.status_code == 200
    assert result.landing.headers["Strict-Transport-Security"].startswith("max-age=")


def test_https_launch_is_bound_to_the_browser_that_logged_in(https):
    _server, platform, cert = https
    browser = Browser(verify=str(cert))
    login = browser.login(platform, LaunchSpec())
    action, form = browser.authorize(login)
    stranger = Browser(verify=str(cert))
    answer = stranger.post_launch(action, form)
    assert answer.status_code == 401 and "did not send back the cookie" in answer.text
    ok = browser.post_launch(action, form)
    assert ok.status_code == 303
    landing = browser.follow(ok)
    assert landing.status_code == 200
    # The session follows the cookie: the same URL in the stranger's browser is refused.
    assert stranger.http.get(landing.url).status_code == 401


def test_csrf_works_on_https_launch_pages_without_referer(https, seed_version):
    _server, platform, cert = https
    browser = Browser(verify=str(cert))
    result = browser.launch(platform, LaunchSpec(roles=[INSTRUCTOR]))
    token = re.search(r'name="csrf_token" value="([^"]+)"', result.landing.text).group(1)
    version_id = str(seed_version["id"])
    done = browser.http.post(
        result.landing.url,
        data={"csrf_token": token, "version": version_id, f"scope:{version_id}": "all"},
        headers={"Referer": ""},
        allow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["Location"].endswith("/")
