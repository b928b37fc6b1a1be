"""The coverage matrix: how many published case studies each city has on each problem.

Only published case studies count, so the matrix is the same for every
viewer. Rows are every city, columns every active problem of practice; an
empty cell is a gap the network may want to fill.

The counts come from one GROUP BY query over (city, problem), and the row
totals from one more over cities: a row's total is every published case
study of the city, so a case study on two problems counts in two cells but
once in the total, as the search the total links to finds it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from kb.extensions import db
from kb.models import CaseStudy, City, EducationLevel, ProblemOfPractice, case_problem
from kb.services import policy


@dataclass
class CoverageRow:
    """One city: its count per problem (in column order) and its published case studies."""

    city: City
    counts: list[int]
    total: int


@dataclass
class CoverageMatrix:
    """Cities x active problems of practice, counting published case studies."""

    problems: list[ProblemOfPractice]
    rows: list[CoverageRow]
    column_totals: list[int]
    total: int
    education: EducationLevel | None

    @property
    def gaps(self) -> int:
        return sum(count == 0 for row in self.rows for count in row.counts)


def parse_education(value: str | None) -> tuple[EducationLevel | None, str | None]:
    """The education level a filter names, or None and a notice for a value that names none."""
    if not value:
        return None, None
    try:
        return EducationLevel(value), None
    except ValueError:
        return None, "That education level is not one of the list, so every level is counted."


def coverage_matrix(education: EducationLevel | None = None) -> CoverageMatrix:
    """Published case studies per city and active problem, optionally at one education level."""
    problems = list(db.session.scalars(
        select(ProblemOfPractice).where(~ProblemOfPractice.retired).order_by(ProblemOfPractice.name)
    ))
    cities = list(db.session.scalars(select(City).order_by(City.name)))
    active_ids = [problem.id for problem in problems]

    published = [policy.public_cases_clause()]
    if education is not None:
        published.append(CaseStudy.education_level == education)
    cells: dict[tuple[int, int], int] = {
        (city_id, problem_id): count
        for city_id, problem_id, count in db.session.execute(
            select(CaseStudy.city_id, case_problem.c.problem_id, func.count())
            .join(case_problem, case_problem.c.case_study_id == CaseStudy.id)
            .where(*published, case_problem.c.problem_id.in_(active_ids))
            .group_by(CaseStudy.city_id, case_problem.c.problem_id)
        )
    }
    city_totals: dict[int, int] = dict(db.session.execute(
        select(CaseStudy.city_id, func.count()).where(*published).group_by(CaseStudy.city_id)
    ).all())

    rows = [
        CoverageRow(
            city=city,
            counts=[cells.get((city.id, problem_id), 0) for problem_id in active_ids],
            total=city_totals.get(city.id, 0),
        )
        for city in cities
    ]
    return CoverageMatrix(
        problems=problems,
        rows=rows,
        column_totals=[sum(row.counts[i] for row in rows) for i in range(len(problems))],
        total=sum(row.total for row in rows),
        education=education,
    )
