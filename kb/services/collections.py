"""Collections: curated, ordered lists of case studies with an introduction and notes.

Anyone signed in makes collections, for a meeting, a briefing or their own
research; :mod:`kb.services.policy` says who sees and changes them. A
collection is private (its owner only), network (everyone signed in) or
public (everyone, with an Atom feed). Only the owner changes it; facilitators
feature the ones others can see, and a featured collection that becomes
private stops being featured.

Items whose case study the viewer may not see (a draft, an archived case
study) are left out for that viewer everywhere: on the page, in the exports
and in the feed. They stay in the collection and come back if the case study
is published (again); the owner's page says how many are hidden.

Positions are stored 0-based and without gaps; people see and type 1-based
positions among the items they can see. Reordering moves only those and
leaves hidden items where they are.

The exports (:func:`briefing_markdown`, :func:`table_lines` for CSV,
:func:`as_json`) share one list of :data:`KEY_FIELDS`. They take the
visible items and the URLs to link to, so that this module never builds a
URL; the JSON API and the bulk export call them the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from kb import case_fields
from kb.case_fields import Kind, Shown
from kb.errors import Conflict, NotFound, PermissionDenied, ValidationError
from kb.extensions import db
from kb.models import (
    CaseStudy,
    Collection,
    CollectionItem,
    CollectionVisibility,
    User,
    is_valid_id,
    utcnow,
)
from kb.paging import page_count
from kb.sanitize import clean_text
from kb.services import policy
from kb.services.case_studies import COLLECTION_SLUG_LOCKS, Page, free_slug, slugify

TITLE_MAX = 200
SLUG_MAX = 100
# Longest collection: bounds the page, the exports and the feed.
MAX_ITEMS = 200
# Words the web pages use as addresses beside /collections/<slug>.
RESERVED_SLUGS = frozenset({"new", "mine", "add"})
# What slugify produces; anything else cannot name a collection (and
# PostgreSQL refuses a NUL byte in a query outright).
_SLUG_SHAPE = re.compile(rf"[\w-]{{1,{SLUG_MAX * 2}}}")
_NOT_FOUND = "No such collection."
_OWNER_ONLY = "Only the owner of this collection can change it."


@dataclass
class CollectionInput:
    """What a person types for a collection."""

    title: str
    introduction: str = ""
    visibility: str = CollectionVisibility.PRIVATE.value


@dataclass
class Added:
    """What :func:`add_cases` did with each case study asked for."""

    added: list[CaseStudy] = field(default_factory=list)
    already: list[CaseStudy] = field(default_factory=list)

    @property
    def unpublished(self) -> list[CaseStudy]:
        """Added case studies that others will not see until they are published."""
        return [case for case in self.added if not case.is_published]


# Finding collections ---------------------------------------------------------

def get_collection(user: User | None, slug: str) -> Collection:
    """The collection at ``slug`` if ``user`` may see it; NotFound alike if missing or hidden."""
    if not slug or not _SLUG_SHAPE.fullmatch(slug):
        raise NotFound(_NOT_FOUND)
    collection = db.session.scalar(
        select(Collection).where(Collection.slug == slug).options(selectinload(Collection.owner))
    )
    if collection is None or not policy.can_view_collection(user, collection):
        raise NotFound(_NOT_FOUND)
    return collection


def get_collection_for_edit(user: User | None, slug: str) -> Collection:
    """The collection at ``slug`` if ``user`` may change it."""
    collection = get_collection(user, slug)
    _require_owner(user, collection)
    return collection


def get_collection_for_delete(user: User | None, slug: str) -> Collection:
    """The collection at ``slug`` if ``user`` may delete it."""
    collection = get_collection(user, slug)
    if not policy.can_delete_collection(user, collection):
        raise PermissionDenied("You cannot delete this collection.")
    return collection


def _require_owner(user: User | None, collection: Collection) -> None:
    if not policy.can_edit_collection(user, collection):
        raise PermissionDenied(_OWNER_ONLY)


def own_collections(user: User | None) -> list[Collection]:
    """``user``'s collections, every visibility, most recently changed first."""
    if not policy.can_create_collection(user):
        return []
    return list(db.session.scalars(
        select(Collection).where(Collection.owner_id == user.id)
        .order_by(Collection.updated_at.desc(), Collection.id.desc())
    ))


def featured_collections(user: User | None, limit: int | None = None) -> list[Collection]:
    """Featured collections ``user`` may see, most recently changed first (at most ``limit``)."""
    return list(db.session.scalars(
        select(Collection)
        .where(Collection.featured, policy.visible_collections_clause(user))
        .options(selectinload(Collection.owner))
        .order_by(Collection.updated_at.desc(), Collection.id.desc())
        .limit(limit)
    ))


def collections_holding(user: User | None, case: CaseStudy) -> list[Collection]:
    """The collections ``user`` may see that hold ``case``: featured first, then the latest."""
    return list(db.session.scalars(
        select(Collection)
        .join(CollectionItem, CollectionItem.collection_id == Collection.id)
        .where(CollectionItem.case_study_id == case.id, policy.visible_collections_clause(user))
        .order_by(Collection.featured.desc(), Collection.updated_at.desc(), Collection.id.desc())
    ))


def shared_collections(user: User | None, *, page: int = 1, per_page: int = 20) -> Page:
    """Collections shared with ``user`` (public ones, and network ones when signed in)."""
    query = select(Collection).where(
        Collection.visibility != CollectionVisibility.PRIVATE,
        policy.visible_collections_clause(user),
    )
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    page = max(1, min(page, page_count(total, per_page)))
    items = db.session.scalars(
        query.options(selectinload(Collection.owner))
        .order_by(Collection.updated_at.desc(), Collection.id.desc())
        .limit(per_page).offset((page - 1) * per_page)
    ).all()
    return Page(items=list(items), page=page, per_page=per_page, total=total)


def visible_item_counts(user: User | None, collections: list[Collection]) -> dict[int, int]:
    """How many items of each collection ``user`` may see, by collection id."""
    ids = [collection.id for collection in collections]
    if not ids:
        return {}
    counts = dict(db.session.execute(
        select(CollectionItem.collection_id, func.count())
        .join(CaseStudy, CollectionItem.case_study_id == CaseStudy.id)
        .where(CollectionItem.collection_id.in_(ids), policy.visible_cases_clause(user))
        .group_by(CollectionItem.collection_id)
    ).all())
    return {collection_id: counts.get(collection_id, 0) for collection_id in ids}


# Items ------------------------------------------------------------------------

def visible_items(user: User | None, collection: Collection) -> list[CollectionItem]:
    """The items of ``collection`` whose case study ``user`` may see, in order."""
    return list(db.session.scalars(
        select(CollectionItem)
        .join(CaseStudy, CollectionItem.case_study_id == CaseStudy.id)
        .where(CollectionItem.collection_id == collection.id, policy.visible_cases_clause(user))
        .options(selectinload(CollectionItem.case_study).selectinload(CaseStudy.city),
                 selectinload(CollectionItem.case_study).selectinload(CaseStudy.problems),
                 selectinload(CollectionItem.case_study).selectinload(CaseStudy.author))
        .order_by(CollectionItem.position, CollectionItem.id)
    ))


def hidden_item_count(user: User | None, collection: Collection) -> int:
    """How many items of ``collection`` are hidden from ``user`` (case studies they may not see)."""
    total = db.session.scalar(
        select(func.count()).select_from(CollectionItem)
        .where(CollectionItem.collection_id == collection.id)
    )
    return total - visible_item_counts(user, [collection])[collection.id]


def get_item(user: User | None, collection: Collection, case_id: int) -> CollectionItem:
    """The item of case study ``case_id`` in ``collection``, if ``user`` may see that case study."""
    if is_valid_id(case_id):
        for item in visible_items(user, collection):
            if item.case_study_id == case_id:
                return item
    raise NotFound("That case study is not in this collection.")


def _owned_item(user: User | None, collection: Collection, case_id: int) -> CollectionItem:
    _require_owner(user, collection)
    return get_item(user, collection, case_id)


def _touch(collection: Collection) -> None:
    collection.updated_at = utcnow()


def _renumber(collection: Collection, ordered: list[CollectionItem]) -> None:
    """Store the order of ``ordered`` (all of the collection's items) as positions 0, 1, 2..."""
    for position, item in enumerate(ordered):
        item.position = position
    # The relationship's list keeps its load order until it is loaded again.
    collection.items.sort(key=lambda item: item.position)


def _in_order(collection: Collection) -> list[CollectionItem]:
    return sorted(collection.items, key=lambda item: (item.position, item.id or 0))


def add_cases(user: User | None, collection: Collection, case_ids: list[int]) -> Added:
    """Append case studies ``case_ids`` (in that order) to ``collection``.

    Only case studies ``user`` may see can be added; an unknown or hidden
    number is a NotFound, alike. Case studies already in the collection are
    reported in :attr:`Added.already` and left where they are.
    """
    _require_owner(user, collection)
    wanted = list(dict.fromkeys(case_ids))
    if not wanted:
        raise ValidationError("Choose at least one case study to add.")
    found = {
        case.id: case
        for case in db.session.scalars(
            select(CaseStudy).where(CaseStudy.id.in_([i for i in wanted if is_valid_id(i)]),
                                    policy.visible_cases_clause(user))
        )
    }
    missing = [number for number in wanted if number not in found]
    if missing:
        listed = ", ".join(str(number) for number in missing)
        raise NotFound(f"No case study with the number {listed} can be added.")
    present = {item.case_study_id for item in collection.items}
    result = Added()
    for number in wanted:
        (result.already if number in present else result.added).append(found[number])
    if len(present) + len(result.added) > MAX_ITEMS:
        raise ValidationError(f"A collection holds at most {MAX_ITEMS} case studies.")
    now = utcnow()
    for position, case in enumerate(result.added, start=len(collection.items)):
        collection.items.append(CollectionItem(
            case_study=case, position=position, added_at=now, updated_at=now,
        ))
    if result.added:
        _touch(collection)
    db.session.flush()
    return result


def remove_case(user: User | None, collection: Collection, case_id: int) -> CaseStudy:
    """Take case study ``case_id`` out of ``collection``; returns the case study."""
    item = _owned_item(user, collection, case_id)
    case = item.case_study
    collection.items.remove(item)
    _renumber(collection, _in_order(collection))
    _touch(collection)
    db.session.flush()
    return case


def move_case(user: User | None, collection: Collection, case_id: int, position: int) -> int:
    """Put case study ``case_id`` at 1-based ``position`` among the items ``user`` sees.

    A position beyond either end means that end. Hidden items keep their
    places. Returns the position the item ended at.
    """
    item = _owned_item(user, collection, case_id)
    shown = visible_items(user, collection)
    # The places the visible items hold in the whole list, in order.
    ordered = _in_order(collection)
    slots = [index for index, other in enumerate(ordered) if other in shown]
    shown.remove(item)
    target = max(0, min(position - 1, len(shown)))
    shown.insert(target, item)
    for slot, placed in zip(slots, shown, strict=True):
        ordered[slot] = placed
    _renumber(collection, ordered)
    _touch(collection)
    db.session.flush()
    return target + 1


def shift_case(user: User | None, collection: Collection, case_id: int, step: int) -> int:
    """Move case study ``case_id`` ``step`` places (negative: up) among the items ``user`` sees."""
    shown = [item.case_study_id for item in visible_items(user, collection)]
    if case_id not in shown:
        raise NotFound("That case study is not in this collection.")
    return move_case(user, collection, case_id, shown.index(case_id) + 1 + step)


def set_note(user: User | None, collection: Collection, case_id: int, note: str, *,
             max_text: int | None = None) -> CollectionItem:
    """Replace the curator's note (Markdown) on case study ``case_id`` in ``collection``."""
    item = _owned_item(user, collection, case_id)
    note = clean_text(note)
    limit = case_fields.markdown_max(max_text)
    if len(note) > limit:
        raise ValidationError({"note": [f"Keep the note under {limit:,} characters."]})
    if note != item.note:
        item.note = note
        item.updated_at = utcnow()
        _touch(collection)
        db.session.flush()
    return item


# Writing collections ------------------------------------------------------------

def _validated(data: CollectionInput, max_text: int | None) -> dict:
    errors: dict[str, list[str]] = {}
    title = clean_text(data.title, multiline=False)
    if not title:
        errors.setdefault("title", []).append("Give the collection a title.")
    elif len(title) > TITLE_MAX:
        errors.setdefault("title", []).append(f"Keep the title under {TITLE_MAX} characters.")
    introduction = clean_text(data.introduction)
    limit = case_fields.markdown_max(max_text)
    if len(introduction) > limit:
        errors.setdefault("introduction", []).append(
            f"Keep the introduction under {limit:,} characters.")
    try:
        visibility = CollectionVisibility(data.visibility)
    except ValueError:
        visibility = None
        errors.setdefault("visibility", []).append("Choose who may see the collection.")
    if errors:
        raise ValidationError(errors)
    return {"title": title, "introduction": introduction, "visibility": visibility}


def _unique_slug(title: str) -> str:
    """A slug made from ``title`` that no collection has, numbered when the plain one is taken."""
    base = slugify(title, max_length=SLUG_MAX, fallback="collection")
    return free_slug(COLLECTION_SLUG_LOCKS, base, RESERVED_SLUGS, _collection_slug_taken, SLUG_MAX)


def _collection_slug_taken(slug: str) -> bool:
    return db.session.scalar(select(Collection.id).where(Collection.slug == slug)) is not None


def create_collection(user: User | None, data: CollectionInput, *,
                      max_text: int | None = None) -> Collection:
    """Create a collection owned by ``user``; ValidationError on bad input."""
    if not policy.can_create_collection(user):
        raise PermissionDenied("Log in to make collections.")
    values = _validated(data, max_text)
    now = utcnow()
    collection = Collection(owner=user, slug=_unique_slug(values["title"]), created_at=now,
                            updated_at=now, featured=False, **values)
    db.session.add(collection)
    db.session.flush()
    return collection


def update_collection(user: User | None, collection: Collection, data: CollectionInput, *,
                      max_text: int | None = None) -> Collection:
    """Change the title, introduction or visibility; the slug stays, so links keep working.

    Making a collection private also stops featuring it.
    """
    _require_owner(user, collection)
    values = _validated(data, max_text)
    for name, value in values.items():
        setattr(collection, name, value)
    if collection.is_private:
        collection.featured = False
    _touch(collection)
    db.session.flush()
    return collection


def delete_collection(user: User | None, collection: Collection) -> None:
    """Delete ``collection`` and its items (never the case studies)."""
    if not policy.can_delete_collection(user, collection):
        raise PermissionDenied("You cannot delete this collection.")
    db.session.delete(collection)
    db.session.flush()


def set_featured(user: User | None, collection: Collection, featured: bool) -> None:
    """Feature or stop featuring ``collection`` (facilitators and admins).

    A private collection cannot be featured: Conflict.
    """
    if not policy.can_feature_collections(user):
        raise PermissionDenied("Only facilitators and admins feature collections.")
    if featured and collection.is_private:
        raise Conflict("A private collection cannot be featured: its owner must share it first.")
    collection.featured = featured
    db.session.flush()


# Exports ------------------------------------------------------------------------

TEXT = "text"          # one line of plain text
PARAGRAPH = "paragraph"  # plain text shown as a paragraph
MARKDOWN = "markdown"  # Markdown source


@dataclass(frozen=True)
class KeyField:
    """One field of a case study that the exports carry."""

    key: str
    label: str
    kind: str
    value: Callable[[CaseStudy], str]


# The exports' one field that is the city's, not the case study's.
_COUNTRY = {"country": Shown(20, "Country")}
_KEY_KINDS = {Kind.PARAGRAPH: PARAGRAPH, Kind.MARKDOWN: MARKDOWN}


def _key_field(name: str, place: Shown) -> KeyField:
    """The exported field ``name`` (a case-study field, or the country) at ``place``."""
    if name in _COUNTRY:
        return KeyField(name, place.label, TEXT, lambda case: case.city.country)
    spec = case_fields.BY_NAME[name]

    def value(case: CaseStudy) -> str:
        read = case_fields.case_value(spec, case)
        return "; ".join(read) if isinstance(read, list) else read

    return KeyField(place.key or name, place.label or spec.label, _KEY_KINDS.get(spec.kind, TEXT),
                    value)


KEY_FIELDS: tuple[KeyField, ...] = tuple(
    _key_field(name, place) for name, place in case_fields.rows("collected", _COUNTRY)
)


def table_lines(items: list[CollectionItem], case_url: Callable[[CaseStudy], str]) -> list[list]:
    """The items as table lines (for CSV): a header, then one line per case study."""
    return [
        ["Position", "Case study number", "Title", *[f.label for f in KEY_FIELDS],
         "Curator's note", "Address"],
        *[
            [position, item.case_study.id, item.case_study.title,
             *[f.value(item.case_study) for f in KEY_FIELDS], item.note, case_url(item.case_study)]
            for position, item in enumerate(items, start=1)
        ],
    ]


def as_json(collection: Collection, items: list[CollectionItem], collection_url: str,
            case_url: Callable[[CaseStudy], str]) -> dict:
    """The collection and its items as JSON-ready data."""
    return {
        "slug": collection.slug,
        "title": collection.title,
        "introduction": collection.introduction,
        "visibility": collection.visibility.value,
        "featured": collection.featured,
        "owner": collection.owner.name,
        "created_at": collection.created_at.isoformat(),
        "updated_at": collection.updated_at.isoformat(),
        "url": collection_url,
        "items": [
            {
                "position": position,
                "note": item.note,
                "added_at": item.added_at.isoformat(),
                "case": {
                    "id": item.case_study.id,
                    "slug": item.case_study.slug,
                    "title": item.case_study.title,
                    "language": item.case_study.language,
                    "url": case_url(item.case_study),
                    **{f.key: f.value(item.case_study) for f in KEY_FIELDS},
                },
            }
            for position, item in enumerate(items, start=1)
        ],
    }


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#|!~])")


def _plain(text: str) -> str:
    """Plain text made literal in Markdown (a title with * or [ stays as typed)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def briefing_markdown(collection: Collection, items: list[CollectionItem], collection_url: str,
                      case_url: Callable[[CaseStudy], str]) -> str:
    """A briefing pack in Markdown: the introduction, then each case study and its note."""
    count = len(items)
    parts = [
        f"# {_plain(collection.title)}",
        (f"Curated by {_plain(collection.owner.name)} · {count} case "
         f"{'study' if count == 1 else 'studies'} · updated {collection.updated_at:%Y-%m-%d}  \n"
         f"Online: <{collection_url}>"),
    ]
    if collection.introduction:
        parts.append(collection.introduction)
    for position, item in enumerate(items, start=1):
        case = item.case_study
        parts.append("---")
        parts.append(f"## {position}. {_plain(case.title)}")
        facts = [f"- **{f.label}:** {_plain(f.value(case) or '—')}"
                 for f in KEY_FIELDS if f.kind == TEXT]
        parts.append("\n".join([*facts, f"- **Case study:** <{case_url(case)}>"]))
        parts.extend(_plain(text) for f in KEY_FIELDS if f.kind == PARAGRAPH
                     if (text := f.value(case)))
        if item.note:
            parts.append(f"### Curator's note\n\n{item.note}")
        parts.extend(f"### {f.label}\n\n{text}" for f in KEY_FIELDS if f.kind == MARKDOWN
                     if (text := f.value(case)))
    return "\n\n".join(parts) + "\n"
