"""Login throttling, counted in the database so that every worker sees the same count.

A failed login adds one :class:`~kb.models.LoginFailure` row for the email
address typed and one for the client's address. Once either has as many
failures within the window as its limit allows, further logins for it are
refused with :class:`TooManyAttempts` until the oldest of those failures
leaves the window. The rule is the same whether or not an account has the
email address, so throttling tells no one which addresses have accounts.

Refused attempts are not counted: a locked-out person is let in again one
window after the failures that locked them out, however often they retried.
The check comes before the password hash and the record after it, so
requests racing in parallel can each pass the check; the limit therefore
bounds sustained guessing, not a single burst of simultaneous requests.

Like every service these functions never commit; the caller commits the
recorded failure together with the rest of its request.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from kb.errors import KbError
from kb.extensions import db
from kb.models import LoginFailure, utcnow

ACCOUNT = "account"
ADDRESS = "address"


@dataclass(frozen=True)
class LoginLimits:
    """How many failed logins an email address and a client address may have per window."""

    per_account: int
    per_address: int
    window: timedelta

    @classmethod
    def from_config(cls, config: Mapping) -> LoginLimits:
        """The limits an app's ``LOGIN_*`` settings (see :mod:`kb.config`) describe."""
        return cls(
            per_account=int(config["LOGIN_MAX_ATTEMPTS"]),
            per_address=int(config["LOGIN_MAX_ATTEMPTS_PER_ADDRESS"]),
            window=timedelta(seconds=int(config["LOGIN_WINDOW_SECONDS"])),
        )


class TooManyAttempts(KbError):
    """Too many failed logins; ``retry_after`` says in how many seconds to try again."""

    status_code = 429

    def __init__(self, retry_after: int) -> None:
        minutes = max(1, math.ceil(retry_after / 60))
        unit = "minute" if minutes == 1 else "minutes"
        super().__init__(
            f"There have been too many failed attempts to log in. "
            f"Wait {minutes} {unit} and try again."
        )
        self.retry_after = retry_after


def _key(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def _counted(email: str, address: str | None, limits: LoginLimits) -> list[tuple[str, str, int]]:
    # A request without a known peer (some test and CGI servers) is counted
    # under one shared address rather than not at all.
    return [
        (ACCOUNT, _key(email), limits.per_account),
        (ADDRESS, _key(address or "unknown"), limits.per_address),
    ]


def login_retry_after(email: str, address: str | None, limits: LoginLimits,
                      now: datetime | None = None) -> int | None:
    """Seconds until a login for ``email`` from ``address`` may be tried; None when it may now.

    ``email`` is the normalised address (``accounts.normalise_email``).
    """
    now = now or utcnow()
    since = now - limits.window
    waits = []
    for scope, key, limit in _counted(email, address, limits):
        # The limit-th most recent failure: once it leaves the window,
        # fewer than ``limit`` failures remain in it.
        oldest_counted = db.session.scalar(
            select(LoginFailure.created_at)
            .where(LoginFailure.scope == scope, LoginFailure.key == key,
                   LoginFailure.created_at > since)
            .order_by(LoginFailure.created_at.desc())
            .offset(limit - 1)
            .limit(1)
        )
        if oldest_counted is not None:
            waits.append((oldest_counted + limits.window - now).total_seconds())
    if not waits:
        return None
    return max(1, math.ceil(max(waits)))


def check_login(email: str, address: str | None, limits: LoginLimits,
                now: datetime | None = None) -> None:
    """Raise :class:`TooManyAttempts` when a login for ``email`` from ``address`` must wait."""
    wait = login_retry_after(email, address, limits, now)
    if wait is not None:
        raise TooManyAttempts(wait)


def record_login_failure(email: str, address: str | None, limits: LoginLimits,
                         now: datetime | None = None) -> None:
    """Count a failed login against ``email`` and ``address``, and forget expired failures."""
    now = now or utcnow()
    prune(limits, now)
    db.session.add_all(
        LoginFailure(scope=scope, key=key, created_at=now)
        for scope, key, _ in _counted(email, address, limits)
    )
    db.session.flush()


def clear_account(email: str) -> None:
    """Forget the failed logins of ``email``, after its owner logged in.

    The client address keeps its count: logging in to one account must not
    buy an attacker more guesses at others.
    """
    db.session.execute(
        delete(LoginFailure).where(LoginFailure.scope == ACCOUNT, LoginFailure.key == _key(email))
    )


def prune(limits: LoginLimits, now: datetime | None = None) -> None:
    """Delete the failures that have left the window and no longer count."""
    since = (now or utcnow()) - limits.window
    db.session.execute(delete(LoginFailure).where(LoginFailure.created_at <= since))
