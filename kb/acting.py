"""Who a request acts for: one answer for the site's pages and the JSON API alike.

A page acts for the session's signed-in user. An API request may instead
act for the owner of the token it sends, which :mod:`kb.api.auth` records
with :func:`act_for` before any view runs.
"""

from __future__ import annotations

from flask import g
from flask_login import current_user

from kb.models import User

_RECOGNISED = "kb_acting_user"


def act_for(user: User) -> None:
    """Make this request act for ``user``, whoever the session is signed in as."""
    setattr(g, _RECOGNISED, user)


def acting_user() -> User | None:
    """The user this request acts for; None when anonymous.

    The user itself, not Flask-Login's proxy: services store it on rows.
    """
    recognised = g.get(_RECOGNISED)
    if recognised is not None:
        return recognised
    return current_user._get_current_object() if current_user.is_authenticated else None
