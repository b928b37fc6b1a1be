"""Test instances: each test's database and index, copied from templates built once.

Building an instance (tables, an index, the seed data a test asks for) costs
far more than a test's own requests, so it happens once per session and
xdist worker: the first test that needs a given set of *seeds* builds a
template of it, and every test gets a copy of its template (a file copy on
SQLite, ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL, and a copy of the
index folder).

A seed is a data fixture declared with :func:`seed`: its builder runs once
inside the template's app context and returns plain values (ids, slugs),
which the fixture hands every test built on that template. A template holds
the seeds a test asks for (directly or through other fixtures) and those
they build on, built in one fixed order, so the same ids come back on every
run and every worker.

``KB_TEST_DATABASE_URL`` names a PostgreSQL database used only to reach the
server: each worker works in databases of its own named after it, dropped
when the session ends.
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


# -- PostgreSQL databases of this worker -------------------------------------------


class Server:
    """Creates and drops this worker's PostgreSQL databases through the base URL."""

    def __init__(self, url: str):
        self._engine = create_engine(make_url(url).set(drivername="postgresql+psycopg"),
                                     isolation_level="AUTOCOMMIT", poolclass=NullPool,
                                     connect_args={"connect_timeout": 10})

    def _run(self, statement: str) -> None:
        with self._engine.connect() as connection:
            connection.execute(text(statement))

    def copy(self, template: str, database: str) -> None:
        """Make ``database`` a fresh copy of ``template`` (dropping any older one)."""
        self.drop(database)
        self._run(f'CREATE DATABASE "{database}" TEMPLATE "{template}"')

    def create(self, database: str) -> None:
        """Create an empty ``database`` (dropping any older one)."""
        self.drop(database)
        self._run(f'CREATE DATABASE "{database}"')

    def drop(self, database: str) -> None:
        """Drop ``database`` if it exists, closing what still holds it open."""
        self._run(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

    def drop_worker_databases(self) -> None:
        """Drop every database of this worker: left by an earlier run, or by this one."""
        prefix = _worker_database()
        with self._engine.connect() as connection:
            names = connection.scalars(text("SELECT datname FROM pg_database")).all()
        for name in names:
            if name == prefix or name.startswith(f"{prefix}_t"):
                self.drop(name)

    def dispose(self) -> None:
        """Close the administrative connection."""
        self._engine.dispose()


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
        SEEDS.setdefault(build.__module__, {})[build.__name__] = Seed(build.__module__, build.__name__, needs, build)

        @pytest.fixture(name=build.__name__)
        def values(instance):
            return copy.deepcopy(instance.values[build.__name__])

        values.__doc__ = build.__doc__
        return values

    return declare


def _visible_seeds(module: str) -> dict[str, Seed]:
    # A module's own seed hides a conftest seed of the same name, as pytest's fixtures do.
    return {**SEEDS.get("conftest", {}), **SEEDS.get(module, {})}


def seeds_for(module: str, fixturenames) -> tuple[Seed, ...]:
    """The seeds a test of ``module`` using ``fixturenames`` needs, in the order they are built.

    Dependencies come first; otherwise seeds go by name, so one set of seeds
    always builds in one order and gives the same ids.
    """
    visible = _visible_seeds(module)
    wanted: set[str] = set()

    def want(name: str) -> None:
        if name not in wanted:
            wanted.add(name)
            for need in visible[name].needs:
                want(need)

    for name in fixturenames:
        if name in visible:
            want(name)
    ordered: list[Seed] = []
    placed: set[str] = set()
    while len(ordered) < len(wanted):
        ready = sorted(name for name in wanted - placed
                       if all(need in placed for need in visible[name].needs))
        ordered.append(visible[ready[0]])
        placed.add(ready[0])
    return tuple(ordered)


# -- Instances and their templates ------------------------------------------------


@dataclass
class Instance:
    """One test's instance: where its files and database are, and its seeds' values."""

    path: Path  # the instance folder (the index lives in its ``index``)
    database_url: str
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

    def close(self) -> None:
        """Drop this worker's databases."""
        if self._server:
            self._server.drop_worker_databases()
            self._server.dispose()

    def _database_url(self, folder: Path, number: int | None) -> str:
        if not self._server:
            return f"sqlite:///{folder / DATABASE_FILE}"
        suffix = "" if number is None else f"_t{number}"
        return _renamed(BASE_DATABASE_URL, _worker_database() + suffix)

    def template(self, seeds: tuple[Seed, ...]) -> Instance:
        """The template holding ``seeds``, built now from the longest built prefix if new."""
        key = tuple(f"{s.module}.{s.name}" for s in seeds)
        if key in self._built:
            return self._built[key]
        # The parent first: templates are numbered in the order they are built.
        parent = self.template(seeds[:-1]) if key else None
        number = len(self._built)
        folder = self._root / f"t{number}"
        instance = Instance(folder / "instance", self._database_url(folder, number))
        if parent is None:
            self._build_empty(instance)
        else:
            self._copy_to(parent, instance)
            instance.values = dict(parent.values)
            self._build(instance, seeds[-1])
        self._built[key] = instance
        return instance

    def _copy_to(self, source: Instance, target: Instance) -> None:
        target.path.mkdir(parents=True, exist_ok=True)
        if self._server:
            self._server.copy(make_url(source.database_url).database,
                              make_url(target.database_url).database)
        else:
            shutil.copyfile(make_url(source.database_url).database,
                            make_url(target.database_url).database)
        shutil.copytree(source.path / "index", target.path / "index")

    def _build_empty(self, instance: Instance) -> None:
        from kb import create_app, search
        from kb.extensions import db

        instance.path.mkdir(parents=True, exist_ok=True)
        if self._server:
            self._server.create(make_url(instance.database_url).database)
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
        instance = Instance(path / "instance", TEST_DATABASE_URL or f"sqlite:///{path / DATABASE_FILE}",
                            copy.deepcopy(template.values))
        self._copy_to(template, instance)
        return instance
