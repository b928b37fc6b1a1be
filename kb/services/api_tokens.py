"""Per-user API tokens: created and revoked on the account page, sent as ``Bearer`` tokens.

A token is ``kb_`` followed by 43 random URL-safe characters (256 bits),
shown to its owner once, when it is created. Only its SHA-256 is stored:
with that much entropy a plain hash cannot be reversed by guessing, and a
token is found by its hash in one indexed lookup. A token acts with its
owner's rights, whatever they are at the time of the request, and stops
working when it is revoked or its owner is deactivated.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select

from kb.errors import NotAuthenticated, NotFound, PermissionDenied, ValidationError
from kb.extensions import db
from kb.models import ApiToken, User, is_valid_id, utcnow
from kb.sanitize import clean_text
from kb.services import policy

TOKEN_START = "kb_"
# What the account page shows of a token: enough to tell them apart, too little to guess.
PREFIX_LENGTH = 10
NAME_MAX = 100
# No real token is longer; a longer header is refused without hashing it.
TOKEN_MAX = 100
ACTIVE_TOKENS_MAX = 20
# "Last used" is recorded to the minute, so a script's burst of reads does
# not write to the database on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedToken:
    """A token just created: its row, and the secret, which is never shown again."""

    token: ApiToken
    secret: str


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _require_holder(user: User | None) -> None:
    if not policy.can_hold_api_tokens(user):
        raise PermissionDenied("Sign in to manage API tokens.")


def list_tokens(user: User | None) -> list[ApiToken]:
    """``user``'s own tokens, active ones first, newest first within each."""
    _require_holder(user)
    return list(db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id)
        .order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc(), ApiToken.id.desc())
    ))


def create_token(user: User | None, name: str) -> IssuedToken:
    """A new token for ``user``, named so they can recognise it later."""
    _require_holder(user)
    name = clean_text(name, multiline=False)
    if not name:
        raise ValidationError({"name": ["Give the token a name, e.g. the script that will use it."]})
    if len(name) > NAME_MAX:
        raise ValidationError({"name": [f"Keep the name under {NAME_MAX} characters."]})
    active = db.session.scalar(
        select(func.count()).select_from(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    )
    if active >= ACTIVE_TOKENS_MAX:
        raise ValidationError({"name": [
            f"You already have {ACTIVE_TOKENS_MAX} active tokens: revoke one you no longer use first."
        ]})
    secret = TOKEN_START + secrets.token_urlsafe(32)
    token = ApiToken(user=user, name=name, token_hash=_hash(secret),
                     prefix=secret[:PREFIX_LENGTH], created_at=utcnow())
    db.session.add(token)
    db.session.flush()
    return IssuedToken(token=token, secret=secret)


def revoke_token(user: User | None, token_id: int) -> ApiToken:
    """Stop ``user``'s token ``token_id`` from working; revoking it again changes nothing."""
    _require_holder(user)
    token = db.session.get(ApiToken, token_id) if is_valid_id(token_id) else None
    # Someone else's token is reported missing: its existence is not theirs to know.
    if token is None or token.user_id != user.id:
        raise NotFound("No such API token.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.flush()
    return token


def authenticate(secret: str | None) -> User:
    """The active user whose unrevoked token ``secret`` is; NotAuthenticated otherwise.

    Records when the token was last used (to the minute).
    """
    if not secret or len(secret) > TOKEN_MAX or not secret.startswith(TOKEN_START):
        raise NotAuthenticated("The API token is not valid.")
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash(secret)))
    if token is None or token.revoked_at is not None:
        raise NotAuthenticated("The API token is not valid, or has been revoked.")
    if not token.user.active:
        raise NotAuthenticated("The account this API token belongs to is deactivated.")
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        token.last_used_at = now
        db.session.flush()
    return token.user
