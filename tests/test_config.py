"""Configuration layers: defaults -> instance/config.py -> KB_* variables -> test mapping."""

from __future__ import annotations

import os
import stat
from datetime import timedelta

import pytest

from kb import create_app
from kb.config import DEFAULTS, ConfigurationError


@pytest.fixture
def instance(tmp_path, monkeypatch):
    """An empty instance folder named by ``KB_INSTANCE_PATH``, with no other KB_* variable set.

    The CI run exports ``KB_TEST_DATABASE_URL`` and friends; clearing every
    KB_* variable keeps those out of the layers under test.
    """
    for key in list(os.environ):
        if key.startswith("KB_"):
            monkeypatch.delenv(key)
    folder = tmp_path / "instance"
    folder.mkdir()
    monkeypatch.setenv("KB_INSTANCE_PATH", str(folder))
    return folder


def write_instance_config(instance, text: str) -> None:
    """Write ``instance/config.py``."""
    (instance / "config.py").write_text(text)


def test_defaults_fill_every_unset_key(tmp_path):
    app = create_app({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "k"})
    config = app.config

    assert config["ENV"] == "development"
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'kb.sqlite'}"
    assert config["INDEX_DIR"] == str(tmp_path / "index")
    assert config["SESSION_COOKIE_HTTPONLY"] is True
    assert config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert config["SESSION_COOKIE_SECURE"] is False
    assert config["REMEMBER_COOKIE_SECURE"] is False
    assert config["REMEMBER_COOKIE_SAMESITE"] == "Lax"
    assert config["PERMANENT_SESSION_LIFETIME"] == timedelta(hours=12)
    assert config["MAX_CONTENT_LENGTH"] == 16 * 1024 * 1024
    assert config["TRUSTED_HOSTS"] == ["localhost", "127.0.0.1"]
    assert config["ALLOW_SELF_REGISTRATION"] is False
    assert config["CASES_PER_PAGE"] == 20
    for key in DEFAULTS:
        assert key in config, key


def test_instance_path_comes_from_kb_instance_path(instance):
    app = create_app()

    assert app.instance_path == str(instance)
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{instance / 'kb.sqlite'}"


def test_instance_config_file_overrides_defaults(instance):
    write_instance_config(instance, "CASES_PER_PAGE = 7\nALLOW_SELF_REGISTRATION = True\n")

    app = create_app()

    assert app.config["CASES_PER_PAGE"] == 7
    assert app.config["ALLOW_SELF_REGISTRATION"] is True
    assert app.config["MAX_TEXT_LENGTH"] == DEFAULTS["MAX_TEXT_LENGTH"]


def test_environment_overrides_instance_config(instance, monkeypatch):
    write_instance_config(instance, "CASES_PER_PAGE = 7\nSECRET_KEY = 'from-file'\n")
    monkeypatch.setenv("KB_CASES_PER_PAGE", "9")
    monkeypatch.setenv("KB_SECRET_KEY", "from-environment")

    app = create_app()

    assert app.config["CASES_PER_PAGE"] == 9
    assert app.config["SECRET_KEY"] == "from-environment"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('["kb.example.org", "localhost"]', ["kb.example.org", "localhost"]),
        ("true", True),
        ("false", False),
        ("12.5", 12.5),
        ("kb.example.org", "kb.example.org"),
        # Looks like JSON but is not: kept as the string given.
        ("[not json", "[not json"),
    ],
)
def test_environment_values_are_read_as_json_when_they_look_like_it(instance, monkeypatch,
                                                                     raw, expected):
    monkeypatch.setenv("KB_TRUSTED_HOSTS", raw)

    app = create_app()

    assert app.config["TRUSTED_HOSTS"] == expected


def test_environment_names_the_database_and_session_lifetime(instance, monkeypatch):
    monkeypatch.setenv("KB_DATABASE_URL", f"sqlite:///{instance / 'other.sqlite'}")
    monkeypatch.setenv("KB_PERMANENT_SESSION_LIFETIME", "3600")

    app = create_app()

    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{instance / 'other.sqlite'}"
    assert app.config["PERMANENT_SESSION_LIFETIME"] == timedelta(hours=1)


def test_test_mapping_replaces_file_and_environment(instance, monkeypatch):
    write_instance_config(instance, "CASES_PER_PAGE = 7\nMAX_TEXT_LENGTH = 5\n")
    monkeypatch.setenv("KB_CASES_PER_PAGE", "9")
    monkeypatch.setenv("KB_ENV", "production")

    app = create_app({"INSTANCE_PATH": str(instance), "SECRET_KEY": "k", "CASES_PER_PAGE": 3})

    assert app.config["CASES_PER_PAGE"] == 3
    # Neither the file nor the environment was read.
    assert app.config["MAX_TEXT_LENGTH"] == DEFAULTS["MAX_TEXT_LENGTH"]
    assert app.config["ENV"] == "development"


def test_production_without_secret_key_refuses_to_start(instance, monkeypatch):
    monkeypatch.setenv("KB_ENV", "production")

    with pytest.raises(ConfigurationError, match="no secret key: set KB_SECRET_KEY"):
        create_app()
    assert not (instance / "secret_key").exists()


def test_production_with_secret_key_uses_secure_cookies(instance, monkeypatch):
    monkeypatch.setenv("KB_ENV", "production")
    monkeypatch.setenv("KB_SECRET_KEY", "a-long-random-production-key")

    app = create_app()

    assert app.config["SECRET_KEY"] == "a-long-random-production-key"
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True


def test_development_generates_a_secret_key_once_and_reuses_it(instance):
    first = create_app().config["SECRET_KEY"]
    key_file = instance / "secret_key"

    assert key_file.read_text() == first
    assert len(first) == 64
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert create_app().config["SECRET_KEY"] == first


def test_explicit_secret_key_writes_no_key_file(instance, monkeypatch):
    monkeypatch.setenv("KB_SECRET_KEY", "given")

    assert create_app().config["SECRET_KEY"] == "given"
    assert not (instance / "secret_key").exists()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://kb@db.example.org/kb", "postgresql+psycopg://kb@db.example.org/kb"),
        ("postgresql://kb@db.example.org:5433/kb", "postgresql+psycopg://kb@db.example.org:5433/kb"),
        ("postgresql+psycopg://kb@db.example.org/kb", "postgresql+psycopg://kb@db.example.org/kb"),
        ("sqlite:////srv/kb/kb.sqlite", "sqlite:////srv/kb/kb.sqlite"),
    ],
)
def test_postgres_urls_use_psycopg_3(tmp_path, given, expected):
    app = create_app({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "k", "DATABASE_URL": given})

    assert app.config["SQLALCHEMY_DATABASE_URI"] == expected


@pytest.mark.parametrize(
    ("key", "raw"),
    [("LOGIN_MAX_ATTEMPTS", "0"), ("TRUSTED_PROXIES", "one"), ("HSTS_SECONDS", "1.5"),
     ("LOGIN_WINDOW_SECONDS", "true"), ("SEARCH_REBUILD_PROCS", "0")],
)
def test_counts_that_are_not_whole_numbers_refuse_to_start(instance, monkeypatch, key, raw):
    monkeypatch.setenv(f"KB_{key}", raw)

    with pytest.raises(ConfigurationError, match=f"{key} must be a whole number"):
        create_app()


def test_counts_from_the_environment_are_used(instance, monkeypatch):
    monkeypatch.setenv("KB_TRUSTED_PROXIES", "2")
    monkeypatch.setenv("KB_LOGIN_MAX_ATTEMPTS", "3")

    config = create_app().config

    assert config["TRUSTED_PROXIES"] == 2
    assert config["LOGIN_MAX_ATTEMPTS"] == 3
