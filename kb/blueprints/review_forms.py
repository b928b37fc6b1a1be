"""The form every step of review posts: a comment, and the version its page showed.

The service decides whether a comment is required (a request for changes
needs one) and shows its :class:`~kb.errors.ValidationError` on the comment.
"""

from __future__ import annotations

from wtforms import IntegerField, TextAreaField
from wtforms.validators import Length, Optional
from wtforms.widgets import HiddenInput

from kb.blueprints.forms import ServiceForm
from kb.services.review import COMMENT_MAX

_DAMAGED = "The form was damaged; reload the case study and try again."


class StepForm(ServiceForm):
    """One step of review. ``version`` is the case study's version, or the proposed edit's save."""

    comment = TextAreaField(
        "Comment", validators=[Length(max=COMMENT_MAX)], render_kw={"rows": 4},
        description="Seen by the author and the curators only.",
    )
    version = IntegerField(widget=HiddenInput(), validators=[Optional()],
                           invalid_value_message=_DAMAGED)

    def validate(self, extra_validators=None) -> bool:
        """Validate, reporting a damaged version field above the form (it has no label)."""
        valid = super().validate(extra_validators)
        self.form_errors.extend(self.version.errors)
        return valid
