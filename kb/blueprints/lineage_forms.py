"""Forms for adaptation links: recording which practice a case study adapts, and editing a link.

The forms parse what was posted; :mod:`kb.services.lineage` validates it
and its :class:`~kb.errors.ValidationError` is shown on the form.
"""

from __future__ import annotations

from itertools import groupby

from wtforms import SelectChoice, SelectField, TextAreaField

from kb.blueprints.auth_forms import optional_id
from kb.blueprints.forms import ServiceForm
from kb.models import AdaptationKind
from kb.services.comparison import Candidate
from kb.services.lineage import AdaptationInput

MARKDOWN_HINT = "Markdown is allowed: **bold**, *italic*, lists and links."
KIND_HINT = ("Adopted: taken over much as it was. Adapted: taken over with changes. "
             "Inspired by: a practice of your own, started from the idea. "
             "Tried and dropped: taken over, then given up.")


class AdaptationForm(ServiceForm):
    """How a practice was taken up, and what was kept, changed and learnt on the way."""

    kind = SelectField(
        "How it was taken up", description=KIND_HINT,
        choices=[SelectChoice(kind.value, kind.label) for kind in AdaptationKind],
        default=AdaptationKind.ADAPTED.value,
        validate_choice=False,  # the service says what a bad choice means
    )
    kept = TextAreaField("What was kept", render_kw={"rows": 5},
                         description="The parts of the practice taken over as they were. "
                         + MARKDOWN_HINT)
    changed = TextAreaField("What was changed", render_kw={"rows": 5},
                            description="What the city did differently. " + MARKDOWN_HINT)
    reasons = TextAreaField("Why: the differences of context", render_kw={"rows": 5},
                            description="Governance, funding, employers, languages, scale… "
                            "whatever made the changes necessary. " + MARKDOWN_HINT)
    results = TextAreaField("What resulted", render_kw={"rows": 5},
                            description="What came of the adapted version, and anything "
                            "learnt for the next city. " + MARKDOWN_HINT)

    def adaptation_input(self) -> AdaptationInput:
        """What was typed, for the service."""
        return AdaptationInput(kind=self.kind.data or "", kept=self.kept.data or "",
                               changed=self.changed.data or "", reasons=self.reasons.data or "",
                               results=self.results.data or "")


class RecordAdaptationForm(AdaptationForm):
    """A new link: the practice this case study adapts, then the link's fields."""

    source_id = SelectField("This practice adapts", coerce=optional_id, validate_choice=False,
                            invalid_value_message="Choose a case study from the list.")

    def offer(self, candidates: list[Candidate]) -> None:
        """Offer ``candidates`` (ordered by city), grouped by city, after an empty choice."""
        self.source_id.choices = {
            None: [SelectChoice("", "Choose a case study…")],
            **{city: [SelectChoice(str(c.id), c.title) for c in group]
               for city, group in groupby(candidates, key=lambda c: c.city)},
        }
