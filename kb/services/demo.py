"""The demo network: cities, vocabularies, accounts and case studies for an empty instance.

The data lives in JSON files in ``kb/demo/`` (``cities.json``,
``problems.json``, ``contexts.json``, ``accounts.json`` and one
``cases-<city>.json`` per city). Everything is created through the same
services people use: accounts as the command line creates them, cities
and vocabularies as the demo facilitator curates them, case studies as
their authors write, edit and publish them. Demo content is therefore
validated, sanitized, has revisions and reaches the search index through
the change log exactly as typed-in content does.

Text fields in the case files may be a string or a list of lines; lists keep
long Markdown readable in JSON.

Published demo case studies go through review like any other: their
author submits them and a reviewer publishes them. ``review.json`` adds
what the review queue shows: case studies submitted or sent back with
comments, and a proposed edit of a published one, each replayed step by
step through :mod:`kb.services.review`. ``adaptations.json`` then links
demo case studies (by title) as their authors record what they adapt,
through :mod:`kb.services.lineage`: lineage trees across several cities,
one of them reaching a draft that only its author and the curators see.
``collections.json`` adds collections as their owners curate them, through
:mod:`kb.services.collections`: a public one the facilitator features and
a network one holding a draft that only its author and the curators see in it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from kb.errors import Conflict, ValidationError
from kb.extensions import db
from kb.models import (
    PROFILE_HEADINGS,
    AdaptationContext,
    CaseStatus,
    CaseStudy,
    City,
    ProblemOfPractice,
    Role,
    User,
)
from kb.services import accounts, collections, lineage, review, vocabularies
from kb.services import cities as city_service
from kb.services.case_studies import (
    CaseInput,
    case_to_input,
    create_case,
    update_case,
)
from kb.services.cities import CityInput
from kb.services.vocabularies import TermInput

DEMO_DIR = Path(__file__).resolve().parent.parent / "demo"

# Keys of a case-file entry that are not CaseInput fields.
_CASE_META_KEYS = frozenset({"author", "status", "problems", "contexts", "sources", "edits",
                             "city", "steps"})


@dataclass(frozen=True)
class DemoAccount:
    """A demo login: documented, demo-only credentials for one role."""

    role: Role
    name: str
    email: str
    password: str
    city: str


@dataclass(frozen=True)
class DemoSummary:
    """What :func:`load_demo` created."""

    cities: int
    problems: int
    contexts: int
    accounts: int
    published: int
    drafts: int
    in_review: int = 0  # submitted, or sent back with changes requested
    adaptations: int = 0
    collections: int = 0

    @property
    def case_studies(self) -> int:
        return self.published + self.drafts + self.in_review


def _read(data_dir: Path, name: str) -> Any:
    return json.loads((data_dir / name).read_text(encoding="utf-8"))


def _text(value: str | list[str] | None) -> str:
    """A text field from the data files: a string, or a list of lines joined."""
    if isinstance(value, list):
        return "\n".join(value)
    return value or ""


def demo_accounts(data_dir: Path = DEMO_DIR) -> list[DemoAccount]:
    """The demo accounts the data files define, one per role."""
    return [
        DemoAccount(role=Role(row["role"]), name=row["name"], email=row["email"].lower(),
                    password=row["password"], city=row["city"])
        for row in _read(data_dir, "accounts.json")
    ]


def existing_data() -> dict[str, int]:
    """How many users, case studies, cities and vocabulary terms the database holds."""
    models = {
        "users": User,
        "case studies": CaseStudy,
        "cities": City,
        "problems of practice": ProblemOfPractice,
        "adaptation contexts": AdaptationContext,
    }
    return {
        label: db.session.scalar(select(func.count()).select_from(model))
        for label, model in models.items()
    }


def instance_is_empty() -> bool:
    """True when the database has no users, case studies, cities or vocabulary terms."""
    return not any(existing_data().values())


def usable_demo_accounts(data_dir: Path = DEMO_DIR) -> list[DemoAccount]:
    """The demo accounts that exist, are active and still accept their demo password.

    On an instance that was not loaded from the demo data, or whose demo
    passwords were changed, this is shorter or empty, so nobody is shown a
    login that does not work.
    """
    usable = []
    for account in demo_accounts(data_dir):
        user = db.session.scalar(select(User).where(User.email == account.email))
        if user is not None and user.active and user.check_password(account.password):
            usable.append(account)
    return usable


def load_demo(data_dir: Path = DEMO_DIR) -> DemoSummary:
    """Create the demo network in an empty database and return what was created.

    Raises :class:`~kb.errors.Conflict` when the database already holds
    users, case studies, cities or vocabulary terms: the demo would collide
    with them or mix invented content into real work. Flushes but never
    commits; the caller commits once.
    """
    found = {label: count for label, count in existing_data().items() if count}
    if found:
        listed = ", ".join(f"{label}: {count}" for label, count in found.items())
        raise Conflict(
            f"This instance already has data ({listed}); "
            "the demo data is only loaded into an empty instance."
        )

    logins = demo_accounts(data_dir)
    users = _create_accounts(logins)
    curator = users[Role.FACILITATOR.value]
    cities = _create_cities(curator, _read(data_dir, "cities.json"))
    problems = _create_terms(curator, ProblemOfPractice, _read(data_dir, "problems.json"))
    contexts = _create_terms(curator, AdaptationContext, _read(data_dir, "contexts.json"))
    _place_accounts(users, logins, cities)

    published = drafts = 0
    for path in sorted(data_dir.glob("cases-*.json")):
        case_file = json.loads(path.read_text(encoding="utf-8"))
        city = cities[case_file["city"]]
        for row in case_file["cases"]:
            if _create_case(row, city, problems, contexts, users):
                published += 1
            else:
                drafts += 1
    in_review = _load_review(_read(data_dir, "review.json"), cities, problems, contexts, users)
    adaptations = _load_adaptations(_read(data_dir, "adaptations.json")["adaptations"], users)
    collection_count = _load_collections(_read(data_dir, "collections.json")["collections"], users)
    return DemoSummary(
        cities=len(cities), problems=len(problems), contexts=len(contexts),
        accounts=len(users), published=published, drafts=drafts, in_review=in_review,
        adaptations=adaptations, collections=collection_count,
    )


def _create_accounts(logins: list[DemoAccount]) -> dict[str, User]:
    """One user per demo account, keyed by role value; cities are set once they exist."""
    return {
        account.role.value: accounts.create_user(
            None, account.name, account.email, account.password, account.role, system=True
        )
        for account in logins
    }


def _create_cities(curator: User, rows: list[dict]) -> dict[str, City]:
    cities = {}
    for row in rows:
        unknown = set(row["profile"]) - set(PROFILE_HEADINGS)
        if unknown:
            raise ValueError(f"City {row['slug']}: unknown profile headings {sorted(unknown)}")
        data = CityInput(name=row["name"], country=row["country"], slug=row["slug"],
                         profile=row["profile"])
        cities[row["slug"]] = city_service.create_city(curator, data)
    return cities


def _create_terms(curator: User, model: type, rows: list[dict]) -> dict:
    """Problems of practice or adaptation contexts (which also have a kind), by slug."""
    return {
        row["slug"]: vocabularies.create_term(
            curator, model,
            TermInput(name=row["name"], slug=row["slug"], description=row["description"],
                      kind=row.get("kind")),
        )
        for row in rows
    }


def _place_accounts(users: dict[str, User], logins: list[DemoAccount],
                    cities: dict[str, City]) -> None:
    for account in logins:
        user = users[account.role.value]
        accounts.update_user(None, user, role=user.role, city_id=cities[account.city].id,
                             active=True, system=True)


def _ids(terms: dict, slugs: list[str], where: str) -> list[int]:
    missing = [slug for slug in slugs if slug not in terms]
    if missing:
        raise ValueError(f"{where}: unknown vocabulary terms {missing}")
    return [terms[slug].id for slug in slugs]


def _create_case(row: dict, city: City, problems: dict, contexts: dict,
                 users: dict[str, User]) -> bool:
    """Create one case study, apply its scripted edits, publish it if asked; True if published.

    A published one is submitted by its author and published by a
    reviewer: the facilitator, or the admin for the facilitator's own.
    """
    title = row["title"]
    if row["status"] not in ("published", "draft"):
        raise ValueError(f"Demo case study {title!r}: status must be 'published' or 'draft'")
    author = users[row["author"]]
    data = CaseInput(
        **{key: _text(value) if isinstance(value, list) else value
           for key, value in row.items() if key not in _CASE_META_KEYS},
        city_id=city.id,
        problem_ids=_ids(problems, row["problems"], title),
        context_ids=_ids(contexts, row["contexts"], title),
        sources=[(source["label"], source["url"]) for source in row["sources"]],
    )
    try:
        case = create_case(author, data, "Loaded from the demo data")
        for edit in row.get("edits", []):
            _edit(author, case, edit)
    except ValidationError as error:
        message = f"Demo case study {title!r}: {error.message}"
        raise ValidationError(error.errors, message) from error
    if row["status"] == "published":
        review.submit(author, case)
        reviewer = users[Role.ADMIN.value if author.is_facilitator else Role.FACILITATOR.value]
        review.publish(reviewer, case)
        return True
    return False


def _edit(user: User, case: CaseStudy, edit: dict) -> None:
    """Save a scripted edit: ``changes`` (field -> text) with its revision ``message``."""
    changes = {name: _text(value) for name, value in edit["changes"].items()}
    update_case(user, case, replace(case_to_input(case), **changes), edit["message"])


# Steps review.json may script, besides "edit"; each takes (user, case, comment).
_REVIEW_STEPS = {
    "submit": review.submit,
    "withdraw": review.withdraw,
    "request_changes": review.request_changes,
    "publish": review.publish,
    "archive": review.archive,
    "request_edit_changes": review.request_edit_changes,
}


def _case_titled(title: str, where: str) -> CaseStudy:
    case = db.session.scalar(select(CaseStudy).where(CaseStudy.title == title))
    if case is None:
        raise ValueError(f"{where}: no demo case study is titled {title!r}")
    return case


def _load_adaptations(rows: list[dict], users: dict[str, User]) -> int:
    """Record each link of ``adaptations.json`` as ``by`` (a role); returns how many.

    ``source`` and ``adapting`` name demo case studies by title; ``kind``
    and the texts are what the lineage form takes (texts may be lists of lines).
    """
    for row in rows:
        data = lineage.AdaptationInput(kind=row["kind"], **{
            name: _text(row.get(name)) for name in lineage.TEXT_FIELDS})
        source = _case_titled(row["source"], "adaptations.json")
        adapting = _case_titled(row["adapting"], "adaptations.json")
        lineage.record_adaptation(users[row["by"]], adapting, source.id, data)
    return len(rows)


def _load_review(rows: dict, cities: dict[str, City], problems: dict, contexts: dict,
                 users: dict[str, User]) -> int:
    """Replay ``review.json``; returns how many case studies it left in review.

    ``cases`` are new case studies (a case-file entry with its ``city`` and
    status "draft"); ``published`` name demo case studies by title. Each
    has ``steps``: ``{"step": ..., "by": role, "comment": ...}``, where the
    step "edit" takes ``message`` and ``changes`` instead of a comment (on
    a published case study it proposes an edit).
    """
    scripted = []
    for row in rows["cases"]:
        _create_case(row, cities[row["city"]], problems, contexts, users)
        scripted.append((row["title"], row["steps"]))
    scripted += [(row["title"], row["steps"]) for row in rows["published"]]
    in_review = 0
    for title, steps in scripted:
        case = _case_titled(title, "review.json")
        for step in steps:
            user = users[step["by"]]
            if step["step"] == "edit":
                _edit(user, case, step)
            else:
                _REVIEW_STEPS[step["step"]](user, case, step.get("comment", ""))
        in_review += case.status in (CaseStatus.SUBMITTED, CaseStatus.CHANGES_REQUESTED)
    return in_review


def _load_collections(rows: list[dict], users: dict[str, User]) -> int:
    """Create each collection of ``collections.json`` as its ``owner`` (a role); returns how many.

    Items name demo case studies by title, each with an optional note; a
    ``featured`` collection is featured by the demo facilitator.
    """
    for row in rows:
        owner = users[row["owner"]]
        made = collections.create_collection(owner, collections.CollectionInput(
            title=row["title"], introduction=_text(row.get("introduction")),
            visibility=row["visibility"]))
        cases = [_case_titled(item["case"], "collections.json") for item in row["items"]]
        collections.add_cases(owner, made, [case.id for case in cases])
        for case, item in zip(cases, row["items"], strict=True):
            if item.get("note"):
                collections.set_note(owner, made, case.id, _text(item["note"]))
        if row.get("featured"):
            collections.set_featured(users[Role.FACILITATOR.value], made, True)
    return len(rows)
