"""What every form page shares: showing a service's errors, committing, the status code."""

from __future__ import annotations

from flask import render_template
from flask_wtf import FlaskForm
from sqlalchemy.exc import IntegrityError

from kb.errors import ValidationError
from kb.extensions import db


class ServiceForm(FlaskForm):
    """A form that shows a service's :class:`~kb.errors.ValidationError` next to its fields."""

    def show_errors(self, error: ValidationError) -> None:
        """Attach each of ``error``'s messages to the field it names, or to the whole form."""
        for name, messages in error.errors.items():
            target = self._fields.get(name) if name else None
            if target is None:
                self.form_errors.extend(messages)
            else:
                target.errors = [*target.errors, *messages]

    def show_form_error(self, message: str) -> None:
        """Show ``message`` above the form, about the form as a whole."""
        self.form_errors.append(message)


def commit_or_show(form: ServiceForm) -> bool:
    """Commit the request's one transaction; on a unique clash, roll back and say so on ``form``.

    Services check names and slugs first, so a clash here means someone
    saved the same name a moment earlier.
    """
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        form.show_form_error(
            "Someone saved the same name or address a moment ago. Reload the page and choose another."
        )
        return False
    return True


def render_form(template: str, *forms: FlaskForm, **context):
    """Render a page holding ``forms``: status 400 when any of them shows errors.

    The first form is passed to the template as ``form``.
    """
    status = 400 if any(form.errors for form in forms) else 200
    return render_template(template, form=forms[0], **context), status
