"""Forms of the account pages: log in, change password, register.

The forms check shape (present, not too long, the two new passwords
agree); the accounts service decides what is acceptable, and its
:class:`~kb.errors.ValidationError` is shown on the same fields through
:meth:`kb.blueprints.forms.ServiceForm.show_errors`.
"""

from __future__ import annotations

from wtforms import EmailField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length

from kb.blueprints.forms import ServiceForm
from kb.models import City
from kb.services import api_tokens
from kb.services.accounts import EMAIL_MAX, NAME_MAX, PASSWORD_MAX, PASSWORD_MIN

NEW_PASSWORD_HINT = f"At least {PASSWORD_MIN} characters; very common passwords are refused."


def optional_id(value) -> int | None:
    """Coerce a select's value to an id, the empty choice to None."""
    if value in (None, ""):
        return None
    return int(value)


def city_choices(cities: list[City]) -> list[SelectChoice]:
    """Choices of a city select: no city, then each city by name."""
    return [SelectChoice("", "No city"),
            *(SelectChoice(str(city.id), city.name) for city in cities)]


def email_field(label: str = "Email address") -> EmailField:
    """An email input that tells browsers and password managers what it holds."""
    return EmailField(label, validators=[DataRequired("Enter an email address."),
                                         Length(max=EMAIL_MAX)],
                      render_kw={"autocomplete": "email", "maxlength": EMAIL_MAX})


def password_field(label: str, autocomplete: str, description: str = "") -> PasswordField:
    """A password input capped at the service's maximum length."""
    return PasswordField(label, description=description,
                         validators=[InputRequired("Enter a password."), Length(max=PASSWORD_MAX)],
                         render_kw={"autocomplete": autocomplete, "maxlength": PASSWORD_MAX})


def confirm_field(of: str, label: str = "Repeat the password") -> PasswordField:
    """A second entry of the password in field ``of``, which must match it."""
    return PasswordField(label,
                         validators=[InputRequired("Repeat the password."),
                                     EqualTo(of, message="The two passwords are not the same.")],
                         render_kw={"autocomplete": "new-password", "maxlength": PASSWORD_MAX})


class LoginForm(ServiceForm):
    """Email and password."""

    email = email_field()
    password = password_field("Password", "current-password")


class ChangePasswordForm(ServiceForm):
    """The current password and the new one, twice."""

    current_password = password_field("Current password", "current-password")
    new_password = password_field("New password", "new-password", NEW_PASSWORD_HINT)
    confirm = confirm_field("new_password", "Repeat the new password")


class CityChoiceForm(ServiceForm):
    """A form with a choice of city (or none), offered from the cities given."""

    city_id = SelectField("City", coerce=optional_id, validate_choice=True)

    def __init__(self, cities: list[City], *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.city_id.choices = city_choices(cities)


class RegisterForm(CityChoiceForm):
    """Name, email, city and a first password: what opening an account asks."""

    name = StringField("Name", validators=[DataRequired("Enter a name."), Length(max=NAME_MAX)],
                       render_kw={"autocomplete": "name", "maxlength": NAME_MAX})
    email = email_field()
    password = password_field("Password", "new-password", NEW_PASSWORD_HINT)
    confirm = confirm_field("password")


class ApiTokenForm(ServiceForm):
    """The name of a new API token."""

    name = StringField(
        "Token name", description="What will use it, e.g. “nightly export script”.",
        validators=[DataRequired("Give the token a name."), Length(max=api_tokens.NAME_MAX)],
        render_kw={"maxlength": api_tokens.NAME_MAX, "autocomplete": "off"},
    )
