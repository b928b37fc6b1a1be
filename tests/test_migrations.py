"""The Alembic migrations build exactly the schema the models declare.

Runs on SQLite and, under ``KB_TEST_DATABASE_URL``, on PostgreSQL: the
suite's other tests use ``create_all``, so only these prove that a real
instance, which is migrated, gets the same tables.
"""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, select

from instances import drop_every_table
from kb import create_app
from kb.extensions import db
from kb.migrate import current_revision, head_revision, schema_differences, upgrade_database
from kb.models import City


@pytest.fixture
def empty_db_app(app_config):
    """An app on a database with no tables at all (not even Alembic's)."""
    app = create_app(app_config)
    with app.app_context():
        drop_every_table(db.engine)
        yield app
        db.session.remove()
        drop_every_table(db.engine)
        db.engine.dispose()


def table_names() -> set[str]:
    """The tables in the app's database now."""
    with db.engine.connect() as connection:
        return set(inspect(connection).get_table_names())


def test_upgrade_on_an_empty_database_builds_the_models_schema(empty_db_app):
    assert current_revision() is None

    upgrade_database()

    assert schema_differences() == []
    assert table_names() == set(db.metadata.tables) | {"alembic_version"}
    assert current_revision() == head_revision()


def test_upgrading_twice_changes_nothing_and_keeps_data(empty_db_app):
    upgrade_database()
    db.session.add(City(slug="seoul", name="Seoul", country="South Korea"))
    db.session.commit()

    upgrade_database()

    assert schema_differences() == []
    assert current_revision() == head_revision()
    assert db.session.scalars(select(City.slug)).all() == ["seoul"]


def test_init_command_migrates_and_can_run_again(empty_db_app):
    runner = empty_db_app.test_cli_runner()

    for _ in range(2):
        result = runner.invoke(args=["kb", "init"])
        assert result.exit_code == 0, result.output

    assert schema_differences() == []
    assert current_revision() == head_revision()
