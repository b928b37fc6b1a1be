"""Case-study pages: lists, the detail page, writing and editing, revisions.

Endpoints: ``index``, ``mine``, ``new``, ``detail``, ``edit``,
``confirm_delete`` (GET) and ``delete`` (POST) on the same address, and
``revision``. Submitting, publishing and the other steps of review are
:mod:`kb.blueprints.review`'s.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from types import MappingProxyType

from flask import (
    Blueprint,
    current_app,
    flash,
    get_template_attribute,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import login_required
from markupsafe import Markup

from kb import search as search_index
from kb.acting import acting_user
from kb.blueprints.case_forms import (
    CaseForm,
    EditCaseForm,
    edit_form_data,
)
from kb.errors import Conflict, PermissionDenied, ValidationError
from kb.extensions import db
from kb.models import CaseStudy, User
from kb.services import case_studies, collections, comparison, policy, review
from kb.services.case_studies import CaseInput
from kb.services.comparison import Candidate

bp = Blueprint("cases", __name__, url_prefix="/cases")


def _page_number() -> int:
    """The ``?page=`` asked for; garbage means the first page, the service clamps the rest."""
    return request.args.get("page", 1, type=int)


def _listing(template: str, **filters):
    page = case_studies.list_cases(
        acting_user(), page=_page_number(), per_page=current_app.config["CASES_PER_PAGE"],
        **filters,
    )
    return render_template(template, page=page)


@bp.get("/")
def index():
    """Every case study the visitor may see, most recently updated first."""
    return _listing("cases/index.html")


@bp.get("/mine")
@login_required
def mine():
    """The signed-in user's own case studies, drafts included."""
    return _listing("cases/mine.html", author_id=acting_user().id)


def _case_form_page(form: CaseForm, case: CaseStudy | None,
                    save: Callable[[CaseInput, str], CaseStudy], saved_message: str | None):
    """The POST flow the new and edit pages share; GET just shows the form.

    Preview re-renders the form with the Markdown rendered below it and
    saves nothing. A save that the service refuses shows its messages on
    the form, keeping what was typed.
    """
    if not form.is_submitted():
        return _render_form(form, case)
    # A preview is validated too, so that it already shows a bad year or choice.
    valid = form.validate()
    if form.wants_preview:
        return _render_form(form, case)
    if not valid:
        return _render_form(form, case, 400)
    try:
        saved = save(form.case_input(), form.message.data or "")
    except ValidationError as error:
        db.session.rollback()
        form.show_errors(error)
        return _render_form(form, case, 400)
    except Conflict as error:
        db.session.rollback()
        form.show_form_error(error.message)
        return _render_form(form, case, 409)
    db.session.commit()
    flash(saved_message or _PROPOSED, "success")
    return redirect(url_for("cases.detail", slug=saved.slug))


def _render_form(form: CaseForm, case: CaseStudy | None, status: int = 200):
    page = render_template("cases/form.html", form=form, case=case, preview=form.wants_preview)
    return page, status


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    """Write a new case study; it is saved as a draft."""
    user = acting_user()
    if not policy.can_create_case(user):
        raise PermissionDenied("Your role cannot write case studies.")
    form = CaseForm()
    form.offer(case_studies.form_choices())
    return _case_form_page(
        form, None,
        lambda data, message: case_studies.create_case(user, data, message),
        "Draft saved. Submit it for review when it is ready to be seen by everyone.",
    )


_PROPOSED = ("Your edit waits for review; the published version stays on show "
             "until a facilitator publishes the edit.")


@bp.route("/<slug>/edit", methods=["GET", "POST"])
@login_required
def edit(slug: str):
    """Edit a case study: each save is a new version, or for a published one a proposed edit.

    The form of a published case study starts from the edit already
    proposed, if one waits, so that saving it again revises that edit.
    """
    user = acting_user()
    case = case_studies.get_case_for_edit(user, slug)
    form = EditCaseForm(data=edit_form_data(case, review.proposed_input(user, case)))
    form.offer(case_studies.form_choices(case))
    if case.is_published:
        form.save.label.text = "Send the edit for review"
    return _case_form_page(
        form, case,
        lambda data, message: case_studies.update_case(
            user, case, data, message, expected_version=form.version.data,
        ),
        None if case.is_published else "Changes saved as a new version.",
    )


@bp.get("/<slug>")
def detail(slug: str):
    """Every field of a case study, its revisions, and what the visitor may do with it."""
    user = acting_user()
    case = case_studies.get_case(user, slug)
    visibility = policy.case_visibility(user)
    similar_ids = search_index.similar_cases(visibility, case.id)
    groups = search_index.other_cities_on_problems(visibility, case.id)
    # One query for every box: a query per city group made this the slowest page.
    loaded = {link.id: link for link in search_index.links_in_order(
        visibility, similar_ids + [case_id for group in groups for case_id in group.case_ids]
    )}
    similar = [loaded[i] for i in similar_ids if i in loaded]
    other_cities = [
        cases
        for group in groups
        if (cases := [loaded[i] for i in group.case_ids if i in loaded])
    ]
    return render_template("cases/detail.html", case=case, similar=similar, other_cities=other_cities,
                           compare_groups=_compare_groups(user, case),
                           review_history=review.history(user, case),
                           holding=collections.collections_holding(user, case))


def _by_city(candidates: Iterable[Candidate]) -> list[tuple[str, tuple[Candidate, ...]]]:
    """``candidates`` by city, as Jinja's ``groupby('city')`` groups them (ignoring case)."""
    def city(candidate: Candidate) -> str:
        return candidate.city.lower()

    groups = (tuple(group) for _, group in itertools.groupby(sorted(candidates, key=city), city))
    return [(group[0].city, group) for group in groups]


def _compare_groups(user: User | None, case: CaseStudy) -> list[tuple[str, Markup]]:
    """The "compare with…" list of ``case``'s page: (city, its rendered options) pairs.

    Its many options cost much of the page's rendering, and are nearly
    the same on every page: the candidates are read, and each city's
    options rendered, once until a case study changes
    (:func:`kb.search.remembered`), the last city's both whole and cut at
    the list's length, and only the city whose own case study this page
    leaves out is rendered here.
    """
    render = get_template_attribute("cases/_compare.html", "options")
    visibility = policy.case_visibility(user)
    offered = search_index.remembered(visibility, ("compare candidates",),
                                      lambda: comparison.offered_candidates(user))

    def render_each_city() -> MappingProxyType:
        return MappingProxyType({
            tuple(other.id for other in group): render(group)
            for candidates in (offered, offered[:comparison.MAX_CANDIDATES])
            for _, group in _by_city(candidates)
        })

    rendered = search_index.remembered(visibility, ("compare options",), render_each_city)
    return [(city, rendered.get(tuple(other.id for other in group)) or render(group))
            for city, group in _by_city(comparison.candidates_besides(case, offered))]


@bp.get("/<slug>/delete")
@login_required
def confirm_delete(slug: str):
    """Ask before deleting; the page's form posts to :func:`delete`."""
    user = acting_user()
    case = case_studies.get_case(user, slug)
    if not policy.can_delete_case(user, case):
        raise PermissionDenied("You cannot delete this case study.")
    return render_template(
        "_partials/confirm_delete.html", title=f"Delete: {case.title}",
        question=Markup('Delete <span lang="{}">{}</span>?').format(case.language, case.title),
        warning=(f"This deletes the case study and all {len(case.revisions)} of its saved "
                 "versions. It cannot be undone."),
        confirm="Delete it", action=url_for("cases.delete", slug=case.slug),
        back=url_for("cases.detail", slug=case.slug),
    )


@bp.post("/<slug>/delete")
@login_required
def delete(slug: str):
    """Delete a case study and its revisions."""
    user = acting_user()
    case = case_studies.get_case(user, slug)
    title = case.title
    case_studies.delete_case(user, case)
    db.session.commit()
    flash(f"Deleted “{title}”.", "success")
    return redirect(url_for("cases.mine"))


@bp.get("/<slug>/revisions/<id:number>")
def revision(slug: str, number: int):
    """One saved version of a case study, as it was saved."""
    user = acting_user()
    case = case_studies.get_case(user, slug)
    details = case_studies.revision_details(user, case, number)
    return render_template("cases/revision.html", case=case, details=details)

