"""Forms for curating cities, problems of practice and adaptation contexts.

The forms only parse what was posted; the services validate it (lengths,
duplicates) and their :class:`~kb.errors.ValidationError` is shown on the
form by :meth:`kb.blueprints.forms.ServiceForm.show_errors`.
"""

from __future__ import annotations

from wtforms import BooleanField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired

from kb.blueprints.forms import ServiceForm
from kb.models import PROFILE_HEADINGS, ContextKind

SLUG_HINT = "Part of the page's address. Leave empty to make one from the name."


class TermForm(ServiceForm):
    """Add or edit a problem of practice."""

    name = StringField("Name")
    slug = StringField("Slug", description=SLUG_HINT)
    description = TextAreaField("Description", description="Markdown is allowed.")


class ContextTermForm(TermForm):
    """Add or edit an adaptation context, which also has a kind."""

    kind = SelectField(
        "Kind",
        choices=[SelectChoice(kind.value, kind.label) for kind in ContextKind],
        validators=[InputRequired("Choose a kind from the list.")],
    )


class MergeForm(ServiceForm):
    """Choose the term that absorbs the one being curated."""

    target_id = SelectField("Merge into", coerce=int, validate_choice=True)
    confirm = BooleanField(
        "I understand that every case study moves to the chosen term and this term is retired.",
        validators=[InputRequired("Tick the box to confirm the merge.")],
    )

    def set_targets(self, terms) -> None:
        """Offer ``terms`` as merge targets."""
        self.target_id.choices = [SelectChoice(term.id, term.name) for term in terms]


class CityForm(ServiceForm):
    """Add or edit a city with its context profile."""

    name = StringField("Name")
    country = StringField("Country")
    slug = StringField("Slug", description=SLUG_HINT)

    def profile(self) -> dict[str, str]:
        """The profile texts posted, keyed like PROFILE_HEADINGS."""
        return {key: self[f"profile_{key}"].data or "" for key in PROFILE_HEADINGS}

    def profile_fields(self):
        """The profile's fields in the fixed heading order."""
        return [self[f"profile_{key}"] for key in PROFILE_HEADINGS]


# One text area per fixed heading, so a new heading needs no change here.
for _key, _heading in PROFILE_HEADINGS.items():
    setattr(CityForm, f"profile_{_key}",
            TextAreaField(_heading, description="Markdown is allowed."))
del _key, _heading
