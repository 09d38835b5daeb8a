"""App skeleton: index page, error handlers, configuration."""

from __future__ import annotations

import pytest

from lti_app.config import ConfigError, load_settings


def test_index_lists_loaded_frameworks(client, runner, seed_path):
    empty = client.get("/")
    assert empty.status_code == 200
    assert b"No framework is loaded yet" in empty.data
    runner.invoke(args=["frameworks", "import", str(seed_path)])
    page = client.get("/").get_data(as_text=True)
    assert "Psychiatric Technicians" in page
    for label in ("Emerging", "Developing", "Proficient", "Advanced"):
        assert label in page


def test_html_error_page_for_people(client):
    response = client.get("/no-such-page", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "Traceback" not in response.get_data(as_text=True)


def test_problem_json_under_api(client):
    response = client.get("/api/no-such-endpoint")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == 404 and body["title"]


def test_healthz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_production_requires_secret_key(tmp_path):
    env = {"SKILLSIGN_ENV": "production", "SKILLSIGN_BASE_URL": "https://tool.example"}
    with pytest.raises(ConfigError, match="SKILLSIGN_SECRET_KEY"):
        load_settings(environ=env | {"SKILLSIGN_INSTANCE_DIR": str(tmp_path)})


def test_production_requires_https_base_url(tmp_path):
    env = {
        "SKILLSIGN_ENV": "production",
        "SKILLSIGN_SECRET_KEY": "x" * 40,
        "SKILLSIGN_BASE_URL": "http://tool.example",
        "SKILLSIGN_INSTANCE_DIR": str(tmp_path),
    }
    with pytest.raises(ConfigError, match="https"):
        load_settings(environ=env)


def test_dev_secret_is_generated_once_with_private_mode(tmp_path):
    env = {"SKILLSIGN_INSTANCE_DIR": str(tmp_path)}
    first = load_settings(environ=env)["SECRET_KEY"]
    second = load_settings(environ=env)["SECRET_KEY"]
    assert first == second and len(first) >= 40
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_defaults_put_sqlite_under_instance(tmp_path):
    settings = load_settings(environ={"SKILLSIGN_INSTANCE_DIR": str(tmp_path)})
    assert settings["DATABASE_URL"] == f"sqlite:///{tmp_path / 'skillsign.db'}"
    assert settings["KEYS_DIR"] == str(tmp_path / "keys")


def test_vc_jwt_algorithm_setting(tmp_path) -> None:
    env = {"SKILLSIGN_INSTANCE_DIR": str(tmp_path)}
    assert load_settings(environ=env)["VC_JWT_ALG"] == "RS256"  # OB 3.0 section 8.2's minimum
    assert load_settings(environ=env | {"SKILLSIGN_VC_JWT_ALG": "eddsa"})["VC_JWT_ALG"] == "EdDSA"
    with pytest.raises(ConfigError, match="SKILLSIGN_VC_JWT_ALG"):
        load_settings(environ=env | {"SKILLSIGN_VC_JWT_ALG": "HS256"})
