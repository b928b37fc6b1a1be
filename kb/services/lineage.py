"""Adaptation lineage: which city took up which practice, what it kept and changed, and why.

An :class:`~kb.models.Adaptation` links a *source* case study (the practice
taken up) to an *adapting* one (the city's own version). Followed from
source to adapting, the links form a directed acyclic graph: a practice may
be taken up by many cities, a city's version may combine several sources,
and no case study may descend from itself. :func:`record_adaptation` keeps
it acyclic; the database refuses self-links and repeated pairs.

Who may do what is :mod:`kb.services.policy`'s: the author of the adapting
case study and the curators record, edit and remove its links. Every read
here works on the links whose two case studies the reader may see: a
draft never appears to someone who may not see it, not even as a gap or a
count, and a lineage is drawn through visible case studies only (a hidden
case study in the middle of a chain splits it in two for that reader).

Links are annotations of a case study, shown with who recorded them; they
do not go through review. Their texts are Markdown, cleaned by
:func:`kb.sanitize.clean_text` and shown through the ``markdown`` filter.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Select, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from kb import case_fields
from kb.errors import Conflict, NotFound, PermissionDenied, ValidationError
from kb.extensions import db
from kb.models import (
    Adaptation,
    AdaptationKind,
    CaseStudy,
    City,
    User,
    is_valid_id,
    utcnow,
)
from kb.sanitize import clean_text
from kb.services import case_studies, comparison, policy

# The texts of a link, in the order forms and pages show them.
TEXT_FIELDS = ("kept", "changed", "reasons", "results")
# Most case studies one lineage page draws: bounds the work of a huge family.
MAX_LINEAGE_CASES = 300
_NOT_FOUND = "No such adaptation."
_MAY_NOT_RECORD = "Only the author of this case study and the curators record what it adapts."
_MAY_NOT_EDIT = "Only the author of the adapting case study and the curators change this link."


@dataclass
class AdaptationInput:
    """What a person says about a link: its kind and the four texts (Markdown)."""

    kind: str
    kept: str = ""
    changed: str = ""
    reasons: str = ""
    results: str = ""


# Reading single links -----------------------------------------------------------

def _visible_case_ids(user: User | None) -> Select:
    return select(CaseStudy.id).where(policy.visible_cases_clause(user))


def _visible_links(user: User | None) -> Select:
    """Links whose two case studies ``user`` may see, ends and their cities loaded."""
    visible = _visible_case_ids(user)
    return (
        select(Adaptation)
        .where(Adaptation.source_id.in_(visible), Adaptation.adapting_id.in_(visible))
        .options(selectinload(Adaptation.source).selectinload(CaseStudy.city),
                 selectinload(Adaptation.adapting).selectinload(CaseStudy.city),
                 selectinload(Adaptation.author))
    )


def get_adaptation(user: User | None, adaptation_id: int) -> Adaptation:
    """The link ``adaptation_id`` if ``user`` may see both its case studies; NotFound otherwise."""
    adaptation = db.session.get(Adaptation, adaptation_id) if is_valid_id(adaptation_id) else None
    if adaptation is None or not policy.can_view_adaptation(user, adaptation):
        raise NotFound(_NOT_FOUND)
    return adaptation


def get_adaptation_for_edit(user: User | None, adaptation_id: int) -> Adaptation:
    """The link ``adaptation_id`` if ``user`` may change it."""
    adaptation = get_adaptation(user, adaptation_id)
    if not policy.can_edit_adaptation(user, adaptation):
        raise PermissionDenied(_MAY_NOT_EDIT)
    return adaptation


def get_adapting_case(user: User | None, slug: str) -> CaseStudy:
    """The case study at ``slug`` if ``user`` may record what it adapts."""
    case = case_studies.get_case(user, slug)
    if not policy.can_record_adaptation(user, case):
        raise PermissionDenied(_MAY_NOT_RECORD)
    return case


def _by_city_and_title(case: CaseStudy) -> tuple:
    return (case.city.name.casefold(), case.title.casefold(), case.id)


def _links_of(user: User | None, case: CaseStudy) -> list[Adaptation]:
    """Every link to or from ``case`` that ``user`` may see, in one query."""
    if not policy.can_view_case(user, case):
        return []
    return list(db.session.scalars(_visible_links(user).where(
        or_(Adaptation.adapting_id == case.id, Adaptation.source_id == case.id))))


# Writing --------------------------------------------------------------------------

def _validated(data: AdaptationInput, max_text: int | None) -> dict:
    """The kind and cleaned texts of ``data``, or ValidationError naming each bad field."""
    errors: dict[str, list[str]] = {}
    values: dict = {}
    try:
        values["kind"] = AdaptationKind(data.kind)
    except ValueError:
        errors["kind"] = ["Choose how the practice was taken up from the list."]
    limit = case_fields.markdown_max(max_text)
    for name in TEXT_FIELDS:
        values[name] = clean_text(getattr(data, name))
        if len(values[name]) > limit:
            errors[name] = [f"Keep this under {limit:,} characters."]
    if errors:
        raise ValidationError(errors)
    return values


# Advisory-lock key of lineage changes (any constant; "kblineag").
_LINEAGE_LOCK = 0x6B62_6C69_6E65_6167


def _wait_for_other_lineage_changes() -> None:
    """On PostgreSQL, let one transaction at a time add a link.

    Two links added at once (A adapts B, B adapts A) would each pass the
    cycle check before the other commits. The lock lasts until the
    transaction ends. SQLite writes one transaction at a time and needs none.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(select(func.pg_advisory_xact_lock(_LINEAGE_LOCK)))


def _linked_ids(case_id: int, *, upwards: bool) -> set[int]:
    """Every case study ``case_id`` descends from (upwards) or that descends from it, via any link.

    Unlike the reads below, this follows every link, whoever may see it:
    it guards the graph itself.
    """
    near, far = ((Adaptation.adapting_id, Adaptation.source_id) if upwards
                 else (Adaptation.source_id, Adaptation.adapting_id))
    found: set[int] = set()
    frontier = {case_id}
    while frontier:
        frontier = set(db.session.scalars(select(far).where(near.in_(frontier)))) - found
        found |= frontier
    return found


def _source_for(user: User, source_id: int | None) -> CaseStudy:
    """The case study ``source_id`` if ``user`` may see it; a ValidationError on the field otherwise."""
    source = db.session.get(CaseStudy, source_id) if is_valid_id(source_id) else None
    if source is None or not policy.can_view_case(user, source):
        raise ValidationError({"source_id": ["Choose the case study this practice adapts."]})
    return source


def record_adaptation(user: User, adapting: CaseStudy, source_id: int | None,
                      data: AdaptationInput, *, max_text: int | None = None) -> Adaptation:
    """Record that ``adapting`` takes up the practice of case study ``source_id``.

    PermissionDenied unless ``user`` may record links for ``adapting``;
    ValidationError for a source ``user`` cannot see, the case study itself,
    or bad fields; Conflict when the link is already recorded or would make
    a case study descend from itself.
    """
    if not policy.can_record_adaptation(user, adapting):
        raise PermissionDenied(_MAY_NOT_RECORD)
    values = _validated(data, max_text)
    source = _source_for(user, source_id)
    if source.id == adapting.id:
        raise ValidationError({"source_id": ["A case study cannot adapt itself."]})
    _wait_for_other_lineage_changes()
    already = db.session.scalar(select(Adaptation.id).where(
        Adaptation.source_id == source.id, Adaptation.adapting_id == adapting.id))
    if already is not None:
        raise Conflict(f"It is already recorded that this case study adapts “{source.title}”; "
                       "edit that link instead.")
    if adapting.id in _linked_ids(source.id, upwards=True):
        # Both titles are visible to the user; the chain between them may not be.
        raise Conflict(f"“{source.title}” already descends from “{adapting.title}”, directly or "
                       "through other case studies, so it cannot also be its source.")
    now = utcnow()
    adaptation = Adaptation(source=source, adapting=adapting, author=user, created_at=now,
                            updated_at=now, **values)
    db.session.add(adaptation)
    try:
        db.session.flush()
    except IntegrityError as error:
        # Someone recorded the same pair a moment ago; the caller rolls back.
        raise Conflict(f"It is already recorded that this case study adapts “{source.title}”.") \
            from error
    return adaptation


def update_adaptation(user: User, adaptation: Adaptation, data: AdaptationInput, *,
                      max_text: int | None = None) -> Adaptation:
    """Change the kind and texts of a link; its two case studies stay (remove it to relink)."""
    if not policy.can_edit_adaptation(user, adaptation):
        raise PermissionDenied(_MAY_NOT_EDIT)
    values = _validated(data, max_text)
    for name, value in values.items():
        setattr(adaptation, name, value)
    adaptation.updated_at = utcnow()
    db.session.flush()
    return adaptation


def remove_adaptation(user: User, adaptation: Adaptation) -> None:
    """Delete a link (never its case studies)."""
    if not policy.can_edit_adaptation(user, adaptation):
        raise PermissionDenied(_MAY_NOT_EDIT)
    db.session.delete(adaptation)
    db.session.flush()


def source_candidates(user: User | None, case: CaseStudy) -> list[comparison.Candidate]:
    """Case studies ``user`` may choose as a source of ``case``, by city then title.

    Leaves out ``case`` itself, the sources it already has and the case
    studies descending from it, which :func:`record_adaptation` would refuse.
    """
    taken = ({link.source_id for link in case.adapted_from_links}
             | _linked_ids(case.id, upwards=False))
    return [candidate for candidate in comparison.compare_candidates(user, case)
            if candidate.id not in taken]


# Case pages -------------------------------------------------------------------------

@dataclass
class CaseLinks:
    """What a case study page shows about lineage, for one viewer."""

    adapted_from: list[Adaptation]
    adapted_by: list[Adaptation]
    can_record: bool

    @property
    def any(self) -> bool:
        return bool(self.adapted_from or self.adapted_by)


def case_links(user: User | None, case: CaseStudy) -> CaseLinks:
    """The links of ``case`` that ``user`` may see, and whether they may add one.

    Each list is sorted by the city and title of the link's other end.
    """
    links = _links_of(user, case)
    return CaseLinks(
        adapted_from=sorted((link for link in links if link.adapting_id == case.id),
                            key=lambda link: _by_city_and_title(link.source)),
        adapted_by=sorted((link for link in links if link.source_id == case.id),
                          key=lambda link: _by_city_and_title(link.adapting)),
        can_record=policy.can_record_adaptation(user, case),
    )


# The lineage tree -----------------------------------------------------------------------

@dataclass
class LineageNode:
    """A case study at one place in a lineage tree.

    ``link`` says how it took up its parent in the tree (None at a root).
    A case study with several sources appears under each of them: in full
    the first time, then with ``repeat`` set and no children, pointing back
    to the first place. ``other_sources`` are its visible sources that are
    not in the tree (sources of its own, outside this practice's family).
    """

    case: CaseStudy
    link: Adaptation | None = None
    children: list[LineageNode] = field(default_factory=list)
    repeat: bool = False
    other_sources: list[CaseStudy] = field(default_factory=list)


@dataclass
class Lineage:
    """The whole tree of a practice across cities, as one viewer may see it.

    ``roots`` are the ancestors of ``case`` that adapt nothing (``case``
    itself when it adapts nothing), each with every case study descending
    from it; ``cases`` lists each case study drawn once, in page order, and
    ``links`` counts the links drawn. ``truncated`` says the family was
    larger than :data:`MAX_LINEAGE_CASES` and only part of it is drawn.
    """

    case: CaseStudy
    roots: list[LineageNode]
    cases: list[CaseStudy]
    links: int
    truncated: bool = False

    @property
    def cities(self) -> list[City]:
        """The cities of the case studies in the tree, each once, in the order they appear."""
        return list({case.city_id: case.city for case in self.cases}.values())


def _walk(user: User | None, start: Iterable[int], *, upwards: bool,
          limit: int) -> tuple[set[int], list[Adaptation], bool]:
    """Case studies reached from ``start`` through visible links, the links, and whether cut short.

    Upwards follows links to their sources, downwards to the case studies
    adapting them. At most ``limit`` case studies are reached.
    """
    near, far = ((Adaptation.adapting_id, "source_id") if upwards
                 else (Adaptation.source_id, "adapting_id"))
    reached = set(start)
    frontier = set(start)
    links: list[Adaptation] = []
    while frontier:
        found = list(db.session.scalars(
            _visible_links(user).where(near.in_(frontier)).order_by(Adaptation.id)
        ))
        links.extend(found)
        frontier = {getattr(link, far) for link in found} - reached
        if len(reached) + len(frontier) > limit:
            reached |= set(sorted(frontier)[:max(0, limit - len(reached))])
            return reached, links, True
        reached |= frontier
    return reached, links, False


def lineage(user: User | None, case: CaseStudy) -> Lineage:
    """The lineage tree of ``case``'s practice: its roots and everything descending from them.

    NotFound when ``user`` may not see ``case``. Only links whose two case
    studies ``user`` may see are followed.
    """
    if not policy.can_view_case(user, case):
        raise NotFound("No such case study.")
    ancestors, upward, cut_up = _walk(user, [case.id], upwards=True, limit=MAX_LINEAGE_CASES)
    has_source = {link.adapting_id for link in upward if link.source_id in ancestors}
    root_ids = ancestors - has_source
    family, downward, cut_down = _walk(user, root_ids, upwards=False, limit=MAX_LINEAGE_CASES)
    # The links of the family, and those bringing in sources from outside it.
    inside = [link for link in downward if link.adapting_id in family]
    incoming = db.session.scalars(_visible_links(user).where(
        Adaptation.adapting_id.in_(family), Adaptation.source_id.not_in(family)))
    loaded = {row.id: row for row in db.session.scalars(
        select(CaseStudy).where(CaseStudy.id.in_(family)).options(selectinload(CaseStudy.city)))}

    children: dict[int, list[Adaptation]] = {}
    for link in inside:
        children.setdefault(link.source_id, []).append(link)
    outside: dict[int, list[CaseStudy]] = {}
    for link in incoming:
        outside.setdefault(link.adapting_id, []).append(link.source)

    shown: set[int] = set()
    order: list[CaseStudy] = []

    def node(case_id: int, link: Adaptation | None) -> LineageNode:
        here = LineageNode(case=loaded[case_id], link=link,
                           other_sources=sorted(outside.get(case_id, []), key=_by_city_and_title))
        if case_id in shown:
            here.repeat = True
            return here
        shown.add(case_id)
        order.append(here.case)
        below = sorted(children.get(case_id, []),
                       key=lambda child: _by_city_and_title(child.adapting))
        here.children = [node(child.adapting_id, child) for child in below]
        return here

    roots = [node(root_id, None)
             for root_id in sorted(root_ids, key=lambda i: _by_city_and_title(loaded[i]))]
    return Lineage(case=case, roots=roots, cases=order, links=len(inside),
                   truncated=cut_up or cut_down)
