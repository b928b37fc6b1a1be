"""Loading the signed-in user from the session cookie."""

from __future__ import annotations

from flask import Flask

from kb.extensions import db, login_manager
from kb.models import User


def load_user(identity: str) -> User | None:
    """Return the user a session identity names, if that session is still valid.

    Identities are ``"<id>:<session version>"``; logging out or changing the
    password bumps the version, so an old cookie replayed later is refused.
    """
    user_id, _, version = identity.partition(":")
    if not (user_id.isdigit() and version.isdigit()) or len(user_id) > 18:
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or str(user.session_version) != version:
        return None
    return user


def init_app(app: Flask) -> None:
    """Register the user loader with Flask-Login."""
    login_manager.user_loader(load_user)
