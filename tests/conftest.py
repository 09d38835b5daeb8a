"""Shared fixtures: a real database (SQLite by default, PostgreSQL when
SKILLSIGN_TEST_DATABASE_URL names one), the app, its client and CLI runner.

The schema is migrated once per run with Alembic (never create_all), and every
test that uses it starts from empty tables.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from support.services_platform import IndependentPlatform

from keys import KeyKind, KeyStore
from lti_app import create_app
from lti_app.db import Base
from lti_app.db.engine import make_engine
from lti_app.migrate import upgrade

REPO = Path(__file__).resolve().parents[1]
# Published material the tests check against (schemas, test vectors); see tests/data/SOURCES.md.
TEST_DATA = REPO / "tests" / "data"
DB_FIXTURES = {"database_url", "app", "client", "runner", "db"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Tests that touch a database are marked `db`, so `make test` can run
    # exactly those again on PostgreSQL.
    for item in items:
        if DB_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.db)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "db: uses the test database (runs on SQLite and PostgreSQL)")


@pytest.fixture(scope="session")
def test_data() -> Path:
    return TEST_DATA


@pytest.fixture(scope="session")
def seed_path() -> Path:
    return REPO / "frameworks" / "data" / "psychiatric-technicians.json"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated, empty database for this test run."""
    pg_url = os.environ.get("SKILLSIGN_TEST_DATABASE_URL")
    if not pg_url:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        upgrade(url)
        yield url
        return
    # A schema of its own per run: the shared database is left as it was.
    schema = f"skillsign_test_{secrets.token_hex(4)}"
    admin = make_engine(pg_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(pg_url).update_query_dict({"options": f"-csearch_path={schema}"})
    url_text = url.render_as_string(hide_password=False)
    try:
        upgrade(url_text)
        yield url_text
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _empty_tables(engine) -> None:
    tables = [t.name for t in Base.metadata.sorted_tables]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            quoted = ", ".join(f'"{t}"' for t in tables)
            conn.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
        else:
            for name in reversed(tables):
                conn.execute(text(f'DELETE FROM "{name}"'))


@pytest.fixture
def app(database_url: str, tmp_path: Path):
    application = create_app(
        {
            "ENV": "test",
            "TESTING": True,
            "DATABASE_URL": database_url,
            "INSTANCE_DIR": str(tmp_path / "instance"),
            "SECRET_KEY": "test-secret-" + secrets.token_hex(8),
            "BASE_URL": "http://localhost",
        }
    )
    yield application
    db = application.extensions["skillsign.db"]
    _empty_tables(db.engine)
    db.dispose()


@pytest.fixture
def db(app):
    return app.extensions["skillsign.db"]


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def tool_keys(app) -> KeyStore:
    """The tool's RSA key (LTI), in the app's key store."""
    store = KeyStore(app.config["KEYS_DIR"])
    store.ensure(KeyKind.RSA)
    return store


@pytest.fixture
def lms(tool_keys: KeyStore) -> Iterator[IndependentPlatform]:
    """An independent AGS/NRPS platform on 127.0.0.1 that trusts the tool's key."""
    platform = IndependentPlatform(tool_jwks=tool_keys.public_jwks(KeyKind.RSA)).start()
    yield platform
    platform.stop()
