"""Collections: curated lists of case studies, their pages, forms and exports.

Endpoints (under ``/collections``): ``index`` (featured and shared
collections), ``mine``, ``new``, ``add`` (POST from search results, case
pages and the comparison page), ``detail``, ``edit``, ``confirm_delete``
and ``delete``, ``feature`` and ``unfeature`` (facilitators), per item
``note``, ``move`` and ``remove``, and the exports ``briefing`` (Markdown),
``export_csv`` and ``export_json``. A public collection's Atom feed is
:mod:`kb.blueprints.feeds`'s.

Every page and export shows only the items whose case study the visitor may
see (:func:`kb.services.collections.visible_items`).
"""

from __future__ import annotations

import json
from urllib.parse import quote

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import login_required

from kb import search as search_index
from kb.acting import acting_user
from kb.blueprints.auth import safe_next
from kb.blueprints.collection_forms import (
    AddToCollectionForm,
    CollectionForm,
    MoveForm,
    NoteForm,
)
from kb.blueprints.forms import commit_or_show, render_form, save_posted_form
from kb.csvsafe import csv_document
from kb.errors import ValidationError
from kb.extensions import db
from kb.models import CaseStudy, Collection, CollectionItem, User
from kb.services import collections, policy
from kb.services.collections import CollectionInput

bp = Blueprint("collections", __name__, url_prefix="/collections")


@bp.app_template_global()
def collections_to_add_to() -> list[Collection]:
    """The signed-in user's collections, for the "add to a collection" forms of other pages."""
    return collections.own_collections(acting_user())



def _case_url(case: CaseStudy) -> str:
    return url_for("cases.detail", slug=case.slug, _external=True)


def _detail_url(collection: Collection, case_id: int | None = None) -> str:
    anchor = f"item-{case_id}" if case_id is not None else None
    return url_for("collections.detail", slug=collection.slug, _anchor=anchor)


# Lists ---------------------------------------------------------------------

@bp.get("/")
def index():
    """Featured collections, then every collection shared with the visitor."""
    user = acting_user()
    featured = collections.featured_collections(user)
    shared = collections.shared_collections(
        user, page=request.args.get("page", 1, type=int),
        per_page=current_app.config["CASES_PER_PAGE"],
    )
    counts = collections.visible_item_counts(user, [*featured, *shared.items])
    return render_template("collections/index.html", featured=featured, shared=shared,
                           counts=counts)


@bp.get("/mine")
@login_required
def mine():
    """The signed-in user's own collections, private ones included."""
    user = acting_user()
    own = collections.own_collections(user)
    return render_template("collections/mine.html", own=own,
                           counts=collections.visible_item_counts(user, own))


# One collection ----------------------------------------------------------------

@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    """Make a collection; case studies are added from search results, case pages and comparisons."""
    form = CollectionForm()
    done = save_posted_form(
        form,
        lambda: collections.create_collection(acting_user(), form.collection_input()),
        "Collection made. Add case studies to it from search results, case study pages "
        "or a comparison.",
        lambda made: url_for("collections.detail", slug=made.slug),
    )
    return done or render_form("collections/form.html", form, collection=None)


@bp.get("/<slug>")
def detail(slug: str):
    """The introduction and the case studies with their notes; the owner's tools to arrange them."""
    user = acting_user()
    collection = collections.get_collection(user, slug)
    can_edit = policy.can_edit_collection(user, collection)
    return render_template(
        "collections/detail.html", collection=collection, can_edit=can_edit,
        items=collections.visible_items(user, collection),
        hidden=collections.hidden_item_count(user, collection) if can_edit else 0,
    )


@bp.route("/<slug>/edit", methods=["GET", "POST"])
@login_required
def edit(slug: str):
    """Change the title, introduction or who may see the collection."""
    user = acting_user()
    collection = collections.get_collection_for_edit(user, slug)
    form = CollectionForm(data={"title": collection.title,
                                "introduction": collection.introduction,
                                "visibility": collection.visibility.value})
    done = save_posted_form(
        form,
        lambda: collections.update_collection(user, collection, form.collection_input()),
        "Collection saved.", lambda _: url_for("collections.detail", slug=slug),
    )
    return done or render_form("collections/form.html", form, collection=collection)


@bp.get("/<slug>/delete")
@login_required
def confirm_delete(slug: str):
    """Ask before deleting; the page's form posts to :func:`delete`."""
    collection = collections.get_collection_for_delete(acting_user(), slug)
    return render_template(
        "_partials/confirm_delete.html", title=f"Delete: {collection.title}",
        question=f"Delete the collection “{collection.title}”?",
        warning=("This deletes the collection, its introduction and its notes. The case studies "
                 "in it are not touched. It cannot be undone."),
        confirm="Delete it", action=url_for("collections.delete", slug=collection.slug),
        back=url_for("collections.detail", slug=collection.slug),
    )


@bp.post("/<slug>/delete")
@login_required
def delete(slug: str):
    """Delete the collection (never its case studies)."""
    user = acting_user()
    collection = collections.get_collection_for_delete(user, slug)
    title = collection.title
    collections.delete_collection(user, collection)
    db.session.commit()
    flash(f"Deleted the collection “{title}”.", "success")
    return redirect(url_for("collections.mine"))


def _set_featured(slug: str, featured: bool, done: str):
    user = acting_user()
    collection = collections.get_collection(user, slug)
    collections.set_featured(user, collection, featured)
    db.session.commit()
    flash(done, "success")
    return redirect(url_for("collections.detail", slug=slug))


@bp.post("/<slug>/feature")
@login_required
def feature(slug: str):
    """Feature the collection on the collections page (facilitators and admins)."""
    return _set_featured(slug, True, "The collection is featured.")


@bp.post("/<slug>/unfeature")
@login_required
def unfeature(slug: str):
    """Stop featuring the collection (facilitators and admins)."""
    return _set_featured(slug, False, "The collection is no longer featured.")


# Items ---------------------------------------------------------------------------

def _added_message(added: collections.Added, collection: Collection) -> list[tuple[str, str]]:
    """Flash messages (text, category) saying what adding did."""
    def titles(cases: list[CaseStudy]) -> str:
        return ", ".join(f"“{case.title}”" for case in cases)

    messages = []
    if added.added:
        messages.append((f"Added {titles(added.added)} to “{collection.title}”.", "success"))
    if added.already:
        messages.append((f"Already in “{collection.title}”: {titles(added.already)}.", "info"))
    if added.unpublished:
        messages.append(("Not published yet, so shown only to those who may see it: "
                         + f"{titles(added.unpublished)}.", "info"))
    return messages


@bp.post("/add")
@login_required
def add():
    """Add the case studies posted (``ids``) to one of the user's collections, or a new one."""
    user = acting_user()
    own = {collection.id: collection for collection in collections.own_collections(user)}
    form = AddToCollectionForm()
    form.offer(list(own.values()))
    if form.validate():
        try:
            if form.wants_new_collection:
                collection = collections.create_collection(
                    user, CollectionInput(title=form.title.data or ""))
            else:
                collection = own[form.collection.data]
            added = collections.add_cases(user, collection, form.ids.data)
        except ValidationError as error:
            db.session.rollback()
            form.show_errors(error)
        else:
            if commit_or_show(form):
                for message, category in _added_message(added, collection):
                    flash(message, category)
                return redirect(safe_next(form.next.data) or _detail_url(collection))
    cases = search_index.cases_in_order(policy.case_visibility(user), form.ids.data or [])
    return render_form("collections/add.html", form, cases=cases)


def _owned_collection(slug: str) -> tuple[User, Collection]:
    user = acting_user()
    return user, collections.get_collection_for_edit(user, slug)


@bp.route("/<slug>/items/<id:case_id>", methods=["GET", "POST"])
@login_required
def note(slug: str, case_id: int):
    """Write the curator's note on one case study of the collection."""
    user, collection = _owned_collection(slug)
    item = collections.get_item(user, collection, case_id)
    form = NoteForm(data={"note": item.note})
    done = save_posted_form(
        form,
        lambda: collections.set_note(user, collection, case_id, form.note.data or ""),
        f"Note saved on “{item.case_study.title}”.",
        lambda _: _detail_url(collection, case_id),
    )
    return done or render_form("collections/note.html", form, collection=collection, item=item)


@bp.post("/<slug>/items/<id:case_id>/move")
@login_required
def move(slug: str, case_id: int):
    """Move one case study up, down or to the position typed."""
    user, collection = _owned_collection(slug)
    form = MoveForm()
    if not form.validate():
        raise ValidationError("; ".join(m for messages in form.errors.values() for m in messages))
    title = collections.get_item(user, collection, case_id).case_study.title
    if form.step is not None:
        position = collections.shift_case(user, collection, case_id, form.step)
    elif form.position.data is not None:
        position = collections.move_case(user, collection, case_id, form.position.data)
    else:
        raise ValidationError("Choose “Move up”, “Move down”, or type a position.")
    db.session.commit()
    flash(f"“{title}” is now number {position}.", "success")
    return redirect(_detail_url(collection, case_id))


@bp.post("/<slug>/items/<id:case_id>/remove")
@login_required
def remove(slug: str, case_id: int):
    """Take one case study out of the collection."""
    user, collection = _owned_collection(slug)
    case = collections.remove_case(user, collection, case_id)
    title = case.title
    db.session.commit()
    flash(f"Removed “{title}” from the collection.", "success")
    return redirect(_detail_url(collection))


# Exports ---------------------------------------------------------------------------

def _shown(slug: str) -> tuple[Collection, list[CollectionItem], str]:
    """The collection at ``slug``, the items the visitor may see, and its address."""
    user = acting_user()
    collection = collections.get_collection(user, slug)
    return (collection, collections.visible_items(user, collection),
            url_for("collections.detail", slug=slug, _external=True))


def _download(body, mimetype: str, collection: Collection, extension: str):
    # An ASCII name for old clients, the slug (any script) for the others.
    plain = f"collection-{collection.id}.{extension}"
    named = quote(f"{collection.slug}.{extension}")
    return current_app.response_class(
        body, mimetype=mimetype,
        headers={"Content-Disposition":
                 f"attachment; filename=\"{plain}\"; filename*=UTF-8''{named}"},
    )


@bp.get("/<slug>/briefing.md")
def briefing(slug: str):
    """A briefing pack in Markdown: introduction, then each case study's key fields and note."""
    collection, items, url = _shown(slug)
    body = collections.briefing_markdown(collection, items, url, _case_url)
    return _download(body, "text/markdown", collection, "md")


@bp.get("/<slug>/export.csv")
def export_csv(slug: str):
    """The collection as a spreadsheet: one line per case study, cells safe from formulas."""
    collection, items, _url = _shown(slug)
    return _download(csv_document(collections.table_lines(items, _case_url)), "text/csv",
                     collection, "csv")


@bp.get("/<slug>/export.json")
def export_json(slug: str):
    """The collection, its items and their key fields as JSON."""
    collection, items, url = _shown(slug)
    return _download(json.dumps(collections.as_json(collection, items, url, _case_url),
                                ensure_ascii=False, indent=2),
                     "application/json", collection, "json")
