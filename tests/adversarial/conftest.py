"""Fixtures for the adversarial suite: an independent platform registered with the tool,
PostgreSQL-only tests skipped (with the reason) elsewhere, and the figures of the run."""

from __future__ import annotations

import pytest
from support import adversarial_figures as figures
from support.adversarial_launch import TOOL_URL, Forger
from support.lti_platform import LaunchPlatform

# Files whose tests are multi-step attacks an outsider could run with only the public URLs.
CHAIN_FILES = ("test_adv_attack_chains.py",)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and report.nodeid.split("::")[0].endswith(CHAIN_FILES):
        figures.add(f"attack chains {report.outcome}")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = figures.report()
    if lines:
        terminalreporter.section("adversarial figures")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture(autouse=True)
def _postgres_only(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("postgres_only") is None:
        return
    url = request.getfixturevalue("database_url")
    if not url.startswith("postgresql"):
        pytest.skip(
            "needs PostgreSQL: row locks and concurrent writers (set SKILLSIGN_TEST_DATABASE_URL)"
        )


@pytest.fixture
def lti_platform(app):
    """An independent LTI platform on 127.0.0.1, registered (deployment approved) with the app,
    whose launches target the app as Flask's test client reaches it."""
    platform = LaunchPlatform().start().connect(TOOL_URL)
    platform.platform_id = platform.register_in(app)
    yield platform
    platform.stop()


@pytest.fixture
def forger(app, client, lti_platform) -> Forger:
    return Forger(lti_platform, client)
