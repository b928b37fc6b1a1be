"""Who an API request acts for: its API token, or else the site's own session.

A request with an ``Authorization`` header is authenticated by that header
alone: a ``Bearer`` token (:mod:`kb.services.api_tokens`), or a 401. It
needs no CSRF token, since a browser never adds that header by itself to a
request another site makes. A request without one acts for the session's
user, as the site's pages do, and a state-changing one must then carry the
page's CSRF token in ``X-CSRFToken`` (Flask-WTF's check, run here because the
blueprint is exempt from the global one). Anonymous requests may read what
anonymous visitors may; every change needs a user.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, g, request
from flask_login import current_user

from kb.acting import act_for, acting_user
from kb.api.problems import INVALID_TOKEN, ApiProblem
from kb.errors import NotAuthenticated
from kb.extensions import csrf, db
from kb.models import User
from kb.services import api_tokens

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TOKEN = "token"
SESSION = "session"
_INVALID_TOKEN_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="kb", error="invalid_token"'}


@dataclass(frozen=True)
class Caller:
    """The user a request acts for (None: anonymous) and how they were recognised."""

    user: User | None
    via: str | None  # TOKEN, SESSION or None


def identify_caller() -> None:
    """Recognise the caller of this request (``before_request`` of the API blueprint)."""
    header = request.headers.get("Authorization")
    if header is not None:
        act_for(_token_user(header))
        g.api_caller_via = TOKEN
    elif current_user.is_authenticated:
        if request.method not in SAFE_METHODS and _csrf_checked():
            csrf.protect()
        g.api_caller_via = SESSION
    else:
        g.api_caller_via = None


def _token_user(header: str) -> User:
    scheme, _, secret = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise ApiProblem(401, "Send an API token as “Authorization: Bearer <token>”.",
                         kind=INVALID_TOKEN, headers=_INVALID_TOKEN_CHALLENGE)
    try:
        user = api_tokens.authenticate(secret.strip())
    except NotAuthenticated as error:
        raise ApiProblem(401, error.message, kind=INVALID_TOKEN,
                         headers=_INVALID_TOKEN_CHALLENGE) from None
    if db.session.dirty:
        # The token's "last used" time, committed on its own: the request
        # may still fail, and reads have nothing else to commit.
        db.session.commit()
    return user


def _csrf_checked() -> bool:
    # The same switches as Flask-WTF's own check of every other request.
    config = current_app.config
    return bool(config["WTF_CSRF_ENABLED"] and config["WTF_CSRF_CHECK_DEFAULT"])


def caller() -> Caller:
    """The caller :func:`identify_caller` recognised."""
    return Caller(acting_user(), g.api_caller_via)


def required_user() -> User:
    """The user this request acts for; a 401 problem when anonymous."""
    user = acting_user()
    if user is None:
        raise ApiProblem(401, "Sign in, or send an API token as “Authorization: Bearer <token>”.")
    return user
