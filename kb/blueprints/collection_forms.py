"""Forms for collections: the collection itself, adding case studies, notes and moving items.

The forms parse what was posted; :mod:`kb.services.collections` validates it
and its :class:`~kb.errors.ValidationError` is shown on the form.
"""

from __future__ import annotations

from wtforms import (
    HiddenField, IntegerField, SelectChoice, SelectField, SelectMultipleField, StringField,
    TextAreaField,
)
from wtforms.validators import Optional

from kb.blueprints.forms import ServiceForm
from kb.models import Collection, CollectionVisibility
from kb.services.collections import CollectionInput

MARKDOWN_HINT = "Markdown is allowed: **bold**, *italic*, lists and links."
# The choice of the add form's collection list that makes a new collection.
NEW_COLLECTION = 0
_DAMAGED = "The form was damaged; reload the page and try again."


class CollectionForm(ServiceForm):
    """Make or edit a collection."""

    title = StringField("Title")
    introduction = TextAreaField(
        "Introduction", render_kw={"rows": 8},
        description="Shown above the case studies and at the top of the briefing pack. "
        + MARKDOWN_HINT,
    )
    visibility = SelectField(
        "Who may see it",
        choices=[SelectChoice(v.value, v.label) for v in CollectionVisibility],
        default=CollectionVisibility.PRIVATE.value,
        validate_choice=False,  # the service says what a bad choice means
    )

    def collection_input(self) -> CollectionInput:
        """What was typed, for the service."""
        return CollectionInput(title=self.title.data or "",
                               introduction=self.introduction.data or "",
                               visibility=self.visibility.data or "")


class AddToCollectionForm(ServiceForm):
    """Add case studies (``ids``: hidden fields or ticked boxes) to one's collection or a new one."""

    ids = SelectMultipleField(coerce=int, validate_choice=False,
                              invalid_value_message=_DAMAGED)
    collection = SelectField("Collection", coerce=int, invalid_value_message=_DAMAGED)
    title = StringField("Title of the new collection", validators=[Optional()],
                        description="Used when “A new collection” is chosen.")
    next = HiddenField()

    def offer(self, own: list[Collection]) -> None:
        """Offer ``own`` collections, then a new one (templates choose the first at first)."""
        self.collection.choices = [
            *[SelectChoice(collection.id, collection.title) for collection in own],
            SelectChoice(NEW_COLLECTION, "A new collection"),
        ]

    @property
    def wants_new_collection(self) -> bool:
        return self.collection.data == NEW_COLLECTION

    def validate(self, extra_validators=None) -> bool:
        """Validate, reporting damaged case-study numbers above the form (they have no label)."""
        valid = super().validate(extra_validators)
        self.form_errors.extend(self.ids.errors)
        return valid


class NoteForm(ServiceForm):
    """The curator's note on one case study of a collection."""

    note = TextAreaField(
        "Curator's note", render_kw={"rows": 8},
        description="Why this case study is here, what to look at. " + MARKDOWN_HINT,
    )


class MoveForm(ServiceForm):
    """Move an item: the "up"/"down" buttons post ``direction``; or a 1-based ``position``."""

    direction = StringField()
    position = IntegerField("Position", validators=[Optional()],
                            invalid_value_message="Type the position as a whole number.")

    @property
    def step(self) -> int | None:
        """-1 for up, 1 for down, None when a position was typed instead."""
        return {"up": -1, "down": 1}.get(self.direction.data or "")
