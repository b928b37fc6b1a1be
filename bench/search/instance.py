"""A throw-away kb instance filled with generated case studies, for the search benchmark."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import insert

from bench.search.corpus import CITIES, CONTEXTS, PROBLEMS, CorpusGenerator, GeneratedCase
from kb import create_app, search
from kb.extensions import db
from kb.models import (
    AdaptationContext,
    CaseStatus,
    CaseStudy,
    City,
    ContextKind,
    EducationLevel,
    EvidenceLevel,
    ProblemOfPractice,
    Role,
    User,
    case_context,
    case_problem,
)

AUTHORS = 40
INSERT_CHUNK = 1_000


def app_config(folder: Path) -> dict:
    """The configuration of a benchmark instance living in ``folder``."""
    return {
        "TESTING": True,
        "INSTANCE_PATH": str(folder / "instance"),
        "SECRET_KEY": "benchmark",
        "DATABASE_URL": f"sqlite:///{folder / 'kb.sqlite'}",
        "INDEX_DIR": str(folder / "index"),
        "WTF_CSRF_ENABLED": False,
    }


def make_app(folder: Path):
    """A kb app on the instance in ``folder``."""
    return create_app(app_config(folder))


def fill(app, cases: list[GeneratedCase]) -> None:
    """Create the schema and insert the vocabularies, some authors and ``cases``.

    Rows go in with bulk inserts, bypassing the services (and therefore
    the change log): the benchmark then times a full rebuild.
    """
    with app.app_context():
        db.create_all()
        search.ensure_index()  # empty, before the rows: the benchmark times the rebuild
        cities = {slug: City(slug=slug, name=name, country=country)
                  for slug, (name, country) in CITIES.items()}
        problems = {slug: ProblemOfPractice(slug=slug, name=name)
                    for slug, name in PROBLEMS.items()}
        contexts = {slug: AdaptationContext(slug=slug, name=name, kind=ContextKind(kind))
                    for slug, (name, kind) in CONTEXTS.items()}
        authors = []
        for number in range(AUTHORS):
            author = User(name=f"Author {number}", email=f"author{number}@example.org",
                          role=Role.MEMBER, password_hash="!")
            authors.append(author)
        db.session.add_all([*cities.values(), *problems.values(), *contexts.values(), *authors])
        db.session.commit()
        start = datetime(2024, 1, 1, tzinfo=timezone.utc)
        rows, problem_links, context_links = [], [], []
        for number, case in enumerate(cases, start=1):
            when = start + timedelta(hours=number)
            rows.append({
                "id": number, "slug": f"case-{number}", "title": case.title,
                "summary": case.summary, "body": case.body,
                "implementation": case.implementation, "outcomes": case.outcomes,
                "cost_notes": case.cost_notes, "enablers": case.enablers,
                "barriers": case.barriers, "contact": "",
                "city_id": cities[case.city].id,
                "education_level": EducationLevel(case.education_level),
                "language": case.language, "year_start": case.year_start,
                "year_end": case.year_end,
                "evidence_level": (EvidenceLevel(case.evidence_level)
                                   if case.evidence_level else None),
                "status": CaseStatus(case.status),
                "author_id": authors[number % AUTHORS].id, "version": 1,
                "created_at": when, "updated_at": when,
                "published_at": when if case.status == "published" else None,
            })
            problem_links.extend({"case_study_id": number, "problem_id": problems[p].id}
                                 for p in case.problems)
            context_links.extend({"case_study_id": number, "context_id": contexts[c].id}
                                 for c in case.contexts)
        for table, data in ((CaseStudy.__table__, rows), (case_problem, problem_links),
                            (case_context, context_links)):
            for start_at in range(0, len(data), INSERT_CHUNK):
                db.session.execute(insert(table), data[start_at:start_at + INSERT_CHUNK])
        db.session.commit()


def generate(n: int, seed: int) -> tuple[list[GeneratedCase], list[str], list[str]]:
    """``n`` case studies and the benchmark's 200 short and 50 long queries."""
    generator = CorpusGenerator(seed)
    cases = generator.cases(n)
    return cases, generator.short_queries(200), generator.long_queries(50)


def save_queries(path: Path, short: list[str], long: list[str]) -> None:
    """Write the queries where the serving-process probe reads them."""
    path.write_text(json.dumps({"short": short, "long": long}, ensure_ascii=False))
