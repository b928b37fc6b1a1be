"""Configuration: defaults, then ``instance/config.py``, then ``KB_*`` variables.

The test mapping passed to :func:`kb.create_app` is applied last. Every key
below may be overridden by an environment variable of the same name prefixed
with ``KB_`` (``KB_DATABASE_URL`` names the database); values are parsed as
JSON when they look like JSON, so ``KB_TRUSTED_HOSTS='["kb.example.org"]'``
and ``KB_ALLOW_SELF_REGISTRATION=true`` work as expected.
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import timedelta
from pathlib import Path

from flask import Flask


class ConfigurationError(RuntimeError):
    """The configuration cannot be used to start kb; the message says why."""


DEFAULTS: dict[str, object] = {
    # "development" or "production"; production refuses to start without a
    # secret key and marks cookies Secure.
    "ENV": "development",
    "SECRET_KEY": None,
    "DATABASE_URL": None,  # default: sqlite:///<instance>/kb.sqlite
    "INDEX_DIR": None,  # default: <instance>/index
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    # Flask 3.1 leaves these open; see docs/security.md.
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": None,  # default: True in production
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "PERMANENT_SESSION_LIFETIME": timedelta(hours=12),
    "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
    "TRUSTED_HOSTS": ["localhost", "127.0.0.1"],
    "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
    # How many proxies in front of kb set X-Forwarded-For and
    # X-Forwarded-Proto. 0 (the default) ignores those headers, which any
    # client can send; behind nginx or a load balancer set it to the number
    # of hops, or every visitor shares the proxy's address (one login
    # throttle for everyone) and HTTPS is not recognised (no HSTS).
    "TRUSTED_PROXIES": 0,
    # Strict-Transport-Security, sent in production only, and only on HTTPS
    # requests unless HSTS_ASSUME_HTTPS says the site is never served over
    # plain HTTP (TLS ends at a proxy not counted in TRUSTED_PROXIES).
    # 0 seconds turns the header off.
    "HSTS_SECONDS": 365 * 24 * 3600,
    "HSTS_ASSUME_HTTPS": False,
    # Login throttling, counted in the database so that every worker sees
    # the same count: once an email address has LOGIN_MAX_ATTEMPTS failed
    # logins, or a client address LOGIN_MAX_ATTEMPTS_PER_ADDRESS, within
    # the last LOGIN_WINDOW_SECONDS, logins for it are answered 429 with
    # Retry-After until the oldest of those failures leaves the window.
    "LOGIN_MAX_ATTEMPTS": 10,
    "LOGIN_MAX_ATTEMPTS_PER_ADDRESS": 100,
    "LOGIN_WINDOW_SECONDS": 15 * 60,
    "ALLOW_SELF_REGISTRATION": False,
    "CASES_PER_PAGE": 20,
    # Whether a facilitator or admin may publish their own submissions and
    # proposed edits. Off, every publication needs a second person; turn it
    # on for a network with a single facilitator.
    "REVIEW_ALLOW_SELF_APPROVAL": False,
    # Longest text accepted in one rich-text field, in characters.
    "MAX_TEXT_LENGTH": 100_000,
    # Largest file of case studies `flask kb import` and the upload page
    # accept, in bytes (full dumps are not limited). The page imports in one
    # request: 2 MiB (about a thousand case studies) fits in a worker's
    # timeout. Uploads are also bound by MAX_CONTENT_LENGTH.
    "IMPORT_MAX_BYTES": 2 * 1024 * 1024,
    # Seconds an index writer waits for another process's lock.
    "SEARCH_WRITER_TIMEOUT": 10.0,
    # Seconds a change-log number skipped by a transaction not committed yet
    # is looked for before the index forgets it (kb.search.indexer).
    "SEARCH_GAP_SECONDS": 300.0,
    # Update the search index right after each commit that changed a case
    # study (otherwise before the next search, or from the CLI).
    "SEARCH_CATCH_UP_ON_COMMIT": True,
    # Processes that load and index case studies during a full rebuild.
    "SEARCH_REBUILD_PROCS": 2,
}


def _parse_env_value(raw: str) -> object:
    """Read JSON-looking values as JSON, anything else as the string given."""
    stripped = raw.strip()
    if stripped[:1] in "[{\"" or stripped in ("true", "false", "null") or _is_number(stripped):
        try:
            return json.loads(stripped)
        except ValueError:
            return raw
    return raw


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def load_config(app: Flask, test_config: dict | None) -> None:
    """Fill ``app.config`` from every layer and derive the dependent settings."""
    app.config.from_mapping(DEFAULTS)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        for key, raw in os.environ.items():
            if key.startswith("KB_") and len(key) > 3:
                app.config[key[3:]] = _parse_env_value(raw)
    else:
        app.config.from_mapping(test_config)

    instance = Path(app.instance_path)
    production = app.config["ENV"] == "production"
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = (
            app.config["DATABASE_URL"] or f"sqlite:///{instance / 'kb.sqlite'}"
        )
    app.config["SQLALCHEMY_DATABASE_URI"] = _normalise_database_url(
        app.config["SQLALCHEMY_DATABASE_URI"]
    )
    if not app.config["INDEX_DIR"]:
        app.config["INDEX_DIR"] = str(instance / "index")
    if app.config["SESSION_COOKIE_SECURE"] is None:
        app.config["SESSION_COOKIE_SECURE"] = production
    app.config["REMEMBER_COOKIE_SECURE"] = app.config["SESSION_COOKIE_SECURE"]
    if isinstance(app.config["PERMANENT_SESSION_LIFETIME"], (int, float)):
        app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(
            seconds=app.config["PERMANENT_SESSION_LIFETIME"]
        )
    _check_counts(app.config)
    if not app.config["SECRET_KEY"]:
        if production:
            raise ConfigurationError(
                "kb is configured for production but has no secret key: set KB_SECRET_KEY "
                "or SECRET_KEY in instance/config.py to a long random string."
            )
        app.config["SECRET_KEY"] = _development_secret_key(instance)


# Settings that must be whole numbers, with the smallest value each may take.
_COUNTS = {
    "TRUSTED_PROXIES": 0,
    "HSTS_SECONDS": 0,
    "LOGIN_MAX_ATTEMPTS": 1,
    "LOGIN_MAX_ATTEMPTS_PER_ADDRESS": 1,
    "LOGIN_WINDOW_SECONDS": 1,
    "IMPORT_MAX_BYTES": 1,
    "SEARCH_REBUILD_PROCS": 1,
}


def _check_counts(config) -> None:
    """Refuse to start on a count that is not a whole number, or is too small."""
    for key, least in _COUNTS.items():
        value = config[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ConfigurationError(
                f"{key} must be a whole number of at least {least}, not {value!r}."
            )


def _normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs written the common way."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _development_secret_key(instance: Path) -> str:
    """Return the instance's generated key, creating it on first start."""
    key_file = instance / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    # Exclusive create: two processes starting together keep one key.
    try:
        with open(key_file, "x") as handle:
            handle.write(key)
    except FileExistsError:
        return key_file.read_text().strip()
    os.chmod(key_file, 0o600)
    return key
