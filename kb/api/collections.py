"""Collections in the API: list, read, make, and add case studies to them."""

from __future__ import annotations

from flask import url_for

from kb.acting import acting_user
from kb.api import auth, bp, schemas
from kb.api.schemas import (
    CollectionCases,
    CollectionDetail,
    CollectionInput,
    CollectionListQuery,
    CollectionPage,
)
from kb.api.spec import operation
from kb.errors import NotFound, ValidationError
from kb.extensions import db
from kb.paging import page_count
from kb.services import case_studies, collections

TAG = "Collections"


@operation(bp, "GET", "/collections", tag=TAG, response=CollectionPage, query=CollectionListQuery)
def list_collections(query: CollectionListQuery):
    """List collections

    The public and network collections shared with the caller, most recently
    changed first; with `scope=mine`, the caller's own, private ones included.
    """
    if query.scope == "mine":
        # A person's own collections are few: paged here, like the service's other lists.
        own = collections.own_collections(auth.required_user())
        number = max(1, min(query.page, page_count(len(own), query.per_page)))
        start = (number - 1) * query.per_page
        page = case_studies.Page(items=own[start:start + query.per_page], page=number,
                                 per_page=query.per_page, total=len(own))
    else:
        page = collections.shared_collections(acting_user(), page=query.page,
                                              per_page=query.per_page)
    counts = collections.visible_item_counts(acting_user(), page.items)
    return CollectionPage(
        items=[schemas.collection_summary(c, counts[c.id]) for c in page.items],
        page=page.page, per_page=page.per_page, total=page.total, pages=page.pages,
    )


def _detail(collection) -> CollectionDetail:
    return schemas.collection_detail(
        collection, collections.visible_items(acting_user(), collection))


@operation(bp, "GET", "/collections/<slug>", tag=TAG, response=CollectionDetail)
def get_collection(slug: str):
    """Read a collection

    Its introduction and the case studies the caller may see, in order, with
    the curator's notes. A private collection exists only for its owner.
    """
    return _detail(collections.get_collection(acting_user(), slug))


@operation(bp, "POST", "/collections", tag=TAG, response=CollectionDetail, status=201,
           body=CollectionInput, login=True, location=True)
def create_collection(read_body):
    """Make a collection

    Owned by the caller; anyone signed in makes collections.
    """
    user = auth.required_user()
    data = read_body()
    collection = collections.create_collection(
        user, collections.CollectionInput(title=data.title, introduction=data.introduction,
                                          visibility=data.visibility),
    )
    db.session.commit()
    return _detail(collection), 201, {"Location": url_for("api.get_collection",
                                                         slug=collection.slug)}


@operation(bp, "POST", "/collections/<slug>/cases", tag=TAG, response=CollectionDetail,
           body=CollectionCases, login=True, errors=(403,))
def add_to_collection(slug: str, read_body):
    """Add case studies to a collection

    Appends them, in the order given, to a collection the caller owns. Only
    case studies the caller may see can be added.
    """
    user = auth.required_user()
    collection = collections.get_collection_for_edit(user, slug)
    wanted = read_body().cases
    found, missing = [], []
    for case_slug in wanted:
        try:
            found.append(case_studies.get_case(user, case_slug).id)
        except NotFound:
            missing.append(case_slug)
    if missing:
        raise ValidationError({"cases": [f"No case study has the slug “{s}”." for s in missing]})
    collections.add_cases(user, collection, found)
    db.session.commit()
    return _detail(collection)
