"""Shared fixtures: each test gets its own instance folder, database and index.

``KB_TEST_DATABASE_URL`` runs the suite against PostgreSQL instead of a
SQLite file in the test's temporary folder; the tables are dropped and
created again for every test. The run stops at once, before any test, when
that URL cannot be used, and when ``KB_REQUIRE_POSTGRES=1`` is set without
it, so a CI run meant for PostgreSQL can never pass on SQLite. Tests marked
``postgres`` are deselected (not skipped) when no PostgreSQL is named.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text

from kb import create_app
from kb.extensions import db
from kb.models import AdaptationContext, City, ContextKind, ProblemOfPractice, Role, User

PASSWORD = "correct horse battery"
SHARED = Path(__file__).resolve().parents[2] / "shared"


TEST_DATABASE_URL = os.environ.get("KB_TEST_DATABASE_URL", "")


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


def _database_url(tmp_path: Path) -> str:
    return TEST_DATABASE_URL or f"sqlite:///{tmp_path / 'kb.sqlite'}"


def drop_every_table(engine) -> None:
    """Empty a test database, tables that no model declares included.

    ``db.drop_all`` knows only today's models: a table left in the shared
    PostgreSQL database by an older schema or by Alembic would make the next
    ``create_all`` or upgrade fail.
    """
    with engine.begin() as connection:
        quote = connection.dialect.identifier_preparer.quote
        # SQLite has no CASCADE; its test databases are fresh files anyway.
        cascade = " CASCADE" if connection.dialect.name == "postgresql" else ""
        for table in inspect(connection).get_table_names():
            connection.execute(text(f"DROP TABLE IF EXISTS {quote(table)}{cascade}"))


def pytest_sessionstart(session):
    """Refuse to run on a PostgreSQL URL that does not work, or without one when it is required."""
    if not TEST_DATABASE_URL:
        if os.environ.get("KB_REQUIRE_POSTGRES") == "1":
            pytest.exit("KB_REQUIRE_POSTGRES=1 but KB_TEST_DATABASE_URL is not set.", returncode=4)
        return
    if not TEST_DATABASE_URL.startswith(("postgres://", "postgresql://", "postgresql+psycopg://")):
        pytest.exit(f"KB_TEST_DATABASE_URL must name a PostgreSQL database, not {TEST_DATABASE_URL!r}.",
                    returncode=4)
    with tempfile.TemporaryDirectory() as instance:
        app = create_app({
            "INSTANCE_PATH": instance,
            "SECRET_KEY": "check",
            "DATABASE_URL": TEST_DATABASE_URL,
            "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"connect_timeout": 10}},
        })
        with app.app_context():
            try:
                drop_every_table(db.engine)
            except Exception as error:  # any driver or server error means the same here
                pytest.exit(f"KB_TEST_DATABASE_URL={TEST_DATABASE_URL} cannot be used: {error}",
                            returncode=4)
            finally:
                db.engine.dispose()


def pytest_collection_modifyitems(config, items):
    """Deselect the PostgreSQL-only tests when the run has no PostgreSQL."""
    if TEST_DATABASE_URL:
        return
    postgres_only = [item for item in items if item.get_closest_marker("postgres")]
    if postgres_only:
        config.hook.pytest_deselected(items=postgres_only)
        items[:] = [item for item in items if not item.get_closest_marker("postgres")]


@pytest.fixture
def app_config(tmp_path):
    """The configuration of the test app; tests may edit it before ``app`` is built."""
    return {
        "TESTING": True,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": "test-secret-key",
        "DATABASE_URL": _database_url(tmp_path),
        "WTF_CSRF_ENABLED": False,
        "SERVER_NAME": None,
    }


@pytest.fixture
def app(app_config):
    """A kb app on an empty, freshly created database and index."""
    app = create_app(app_config)
    with app.app_context():
        db.drop_all()
        db.create_all()
        from kb import search

        search.ensure_index()
    yield app
    with app.app_context():
        db.session.remove()
        if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
            db.drop_all()
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


def make_user(role: Role = Role.MEMBER, email: str | None = None, name: str | None = None,
              city: City | None = None, password: str = PASSWORD) -> User:
    """Create and commit a user; call inside an app context."""
    user = User(
        name=name or f"Test {role.value}",
        email=(email or f"{role.value}@example.org").lower(),
        role=role,
        city=city,
    )
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user


@pytest.fixture
def taxonomy(app):
    """Two cities, three problems and three contexts, committed; returns their ids."""
    with app.app_context():
        toronto = City(slug="toronto", name="Toronto", country="Canada",
                       profile_governance="Elected school board", profile_languages="English, French")
        seoul = City(slug="seoul", name="Seoul", country="South Korea",
                     profile_governance="Metropolitan office of education", profile_languages="Korean")
        problems = [
            ProblemOfPractice(slug="work-based-learning", name="Work-based learning",
                              description="Learning in real workplaces."),
            ProblemOfPractice(slug="career-guidance", name="Career guidance",
                              description="Helping students choose pathways."),
            ProblemOfPractice(slug="old-term", name="Old term", retired=True),
        ]
        contexts = [
            AdaptationContext(slug="centralised-governance", name="Centralised governance",
                              kind=ContextKind.GOVERNANCE),
            AdaptationContext(slug="public-funding", name="Public funding", kind=ContextKind.FUNDING),
            AdaptationContext(slug="large-system", name="Large system", kind=ContextKind.SCALE),
        ]
        db.session.add_all([toronto, seoul, *problems, *contexts])
        db.session.commit()
        return {
            "cities": {c.slug: c.id for c in (toronto, seoul)},
            "problems": {p.slug: p.id for p in problems},
            "contexts": {c.slug: c.id for c in contexts},
        }


@pytest.fixture
def people(app, taxonomy):
    """One committed user per role (and a second member); maps a name to the user's id."""
    with app.app_context():
        toronto = db.session.get(City, taxonomy["cities"]["toronto"])
        users = {
            "admin": make_user(Role.ADMIN, city=toronto),
            "facilitator": make_user(Role.FACILITATOR, city=toronto),
            "member": make_user(Role.MEMBER, city=toronto),
            "other_member": make_user(Role.MEMBER, email="other@example.org", name="Other member"),
            "researcher": make_user(Role.RESEARCHER),
        }
        return {name: user.id for name, user in users.items()}


class AuthActions:
    """Log a test client in and out through the real login form."""

    def __init__(self, client):
        self._client = client

    def login(self, email: str = "member@example.org", password: str = PASSWORD):
        """Post the login form; returns the response."""
        return self._client.post("/auth/login", data={"email": email, "password": password})

    def login_as(self, app, user_id: int):
        """Log in as the user with ``user_id``."""
        with app.app_context():
            email = db.session.scalar(select(User.email).where(User.id == user_id))
        response = self.login(email)
        assert response.status_code == 302, response.get_data(as_text=True)
        return response

    def logout(self):
        """Post the logout form; returns the response."""
        return self._client.post("/auth/logout")


@pytest.fixture
def auth(client):
    """Login helpers bound to ``client``."""
    return AuthActions(client)
