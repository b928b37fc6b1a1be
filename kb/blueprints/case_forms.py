"""The case-study form: parsing what people type into a :class:`CaseInput` and back.

The form checks only what it must to build a ``CaseInput`` (numbers are
numbers, choices come from the lists); what a case study needs (a title, a
city, at least one problem...) is the service's rule, and its
:class:`~kb.errors.ValidationError` messages are put back on these fields
by :meth:`kb.blueprints.forms.ServiceForm.show_errors`.
"""

from __future__ import annotations

from dataclasses import asdict

from wtforms import (
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional
from wtforms.widgets import HiddenInput

from kb.blueprints.forms import ServiceForm
from kb.models import LANGUAGES, CaseStudy, ContextKind, EducationLevel, EvidenceLevel
from kb.services.case_studies import TITLE_MAX, CaseInput, FormChoices

MESSAGE_MAX = 500
# The long texts written in Markdown, with their labels, in the order shown.
MARKDOWN_SECTIONS: dict[str, str] = {
    "body": "Description",
    "implementation": "Implementation steps",
    "outcomes": "Outcomes and evidence",
    "cost_notes": "Cost notes",
    "enablers": "Enablers",
    "barriers": "Barriers",
}
_MARKDOWN_HINT = "Markdown: **bold**, *italic*, [link text](https://…), lists with “- ”."
_CHOOSE_FROM_LIST = "Choose from the list."
_DAMAGED = "The form was damaged; open the case study again and redo your changes."


def _options(pairs, placeholder: str | None = None, group: str | None = None) -> list[SelectChoice]:
    """``(value, label)`` pairs as select options, after an empty ``placeholder`` if given."""
    options = [SelectChoice("", placeholder)] if placeholder else []
    return options + [SelectChoice(value, label, optgroup=group) for value, label in pairs]


def _optional_int(value) -> int | None:
    """Coerce a select's value: the empty placeholder is None, anything else an int."""
    if value is None or value == "":
        return None
    return int(value)


def _year_field(label: str, hint: str) -> IntegerField:
    return IntegerField(
        label, validators=[Optional()], description=hint,
        invalid_value_message="Give a year as a number, for example 2018.",
    )


def _term_field(label: str) -> SelectMultipleField:
    return SelectMultipleField(
        label, coerce=int,
        invalid_value_message=_CHOOSE_FROM_LIST, invalid_choice_message=_CHOOSE_FROM_LIST,
    )


def _markdown_field(name: str) -> TextAreaField:
    return TextAreaField(MARKDOWN_SECTIONS[name], description=_MARKDOWN_HINT)


def parse_sources(text: str | None) -> list[tuple[str, str]]:
    """Read the sources box: one per line, ``label | url`` or just the URL."""
    sources = []
    for line in (text or "").splitlines():
        label, bar, url = line.rpartition("|")
        if not bar:
            label, url = "", line
        if url.strip():
            sources.append((label.strip(), url.strip()))
    return sources


def format_sources(sources: list[tuple[str, str]]) -> str:
    """Write sources back as :func:`parse_sources` reads them."""
    return "\n".join(f"{label} | {url}" if label else url for label, url in sources)


class CaseForm(ServiceForm):
    """A new case study. Field names are the :class:`CaseInput` attribute names."""

    title = StringField("Title (required)", render_kw={"maxlength": TITLE_MAX})
    summary = TextAreaField(
        "Summary (required)",
        description="One paragraph: what was done, where, and with what result.",
        render_kw={"rows": 4},
    )
    city_id = SelectField(
        "City (required)", coerce=_optional_int,
        invalid_value_message=_CHOOSE_FROM_LIST, invalid_choice_message=_CHOOSE_FROM_LIST,
    )
    education_level = SelectField(
        "Education level (required)",
        choices=_options(((lvl.value, lvl.label) for lvl in EducationLevel), "Choose a level…"),
        default="", invalid_choice_message=_CHOOSE_FROM_LIST,
    )
    language = SelectField(
        "Language of the text", choices=_options(LANGUAGES.items()), default="en",
        invalid_choice_message=_CHOOSE_FROM_LIST,
    )
    year_start = _year_field("First year active", "For example 2016.")
    year_end = _year_field("Last year active", "Leave empty while the practice is still running.")
    evidence_level = SelectField(
        "Strength of the evidence",
        choices=_options(((lvl.value, lvl.label) for lvl in EvidenceLevel), "Not rated"),
        description="Descriptive is weakest, experimental strongest.",
        default="", invalid_choice_message=_CHOOSE_FROM_LIST,
    )
    problem_ids = _term_field("Problems of practice (choose at least one)")
    context_ids = _term_field("Adaptation contexts: what the practice depends on")
    body = _markdown_field("body")
    implementation = _markdown_field("implementation")
    outcomes = _markdown_field("outcomes")
    cost_notes = _markdown_field("cost_notes")
    enablers = _markdown_field("enablers")
    barriers = _markdown_field("barriers")
    contact = StringField(
        "Contact", description="Who to ask about this practice (name, office or email)."
    )
    sources = TextAreaField(
        "Sources",
        description="One per line: “label | https://…”, or just the web address.",
        render_kw={"rows": 4},
    )
    message = StringField(
        "What changed (revision message)", validators=[Length(max=MESSAGE_MAX)],
        render_kw={"maxlength": MESSAGE_MAX},
    )
    preview = SubmitField("Preview")
    save = SubmitField("Save draft")

    def offer(self, choices: FormChoices) -> None:
        """Fill the select and checkbox lists; contexts are grouped by kind."""
        self.city_id.choices = _options(((c.id, c.name) for c in choices.cities), "Choose a city…")
        self.problem_ids.choices = _options((t.id, _term_label(t)) for t in choices.problems)
        self.context_ids.choices = [
            option
            for kind in ContextKind
            for option in _options(
                ((t.id, _term_label(t)) for t in choices.contexts if t.kind is kind),
                group=kind.label,
            )
        ]

    @property
    def wants_preview(self) -> bool:
        """True when the Preview button sent the form."""
        return bool(self.preview.data)

    def case_input(self) -> CaseInput:
        """What was typed, as the service takes it."""
        return CaseInput(
            title=self.title.data or "",
            summary=self.summary.data or "",
            city_id=self.city_id.data,
            education_level=self.education_level.data or "",
            language=self.language.data or "",
            year_start=self.year_start.data,
            year_end=self.year_end.data,
            evidence_level=self.evidence_level.data or None,
            problem_ids=list(self.problem_ids.data or []),
            context_ids=list(self.context_ids.data or []),
            sources=parse_sources(self.sources.data),
            contact=self.contact.data or "",
            **{name: getattr(self, name).data or "" for name in MARKDOWN_SECTIONS},
        )


class EditCaseForm(CaseForm):
    """An edit of an existing case study, tied to the version it started from."""

    # The version the editor loaded: the service refuses the save if someone
    # saved another version in between.
    version = IntegerField(
        widget=HiddenInput(), validators=[InputRequired(message=_DAMAGED)],
        invalid_value_message=_DAMAGED,
    )
    save = SubmitField("Save changes")

    def validate(self, extra_validators=None) -> bool:
        """Validate, reporting a damaged version field above the form (it has no label)."""
        valid = super().validate(extra_validators)
        self.form_errors.extend(self.version.errors)
        return valid


def _term_label(term) -> str:
    return f"{term.name} (retired)" if term.retired else term.name


def edit_form_data(case: CaseStudy, values: CaseInput) -> dict:
    """The form data of an edit of ``case`` that starts from ``values``."""
    data = asdict(values)
    data["sources"] = format_sources(values.sources)
    # "Not rated" is the empty choice; None would count as no choice at all.
    data["evidence_level"] = values.evidence_level or ""
    data["version"] = case.version
    return data
