"""The case-study form: parsing what people type into a :class:`CaseInput` and back.

The form checks only what it must to build a ``CaseInput`` (numbers are
numbers, choices come from the lists); what a case study needs (a title, a
city, at least one problem...) is the service's rule, and its
:class:`~kb.errors.ValidationError` messages are put back on these fields
by :meth:`kb.blueprints.forms.ServiceForm.show_errors`. Its inputs are made
from :data:`kb.case_fields.FIELDS`, one for each field, by the field's kind.
"""

from __future__ import annotations

import types
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

from kb import case_fields
from kb.blueprints.forms import ServiceForm
from kb.case_fields import MESSAGE_MAX, CaseField, Kind
from kb.models import CaseStudy, ContextKind
from kb.services.case_studies import CaseInput, FormChoices

# The long texts written in Markdown, with their labels, in the order shown.
MARKDOWN_SECTIONS: dict[str, str] = case_fields.markdown_sections()
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


def _line_input(spec: CaseField) -> StringField:
    return StringField(spec.form_label, description=spec.hint,
                       render_kw={"maxlength": spec.max_length} if spec.max_length else None)


def _paragraph_input(spec: CaseField) -> TextAreaField:
    return TextAreaField(spec.form_label, description=spec.hint, render_kw={"rows": 4})


def _markdown_input(spec: CaseField) -> TextAreaField:
    return TextAreaField(spec.form_label, description=case_fields.MARKDOWN_HINT)


def _offered_input(field_class, coerce):
    """A maker of inputs of ``field_class`` whose choices :meth:`CaseForm.offer` gives."""
    def make(spec: CaseField):
        return field_class(
            spec.form_label, coerce=coerce,
            invalid_value_message=_CHOOSE_FROM_LIST, invalid_choice_message=_CHOOSE_FROM_LIST,
        )
    return make


def _choice_input(spec: CaseField) -> SelectField:
    return SelectField(
        spec.form_label, choices=_options(spec.choices, spec.unset or None),
        description=spec.hint, default=spec.default or "", invalid_choice_message=_CHOOSE_FROM_LIST,
    )


def _year_input(spec: CaseField) -> IntegerField:
    return IntegerField(
        spec.form_label, validators=[Optional()], description=spec.hint,
        invalid_value_message="Give a year as a number, for example 2018.",
    )


_INPUTS = {
    Kind.LINE: _line_input, Kind.PARAGRAPH: _paragraph_input, Kind.MARKDOWN: _markdown_input,
    Kind.CITY: _offered_input(SelectField, _optional_int), Kind.CHOICE: _choice_input,
    Kind.TERMS: _offered_input(SelectMultipleField, int),
    Kind.YEAR: _year_input, Kind.SOURCES: _paragraph_input,
}


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


def _typed(spec: CaseField, data):
    """What the input of ``spec`` sent, as the service's ``CaseInput`` holds it."""
    if spec.kind in (Kind.CITY, Kind.YEAR):
        return data
    if spec.kind is Kind.TERMS:
        return list(data or [])
    if spec.kind is Kind.SOURCES:
        return parse_sources(data)
    # An unrated choice is None; every other empty input is an empty text.
    return data or (None if spec.kind is Kind.CHOICE and spec.default is None else "")


# One input for each field of a case study, named as CaseInput names it.
_CaseFieldInputs = types.new_class(
    "_CaseFieldInputs", (ServiceForm,),
    exec_body=lambda body: body.update(
        {spec.input_name: _INPUTS[spec.kind](spec) for spec in case_fields.FIELDS}),
)


class CaseForm(_CaseFieldInputs):
    """A new case study. Field names are the :class:`CaseInput` attribute names."""

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
        return CaseInput(**{spec.input_name: _typed(spec, self[spec.input_name].data)
                            for spec in case_fields.FIELDS})


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
    for spec in case_fields.FIELDS:
        if spec.kind is Kind.SOURCES:
            data[spec.input_name] = format_sources(data[spec.input_name])
        elif spec.kind is Kind.CHOICE:
            # An optional choice's empty value ("Not rated"); None would count as no choice.
            data[spec.input_name] = data[spec.input_name] or ""
    data["version"] = case.version
    return data
