"""Case studies in the API: list, read, create, update and submit for review."""

from __future__ import annotations

import dataclasses

from flask import url_for

from kb import case_fields
from kb import search as search_index
from kb.acting import acting_user
from kb.api import auth, bp, schemas
from kb.api.problems import STALE_VERSION, ApiProblem
from kb.api.schemas import (
    CaseChanges,
    CaseDetail,
    CaseInput,
    CaseListQuery,
    CasePage,
    SubmitInput,
)
from kb.api.spec import operation
from kb.case_fields import Kind
from kb.errors import Conflict, NotFound, ValidationError
from kb.extensions import db
from kb.services import case_studies, cities, policy, review, vocabularies

TAG = "Case studies"
# What a new case study starts from before the fields sent are applied.
_BLANK = case_studies.CaseInput(title="", summary="", city_id=None, education_level="")


@operation(bp, "GET", "/cases", tag=TAG, response=CasePage, query=CaseListQuery)
def list_cases(query: CaseListQuery):
    """List case studies

    The case studies the caller may see, most recently updated first (or by
    title), narrowed by the search page's facet filters.
    """
    visibility = policy.case_visibility(acting_user())
    results = search_index.search(visibility, "", query.facet_filters(), sort=query.sort,
                                  page=query.page, per_page=query.per_page)
    return CasePage(
        items=[schemas.case_summary(case)
               for case in search_index.cases_in_order(visibility, results.ids,
                                                       with_problems=True)],
        page=results.page, per_page=results.per_page, total=results.total, pages=results.pages,
    )


@operation(bp, "GET", "/cases/<slug>", tag=TAG, response=CaseDetail)
def get_case(slug: str):
    """Read a case study

    Every field. Drafts and case studies in review are found only by their
    author and the curators; to anyone else they do not exist (404).
    """
    user = acting_user()
    return schemas.case_detail(case_studies.get_case(user, slug), user)


def _service_input(fields: dict, start: case_studies.CaseInput) -> case_studies.CaseInput:
    """``start`` with the API's ``fields`` applied: the city and terms are looked up by slug."""
    errors: dict[str, list[str]] = {}
    values: dict = {}

    def lookup(name: str, slug: str, find):
        try:
            return find(slug).id
        except NotFound:
            errors.setdefault(name, []).append(f"Nothing in “{name}” has the slug “{slug}”.")
            return None

    for name, value in fields.items():
        spec = case_fields.BY_NAME.get(name)
        kind = spec.kind if spec else None
        if kind is Kind.CITY:
            values[spec.input_name] = lookup(name, value, cities.get_city)
        elif kind is Kind.TERMS:
            values[spec.input_name] = [
                lookup(name, slug, lambda s, m=spec.vocabulary: vocabularies.get_term(m, s))
                for slug in value
            ]
        elif kind is Kind.SOURCES:
            values[spec.input_name] = [(source["label"], source["url"]) for source in value]
        else:
            values[name] = value
    if errors:
        raise ValidationError(errors)
    return dataclasses.replace(start, **values)



# From a case study just created or read to what may be done with it next.
_BY_SLUG = {"parameters": {"slug": "$response.body#/slug"}}
_NEXT_STEPS = {f"{verb}Case": {"operationId": endpoint, **_BY_SLUG}
               for verb, endpoint in (("Read", "get_case"), ("Update", "update_case"),
                                      ("Submit", "submit_case"))}


@operation(bp, "POST", "/cases", tag=TAG, response=CaseDetail, status=201, body=CaseInput,
           login=True, errors=(403,), location=True, links=_NEXT_STEPS)
def create_case(read_body):
    """Create a case study

    Saved as a draft written by the caller, with its first revision.
    Members, facilitators and admins write case studies; researchers may not.
    """
    user = auth.required_user()
    data = read_body()
    fields = data.model_dump(exclude={"message"})
    case = case_studies.create_case(user, _service_input(fields, _BLANK), data.message)
    db.session.commit()
    return (schemas.case_detail(case, user), 201,
            {"Location": url_for("api.get_case", slug=case.slug)})


@operation(bp, "PATCH", "/cases/<slug>", tag=TAG, response=CaseDetail, body=CaseChanges,
           login=True, errors=(403, 409),
           also={202: "The case study is published: the change waits for review as its "
                      "proposed edit (`pending_edit`), and the published version stays on show."})
def update_case(slug: str, read_body):
    """Update a case study

    Only the fields sent change; `version` must be the version the change
    starts from, as the edit form's. Authors edit their own case studies and
    curators any, as on the site; archived case studies are read-only.
    """
    user = auth.required_user()
    case = case_studies.get_case_for_edit(user, slug)
    data = read_body()
    changes = data.model_dump(include=data.model_fields_set - {"version", "message"})
    try:
        case_studies.update_case(
            user, case, _service_input(changes, case_studies.case_to_input(case)),
            data.message or "", expected_version=data.version)
    except Conflict as error:
        raise ApiProblem(409, error.message, kind=STALE_VERSION) from None
    db.session.commit()
    return schemas.case_detail(case, user), 202 if case.is_published else 200


@operation(bp, "POST", "/cases/<slug>/submit", tag=TAG, response=CaseDetail, body=SubmitInput,
           body_required=False, login=True, errors=(403, 409))
def submit_case(slug: str, read_body):
    """Submit a case study for review

    The author sends a draft, or a case study sent back with comments, to the
    curators; the optional comment is for them. A case study in any other
    state answers 409.
    """
    user = auth.required_user()
    case = case_studies.get_case(user, slug)
    review.submit(user, case, read_body().comment)
    db.session.commit()
    return schemas.case_detail(case, user)
