"""Accounts: logging in, passwords, and the admin's management of users.

Like every service, these functions take the acting user and plain data,
raise :mod:`kb.errors` and never commit.

The command line (``flask kb user ...``) has no user to act as. Functions
an admin calls therefore also accept ``actor=None`` together with the
keyword ``system=True``, which means "the operator at the server's command
line" and skips the permission check and the rules that protect an admin
from locking themselves out. Passing one without the other is a
programming error and raises :class:`TypeError`, so a missing web user can
never be mistaken for the command line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from kb.errors import NotFound, PermissionDenied, ValidationError
from kb.extensions import db
from kb.models import City, Role, User
from kb.sanitize import clean_text
from kb.services import policy, throttle

NAME_MAX = 120
EMAIL_MAX = 254
PASSWORD_MIN = 8
# Hashing is deliberately slow; an unbounded password would make it a lever
# for tying up a worker.
PASSWORD_MAX = 256

LOGIN_FAILED = "The email address or password is not correct."
ACCOUNT_INACTIVE = "This account has been deactivated. Ask an administrator to reactivate it."
EMAIL_TAKEN = "An account with this email address already exists."

# Passwords of eight characters or more that top every published list of
# leaked passwords; compared case-insensitively.
COMMON_PASSWORDS = frozenset({
    "password", "password1", "password12", "password123", "passw0rd", "p@ssw0rd", "p@ssword",
    "12345678", "123456789", "1234567890", "0123456789", "87654321", "11111111", "00000000",
    "12341234", "12121212", "11223344", "123123123", "1q2w3e4r", "1qaz2wsx", "qwertyui",
    "qwertyuiop", "qwerty123", "qwerty12", "asdfghjk", "asdfghjkl", "zxcvbnm1", "iloveyou",
    "iloveyou1", "sunshine", "princess", "football", "baseball", "superman", "trustno1",
    "welcome1", "welcome123", "letmein1", "abcd1234", "abc12345", "abcdefgh", "changeme",
    "starwars", "whatever", "dragon123", "computer", "internet", "michelle", "jennifer",
    "admin123", "administrator", "monkey123", "1234qwer", "q1w2e3r4", "aa123456",
})

_EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass
class AccountInput:
    """What a person types to open an account, as plain Python values."""

    name: str
    email: str
    password: str
    city_id: int | None = None


def normalise_email(email: str | None) -> str:
    """The form in which emails are stored and compared: trimmed and lower-cased."""
    return clean_text(email, multiline=False).lower()


def password_problems(password: str | None) -> list[str]:
    """Why ``password`` may not be used; an empty list when it is acceptable."""
    password = password or ""
    if len(password) < PASSWORD_MIN:
        return [f"Use at least {PASSWORD_MIN} characters."]
    if len(password) > PASSWORD_MAX:
        return [f"Use at most {PASSWORD_MAX} characters."]
    if password.strip().lower() in COMMON_PASSWORDS:
        return ["This password is among the most common ones; choose another."]
    return []


def _require_admin(actor: User | None, system: bool) -> None:
    if system:
        if actor is not None:
            raise TypeError("system=True acts for the command line; pass actor=None with it.")
        return
    if actor is None:
        raise TypeError(
            "Pass the acting user, or actor=None with system=True for the command line."
        )
    if not policy.can_manage_users(actor):
        raise PermissionDenied("Only administrators manage accounts.")


def _is_own_account(actor: User | None, user: User) -> bool:
    return actor is not None and actor.id == user.id


@lru_cache(maxsize=1)
def _unknown_user_hash() -> str:
    return generate_password_hash("no account has this password")


def authenticate(email: str, password: str) -> User:
    """Return the active user with this email and password.

    An unknown email and a wrong password give the same error, and both
    spend the time of one hash check, so neither the message nor the
    response time tells whether an address has an account.
    """
    password = password or ""
    if len(password) > PASSWORD_MAX:
        raise PermissionDenied(LOGIN_FAILED)
    user = get_user_by_email(email, missing_ok=True)
    if user is None:
        check_password_hash(_unknown_user_hash(), password)
        raise PermissionDenied(LOGIN_FAILED)
    if not user.check_password(password):
        raise PermissionDenied(LOGIN_FAILED)
    if not user.active:
        raise PermissionDenied(ACCOUNT_INACTIVE)
    return user


def log_in(email: str, password: str, address: str | None,
           limits: throttle.LoginLimits) -> User:
    """:func:`authenticate`, throttled per email address and per client ``address``.

    Raises :class:`~kb.services.throttle.TooManyAttempts` before checking
    anything when either has had too many failures lately, whether or not
    an account has the address; otherwise a failure is recorded (the caller
    commits it along with the refusal) and a success forgets the failures
    counted against the email address.
    """
    normalised = normalise_email(email)
    throttle.check_login(normalised, address, limits)
    try:
        user = authenticate(email, password)
    except PermissionDenied:
        throttle.record_login_failure(normalised, address, limits)
        raise
    throttle.clear_account(normalised)
    return user


def get_user_by_email(email: str, *, missing_ok: bool = False) -> User | None:
    """The user with ``email`` (any letter case); NotFound unless ``missing_ok``."""
    normalised = normalise_email(email)
    user = None
    if 0 < len(normalised) <= EMAIL_MAX:
        user = db.session.scalar(select(User).where(User.email == normalised))
    if user is None and not missing_ok:
        raise NotFound(f"There is no account with the email address {normalised!r}.")
    return user


def get_user(actor: User | None, user_id: int, *, system: bool = False) -> User:
    """The user with ``user_id``, for an admin (or the command line) to manage."""
    _require_admin(actor, system)
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("There is no such account.")
    return user


def list_users(actor: User | None, *, system: bool = False) -> list[User]:
    """Every account, ordered by name, for an admin (or the command line)."""
    _require_admin(actor, system)
    return list(db.session.scalars(select(User).order_by(User.name, User.email)))


def list_cities() -> list[City]:
    """The cities an account may belong to, by name."""
    return list(db.session.scalars(select(City).order_by(City.name)))


def city_id_for_slug(slug: str) -> int:
    """The id of the city with ``slug``; ValidationError (field ``city``) when there is none."""
    city_id = db.session.scalar(select(City.id).where(City.slug == (slug or "").strip().lower()))
    if city_id is None:
        raise ValidationError({"city": [f"There is no city with the slug {slug!r}."]})
    return city_id


def parse_role(value: Role | str) -> Role:
    """``value`` as a :class:`Role`; ValidationError (field ``role``) when it names none."""
    if isinstance(value, Role):
        return value
    try:
        return Role((value or "").strip().lower())
    except ValueError:
        names = ", ".join(role.value for role in Role)
        message = f"Unknown role {value!r}; choose one of {names}."
        raise ValidationError({"role": [message]}) from None


def _validated_account(data: AccountInput) -> dict:
    """Check a new account's fields and return the values to store, or raise ValidationError."""
    errors: dict[str, list[str]] = {}
    name = clean_text(data.name, multiline=False)
    email = normalise_email(data.email)
    if not name:
        errors["name"] = ["Enter a name."]
    elif len(name) > NAME_MAX:
        errors["name"] = [f"Use at most {NAME_MAX} characters."]
    if not _EMAIL_PATTERN.match(email) or len(email) > EMAIL_MAX:
        errors["email"] = ["Enter an email address such as name@example.org."]
    elif get_user_by_email(email, missing_ok=True) is not None:
        errors["email"] = [EMAIL_TAKEN]
    if problems := password_problems(data.password):
        errors["password"] = problems
    if data.city_id is not None and db.session.get(City, data.city_id) is None:
        errors["city_id"] = ["Choose a city from the list."]
    if errors:
        raise ValidationError(errors)
    return {"name": name, "email": email, "city_id": data.city_id}


def _add_account(data: AccountInput, role: Role) -> User:
    user = User(role=role, active=True, session_version=1, **_validated_account(data))
    user.set_password(data.password)
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError:
        # Another request took the address between the check and the flush;
        # the unique index is the final word. The failed flush leaves the
        # session unusable until it is rolled back.
        db.session.rollback()
        raise ValidationError({"email": [EMAIL_TAKEN]}) from None
    return user


def create_user(actor: User | None, name: str, email: str, password: str, role: Role | str,
                city_id: int | None = None, *, system: bool = False) -> User:
    """Open an account with ``role``; admins only (or the command line with ``system=True``).

    The email is stored lower-cased, so an address differing only in case
    from an existing one is refused (ValidationError on field ``email``).
    """
    _require_admin(actor, system)
    return _add_account(AccountInput(name, email, password, city_id), parse_role(role))


def register(data: AccountInput) -> User:
    """Open a member account for the person registering themselves.

    The caller offers this only when ``ALLOW_SELF_REGISTRATION`` is set;
    whoever registers becomes a member and nothing more.
    """
    return _add_account(data, Role.MEMBER)


def _role_change_errors(actor: User | None, user: User, role: Role) -> list[str]:
    if _is_own_account(actor, user) and role is not Role.ADMIN:
        return ["You cannot take away your own admin role; ask another admin."]
    return []


def _deactivation_errors(actor: User | None, user: User) -> list[str]:
    if _is_own_account(actor, user):
        return ["You cannot deactivate your own account; ask another admin."]
    return []


def _set_active(user: User, active: bool) -> None:
    if user.active and not active:
        # Sessions end now, and stay ended if the account is reactivated.
        end_sessions(user)
    user.active = active


def set_role(actor: User | None, user: User, role: Role | str, *, system: bool = False) -> User:
    """Give ``user`` another role; an admin cannot demote themselves."""
    _require_admin(actor, system)
    new_role = parse_role(role)
    if errors := _role_change_errors(actor, user, new_role):
        raise ValidationError({"role": errors})
    user.role = new_role
    db.session.flush()
    return user


def deactivate(actor: User | None, user: User, *, system: bool = False) -> User:
    """Stop ``user`` logging in and end their sessions; an admin cannot deactivate themselves."""
    _require_admin(actor, system)
    if errors := _deactivation_errors(actor, user):
        raise ValidationError({"active": errors})
    _set_active(user, False)
    db.session.flush()
    return user


def activate(actor: User | None, user: User, *, system: bool = False) -> User:
    """Let a deactivated ``user`` log in again."""
    _require_admin(actor, system)
    _set_active(user, True)
    db.session.flush()
    return user


def update_user(actor: User | None, user: User, *, role: Role | str, city_id: int | None,
                active: bool, system: bool = False) -> User:
    """Set ``user``'s role, city and active flag at once, as the admin's edit form does.

    Nothing changes unless every value is acceptable; the errors name the
    fields ``role``, ``city_id`` and ``active``.
    """
    _require_admin(actor, system)
    errors: dict[str, list[str]] = {}
    try:
        new_role = parse_role(role)
    except ValidationError as error:
        errors.update(error.errors)
    else:
        if problems := _role_change_errors(actor, user, new_role):
            errors["role"] = problems
    if city_id is not None and db.session.get(City, city_id) is None:
        errors["city_id"] = ["Choose a city from the list."]
    if not active and (problems := _deactivation_errors(actor, user)):
        errors["active"] = problems
    if errors:
        raise ValidationError(errors)
    user.role = new_role
    user.city_id = city_id
    _set_active(user, active)
    db.session.flush()
    return user


def change_password(user: User, current: str, new: str) -> User:
    """Replace ``user``'s password after checking the current one.

    Every session of ``user`` ends, this one included: the caller logs the
    person in again if they should stay signed in here.
    """
    if not user.check_password(current or ""):
        raise ValidationError({"current_password": ["Your current password is not correct."]})
    if problems := password_problems(new):
        raise ValidationError({"new_password": problems})
    user.set_password(new)
    end_sessions(user)
    db.session.flush()
    return user


def set_password(actor: User | None, user: User, new: str, *, system: bool = False) -> User:
    """Give ``user`` a new password without the old one (admins, or the command line).

    As with :func:`change_password`, every session of ``user`` ends.
    """
    _require_admin(actor, system)
    if problems := password_problems(new):
        raise ValidationError({"password": problems})
    user.set_password(new)
    end_sessions(user)
    db.session.flush()
    return user


def end_sessions(user: User) -> None:
    """Make every session cookie issued to ``user`` so far stop working.

    The user loader (:mod:`kb.sessions`) accepts a cookie only while it
    carries the current session version.
    """
    user.session_version = (user.session_version or 0) + 1
