"""Read-only views across the catalogue: the home page's overview."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from kb.extensions import db
from kb.models import CaseStudy, City, ProblemOfPractice, User
from kb.services import policy


@dataclass
class HomeOverview:
    """Figures and lists shown on the home page."""

    published_count: int
    problem_count: int
    recent: list[CaseStudy]
    cities: list[tuple[City, int]]


def home_overview(user: User | None, recent_limit: int = 8) -> HomeOverview:
    """Counts of published work, the newest case studies and each city's total."""
    published = policy.public_cases_clause()
    recent = db.session.scalars(
        select(CaseStudy)
        .where(published)
        .options(selectinload(CaseStudy.city))
        .order_by(CaseStudy.published_at.desc().nulls_last(), CaseStudy.id.desc())
        .limit(recent_limit)
    ).all()
    counts = dict(
        db.session.execute(
            select(CaseStudy.city_id, func.count()).where(published).group_by(CaseStudy.city_id)
        ).all()
    )
    cities = db.session.scalars(select(City).order_by(City.name)).all()
    return HomeOverview(
        published_count=sum(counts.values()),
        problem_count=db.session.scalar(
            select(func.count()).select_from(ProblemOfPractice).where(~ProblemOfPractice.retired)
        ),
        recent=list(recent),
        cities=[(city, counts.get(city.id, 0)) for city in cities],
    )
