"""``flask kb user ...``: creating and managing accounts from the command line."""

from __future__ import annotations

from sqlalchemy import select

from factories import PASSWORD
from kb.extensions import db
from kb.models import Role, User

NEW_PASSWORD = "a long command line passphrase"


def _user(app, email: str) -> User | None:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        if user is not None:
            db.session.expunge(user)
        return user


def _kb(runner, *args, input=None):
    return runner.invoke(args=["kb", "user", *args], input=input)


def test_create_with_password_option(app, runner, taxonomy):
    result = _kb(runner, "create", "Ana.Lopez@Example.org", "--name", "Ana López",
                 "--role", "Facilitator", "--city", "toronto", "--password", NEW_PASSWORD)
    assert result.exit_code == 0, result.output
    assert "Created facilitator account ana.lopez@example.org." in result.output
    user = _user(app, "ana.lopez@example.org")
    assert user.name == "Ana López"
    assert user.role is Role.FACILITATOR
    assert user.city_id == taxonomy["cities"]["toronto"]
    assert user.check_password(NEW_PASSWORD)


def test_create_prompts_for_a_hidden_confirmed_password(app, runner):
    result = _kb(runner, "create", "admin@example.org", "--name", "First Admin", "--role", "admin",
                 input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "Password:" in result.output and "Repeat for confirmation:" in result.output
    assert NEW_PASSWORD not in result.output
    user = _user(app, "admin@example.org")
    assert user.role is Role.ADMIN and user.city_id is None
    assert user.check_password(NEW_PASSWORD)


def test_create_prompt_asks_again_when_the_entries_differ(app, runner):
    result = _kb(runner, "create", "r@example.org", "--name", "R", "--role", "researcher",
                 input=f"{NEW_PASSWORD}\nsomething else\n{NEW_PASSWORD}\n{NEW_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output
    assert _user(app, "r@example.org").check_password(NEW_PASSWORD)


def test_create_errors(app, runner, people):
    cases = [
        (["MEMBER@example.org", "--name", "Dup", "--role", "member", "--password", NEW_PASSWORD],
         1, "already exists"),
        (["new@example.org", "--name", "N", "--role", "member", "--city", "atlantis",
          "--password", NEW_PASSWORD], 1, "There is no city with the slug 'atlantis'."),
        (["new@example.org", "--name", "N", "--role", "member", "--password", "short"],
         1, "Use at least 8 characters."),
        (["new@example.org", "--name", "N", "--role", "member", "--password", "password123"],
         1, "among the most common"),
        (["not-an-email", "--name", "N", "--role", "member", "--password", NEW_PASSWORD],
         1, "Enter an email address"),
        (["new@example.org", "--name", "  ", "--role", "member", "--password", NEW_PASSWORD],
         1, "Enter a name."),
        (["new@example.org", "--name", "N", "--role", "king", "--password", NEW_PASSWORD],
         2, "Invalid value for '--role'"),
        (["new@example.org", "--role", "member", "--password", NEW_PASSWORD],
         2, "Missing option '--name'"),
    ]
    for args, exit_code, message in cases:
        result = _kb(runner, "create", *args)
        assert result.exit_code == exit_code, (args, result.output)
        assert message in result.output, (args, result.output)
    assert _user(app, "new@example.org") is None


def test_list(runner, app, people):
    result = _kb(runner, "list")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert len(lines) == len(people)
    assert "member@example.org\tTest member\tmember\ttoronto\tactive" in lines
    assert "researcher@example.org\tTest researcher\tresearcher\t-\tactive" in lines


def test_list_without_accounts(runner):
    result = _kb(runner, "list")
    assert result.exit_code == 0
    assert "There are no accounts yet." in result.output


def test_set_role(app, runner, people):
    result = _kb(runner, "set-role", "Member@Example.org", "FACILITATOR")
    assert result.exit_code == 0, result.output
    assert "member@example.org is now facilitator." in result.output
    assert _user(app, "member@example.org").role is Role.FACILITATOR
    # The command line may demote an admin: it is how a lost admin account is fixed.
    assert _kb(runner, "set-role", "admin@example.org", "member").exit_code == 0
    assert _user(app, "admin@example.org").role is Role.MEMBER


def test_set_role_errors(app, runner, people):
    result = _kb(runner, "set-role", "ghost@example.org", "member")
    assert result.exit_code == 1
    assert "There is no account with the email address 'ghost@example.org'." in result.output
    result = _kb(runner, "set-role", "member@example.org", "emperor")
    assert result.exit_code == 2
    assert _user(app, "member@example.org").role is Role.MEMBER


def test_deactivate_and_activate(app, runner, client, auth, people):
    auth.login("member@example.org")
    result = _kb(runner, "deactivate", "member@example.org")
    assert result.exit_code == 0, result.output
    assert "Deactivated member@example.org." in result.output
    user = _user(app, "member@example.org")
    assert not user.active and user.session_version == 2
    assert client.get("/auth/account").status_code == 302
    assert auth.login("member@example.org").status_code == 400

    result = _kb(runner, "activate", "member@example.org")
    assert result.exit_code == 0, result.output
    assert _user(app, "member@example.org").active
    assert auth.login("member@example.org").status_code == 302


def test_deactivate_and_activate_unknown_email(runner, people):
    for command in ("deactivate", "activate"):
        result = _kb(runner, command, "ghost@example.org")
        assert result.exit_code == 1, command
        assert "There is no account" in result.output


def test_set_password(app, runner, people):
    result = _kb(runner, "set-password", "member@example.org",
                 input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert NEW_PASSWORD not in result.output
    user = _user(app, "member@example.org")
    assert user.check_password(NEW_PASSWORD) and not user.check_password(PASSWORD)
    assert user.session_version == 2

    assert _kb(runner, "set-password", "member@example.org", "--password", PASSWORD).exit_code == 0
    assert _user(app, "member@example.org").check_password(PASSWORD)


def test_set_password_errors(app, runner, people):
    result = _kb(runner, "set-password", "ghost@example.org", "--password", NEW_PASSWORD)
    assert result.exit_code == 1
    assert "There is no account" in result.output
    result = _kb(runner, "set-password", "member@example.org", "--password", "qwertyuiop")
    assert result.exit_code == 1
    assert "among the most common" in result.output
    assert _user(app, "member@example.org").check_password(PASSWORD)
