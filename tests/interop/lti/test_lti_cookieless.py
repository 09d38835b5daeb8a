"""Cookie-less frames: platform storage (lti_storage_target) and the cookie check page."""

from __future__ import annotations

import re

from support.lti_platform import Browser, LaunchSpec, parse_form


def _attr(html: str, name: str) -> str:
    return re.search(rf'{name}="([^"]*)"', html).group(1).replace("&amp;", "&")


def test_platform_storage_binds_a_launch_without_cookies(platform):
    browser = Browser()
    login = browser.login(platform, LaunchSpec(storage_target="post_message_forwarding"))
    # The login page stores state and nonce in the platform's frame before going on.
    assert login.status_code == 200
    page = login.text
    assert 'data-mode="put"' in page and 'src="/static/js/lti-storage.js"' in page
    assert _attr(page, "data-target") == "post_message_forwarding"
    assert _attr(page, "data-origin") == platform.url
    auth_url = _attr(page, "data-auth-url")
    state = _attr(page, "data-state")
    assert f"state={state}" in auth_url

    # The frame kept no cookie (third-party cookies blocked): drop them all.
    browser.http.cookies.clear()
    auth = browser.http.get(auth_url)
    action, form = parse_form(auth.text)
    check = browser.post_launch(action, form)
    assert check.status_code == 200 and 'data-mode="get"' in check.text
    assert _attr(check.text, "data-state") == state
    confirm_action, ticket = parse_form(check.text)
    assert confirm_action == "/lti/launch/confirm"
    # The page's script read state and nonce back from the platform and confirms:
    done = browser.http.post(platform.tool_url + confirm_action, data=ticket, allow_redirects=False)
    assert done.status_code == 303
    landing = browser.http.get(platform.tool_url + done.headers["Location"])
    assert landing.status_code == 200 and "not set up yet" in landing.text
    # A ticket works once.
    again = browser.http.post(
        platform.tool_url + confirm_action, data=ticket, allow_redirects=False
    )
    assert again.status_code == 401


def test_pending_storage_launch_cannot_be_used_before_confirmation(platform):
    browser = Browser()
    login = browser.login(platform, LaunchSpec(storage_target="_parent"))
    browser.http.cookies.clear()
    action, form = parse_form(browser.http.get(_attr(login.text, "data-auth-url")).text)
    check = browser.post_launch(action, form)
    ticket = parse_form(check.text)[1]["ticket"]
    page = browser.http.get(f"{platform.tool_url}/s/{ticket}/")
    assert page.status_code == 401 and "not completed" in page.text


def test_framed_login_without_cookie_gets_the_cookie_check(platform):
    browser = Browser(headers={"Sec-Fetch-Dest": "iframe"})
    login = browser.login(platform, LaunchSpec())
    assert login.status_code == 200
    assert 'src="/static/js/cookie-check.js"' in login.text
    link = re.search(r'href="(/lti/login\?[^"]+)" target="_blank"', login.text).group(1)
    assert "new_window=1" in link and "login_hint=" in link
    # Once our cookie came back from this frame, cookies work here: no check page.
    again = browser.login(platform, LaunchSpec())
    assert again.status_code == 302


def test_top_level_login_skips_the_cookie_check(platform):
    browser = Browser(headers={"Sec-Fetch-Dest": "document"})
    result = browser.launch(platform, LaunchSpec())
    assert result.login.status_code == 302 and result.landing.status_code == 200
