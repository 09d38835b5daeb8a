"""The link setup page in the launch's language: why custom parameters were not used (a
uuid with another version, an unknown framework), the form's button and its refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.adversarial_launch import TOOL_URL, launch
from support.lti_platform import INSTRUCTOR, LaunchPlatform, LaunchSpec

SEED = Path(__file__).resolve().parents[3] / "frameworks" / "data" / "psychiatric-technicians.json"


@pytest.fixture
def platform(app, runner):
    made = LaunchPlatform(client_id="client-lang").start().connect(TOOL_URL)
    made.platform_id = made.register_in(app)
    imported = runner.invoke(args=["frameworks", "import", str(SEED), "--json"])
    assert imported.exit_code == 0, imported.output
    made.version_id = json.loads(imported.output)["id"]
    yield made
    made.stop()


def _setup_page(app, platform, *, locale: str, custom: dict[str, str], link: str) -> str:
    client = app.test_client()
    spec = LaunchSpec(
        user_id=f"teacher-{link}",
        roles=[INSTRUCTOR],
        resource_link_id=link,
        custom=custom,
        locale=locale,
    )
    done = launch(client, platform, spec)
    assert done.status == 303
    page = client.get(f"/s/{done.token}/setup")
    assert page.status_code == 200
    return page.get_data(as_text=True)


def test_a_mismatched_version_is_explained_in_spanish(app, platform):
    custom = {"skillsign_framework": platform.version_id, "skillsign_version": "v.25.01"}
    page = _setup_page(app, platform, locale="es-ES", custom=custom, link="mismatch-es")
    assert '<html lang="es">' in page
    assert "No se usaron los parámetros personalizados del enlace" in page
    assert "set skillsign_version" not in page
    assert "skillsign_version=v.26.05" in page  # the value to set, whatever the language
    assert "Usar para este enlace" in page and "Use for this link" not in page


def test_the_same_in_english(app, platform):
    custom = {"skillsign_framework": platform.version_id, "skillsign_version": "v.25.01"}
    page = _setup_page(app, platform, locale="en", custom=custom, link="mismatch-en")
    assert (
        "The link&#39;s custom parameters were not used: the framework version "
        f"{platform.version_id} is onet-soc:29-2053.00 version &#39;v.26.05&#39;, not "
        "&#39;v.25.01&#39;: set skillsign_version=v.26.05 or leave it out."
    ) in page


def test_a_uuid_with_its_own_version_pins_the_link(app, platform):
    client = app.test_client()
    spec = LaunchSpec(
        user_id="teacher-ok",
        roles=[INSTRUCTOR],
        resource_link_id="uuid-ok",
        custom={"skillsign_framework": platform.version_id, "skillsign_version": "v.26.05"},
    )
    done = launch(client, platform, spec)
    assert done.status == 303
    assert client.get(f"/s/{done.token}/setup").status_code == 302  # already set up
