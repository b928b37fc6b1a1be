"""Helpers for the tests that run kb under real gunicorn servers on PostgreSQL.

Each such test gets a fresh PostgreSQL schema of its own inside the
database ``KB_TEST_DATABASE_URL`` names (which the other tests only use to
reach the server), so the servers' tables meet no other test's, whichever
xdist worker runs it; the schema is dropped at the end.
Client work runs in separate processes (:func:`submit_cases`), as real
visitors would, talking HTTP to the servers.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from factories import PASSWORD, make_user
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from bench.load.client import REQUEST_ERRORS, WebClient, case_form, slug_of
from kb import create_app, search
from kb.extensions import db
from kb.models import CaseStudy, City, ProblemOfPractice, Role, User, latest_change_seq
from kb.services.policy import case_visibility

# Every server of one test shares it, as servers behind one load balancer must.
SECRET_KEY = "live-test-secret-key"


@contextmanager
def fresh_schema(database_url: str) -> Iterator[str]:
    """A new, empty schema in ``database_url``'s database; yields a URL whose connections use it."""
    name = f"kb_live_{uuid.uuid4().hex[:12]}"
    engine = create_engine(make_url(database_url).set(drivername="postgresql+psycopg"))
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{name}"'))
    try:
        yield make_url(database_url).update_query_dict(
            {"options": f"-csearch_path={name}"}
        ).render_as_string(hide_password=False)
    finally:
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        engine.dispose()


def server_settings(database_url: str, instance: Path) -> dict[str, str]:
    """The ``KB_*`` settings of one server with its own instance (and index) folder."""
    return {"DATABASE_URL": database_url, "INSTANCE_PATH": str(instance),
            "SECRET_KEY": SECRET_KEY}


@contextmanager
def local_app(database_url: str, instance: Path) -> Iterator:
    """A kb app in this process on a server's database and index, for seeding and checking."""
    app = create_app({"INSTANCE_PATH": str(instance), "DATABASE_URL": database_url,
                      "SECRET_KEY": SECRET_KEY})
    try:
        yield app
    finally:
        with app.app_context():
            db.engine.dispose()


@dataclass
class World:
    """What the seeded instance holds: the terms a case study needs and who may log in."""

    city_id: int
    problem_id: int
    members: list[str]
    facilitator: str


def seed(app, members: int) -> World:
    """Add a city, a problem of practice, a facilitator and ``members`` member accounts."""
    with app.app_context():
        city = City(slug="toronto", name="Toronto", country="Canada")
        problem = ProblemOfPractice(slug="work-based-learning", name="Work-based learning")
        db.session.add_all([city, problem])
        db.session.commit()
        emails = [make_user(Role.MEMBER, email=f"member{n}@example.org", city=city).email
                  for n in range(members)]
        facilitator = make_user(Role.FACILITATOR, city=city).email
        return World(city.id, problem.id, emails, facilitator)


def marker(client: int, number: int) -> str:
    """A made-up word found in exactly one submission: letters only, so no analyzer splits it."""
    return "qzx" + "".join(chr(ord("a") + int(digit)) for digit in f"{client:02d}{number:04d}")


@dataclass
class ClientReport:
    """What one client process did: its accepted submissions, failures and unfound ones."""

    accepted: dict[str, str] = field(default_factory=dict)  # marker -> slug
    failures: list[str] = field(default_factory=list)  # wrong answers (any status but 302)
    broken: list[float] = field(default_factory=list)  # when a connection failed
    accepted_at: list[float] = field(default_factory=list)
    unfound: list[str] = field(default_factory=list)


def submit_cases(url: str, email: str, world: World, client: int, first: int, count: int,
                 search_after: bool = True) -> ClientReport:
    """Log in as ``email`` and submit ``count`` case studies through the form, then find each.

    Runs in its own process. A connection that breaks (its worker was
    killed) is recorded and the client goes on with the next submission;
    any other answer than the form's redirect is a failure.
    """
    web = WebClient(url)
    token = web.log_in(email, PASSWORD)
    report = ClientReport()
    for number in range(first, first + count):
        word = marker(client, number)
        # Every client uses the same titles at about the same moment: concurrent
        # saves race for the same slug.
        form = case_form(token, f"Apprenticeship hub {number}", city_id=world.city_id,
                         problem_id=world.problem_id,
                         summary=f"Employers and schools share a {word} placement desk.",
                         body=f"Submission {number} of client {client}.")
        try:
            answer = web.post("/cases/new", form)
        except REQUEST_ERRORS:
            report.broken.append(time.time())
            continue
        if answer.status == 302:
            report.accepted[word] = slug_of(answer.location)
            report.accepted_at.append(time.time())
        else:
            report.failures.append(f"{word}: status {answer.status}")
    if search_after:
        for word, slug in report.accepted.items():
            if web.search(word)[1] != [slug]:
                report.unfound.append(word)
    return report


def index_lock_holder(index_dir: Path, candidates: list[int]) -> int | None:
    """Which of ``candidates`` holds the index's write lock now (from /proc/locks), if any."""
    lock = index_dir / "MAIN_WRITELOCK"
    try:
        inode = lock.stat().st_ino
    except FileNotFoundError:
        return None
    for line in Path("/proc/locks").read_text().splitlines():
        parts = line.split()
        # "1: FLOCK ADVISORY WRITE <pid> <major>:<minor>:<inode> 0 EOF"
        if len(parts) >= 6 and parts[1] == "FLOCK" and parts[5].endswith(f":{inode}"):
            pid = int(parts[4])
            if pid in candidates:
                return pid
    return None


def kill(pid: int) -> None:
    """SIGKILL ``pid``: no clean-up of any kind, as when the kernel's OOM killer strikes."""
    os.kill(pid, signal.SIGKILL)


@dataclass
class IndexReport:
    """The index of one server compared with the database, and how many case studies exist."""

    cases: int
    missing: list[int]
    stale: list[int]
    extra: list[str]
    duplicated: list[str]
    behind_by: int


def compare_index(app, catch_up: bool) -> IndexReport:
    """``flask kb search check`` through the facade, after a catch-up if asked."""
    with app.app_context():
        if catch_up:
            assert search.catch_up() is not None, "the index stayed locked"
        drift = search.check()
        cases = len(db.session.scalars(select(CaseStudy.id)).all())
        return IndexReport(cases, drift.missing, drift.stale, drift.extra, drift.duplicated,
                           drift.behind_by)


def unfound(app, email: str, accepted: dict[str, str]) -> list[str]:
    """The markers of ``accepted`` (marker -> slug) that a search as ``email`` does not find alone."""
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        missed = []
        for word, slug in accepted.items():
            ids = search.search(case_visibility(user), word).ids
            slugs = db.session.scalars(select(CaseStudy.slug).where(CaseStudy.id.in_(ids))).all()
            if slugs != [slug]:
                missed.append(word)
        return missed


def applied_and_latest(app) -> tuple[int, int]:
    """The change-log entry the index has applied up to, and the newest in the database."""
    with app.app_context():
        return search.index_state().seq, latest_change_seq(db.session)
