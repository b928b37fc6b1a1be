"""Forms of the admin's account management."""

from __future__ import annotations

from wtforms import BooleanField, SelectChoice, SelectField

from kb.blueprints.auth_forms import CityChoiceForm, RegisterForm
from kb.models import Role

ROLE_CHOICES = [SelectChoice(role.value, role.label) for role in Role]
ROLE_HINT = ("Researchers read and search; members also write case studies; facilitators also "
             "curate cities and vocabularies; admins also manage accounts.")


def role_field() -> SelectField:
    """A choice of role, explained."""
    return SelectField("Role", choices=ROLE_CHOICES, default=Role.MEMBER.value,
                       description=ROLE_HINT)


class NewUserForm(RegisterForm):
    """An account an admin opens for someone: what registering asks, plus the role."""

    role = role_field()


class EditUserForm(CityChoiceForm):
    """What an admin changes on an existing account: role, city, whether it may log in."""

    role = role_field()
    active = BooleanField("Active (may log in)")
