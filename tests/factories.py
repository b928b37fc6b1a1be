"""Builders of test data: users, the vocabulary, case studies, collections, tokens.

Every builder goes through the services, as the application does, so the
change log and the index see what a test makes. Call them inside an app
context (:func:`write_case_in` makes its own); those that commit say so.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask
from sqlalchemy import select

from kb.extensions import db
from kb.models import (
    AdaptationContext,
    CaseStudy,
    City,
    CollectionVisibility,
    ContextKind,
    ProblemOfPractice,
    Role,
    User,
)
from kb.services import case_studies, collections, lineage, review
from kb.services.case_studies import CaseInput

PASSWORD = "correct horse battery"


def make_user(role: Role = Role.MEMBER, email: str | None = None, name: str | None = None,
              city: City | None = None, password: str = PASSWORD) -> User:
    """Create and commit a user."""
    user = User(
        name=name or f"Test {role.value}",
        email=(email or f"{role.value}@example.org").lower(),
        role=role,
        city=city,
    )
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user


def make_taxonomy() -> dict:
    """Two cities, three problems (one retired) and three contexts, committed; their ids by slug."""
    toronto = City(slug="toronto", name="Toronto", country="Canada",
                   profile_governance="Elected school board", profile_languages="English, French")
    seoul = City(slug="seoul", name="Seoul", country="South Korea",
                 profile_governance="Metropolitan office of education", profile_languages="Korean")
    problems = [
        ProblemOfPractice(slug="work-based-learning", name="Work-based learning",
                          description="Learning in real workplaces."),
        ProblemOfPractice(slug="career-guidance", name="Career guidance",
                          description="Helping students choose pathways."),
        ProblemOfPractice(slug="old-term", name="Old term", retired=True),
    ]
    contexts = [
        AdaptationContext(slug="centralised-governance", name="Centralised governance",
                          kind=ContextKind.GOVERNANCE),
        AdaptationContext(slug="public-funding", name="Public funding", kind=ContextKind.FUNDING),
        AdaptationContext(slug="large-system", name="Large system", kind=ContextKind.SCALE),
    ]
    db.session.add_all([toronto, seoul, *problems, *contexts])
    db.session.commit()
    return {
        "cities": {c.slug: c.id for c in (toronto, seoul)},
        "problems": {p.slug: p.id for p in problems},
        "contexts": {c.slug: c.id for c in contexts},
    }


def make_people(taxonomy: dict) -> dict[str, int]:
    """One committed user per role, and a second member; their ids by name."""
    toronto = db.session.get(City, taxonomy["cities"]["toronto"])
    users = {
        "admin": make_user(Role.ADMIN, city=toronto),
        "facilitator": make_user(Role.FACILITATOR, city=toronto),
        "member": make_user(Role.MEMBER, city=toronto),
        "other_member": make_user(Role.MEMBER, email="other@example.org", name="Other member"),
        "researcher": make_user(Role.RESEARCHER),
    }
    return {name: user.id for name, user in users.items()}


def email_of(user_id: int) -> str:
    """The e-mail address of the user with ``user_id``."""
    return db.session.scalar(select(User.email).where(User.id == user_id))


def case_input(taxonomy: dict, *, city: str = "toronto",
               problems: Iterable[str] = ("work-based-learning",), contexts: Iterable[str] = (),
               **overrides) -> CaseInput:
    """A valid CaseInput: an upper-secondary case study in ``city`` on ``problems``.

    ``city``, ``problems`` and ``contexts`` are slugs of ``taxonomy``'s terms;
    ``overrides`` set any other CaseInput field, ``city_id`` or ``problem_ids``
    among them for terms a test made itself.
    """
    values = dict(
        title="Employer-led apprenticeships",
        summary="Students spend two days a week with an employer.",
        city_id=taxonomy["cities"][city],
        education_level="upper_secondary",
        problem_ids=[taxonomy["problems"][slug] for slug in problems],
        context_ids=[taxonomy["contexts"][slug] for slug in contexts],
        body="Illustrative sample data.",
    )
    values.update(overrides)
    return CaseInput(**values)


def write_case(author: User, taxonomy: dict, *, publish: bool = True, **overrides) -> CaseStudy:
    """``author``'s case study of :func:`case_input`, published unless ``publish`` is false.

    Commits.
    """
    case = case_studies.create_case(author, case_input(taxonomy, **overrides))
    if publish:
        review.publish_as_system(case)
    db.session.commit()
    return case


def write_case_in(app: Flask, author_id: int, taxonomy: dict, *, publish: bool = True,
                  **overrides) -> CaseStudy:
    """:func:`write_case` for a test outside an app context; the case study comes back detached.

    Its columns are loaded, so ``.id`` and ``.slug`` read without a session.
    """
    with app.app_context():
        case = write_case(db.session.get(User, author_id), taxonomy, publish=publish, **overrides)
        db.session.refresh(case)
        db.session.expunge(case)
        return case


def member_collections(member: User, published: CaseStudy, draft: CaseStudy) -> dict[str, str]:
    """``member``'s private, network and public collection, by ``<visibility>_collection``.

    Each holds ``published``; the public one also holds ``draft``, which only
    its author and the curators may see in it.
    """
    slugs = {}
    for visibility in CollectionVisibility:
        made = collections.create_collection(member, collections.CollectionInput(
            title=f"Member's {visibility.value} collection", visibility=visibility.value))
        held = [published.id]
        if visibility is CollectionVisibility.PUBLIC:
            held.append(draft.id)
        collections.add_cases(member, made, held)
        slugs[f"{visibility.value}_collection"] = made.slug
    return slugs


def member_adaptation(member: User, source: CaseStudy, adapting: CaseStudy) -> int:
    """The id of a link ``member`` records: ``adapting`` adapts ``source``'s practice."""
    return lineage.record_adaptation(member, adapting, source.id, lineage.AdaptationInput(
        kind="adapted", kept="Employer mentors.", changed="Shorter placements.")).id
