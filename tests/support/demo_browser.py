"""Walk the built-in demo LMS and the tool as a browser would (cookies, forms; no JS).

Where a page submits itself with script (the platform's id_token form, the
tool's deep linking return), the walker posts that form, as the script would.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin

import requests

from support.lti_platform import parse_form


class _Forms(HTMLParser):
    """Every form of a page: action and the named inputs' values (hidden and checked)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []
        self._current: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._current = {}
            self.forms.append((values.get("action", ""), self._current))
        elif tag == "input" and self._current is not None and values.get("name"):
            if values.get("type") in ("radio", "checkbox") and "checked" not in values:
                return
            self._current[values["name"]] = values.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def forms(html: str) -> list[tuple[str, dict[str, str]]]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


@dataclass
class Landing:
    launch: requests.Response  # the tool's answer to the id_token POST
    page: requests.Response | None  # where the launch landed (followed)


class DemoBrowser:
    def __init__(self, base_url: str) -> None:
        self.base = base_url
        self.http = requests.Session()

    @property
    def lms(self) -> str:
        return self.base + "/demo-lms"

    def home(self) -> requests.Response:
        page = self.http.get(self.lms + "/", timeout=10)
        assert page.status_code == 200, page.text[:500]
        return page

    def csrf(self) -> str:
        match = re.search(r'name="csrf_token" value="([^"]+)"', self.home().text)
        assert match, "no CSRF token on the demo LMS page"
        return match.group(1)

    def _through_tool(self, start: requests.Response) -> Landing:
        """From the platform's redirect to the tool's login, to the tool's landing page."""
        assert start.status_code == 302, f"{start.status_code}: {start.text[:300]}"
        login = self.http.get(start.headers["Location"], allow_redirects=False, timeout=10)
        assert login.status_code == 302, f"tool login: {login.status_code} {login.text[:300]}"
        auth = self.http.get(login.headers["Location"], allow_redirects=False, timeout=10)
        assert auth.status_code == 200, f"demo auth: {auth.status_code} {auth.text[:500]}"
        action, fields = parse_form(auth.text)
        launch = self.http.post(action, data=fields, allow_redirects=False, timeout=10)
        page = None
        if launch.status_code in (302, 303):
            page = self.http.get(urljoin(launch.url, launch.headers["Location"]), timeout=10)
        return Landing(launch, page)

    def launch(self, link_id: str, user_id: str) -> Landing:
        start = self.http.post(
            self.lms + "/launch",
            data={"csrf_token": self.csrf(), "link_id": link_id, "user_id": user_id},
            allow_redirects=False,
            timeout=10,
        )
        return self._through_tool(start)

    def start_deep_link(self, user_id: str) -> Landing:
        start = self.http.post(
            self.lms + "/deep-link",
            data={"csrf_token": self.csrf(), "user_id": user_id},
            allow_redirects=False,
            timeout=10,
        )
        return self._through_tool(start)

    def submit(
        self, page: requests.Response, data: dict[str, str | list[str]]
    ) -> requests.Response:
        """Submit the page's first form with ``data`` over its hidden fields."""
        action, fields = forms(page.text)[0]
        return self.http.post(
            urljoin(page.url, action), data={**fields, **data}, allow_redirects=False, timeout=10
        )

    def post_form_of(self, page: requests.Response) -> requests.Response:
        """What a self-submitting page's script does: post its first form as it is."""
        action, fields = parse_form(page.text)
        return self.http.post(
            urljoin(page.url, action), data=fields, allow_redirects=False, timeout=10
        )
