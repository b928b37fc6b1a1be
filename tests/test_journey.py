"""The foundation's acceptance journey, through HTTP as a newcomer would take it.

Load the demo data, log in with the facilitator login the command prints,
write a case study with a Chinese title and a hostile Markdown body, find it
on its city's page, edit it, and see two revisions.
"""

from __future__ import annotations

import re

from sqlalchemy import select

from kb.extensions import db
from kb.models import CaseStudy, City, ProblemOfPractice


def _printed_login(output: str, role: str) -> tuple[str, str]:
    """Find the email and password printed for ``role`` by ``flask kb demo``."""
    for line in output.splitlines():
        if role in line.lower():
            email = re.search(r"[\w.+-]+@[\w.-]+", line)
            if email:
                rest = line[email.end():]
                password = re.search(r"(\S{8,})", rest.replace("password", " ").replace(":", " "))
                if password:
                    return email.group(0), password.group(1)
    raise AssertionError(f"no {role} login printed in:\n{output}")


def test_newcomer_journey(app, client, runner):
    result = runner.invoke(args=["kb", "demo"])
    assert result.exit_code == 0, result.output
    email, password = _printed_login(result.output, "facilitator")

    response = client.post("/auth/login", data={"email": email, "password": password})
    assert response.status_code == 302

    with app.app_context():
        city = db.session.scalar(select(City).where(City.slug == "shanghai")) or db.session.scalars(
            select(City).order_by(City.name)
        ).first()
        problem = db.session.scalars(
            select(ProblemOfPractice).where(~ProblemOfPractice.retired).order_by(ProblemOfPractice.id)
        ).first()
        city_id, city_slug, problem_id = city.id, city.slug, problem.id

    title = "职业教育中的企业学徒制"
    form = {
        "title": title,
        "summary": "企业与学校合作培养学徒。",
        "city_id": str(city_id),
        "education_level": "upper_secondary",
        "language": "zh",
        "problem_ids": [str(problem_id)],
        "body": "## 做法\n\n<script>alert('owned')</script>\n\n**学徒** [link](javascript:alert(1))",
        "message": "first version",
        "save": "Save draft",
    }
    response = client.post("/cases/new", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)
    detail_url = response.headers["Location"]

    page = client.get(detail_url).get_data(as_text=True)
    assert title in page
    assert "<script>alert('owned')</script>" not in page
    # markdown-it refuses the link and leaves its text as words: nothing links or runs.
    assert not re.search(r"""(href|src)\s*=\s*["']?\s*javascript:""", page, re.IGNORECASE)
    assert "<strong>学徒</strong>" in page

    city_page = client.get(f"/cities/{city_slug}").get_data(as_text=True)
    assert title in city_page

    with app.app_context():
        case = db.session.scalar(select(CaseStudy).where(CaseStudy.title == title))
        slug, version = case.slug, case.version
    form.update(title=title + "（修订）", message="second version", version=str(version))
    response = client.post(f"/cases/{slug}/edit", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)

    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "first version" in page and "second version" in page
    with app.app_context():
        case = db.session.scalar(select(CaseStudy).where(CaseStudy.slug == slug))
        assert [r.number for r in case.revisions] == [2, 1]
