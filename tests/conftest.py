"""Shared fixtures: each test gets its own instance folder, database and index.

They are copies of templates built once per session (``tests/instances.py``):
``taxonomy`` and ``people`` are seeds, and so are the larger worlds some
modules declare with :func:`instances.seed`.

``KB_TEST_DATABASE_URL`` runs the suite against PostgreSQL instead of SQLite
files in each test's temporary folder. The run stops at once, before any
test, when that URL cannot be used, and when ``KB_REQUIRE_POSTGRES=1`` is set
without it, so a CI run meant for PostgreSQL can never pass on SQLite. Tests
marked ``postgres`` are deselected (not skipped) when no PostgreSQL is named.
"""

from __future__ import annotations

import os

import pytest
from clients import AuthActions
from factories import make_people, make_taxonomy
from instances import BASE_DATABASE_URL, Server, Templates, seed, seeds_for
from permissions import member_world
from route_walk import build_world

from kb import create_app
from kb.extensions import db
from kb.models import User


def pytest_sessionstart(session):
    """Refuse to run on a PostgreSQL URL that does not work, or without one when it is required."""
    if not BASE_DATABASE_URL:
        if os.environ.get("KB_REQUIRE_POSTGRES") == "1":
            pytest.exit("KB_REQUIRE_POSTGRES=1 but KB_TEST_DATABASE_URL is not set.", returncode=4)
        return
    if not BASE_DATABASE_URL.startswith(("postgres://", "postgresql://", "postgresql+psycopg://")):
        pytest.exit("KB_TEST_DATABASE_URL must name a PostgreSQL database, not "
                    f"{BASE_DATABASE_URL!r}.", returncode=4)
    server = Server(BASE_DATABASE_URL)
    try:
        superuser = server.may_copy_schemas()
    except Exception as error:  # any driver or server error means the same here
        pytest.exit(f"KB_TEST_DATABASE_URL={BASE_DATABASE_URL} cannot be used: {error}",
                    returncode=4)
    finally:
        server.dispose()
    if not superuser:
        pytest.exit(f"KB_TEST_DATABASE_URL={BASE_DATABASE_URL} must log in as a superuser: each"
                    " test's rows are copied with foreign-key triggers off.", returncode=4)


def pytest_collection_modifyitems(config, items):
    """Deselect the PostgreSQL-only tests when the run has no PostgreSQL."""
    if BASE_DATABASE_URL:
        return
    postgres_only = [item for item in items if item.get_closest_marker("postgres")]
    if postgres_only:
        config.hook.pytest_deselected(items=postgres_only)
        items[:] = [item for item in items if not item.get_closest_marker("postgres")]


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch):
    """Hash with few iterations: scrypt's deliberate cost would dominate the suite.

    Verification reads the method from each stored hash, so logins still go
    through the real check; tests of the production hash opt out by
    calling ``werkzeug.security.generate_password_hash`` themselves.
    """
    from werkzeug import security

    from kb import models

    def quick(password: str) -> str:
        return security.generate_password_hash(password, method="pbkdf2:sha256:1000")

    monkeypatch.setattr(models, "generate_password_hash", quick)


@pytest.fixture(scope="session")
def templates(tmp_path_factory):
    """This worker's instance templates; their databases are dropped at the end."""
    built = Templates(tmp_path_factory.mktemp("templates"))
    yield built
    built.close()


@pytest.fixture
def instance(request, templates, tmp_path, fast_password_hashing):
    """The test's instance: a copy of the template holding the seeds the test uses."""
    return templates.copy_for_test(seeds_for(request.module.__name__, request.fixturenames),
                                   tmp_path)


@pytest.fixture
def app_config(instance):
    """The configuration of the test app; tests may edit it before ``app`` is built."""
    return instance.config()


@pytest.fixture
def app(app_config):
    """A kb app on the test's own database and index."""
    app = create_app(app_config)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    """A test client of ``app``."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """A CLI runner of ``app``'s commands."""
    return app.test_cli_runner()


@pytest.fixture
def app_ctx(app):
    """An active application context, for tests that call services directly."""
    with app.app_context():
        yield app


@seed()
def taxonomy():
    """Two cities, three problems and three contexts; their ids by kind and slug."""
    return make_taxonomy()


@seed("taxonomy")
def people(taxonomy):
    """One user per role (and a second member); maps a name to the user's id."""
    return make_people(taxonomy)


@pytest.fixture
def users(app_ctx, people):
    """The ``people`` seed's users as User objects in the test's app context."""
    return {name: db.session.get(User, user_id) for name, user_id in people.items()}


@seed("taxonomy", "people")
def authorization_world(taxonomy, people):
    """``member``'s case studies in every state, collections, links, a token (permissions.py)."""
    return member_world(taxonomy, people)


@seed("taxonomy", "people")
def walk_world(taxonomy, people):
    """``member``'s draft saved twice, published and edited case studies (tests/route_walk.py)."""
    return build_world(taxonomy, people)


@seed()
def demo_network(app):
    """The demo network as ``flask kb demo`` loads it; the command's output."""
    result = app.test_cli_runner().invoke(args=["kb", "demo"])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def auth(client):
    """Login helpers bound to ``client``."""
    return AuthActions(client)
