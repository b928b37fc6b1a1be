"""The load benchmark's instance: its own PostgreSQL database, 10,000 generated case studies.

The case studies come from the search benchmark's generator and loader
(:mod:`bench.search.instance`); the schema comes from kb's migration, as
``flask kb init`` makes it, and the index from kb's rebuild.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy import select, text

from bench.search.instance import fill, generate
from kb import create_app, search
from kb.extensions import db
from kb.migrate import upgrade_database
from kb.models import CaseStatus, CaseStudy, City, ProblemOfPractice, Role, User

SECRET_KEY = "load-benchmark"
# Members the write traffic logs in as, one per client process.
WRITERS = 16
WRITER_PASSWORD = "load benchmark writer"


@dataclass
class Instance:
    """What the traffic needs to know about the filled instance."""

    settings: dict[str, str]
    case_slugs: list[str]  # published, so anyone may read them
    short_queries: list[str]
    long_queries: list[str]
    writers: list[str]
    city_ids: list[int]
    problem_ids: list[int]
    writer_password: str = WRITER_PASSWORD


def recreate_database(server_url: str, name: str) -> str:
    """Drop and create database ``name`` on the PostgreSQL at ``server_url``; returns its URL."""
    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                           .format(sql.Identifier(name)))
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return f"{server_url}/{name}"


def postgres_version(server_url: str) -> str:
    """The PostgreSQL server's version, for the report."""
    with psycopg.connect(f"{server_url}/postgres") as connection:
        return connection.execute("SHOW server_version").fetchone()[0].split()[0]


def drop_database(server_url: str, name: str) -> None:
    """Drop database ``name`` (the benchmark's, at the end of a run not kept)."""
    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                           .format(sql.Identifier(name)))


def build(database_url: str, folder: Path, cases: int, seed: int, progress) -> Instance:
    """Migrate, fill with ``cases`` generated case studies, index them, add the writers."""
    settings = {"DATABASE_URL": database_url, "INSTANCE_PATH": str(folder / "instance"),
                "SECRET_KEY": SECRET_KEY}
    app = create_app(dict(settings))
    progress(f"generating {cases:,} case studies")
    generated, short, long = generate(cases, seed)
    with app.app_context():
        upgrade_database()
    progress("inserting them")
    fill(app, generated)
    with app.app_context():
        # The loader gives case studies explicit ids; new ones must come after them.
        db.session.execute(text(
            "SELECT setval(pg_get_serial_sequence('case_study', 'id'), "
            "(SELECT max(id) FROM case_study))"
        ))
        writers = [User(name=f"Writer {n}", email=f"writer{n}@example.org", role=Role.MEMBER)
                   for n in range(WRITERS)]
        for writer in writers:
            writer.set_password(WRITER_PASSWORD)
        db.session.add_all(writers)
        db.session.commit()
        progress("rebuilding the search index (the longest step)")
        search.rebuild()
        slugs = db.session.scalars(select(CaseStudy.slug).where(
            CaseStudy.status == CaseStatus.PUBLISHED).order_by(CaseStudy.id)).all()
        instance = Instance(
            settings=settings, case_slugs=list(slugs), short_queries=short, long_queries=long,
            writers=[w.email for w in writers],
            city_ids=list(db.session.scalars(select(City.id))),
            problem_ids=list(db.session.scalars(select(ProblemOfPractice.id))),
        )
        db.engine.dispose()
    # As after any bulk load: without statistics the planner guesses, and
    # autovacuum would catch up at some moment during the run.
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")
    return instance


def index_drift(settings: dict[str, str]) -> search.Drift:
    """``flask kb search check`` on the server's index, without catching it up first."""
    app = create_app(dict(settings))
    with app.app_context():
        try:
            return search.check()
        finally:
            db.engine.dispose()
