"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from tests.conftest import make_config
from tests.pg_server import create_database
from webapp import create_app
from webapp.extensions import db
from webapp.models import Base


def _fresh_database_url(database_url: str, tmp_path: Path) -> str:
    if database_url.startswith("postgresql"):
        return create_database(database_url, "nhatky_migration_check")
    return f"sqlite:///{tmp_path / 'migrated.sqlite3'}"


def test_migrations_match_models_and_downgrade_cleanly(database_url: str, tmp_path: Path):
    app = create_app(make_config(_fresh_database_url(database_url, tmp_path), tmp_path))
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "render_as_batch": True}
            )
            diff = compare_metadata(context, Base.metadata)
        assert diff == [], f"models and migrations disagree: {diff}"
        downgrade(revision="base")
        remaining = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert remaining == set()
        db.engine.dispose()
