"""``flask kb user ...``: accounts managed from the server's command line.

These commands act as the operator at the command line, not as any user:
they call the accounts service with ``actor=None, system=True`` (see
:mod:`kb.services.accounts`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from flask.cli import AppGroup

from kb.errors import KbError
from kb.extensions import db
from kb.models import Role, User
from kb.services import accounts

ROLE_NAMES = [role.value for role in Role]


@contextmanager
def _saving() -> Iterator[None]:
    """Commit what the block did, or roll it back and exit non-zero with the service's message."""
    try:
        yield
    except KbError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from None
    db.session.commit()


def _password_or_prompt(password: str | None) -> str:
    # Prompted for, hidden and twice, when not given on the command line
    # (where it would end up in the shell history).
    if password is not None:
        return password
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _describe(user: User) -> str:
    city = user.city.slug if user.city else "-"
    status = "active" if user.active else "deactivated"
    return f"{user.email}\t{user.name}\t{user.role.value}\t{city}\t{status}"


def register(group: AppGroup) -> None:
    """Attach the ``user`` commands to ``group``."""

    @group.group("user")
    def user_group() -> None:
        """Create and manage accounts."""

    @user_group.command("create")
    @click.argument("email")
    @click.option("--name", required=True, help="The person's name as shown on the site.")
    @click.option("--role", required=True, type=click.Choice(ROLE_NAMES, case_sensitive=False),
                  help="What the account may do.")
    @click.option("--city", "city_slug", help="Slug of the person's city, e.g. toronto.")
    @click.option("--password", help="The first password (prompted for when omitted).")
    def create_command(email: str, name: str, role: str, city_slug: str | None,
                       password: str | None) -> None:
        """Open an account for EMAIL."""
        with _saving():
            city_id = accounts.city_id_for_slug(city_slug) if city_slug else None
            password = _password_or_prompt(password)
            user = accounts.create_user(None, name, email, password, role, city_id, system=True)
        click.echo(f"Created {user.role.value} account {user.email}.")

    @user_group.command("list")
    def list_command() -> None:
        """Show every account: email, name, role, city and status, tab-separated."""
        users = accounts.list_users(None, system=True)
        if not users:
            click.echo("There are no accounts yet.")
        for user in users:
            click.echo(_describe(user))

    @user_group.command("set-role")
    @click.argument("email")
    @click.argument("role", type=click.Choice(ROLE_NAMES, case_sensitive=False))
    def set_role_command(email: str, role: str) -> None:
        """Give the account EMAIL the role ROLE."""
        with _saving():
            user = accounts.get_user_by_email(email)
            accounts.set_role(None, user, role, system=True)
        click.echo(f"{user.email} is now {user.role.value}.")

    @user_group.command("deactivate")
    @click.argument("email")
    def deactivate_command(email: str) -> None:
        """Stop the account EMAIL logging in and end its sessions."""
        with _saving():
            user = accounts.deactivate(None, accounts.get_user_by_email(email), system=True)
        click.echo(f"Deactivated {user.email}.")

    @user_group.command("activate")
    @click.argument("email")
    def activate_command(email: str) -> None:
        """Let the deactivated account EMAIL log in again."""
        with _saving():
            user = accounts.activate(None, accounts.get_user_by_email(email), system=True)
        click.echo(f"Activated {user.email}.")

    @user_group.command("set-password")
    @click.argument("email")
    @click.option("--password", help="The new password (prompted for when omitted).")
    def set_password_command(email: str, password: str | None) -> None:
        """Give the account EMAIL a new password; its sessions end."""
        with _saving():
            user = accounts.get_user_by_email(email)
            accounts.set_password(None, user, _password_or_prompt(password), system=True)
        click.echo(f"Changed the password of {user.email}.")
