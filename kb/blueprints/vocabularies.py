"""Problems of practice and adaptation contexts: public pages and curation.

Both vocabularies get the same pages, registered from one set of views by
:func:`_register`; :class:`VocabularyPages` holds what differs (model,
names, form). Endpoints, for ``problems`` (``contexts`` alike):

- ``problems`` and ``problem``: the public index and a term's page;
- ``curate_problems``: the curation list with the add form;
- ``curate_problem``, ``retire_problem``, ``restore_problem``,
  ``merge_problem``: editing one term.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial, update_wrapper

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import login_required

from kb.acting import acting_user
from kb.blueprints.forms import render_form, save_posted_form
from kb.blueprints.vocabulary_forms import ContextTermForm, MergeForm, TermForm
from kb.extensions import db
from kb.models import AdaptationContext, ProblemOfPractice
from kb.services import vocabularies
from kb.services.vocabularies import TermInput

bp = Blueprint("vocabularies", __name__)


@dataclass(frozen=True)
class VocabularyPages:
    """What the pages of one vocabulary need to know about it."""

    model: type
    plural: str  # URL segment, e.g. "problems"
    singular: str  # e.g. "problem"
    title: str  # heading of the index page
    noun: str  # one term, in sentences
    form_class: type[TermForm]

    def endpoint(self, action: str) -> str:
        """The endpoint name (without the blueprint) of ``action`` on this vocabulary."""
        return {
            "index": self.plural,
            "detail": self.singular,
            "curate": f"curate_{self.plural}",
            "edit": f"curate_{self.singular}",
            "retire": f"retire_{self.singular}",
            "restore": f"restore_{self.singular}",
            "merge": f"merge_{self.singular}",
        }[action]

    def url(self, action: str, **values) -> str:
        """The URL of ``action`` on this vocabulary, for views and templates."""
        return url_for(f"vocabularies.{self.endpoint(action)}", **values)


PROBLEMS = VocabularyPages(
    ProblemOfPractice, "problems", "problem", "Problems of practice", "problem of practice",
    TermForm,
)
CONTEXTS = VocabularyPages(
    AdaptationContext, "contexts", "context", "Adaptation contexts", "adaptation context",
    ContextTermForm,
)


def term_index(pages: VocabularyPages):
    """Active terms with their published case-study counts; retired terms apart."""
    overview = vocabularies.term_overview(pages.model)
    return render_template("vocabularies/index.html", pages=pages, overview=overview)


def term_detail(pages: VocabularyPages, slug: str):
    """A term's description and the case studies carrying it, by city; merged terms redirect."""
    term = vocabularies.get_term(pages.model, slug)
    if term.merged_into is not None:
        return redirect(pages.url("detail", slug=term.merged_into.slug), 301)
    found = vocabularies.term_cases(
        acting_user(), pages.model, term,
        page=request.args.get("page", 1, type=int),
        per_page=current_app.config["CASES_PER_PAGE"],
    )
    return render_template("vocabularies/detail.html", pages=pages, term=term, found=found)


def _term_input(form: TermForm) -> TermInput:
    return TermInput(
        name=form.name.data or "",
        slug=form.slug.data or "",
        description=form.description.data or "",
        kind=form.kind.data if "kind" in form else None,
    )


def curate_list(pages: VocabularyPages):
    """Every term with its case-study count, and the form that adds one."""
    user = acting_user()
    form = pages.form_class()
    done = save_posted_form(
        form, lambda: vocabularies.create_term(user, pages.model, _term_input(form)),
        lambda term: f"Added the {pages.noun} “{term.name}”.", lambda _: pages.url("curate"),
    )
    return done or render_form("vocabularies/curate.html", form, pages=pages,
                               terms=vocabularies.curation_overview(user, pages.model))


def _render_edit(pages: VocabularyPages, term, form: TermForm, merge_form: MergeForm):
    merge_form.set_targets(vocabularies.merge_targets(pages.model, term))
    return render_form(
        "vocabularies/edit.html", form, merge_form, pages=pages, term=term, merge_form=merge_form
    )


def _edit_form(pages: VocabularyPages, term, formdata=None) -> TermForm:
    """The edit form, filled from the posted data or, on a GET, from ``term``."""
    current = {
        "name": term.name,
        "slug": term.slug,
        "description": term.description,
        "kind": term.kind.value if hasattr(term, "kind") else None,
    }
    return pages.form_class(formdata=formdata, data=current)


def edit_term(pages: VocabularyPages, term_id: int):
    """Rename a term or change its slug, description or kind."""
    user = acting_user()
    term = vocabularies.get_term_for_curation(user, pages.model, term_id)
    form = _edit_form(pages, term, request.form if request.method == "POST" else None)
    done = save_posted_form(
        form, lambda: vocabularies.update_term(user, pages.model, term, _term_input(form)),
        lambda saved: f"Saved the {pages.noun} “{saved.name}”.",
        lambda saved: pages.url("edit", term_id=saved.id),
    )
    return done or _render_edit(pages, term, form, MergeForm(formdata=None))


def _change_state(pages: VocabularyPages, term_id: int, change, done: str):
    term = vocabularies.get_term_for_curation(acting_user(), pages.model, term_id)
    change(acting_user(), pages.model, term)
    name = term.name
    db.session.commit()
    flash(f"{done} “{name}”.", "success")
    return redirect(pages.url("edit", term_id=term_id))


def retire_term(pages: VocabularyPages, term_id: int):
    """Stop offering a term for new case studies."""
    return _change_state(pages, term_id, vocabularies.retire_term, "Retired")


def restore_term(pages: VocabularyPages, term_id: int):
    """Offer a retired term again."""
    return _change_state(pages, term_id, vocabularies.restore_term, "Restored")


def merge_term(pages: VocabularyPages, term_id: int):
    """Move every case study from this term to the chosen one and retire this term."""
    user = acting_user()
    term = vocabularies.get_term_for_curation(user, pages.model, term_id)
    merge_form = MergeForm()
    merge_form.set_targets(vocabularies.merge_targets(pages.model, term))
    source_name = term.name
    done = save_posted_form(
        merge_form,
        lambda: vocabularies.merge_term(user, pages.model, term, merge_form.target_id.data),
        lambda target: f"Merged “{source_name}” into “{target.name}”.",
        lambda target: pages.url("edit", term_id=target.id),
    )
    return done or _render_edit(pages, term, _edit_form(pages, term), merge_form)


def _register(pages: VocabularyPages) -> None:
    curated = (
        ("curate", "/curate/{plural}", curate_list, ["GET", "POST"]),
        ("edit", "/curate/{plural}/<id:term_id>", edit_term, ["GET", "POST"]),
        ("retire", "/curate/{plural}/<id:term_id>/retire", retire_term, ["POST"]),
        ("restore", "/curate/{plural}/<id:term_id>/restore", restore_term, ["POST"]),
        ("merge", "/curate/{plural}/<id:term_id>/merge", merge_term, ["POST"]),
    )
    public = (
        ("index", "/{plural}", term_index, ["GET"]),
        ("detail", "/{plural}/<slug>", term_detail, ["GET"]),
    )
    # update_wrapper gives each view its function's name: Flask-WTF's CSRF
    # check reads the view's __name__, which a bare partial lacks.
    for action, rule, view, methods in public:
        bp.add_url_rule(rule.format(plural=pages.plural), pages.endpoint(action),
                        update_wrapper(partial(view, pages), view), methods=methods)
    for action, rule, view, methods in curated:
        bp.add_url_rule(rule.format(plural=pages.plural), pages.endpoint(action),
                        login_required(update_wrapper(partial(view, pages), view)),
                        methods=methods)


_register(PROBLEMS)
_register(CONTEXTS)
