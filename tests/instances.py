"""Test instances: each test's database and index, copied from templates built once.

Building an instance (tables, an index, the seed data a test asks for) costs
far more than a test's own requests, so it happens once per session and
xdist worker: the first test that needs a given set of *seeds* builds a
template of it, and every test gets a copy of its template (a file copy on
SQLite, the template schema's rows on PostgreSQL, and a copy of the index
folder).

A seed is a data fixture declared with :func:`seed`: its builder runs once
inside the template's app context and returns plain values (ids, slugs),
which the fixture hands every test built on that template. A template holds
the seeds a test asks for (directly or through other fixtures) and those
they build on, built in one fixed order, so the same ids come back on every
run and every worker.

``KB_TEST_DATABASE_URL`` names a PostgreSQL database used only to reach the
server (and by the live-server tests, for schemas of their own): each worker
works in a database of its own named after it, dropped when the session ends.
"""

from __future__ import annotations

import copy
import inspect as pyinspect
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

BASE_DATABASE_URL = os.environ.get("KB_TEST_DATABASE_URL", "")
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
SECRET_KEY = "test-secret-key"
DATABASE_FILE = "kb.sqlite"


def _renamed(url: str, database: str) -> str:
    return make_url(url).set(database=database).render_as_string(hide_password=False)


def _worker_database() -> str:
    return f"{make_url(BASE_DATABASE_URL).database}_{WORKER}" if BASE_DATABASE_URL else ""


# The database the tests of this worker run on (empty string: SQLite files).
TEST_DATABASE_URL = _renamed(BASE_DATABASE_URL, _worker_database()) if BASE_DATABASE_URL else ""


def drop_every_table(engine) -> None:
    """Empty a test database, tables that no model declares included.

    ``db.drop_all`` knows only today's models: a table left by an older
    schema or by Alembic would make the next ``create_all`` or upgrade fail.
    """
    with engine.begin() as connection:
        quote = connection.dialect.identifier_preparer.quote
        # SQLite has no CASCADE; its test databases are fresh files anyway.
        cascade = " CASCADE" if connection.dialect.name == "postgresql" else ""
        for table in inspect(connection).get_table_names():
            connection.execute(text(f"DROP TABLE IF EXISTS {quote(table)}{cascade}"))


# -- PostgreSQL: this worker's database and the schemas in it ---------------------


class Server:
    """This worker's PostgreSQL database: made at the start, its schemas copied, dropped at the end.

    Templates are schemas of that database and each test runs in its
    ``public`` schema, whose rows are replaced by a template's before the
    test: far cheaper than a ``CREATE DATABASE`` per test, which copies the
    whole system catalogue through the write-ahead log.
    """

    def __init__(self, url: str):
        options = {"poolclass": NullPool, "connect_args": {"connect_timeout": 10}}
        # CREATE and DROP DATABASE cannot run inside a transaction.
        self._server = create_engine(make_url(url).set(drivername="postgresql+psycopg"),
                                     isolation_level="AUTOCOMMIT", **options)
        self._worker = create_engine(make_url(TEST_DATABASE_URL or url)
                                     .set(drivername="postgresql+psycopg"), **options)

    def may_copy_schemas(self) -> bool:
        """Whether the role may turn foreign-key triggers off for a copy (superusers may)."""
        with self._server.connect() as connection:
            return bool(connection.scalar(text(
                "SELECT rolsuper FROM pg_roles WHERE rolname = current_user")))

    def create_worker_database(self) -> None:
        """Make this worker's database anew (an earlier run may have left one)."""
        self.drop_worker_database()
        with self._server.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{_worker_database()}"'))

    def drop_worker_database(self) -> None:
        """Drop this worker's database if it exists, closing what still holds it open."""
        with self._server.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{_worker_database()}" WITH (FORCE)'))

    def copy_schema(self, source: str | None, target: str) -> None:
        """Make schema ``target`` hold ``source``'s rows and sequence positions (none: empty).

        ``target`` gets the models' tables first when its tables or columns
        differ from theirs (a migration test leaves Alembic's). Connections left open on
        the database by an earlier test are closed, so no lock they hold
        makes the copy wait.
        """
        from kb.extensions import db

        tables = db.metadata.sorted_tables
        with self._worker.connect() as connection, connection.begin():
            connection.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"))
            present = {tuple(row) for row in connection.execute(text(
                "SELECT table_name, column_name FROM information_schema.columns"
                " WHERE table_schema = :schema"), {"schema": target})}
            wanted = {(table.name, column.name) for table in tables for column in table.columns}
            if present != wanted:
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{target}" CASCADE'))
                connection.execute(text(f'CREATE SCHEMA "{target}"'))
                connection.execute(text(f'SET LOCAL search_path TO "{target}"'))
                db.metadata.create_all(connection)
            if source is None:
                return
            # Rows go out and in table by table; foreign keys are whole again at the end.
            # DELETE, not TRUNCATE: on tables this small, TRUNCATE's new files cost far more.
            connection.execute(text("SET LOCAL session_replication_role = replica"))
            for table in tables:
                connection.execute(text(f'DELETE FROM "{target}"."{table.name}"'))
                columns = ", ".join(f'"{column.name}"' for column in table.columns)
                connection.execute(text(
                    f'INSERT INTO "{target}"."{table.name}" ({columns})'
                    f' SELECT {columns} FROM "{source}"."{table.name}"'))
            positions = dict(connection.execute(text(
                "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = :schema"),
                {"schema": source}).all())
            for sequence, value in positions.items():
                connection.execute(text("SELECT setval(:sequence, :value, :called)"), {
                    "sequence": f'"{target}"."{sequence}"', "value": value or 1,
                    "called": value is not None})

    def dispose(self) -> None:
        """Close the administrative connections."""
        self._server.dispose()
        self._worker.dispose()


# -- Seeds ------------------------------------------------------------------------


@dataclass(frozen=True)
class Seed:
    """A data fixture built into templates: where it is declared, its name, what it builds on."""

    module: str
    name: str
    needs: tuple[str, ...]
    build: Callable[..., object]


# Seeds by the module that declares them (conftest's serve every module).
SEEDS: dict[str, dict[str, Seed]] = {}


def seed(*needs: str):
    """Declare the decorated builder as a seed fixture of the same name.

    The builder runs once per template inside the template app's context,
    receives the values of the seeds it ``needs`` as keyword arguments (and
    the template ``app`` if it asks for one), commits what it makes and
    returns plain values. The fixture gives each test a copy of them.
    """
    def declare(build: Callable[..., object]):
        declared = Seed(build.__module__, build.__name__, needs, build)
        SEEDS.setdefault(declared.module, {})[declared.name] = declared

        @pytest.fixture(name=build.__name__)
        def values(instance):
            return copy.deepcopy(instance.values[build.__name__])

        values.__doc__ = build.__doc__
        return values

    return declare


def _visible_seeds(module: str) -> dict[str, Seed]:
    # A test sees the seeds of the conftest files above it and of its own module; the
    # nearer declaration of a name wins, as with pytest's fixtures.
    def distance(declared_in: str) -> int:
        if declared_in == module:
            return 0
        package = declared_in.removesuffix("conftest")
        if declared_in.endswith("conftest") and module.startswith(package):
            return 1 + module.count(".") - package.count(".")
        return -1
    visible: dict[str, Seed] = {}
    for declared_in in sorted((name for name in SEEDS if distance(name) >= 0),
                              key=distance, reverse=True):
        visible.update(SEEDS[declared_in])
    return visible


def seeds_for(module: str, fixturenames) -> tuple[Seed, ...]:
    """The seeds a test of ``module`` using ``fixturenames`` needs, in the order they are built.

    Dependencies come first; otherwise seeds go by name, so one set of seeds
    always builds in one order and gives the same ids.
    """
    visible = _visible_seeds(module)
    wanted: set[str] = set()

    def want(name: str, wanted_by: str) -> None:
        if name not in visible:
            raise LookupError(f"seed {wanted_by!r} builds on {name!r}, which no conftest"
                              f" above {module} nor the module itself declares with @seed")
        if name not in wanted:
            wanted.add(name)
            for need in visible[name].needs:
                want(need, name)

    for name in fixturenames:
        if name in visible:
            want(name, name)
    ordered: list[Seed] = []
    placed: set[str] = set()
    while len(ordered) < len(wanted):
        ready = sorted(name for name in wanted - placed
                       if all(need in placed for need in visible[name].needs))
        if not ready:
            raise LookupError(f"the seeds {sorted(wanted - placed)} build on one another"
                              " in a circle")
        ordered.append(visible[ready[0]])
        placed.add(ready[0])
    return tuple(ordered)


# -- Instances and their templates ------------------------------------------------


@dataclass
class Instance:
    """One test's instance: where its files and database are, and its seeds' values."""

    path: Path  # the instance folder (the index lives in its ``index``)
    database_url: str
    schema: str | None = None  # on PostgreSQL, the schema its tables live in
    values: dict = field(default_factory=dict)

    def config(self) -> dict:
        """The test app's configuration for this instance."""
        return {
            "TESTING": True,
            "INSTANCE_PATH": str(self.path),
            "SECRET_KEY": SECRET_KEY,
            "DATABASE_URL": self.database_url,
            "WTF_CSRF_ENABLED": False,
            "SERVER_NAME": None,
        }


class Templates:
    """This worker's templates, built on first use; hands out copies of them."""

    def __init__(self, root: Path):
        self._root = root
        self._built: dict[tuple[str, ...], Instance] = {}
        self._server = Server(BASE_DATABASE_URL) if BASE_DATABASE_URL else None
        if self._server:
            self._server.create_worker_database()

    def close(self) -> None:
        """Drop this worker's database."""
        if self._server:
            self._server.drop_worker_database()
            self._server.dispose()

    def _new_instance(self, folder: Path, schema: str) -> Instance:
        if not self._server:
            return Instance(folder / "instance", f"sqlite:///{folder / DATABASE_FILE}")
        url = make_url(TEST_DATABASE_URL)
        if schema != "public":
            url = url.update_query_dict({"options": f"-csearch_path={schema}"})
        return Instance(folder / "instance", url.render_as_string(hide_password=False), schema)

    def template(self, seeds: tuple[Seed, ...]) -> Instance:
        """The template holding ``seeds``, built now from the longest built prefix if new."""
        key = tuple(f"{s.module}.{s.name}" for s in seeds)
        if key in self._built:
            return self._built[key]
        # The parent first: templates are numbered in the order they are built.
        parent = self.template(seeds[:-1]) if key else None
        number = len(self._built)
        instance = self._new_instance(self._root / f"t{number}", f"t{number}")
        if parent is None:
            self._build_empty(instance)
        else:
            self._copy_to(parent, instance)
            instance.values = dict(parent.values)
            self._build(instance, seeds[-1])
        self._built[key] = instance
        return instance

    def _copy_to(self, source: Instance | None, target: Instance) -> None:
        """Give ``target`` the database and index of ``source`` (none: empty tables)."""
        target.path.mkdir(parents=True, exist_ok=True)
        if self._server:
            self._server.copy_schema(source and source.schema, target.schema)
        elif source:
            shutil.copyfile(make_url(source.database_url).database,
                            make_url(target.database_url).database)
        if source:
            shutil.copytree(source.path / "index", target.path / "index")

    def _build_empty(self, instance: Instance) -> None:
        from kb import create_app, search
        from kb.extensions import db

        self._copy_to(None, instance)
        app = create_app(instance.config())
        with app.app_context():
            db.create_all()
            search.ensure_index()
            db.session.remove()
            db.engine.dispose()

    def _build(self, instance: Instance, built: Seed) -> None:
        from kb import create_app, search
        from kb.extensions import db

        app = create_app(instance.config())
        with app.app_context():
            arguments = {need: copy.deepcopy(instance.values[need]) for need in built.needs}
            if "app" in pyinspect.signature(built.build).parameters:
                arguments["app"] = app
            instance.values[built.name] = built.build(**arguments)
            db.session.commit()
            # Each copy must start with the index holding every committed change.
            search.catch_up()
            db.session.remove()
            db.engine.dispose()

    def copy_for_test(self, seeds: tuple[Seed, ...], path: Path) -> Instance:
        """A fresh instance in ``path`` copied from the template of ``seeds``."""
        template = self.template(seeds)
        instance = self._new_instance(path, "public")
        # Each seed fixture hands out its own deep copy of these.
        instance.values = template.values
        self._copy_to(template, instance)
        return instance
