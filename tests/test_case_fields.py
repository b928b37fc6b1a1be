"""The case-study field registry (kb.case_fields) and the surfaces built from it.

The registry's own rules are checked directly; that each surface lists the
registry's fields, with one limit for each, is checked against the built
surfaces. A field added the documented way is followed onto every surface
by ``tests/case_field_added.py``, in a process of its own.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from kb import case_fields
from kb.api import schemas
from kb.blueprints.case_forms import MARKDOWN_SECTIONS, CaseForm
from kb.case_fields import FIELDS, MESSAGE_MAX, Kind, Shown
from kb.errors import ValidationError
from kb.extensions import db
from kb.models import CaseStudy, ProposedEdit, Revision, Source, User
from kb.search import query as search_query
from kb.search import schema as search_schema
from kb.services import bulk, case_studies, collections, comparison, revisions

ADDED_FIELD_SCRIPT = Path(__file__).with_name("case_field_added.py")


def case_input(taxonomy, **overrides) -> case_studies.CaseInput:
    """A valid service input for a Toronto case study, with ``overrides``."""
    values = dict(
        title="Employer-led apprenticeships", summary="Students work two days a week.",
        city_id=taxonomy["cities"]["toronto"], education_level="upper_secondary",
        problem_ids=[taxonomy["problems"]["work-based-learning"]],
    )
    return case_studies.CaseInput(**{**values, **overrides})


@pytest.fixture
def member(app_ctx, people) -> User:
    """The member of ``people``, who writes case studies."""
    return db.session.get(User, people["member"])


# The registry itself -----------------------------------------------------------

def test_field_names_are_unique_and_each_is_on_the_model():
    names = [spec.name for spec in FIELDS]
    assert len(names) == len(set(names))
    assert all(hasattr(CaseStudy, name) for name in names)


def test_input_names_differ_only_for_rows_of_other_tables():
    renamed = {spec.name: spec.input_name for spec in FIELDS if spec.input_name != spec.name}
    assert renamed == {"city": "city_id", "problems": "problem_ids", "contexts": "context_ids"}


def test_a_required_field_says_so_on_its_form_label_unless_it_has_a_prompt():
    assert case_fields.BY_NAME["title"].form_label == "Title (required)"
    assert case_fields.BY_NAME["contact"].form_label == "Contact"
    problems = case_fields.BY_NAME["problems"]
    assert problems.required and problems.form_label == problems.prompt


def test_text_limits_fit_the_columns_that_store_them():
    for spec in case_fields.TEXT_FIELDS:
        length = CaseStudy.__table__.c[spec.name].type.length
        if length is not None:
            assert spec.max_length == length, spec.name
    assert Source.__table__.c.label.type.length == case_fields.SHORT_TEXT_MAX
    assert Source.__table__.c.url.type.length == case_fields.URL_MAX
    assert Revision.__table__.c.message.type.length == MESSAGE_MAX
    assert ProposedEdit.__table__.c.message.type.length == MESSAGE_MAX


def test_rows_are_ordered_by_rank_with_the_surface_own_rows():
    placed = case_fields.rows("history", {"status": Shown(100, "Status when saved")})
    ranks = [place.rank for _, place in placed]
    assert ranks == sorted(ranks)
    assert [name for name, _ in placed][8:11] == ["evidence_level", "status", "body"]


def test_a_choice_reads_as_its_label_or_as_unset():
    evidence = case_fields.BY_NAME["evidence_level"]
    assert case_fields.choice_label(evidence, "experimental") == "Experimental"
    assert case_fields.choice_label(evidence, None) == "Not rated"


def test_a_too_long_message_names_the_text_or_says_this_for_markdown():
    assert case_fields.too_long(case_fields.BY_NAME["summary"], 2_000) == \
        "Keep the summary under 2,000 characters."
    assert case_fields.too_long(case_fields.BY_NAME["body"], 100) == \
        "Keep this under 100 characters."


# Surfaces built from it ----------------------------------------------------------

def test_the_service_input_has_one_attribute_per_field():
    attributes = [f.name for f in dataclasses.fields(case_studies.CaseInput)]
    assert attributes == [spec.input_name for spec in FIELDS]


def test_the_form_has_one_input_per_field_and_the_markdown_sections_in_order():
    assert all(hasattr(CaseForm, spec.input_name) for spec in FIELDS)
    assert list(MARKDOWN_SECTIONS) == [spec.name for spec in case_fields.MARKDOWN_FIELDS]


def test_the_api_request_takes_every_field_and_the_message():
    assert list(schemas.CaseInput.model_fields) == [*(spec.name for spec in FIELDS), "message"]
    detail = set(schemas.CaseDetail.model_fields)
    assert {spec.name for spec in case_fields.TEXT_FIELDS} <= detail


def test_the_import_columns_are_the_fields_then_the_status():
    assert bulk.COLUMN_NAMES == (*(spec.name for spec in FIELDS), "status")
    assert [c.required for c in bulk.COLUMNS[:-1]] == [spec.required for spec in FIELDS]


def test_the_history_labels_every_field_shown_in_it():
    for spec in FIELDS:
        if spec.history:
            key = spec.history.key or spec.name
            assert revisions.FIELD_LABELS[key] == (spec.history.label or spec.label)
    assert set(revisions.LINE_FIELDS) == {
        spec.name for spec in FIELDS if spec.kind in (Kind.MARKDOWN, Kind.SOURCES)}


def test_the_comparison_and_collection_exports_carry_the_marked_fields():
    compared = {row.key for row in comparison.FRAMEWORK}
    collected = {field.key for field in collections.KEY_FIELDS}
    for spec in FIELDS:
        if spec.compared:
            assert (spec.compared.key or spec.name) in compared, spec.name
        if spec.collected:
            assert (spec.collected.key or spec.name) in collected, spec.name
    assert {row.section for row in comparison.FRAMEWORK} == set(comparison.SECTIONS)


def test_the_search_index_holds_the_searched_fields_with_the_query_weights():
    searched = [spec for spec in FIELDS if spec.searched]
    assert {spec.searched.index_field for spec in searched} == set(search_schema.TEXT_FIELDS)
    for spec in searched:
        assert search_query.FIELD_BOOSTS[spec.searched.index_field] == spec.searched.weight


# One limit for each field ------------------------------------------------------------

def _api_property(model, name: str) -> dict:
    return model.model_json_schema()["properties"][name]


def test_the_api_and_the_form_use_the_registry_limits():
    for spec in case_fields.TEXT_FIELDS:
        if spec.max_length is not None:
            assert _api_property(schemas.CaseInput, spec.name)["maxLength"] == spec.max_length
    assert _api_property(schemas.CaseInput, "message")["maxLength"] == MESSAGE_MAX
    assert _api_property(schemas.CaseInput, "problems")["maxItems"] == case_fields.TERMS_MAX
    assert CaseForm.message.kwargs["render_kw"]["maxlength"] == MESSAGE_MAX


def test_the_service_refuses_a_revision_message_over_the_limit_instead_of_cutting_it(
        taxonomy, member):
    with pytest.raises(ValidationError) as refused:
        case_studies.create_case(member, case_input(taxonomy), "x" * (MESSAGE_MAX + 1))
    assert list(refused.value.errors) == ["message"]
    case = case_studies.create_case(member, case_input(taxonomy), "y" * MESSAGE_MAX)
    assert case.revisions[0].message == "y" * MESSAGE_MAX


def test_an_edit_with_a_message_over_the_limit_changes_nothing(taxonomy, member):
    case = case_studies.create_case(member, case_input(taxonomy), "first")
    db.session.commit()
    with pytest.raises(ValidationError):
        case_studies.update_case(member, case, case_input(taxonomy, body="Changed."),
                                 "x" * (MESSAGE_MAX + 1))
    assert case.version == 1 and case.body == ""


def test_the_service_refuses_more_terms_than_the_api_takes(taxonomy, member):
    many = [taxonomy["contexts"]["public-funding"]] * (case_fields.TERMS_MAX + 1)
    with pytest.raises(ValidationError) as refused:
        case_studies.create_case(member, case_input(taxonomy, context_ids=many))
    assert "context_ids" in refused.value.errors


def test_an_import_from_a_file_with_a_long_name_keeps_a_message_within_the_limit(
        app_ctx, taxonomy, people):
    facilitator = db.session.get(User, people["facilitator"])
    record = {"title": "Imported", "summary": "A summary.", "city": "toronto",
              "education_level": "upper_secondary", "problems": ["work-based-learning"]}
    rows = bulk.read_rows(json.dumps(record).encode(), "jsonl", max_bytes=10_000)
    report = bulk.import_cases(facilitator, rows, source_name="n" * 2 * MESSAGE_MAX + ".jsonl")
    message = case_studies.get_case(facilitator, report.cases[0].slug).revisions[0].message
    assert message.startswith("Imported from nnn") and len(message) == MESSAGE_MAX


# A field added through the registry ---------------------------------------------------

@pytest.mark.slow
def test_a_field_added_through_the_registry_reaches_every_surface(tmp_path):
    finished = subprocess.run(
        [sys.executable, str(ADDED_FIELD_SCRIPT), str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )
    assert finished.returncode == 0, finished.stderr[-4000:]
    assert "evaluation_notes is on every surface" in finished.stdout
