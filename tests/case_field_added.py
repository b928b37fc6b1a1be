"""A case-study field added the documented way, followed onto every surface.

Run by ``tests/test_case_fields.py`` in a process of its own, so that the
extra column never reaches the models of other tests:
``python tests/case_field_added.py WORK_DIR``. It adds what
``docs/case-study-fields.md`` says a new field takes (a model column and
one registry entry; the test database is created from the models, so no
migration runs), builds an app on a SQLite database in ``WORK_DIR`` and
checks the field on the form, the API and its document, the import and
export, the revision diff, the case page, the comparison, the collection
export and the search. Any failed check ends the process with a traceback.
"""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path

from sqlalchemy import Column, Text, select

import kb.case_fields
from kb.models import CaseStudy

FIELD = "evaluation_notes"
LABEL = "Evaluation notes"
# A word no other text of the test data holds, so finding it proves the field is searched.
WORD = "zephyrine"
REGISTRY_ENTRY = f"""CaseField(
    "{FIELD}", "{LABEL}", Kind.MARKDOWN,
    described="How the practice was evaluated, in Markdown.",
    searched=Searched("other"), history=Shown(165),
    compared=Shown(55, section="results"), collected=Shown(95),
)"""


def add_the_field() -> None:
    """The model column, and one entry appended to the registry's FIELDS in its source."""
    CaseStudy.evaluation_notes = Column(Text, nullable=False, default="")
    source = inspect.getsource(kb.case_fields)
    first_derived = "BY_NAME: dict"
    assert first_derived in source, "the registry's derived tables moved; update this script"
    source = source.replace(first_derived,
                            f"FIELDS = (*FIELDS, {REGISTRY_ENTRY})\n{first_derived}", 1)
    exec(compile(source, kb.case_fields.__file__, "exec"), kb.case_fields.__dict__)


def new_app(work_dir: Path):
    """A kb app on an empty SQLite database and index in ``work_dir``."""
    from kb import create_app, search
    from kb.extensions import db

    app = create_app({
        "TESTING": True, "INSTANCE_PATH": str(work_dir / "instance"), "SECRET_KEY": "test",
        "DATABASE_URL": f"sqlite:///{work_dir / 'kb.db'}", "WTF_CSRF_ENABLED": False,
        "SERVER_NAME": None,
    })
    with app.app_context():
        db.create_all()
        search.ensure_index()
    return app


def seed() -> dict:
    """A city, a problem of practice and a facilitator, committed; returns what the checks use."""
    from kb.extensions import db
    from kb.models import City, ProblemOfPractice, Role, User
    from kb.services import api_tokens

    city = City(slug="toronto", name="Toronto", country="Canada")
    problem = ProblemOfPractice(slug="work-based-learning", name="Work-based learning")
    user = User(name="Facilitator", email="facilitator@example.org", role=Role.FACILITATOR)
    user.set_password("a long enough password")
    db.session.add_all([city, problem, user])
    db.session.commit()
    token = api_tokens.create_token(user, "field check").secret
    db.session.commit()
    return {"city": city.id, "problem": problem.id, "user": user.id, "token": token}


def case_named(title: str) -> CaseStudy:
    """The case study titled ``title``."""
    from kb.extensions import db

    return db.session.scalar(select(CaseStudy).where(CaseStudy.title == title))


def check_form(client, ids: dict) -> CaseStudy:
    """The new-case form offers the field, and saving it keeps what was typed."""
    page = client.get("/cases/new").get_data(as_text=True)
    assert f'name="{FIELD}"' in page and LABEL in page
    response = client.post("/cases/new", data={
        "title": "Written on the form", "summary": "A summary.", "city_id": str(ids["city"]),
        "education_level": "upper_secondary", "language": "en",
        "problem_ids": [str(ids["problem"])], FIELD: f"Audited by {WORD} reviewers.",
        "save": "Save draft",
    })
    assert response.status_code == 302, response.get_data(as_text=True)
    case = case_named("Written on the form")
    assert getattr(case, FIELD) == f"Audited by {WORD} reviewers."
    return case


def check_api(client, ids: dict) -> None:
    """The API takes and returns the field, and its document says so."""
    headers = {"Authorization": f"Bearer {ids['token']}"}
    created = client.post("/api/v1/cases", headers=headers, json={
        "title": "Written through the API", "summary": "A summary.", "city": "toronto",
        "education_level": "upper_secondary", "problems": ["work-based-learning"],
        FIELD: "Checked by the API.",
    })
    assert created.status_code == 201, created.get_data(as_text=True)
    read = client.get(created.get_json()["url"], headers=headers).get_json()
    assert read[FIELD] == "Checked by the API."
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    for model in ("CaseInput", "CaseChanges", "CaseDetail"):
        assert FIELD in schemas[model]["properties"], model


def check_import_and_export(user) -> None:
    """The field is a column of the export, and an import of that export keeps it."""
    from kb.extensions import db
    from kb.services import bulk

    assert FIELD in bulk.COLUMN_NAMES
    header = bulk.export_cases("csv").decode("utf-8").splitlines()[0]
    assert FIELD in header.split(",")
    record = json.loads(bulk.export_cases("jsonl").decode("utf-8").splitlines()[0])
    assert record[FIELD] == f"Audited by {WORD} reviewers."
    record["title"] = "Imported again"
    rows = bulk.read_rows(json.dumps(record).encode("utf-8"), "jsonl", max_bytes=1_000_000)
    bulk.import_cases(user, rows)
    db.session.commit()
    assert getattr(case_named("Imported again"), FIELD) == f"Audited by {WORD} reviewers."


def check_history_and_page(client, case: CaseStudy) -> None:
    """An edit of the field shows in the revision diff; the case page shows the section."""
    form = client.get(f"/cases/{case.slug}/edit").get_data(as_text=True)
    assert f'name="{FIELD}"' in form
    response = client.post(f"/cases/{case.slug}/edit", data={
        "title": case.title, "summary": case.summary, "city_id": str(case.city_id),
        "education_level": case.education_level.value, "language": "en",
        "problem_ids": [str(p.id) for p in case.problems], "version": str(case.version),
        FIELD: f"Audited again by {WORD} reviewers.", "save": "Save changes",
    })
    assert response.status_code == 302, response.get_data(as_text=True)
    diff = client.get(f"/cases/{case.slug}/diff").get_data(as_text=True)
    assert LABEL in diff and "Audited again" in diff
    page = client.get(f"/cases/{case.slug}").get_data(as_text=True)
    assert f'id="section-{FIELD}"' in page and "Audited again" in page


def check_comparison_and_collections(client, first: CaseStudy, second: CaseStudy) -> None:
    """The comparison table and its CSV carry a row of the field, as do collection exports."""
    from kb.services import collections

    ids = {"ids": [str(first.id), str(second.id)]}
    page = client.get("/compare", query_string=ids).get_data(as_text=True)
    assert LABEL in page and "Audited again" in page
    table = client.get("/compare.csv", query_string=ids).get_data(as_text=True)
    assert LABEL in table and "Checked by the API." in table
    assert LABEL in [field.label for field in collections.KEY_FIELDS]


def check_search(case: CaseStudy) -> None:
    """A word found only in the field finds the case study once it is published."""
    from kb import search
    from kb.extensions import db
    from kb.services import review
    from kb.services.policy import case_visibility

    review.publish_as_system(case, "Published to be searched")
    db.session.commit()
    assert search.search(case_visibility(None), WORD).ids == [case.id]


def main(work_dir: Path) -> None:
    """Add the field, then check it on every surface."""
    add_the_field()
    from kb.extensions import db
    from kb.models import User

    app = new_app(work_dir)
    client = app.test_client()
    with app.app_context():
        ids = seed()
        login = client.post("/auth/login", data={"email": "facilitator@example.org",
                                                 "password": "a long enough password"})
        assert login.status_code == 302
        written = check_form(client, ids)
        check_api(client, ids)
        check_import_and_export(db.session.get(User, ids["user"]))
        check_history_and_page(client, written)
        check_comparison_and_collections(client, written, case_named("Written through the API"))
        check_search(case_named("Written on the form"))
    print(f"{FIELD} is on every surface")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
