"""Context fit: how the context a practice ran in compares with the reader's own city.

A signed-in reader whose account names a city sees, on a case study's
page, two comparisons heading by heading, each ending in a verdict:

**The context profile** (:data:`kb.models.PROFILE_HEADINGS`): the text of
the case study's city beside the text of the reader's city.

- *unknown*: either city has nothing under the heading;
- *same*: the two texts are equal once normalised (Markdown, letter case,
  punctuation and spacing ignored: "English." and "english" are the same);
- *different*: otherwise. Profiles are prose, so this says "described
  differently", not "incompatible": both texts are shown to be read.

**Adaptation contexts**, by kind (:class:`kb.models.ContextKind`): the
contexts the case study says the practice depends on, beside the contexts
recorded for the reader's city, which are the contexts of that city's
published case studies (published only, so that no draft shows through).

- *unknown*: the case study names no context of the kind, or none of that
  kind is recorded for the reader's city;
- *same*: they have at least one context of the kind in common (listed);
- *different*: both have contexts of the kind, none in common.

**Cities like mine** ranks the other cities by how many recorded contexts
they share with the reader's city: the score is the share of the contexts
recorded for either city that are recorded for both (Jaccard similarity:
shared / in either), shown with the contexts shared and those only one
city has. Cities with no recorded contexts, or when the reader's city has
none, cannot be scored and are listed apart. Profile prose is compared on
case study pages only: equal prose under a heading is too rare to rank by.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select

from kb.errors import PermissionDenied
from kb.extensions import db
from kb.models import (
    AdaptationContext,
    CaseStudy,
    City,
    ContextKind,
    User,
    case_context,
)
from kb.sanitize import markdown_to_text
from kb.services import policy

_NOT_SIGNED_IN = "Log in to compare contexts with your city."


class Verdict(enum.Enum):
    """How one heading of two contexts compares."""

    SAME = "same"
    DIFFERENT = "different"
    UNKNOWN = "unknown"

    @property
    def label(self) -> str:
        return self.value.capitalize()


def normalised(text: str) -> str:
    """``text`` reduced to what profile comparison looks at: its words, folded, in order."""
    words = unicodedata.normalize("NFKC", markdown_to_text(text)).casefold()
    return " ".join(re.findall(r"\w+", words))


def _text_verdict(theirs: str, mine: str) -> Verdict:
    theirs, mine = normalised(theirs), normalised(mine)
    if not theirs or not mine:
        return Verdict.UNKNOWN
    return Verdict.SAME if theirs == mine else Verdict.DIFFERENT


def _set_verdict(theirs: set, mine: set) -> Verdict:
    if not theirs or not mine:
        return Verdict.UNKNOWN
    return Verdict.SAME if theirs & mine else Verdict.DIFFERENT


def _by_name(terms: Iterable[AdaptationContext]) -> list[AdaptationContext]:
    return sorted(terms, key=lambda term: (term.name.casefold(), term.id))


@dataclass
class ProfileRow:
    """One profile heading: the case study's city's text, the reader's city's, and the verdict."""

    key: str
    heading: str
    theirs: str
    mine: str
    verdict: Verdict


@dataclass
class ContextRow:
    """One kind of context: the case study's contexts, the reader's city's, and the verdict."""

    kind: ContextKind
    theirs: list[AdaptationContext]
    mine: list[AdaptationContext]
    verdict: Verdict

    @property
    def shared(self) -> list[AdaptationContext]:
        return [term for term in self.theirs if term in self.mine]


@dataclass
class CaseFit:
    """A case study's context beside the reader's city's (``own_city`` None: the account has none)."""

    case: CaseStudy
    own_city: City | None
    profile: list[ProfileRow]
    contexts: list[ContextRow]

    @property
    def same_city(self) -> bool:
        return self.own_city is not None and self.own_city.id == self.case.city_id

    @property
    def tally(self) -> list[tuple[Verdict, int]]:
        """How many headings of both comparisons got each verdict, in Verdict order."""
        rows = (*self.profile, *self.contexts)
        return [(verdict, sum(row.verdict is verdict for row in rows)) for verdict in Verdict]


def recorded_contexts(city_ids: Iterable[int]) -> dict[int, set[AdaptationContext]]:
    """The contexts of each city's published case studies, for the cities ``city_ids``."""
    city_ids = list(city_ids)
    found: dict[int, set[AdaptationContext]] = {city_id: set() for city_id in city_ids}
    if not city_ids:
        return found
    rows = db.session.execute(
        select(CaseStudy.city_id, AdaptationContext)
        .join(case_context, case_context.c.case_study_id == CaseStudy.id)
        .join(AdaptationContext, AdaptationContext.id == case_context.c.context_id)
        .where(CaseStudy.city_id.in_(city_ids), policy.public_cases_clause())
        .distinct()
    ).all()
    for city_id, term in rows:
        found[city_id].add(term)
    return found


def _require_signed_in(user: User | None) -> None:
    if not policy.can_compare_contexts(user):
        raise PermissionDenied(_NOT_SIGNED_IN)


def case_fit(user: User | None, case: CaseStudy) -> CaseFit:
    """How the context of ``case`` (which ``user`` can see) compares with ``user``'s city.

    PermissionDenied when no one is signed in. An account without a city
    gets a CaseFit with ``own_city`` None and nothing compared.
    """
    _require_signed_in(user)
    own = user.city
    if own is None:
        return CaseFit(case=case, own_city=None, profile=[], contexts=[])
    source = case.city
    profile = [
        ProfileRow(key, heading, theirs, mine, _text_verdict(theirs, mine))
        for (key, heading, theirs), (_, _, mine) in zip(source.profile(), own.profile(),
                                                         strict=True)
    ]
    mine_by_kind = _grouped(recorded_contexts([own.id])[own.id])
    theirs_by_kind = _grouped(case.contexts)
    contexts = [
        ContextRow(kind, _by_name(theirs_by_kind.get(kind, ())), _by_name(mine_by_kind.get(kind, ())),
                   _set_verdict(theirs_by_kind.get(kind, set()), mine_by_kind.get(kind, set())))
        for kind in ContextKind
    ]
    return CaseFit(case=case, own_city=own, profile=profile, contexts=contexts)


def _grouped(terms: Iterable[AdaptationContext]) -> dict[ContextKind, set[AdaptationContext]]:
    grouped: dict[ContextKind, set[AdaptationContext]] = {}
    for term in terms:
        grouped.setdefault(term.kind, set()).add(term)
    return grouped


@dataclass
class CityLikeness:
    """Another city's recorded contexts measured against the reader's city's."""

    city: City
    shared: list[AdaptationContext]
    only_mine: list[AdaptationContext]
    only_theirs: list[AdaptationContext]

    @property
    def in_either(self) -> int:
        return len(self.shared) + len(self.only_mine) + len(self.only_theirs)

    @property
    def score(self) -> float | None:
        """Shared contexts over contexts recorded for either city; None if one city has none."""
        if not (self.shared or self.only_mine) or not (self.shared or self.only_theirs):
            return None
        return len(self.shared) / self.in_either

    @property
    def percent(self) -> int | None:
        return None if self.score is None else round(self.score * 100)


@dataclass
class CitiesLikeMine:
    """The reader's city, its recorded contexts, and the other cities ranked and unscored."""

    own_city: City | None
    own_contexts: list[AdaptationContext]
    ranked: list[CityLikeness]
    unscored: list[CityLikeness]


def cities_like_mine(user: User | None) -> CitiesLikeMine:
    """The other cities, most similar in recorded contexts to ``user``'s city first.

    Ties go to the city sharing more contexts, then by name. PermissionDenied
    when no one is signed in; an account without a city gets nothing ranked.
    """
    _require_signed_in(user)
    own = user.city
    if own is None:
        return CitiesLikeMine(own_city=None, own_contexts=[], ranked=[], unscored=[])
    cities = list(db.session.scalars(select(City).order_by(City.name)))
    recorded = recorded_contexts(city.id for city in cities)
    mine = recorded[own.id]
    likenesses = [
        CityLikeness(city=city, shared=_by_name(mine & recorded[city.id]),
                     only_mine=_by_name(mine - recorded[city.id]),
                     only_theirs=_by_name(recorded[city.id] - mine))
        for city in cities if city.id != own.id
    ]
    ranked = sorted((like for like in likenesses if like.score is not None),
                    key=lambda like: (-like.score, -len(like.shared), like.city.name.casefold()))
    unscored = [like for like in likenesses if like.score is None]
    return CitiesLikeMine(own_city=own, own_contexts=_by_name(mine), ranked=ranked,
                          unscored=unscored)
