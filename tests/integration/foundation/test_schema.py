"""Models and migrations agree; the schema is reachable only through Alembic."""

from __future__ import annotations

from lti_app.migrate import current_revision, schema_diff


def test_migrations_match_models(db):
    # Autogenerate would find nothing to do: the migrated schema is the models' schema.
    assert schema_diff(db.engine) == []


def test_database_is_at_head(db):
    from alembic.script import ScriptDirectory

    from lti_app.migrate import alembic_config

    heads = ScriptDirectory.from_config(alembic_config(db.url)).get_heads()
    assert len(heads) == 1, f"migrations have several heads: {heads}"
    assert current_revision(db.engine) == heads[0]
