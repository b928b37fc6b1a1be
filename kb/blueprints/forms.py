"""What every form page shares: showing a service's errors, committing, the status code."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import flash, redirect, render_template
from flask_wtf import FlaskForm
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

from kb.errors import KbError, ValidationError
from kb.extensions import db

Saved = TypeVar("Saved")


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

    def show_refusal(self, error: KbError) -> None:
        """Show why a service refused: a ValidationError by field, anything else above the form."""
        if isinstance(error, ValidationError):
            self.show_errors(error)
        else:
            self.show_form_error(error.message)


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


def save_posted_form(form: ServiceForm, save: Callable[[], Saved],
                     message: str | Callable[[Saved], str], target: Callable[[Saved], str], *,
                     refused: tuple[type[KbError], ...] = (ValidationError,),
                     after_commit: Callable[[Saved], object] | None = None) -> Response | None:
    """A form page's POST: validate ``form``, ``save()``, commit, flash ``message``, redirect.

    ``save`` calls the service. A refusal among ``refused`` is rolled back
    and shown on ``form``, as is a name taken by someone else meanwhile
    (:func:`commit_or_show`). ``message`` and ``target`` (the address to go
    to) get what ``save`` returned, before the commit expires it;
    ``after_commit`` runs between the commit and the redirect. None when the
    form was not posted, is invalid or was refused: the caller renders the
    page again, and :func:`render_form` shows the form's errors.
    """
    if not form.validate_on_submit():
        return None
    try:
        saved = save()
    except refused as error:
        db.session.rollback()
        form.show_refusal(error)
        return None
    text = message if isinstance(message, str) else message(saved)
    address = target(saved)
    if not commit_or_show(form):
        return None
    if after_commit is not None:
        after_commit(saved)
    flash(text, "success")
    return redirect(address)
