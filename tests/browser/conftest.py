"""Browser tests: the tool (with its demo LMS) on 127.0.0.1, driven by Playwright in
Debian's Chromium, with axe-core checking every page.

Playwright never downloads a browser here: it launches /usr/bin/chromium. Where that
is absent the tests are skipped, saying so; everything else they need (Playwright,
axe-core from tests/browser/node_modules) is installed by `make test`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.servers import serve

from frameworks import bundled_paths, load
from keys import KeyKind, KeyStore
from lti_app.demo import demo_platform, register_with_tool
from lti_app.request_db import database
from lti_app.services.frameworks import import_framework
from lti_app.worker import start_background_worker

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
HERE = Path(__file__).resolve().parent
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = HERE.parents[1] / "test-artifacts" / "screenshots"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(
        reason=f"{CHROMIUM} is absent: apt-get install chromium to run the browser tests"
    )
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def playwright_browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `make node-deps` (npm ci in tests/browser)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def stack(app):
    """The tool with /demo-lms on 127.0.0.1, set up as `skillsign demo` sets it up."""
    server = serve(app)
    app.config["BASE_URL"] = server.url
    KeyStore(app.config["KEYS_DIR"]).ensure(KeyKind.RSA)
    with database(app).transaction() as session:
        for path in bundled_paths():
            import_framework(session, load(path), "ler")
        register_with_tool(session, server.url)
    # The demo delivers the outbox (scores, roster syncs) from a thread of its own process.
    worker = start_background_worker(app, poll_seconds=0.2)
    yield server
    worker.stop()
    server.stop()
    demo_platform(app.extensions["skillsign.demo_lms"]).dispose()


class Pages:
    """A browser tab with the checks every page gets: axe, CSP, screenshots, clicks counted."""

    def __init__(self, context: Any, base_url: str) -> None:
        self.context = context
        self.page = context.new_page()
        self.base_url = base_url
        self.clicks = 0
        self.console_errors: list[str] = []
        self.page.on(
            "console",
            lambda msg: self.console_errors.append(msg.text) if msg.type == "error" else None,
        )
        self.page.on("pageerror", lambda exc: self.console_errors.append(str(exc)))

    def goto(self, path: str) -> Any:
        url = path if path.startswith("http") else self.base_url + path
        return self.page.goto(url)

    def click(self, selector: str) -> None:
        """A click a person makes (counted for the 'fewer than 10 clicks' goal)."""
        self.clicks += 1
        self.page.click(selector)

    def check_accessibility(self, name: str) -> list[dict[str, Any]]:
        """Run axe-core on the page; fail on serious or critical violations."""
        result = self.page.evaluate(
            "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})",
            AXE_TAGS,
        )
        bad = [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
        details = json.dumps(
            [
                {
                    "id": v["id"],
                    "impact": v["impact"],
                    "help": v["help"],
                    "nodes": [n["target"] for n in v["nodes"][:5]],
                }
                for v in bad
            ],
            indent=1,
        )
        assert not bad, f"axe on {name} ({self.page.url}): {details}"
        csp = [e for e in self.console_errors if "Content Security Policy" in e]
        assert not csp, f"CSP violations on {name}: {csp}"
        return result["violations"]

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def visit(self, name: str) -> None:
        """The checks for one page: accessibility, then a screenshot."""
        self.page.wait_for_load_state("load")
        self.check_accessibility(name)
        self.screenshot(name)


@pytest.fixture
def tab(playwright_browser, stack) -> Iterator[Pages]:
    context = playwright_browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="en-US"
    )
    # axe-core is added as an init script (through the DevTools protocol), so the pages'
    # own CSP (no inline or foreign script) stays in force while it runs.
    context.add_init_script(path=str(AXE))
    pages = Pages(context, stack.url)
    yield pages
    context.close()


@pytest.fixture
def new_tab(playwright_browser, stack):
    """More tabs, each with its own viewport width and browser language (axe on each)."""
    contexts: list[Any] = []

    def make(width: int = 1280, locale: str = "en-US", **options: Any) -> Pages:
        context = playwright_browser.new_context(
            viewport={"width": width, "height": 800}, locale=locale, **options
        )
        context.add_init_script(path=str(AXE))
        contexts.append(context)
        return Pages(context, stack.url)

    yield make
    for context in contexts:
        context.close()
