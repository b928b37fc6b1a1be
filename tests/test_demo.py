"""The demo network: ``flask kb demo`` and :mod:`kb.services.demo`.

A newcomer's first look at kb is this data, so the tests check both the
command's behaviour and the content promised by the foundation issue:
every city profiled, every city and problem covered, CJK case studies,
a sample-data notice on every case study and a working login per role.
"""

from __future__ import annotations

import pytest
from flask import url_for
from sqlalchemy import func, select

from kb.errors import Conflict
from kb.extensions import db
from kb.models import (
    PROFILE_HEADINGS,
    AdaptationContext,
    CaseStatus,
    CaseStudy,
    ChangeLog,
    City,
    ContextKind,
    EducationLevel,
    EvidenceLevel,
    ProblemOfPractice,
    Role,
    User,
)
from kb.services import demo

from factories import make_user

NETWORK = {"Denver", "Hiroshima", "Hong Kong", "Houston", "Lexington", "Melbourne", "Seattle",
           "Seoul", "Shanghai", "Singapore", "Toronto"}
# How each language's case studies say they are illustrative sample data.
SAMPLE_DATA_NOTICE = {
    "en": "illustrative sample data",
    "fr": "données d'exemple à titre illustratif",
    "zh": "示例",
    "ja": "サンプルデータ",
    "ko": "샘플 데이터",
}
DOCUMENTED_LOGINS = {
    Role.MEMBER: ("member@demo.kb", "demo-member-pass"),
    Role.RESEARCHER: ("researcher@demo.kb", "demo-researcher-pass"),
    Role.FACILITATOR: ("facilitator@demo.kb", "demo-facilitator-pass"),
    Role.ADMIN: ("admin@demo.kb", "demo-admin-pass"),
}


def _count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_demo_command_loads_the_network_and_prints_logins(app, demo_network):
    for email, password in DOCUMENTED_LOGINS.values():
        assert email in demo_network and password in demo_network
    assert "http://127.0.0.1:5000/" in demo_network
    with app.app_context():
        cities = db.session.scalars(select(City)).all()
        assert {city.name for city in cities} == NETWORK
        for city in cities:
            assert city.country
            empty = [heading for _key, heading, text in city.profile() if not text.strip()]
            assert not empty, f"{city.name} has no profile under {empty}"
            assert len(city.profile()) == len(PROFILE_HEADINGS)
        problems = db.session.scalars(select(ProblemOfPractice)).all()
        assert len(problems) >= 12
        assert all(problem.description for problem in problems)
        contexts = db.session.scalars(select(AdaptationContext)).all()
        assert 15 <= len(contexts) <= 25
        assert {context.kind for context in contexts} == set(ContextKind)
        assert _count(CaseStudy) >= 30


def test_every_city_and_problem_has_published_case_studies(app, demo_network):
    with app.app_context():
        published = CaseStudy.status == CaseStatus.PUBLISHED
        for city in db.session.scalars(select(City)):
            assert _count(CaseStudy, published, CaseStudy.city_id == city.id) >= 2, city.name
        problems = db.session.scalars(select(ProblemOfPractice)).all()
        covered = {
            problem.name: _count(
                CaseStudy, published, CaseStudy.problems.any(ProblemOfPractice.id == problem.id)
            )
            for problem in problems
        }
        assert min(covered.values()) >= 1, covered
        assert sum(count >= 2 for count in covered.values()) > len(covered) / 2, covered


def test_case_studies_include_cjk_and_all_say_they_are_sample_data(app, demo_network):
    cjk_ranges = {
        "zh": ("\u4e00", "\u9fff"),  # CJK unified ideographs
        "ja": ("\u3040", "\u30ff"),  # hiragana and katakana
        "ko": ("\uac00", "\ud7a3"),  # hangul syllables
    }
    with app.app_context():
        cases = db.session.scalars(select(CaseStudy)).all()
        for language, (low, high) in cjk_ranges.items():
            written = [case for case in cases
                       if case.language == language and case.status is CaseStatus.PUBLISHED]
            assert written, f"no published case study in {language}"
            for case in written:
                assert any(low <= char <= high for char in case.title + case.summary), case.title
        for case in cases:
            notice = SAMPLE_DATA_NOTICE[case.language]
            assert notice in case.body.lower(), f"{case.title!r} lacks {notice!r}"


def test_case_studies_vary_and_went_through_the_services(app, demo_network):
    with app.app_context():
        cases = db.session.scalars(select(CaseStudy)).all()
        assert {case.evidence_level for case in cases} >= set(EvidenceLevel)
        assert len({case.education_level for case in cases}) >= 5
        assert {EducationLevel.UPPER_SECONDARY, EducationLevel.ADULT} <= {
            case.education_level for case in cases
        }
        assert any(case.year_end is None and case.year_start for case in cases)
        assert any(case.year_end for case in cases)
        assert any(case.sources for case in cases) and any(not case.sources for case in cases)
        assert all(case.contact and case.summary and case.body for case in cases)

        member = db.session.scalar(select(User).where(User.role == Role.MEMBER))
        drafts = [case for case in cases if case.status is CaseStatus.DRAFT]
        assert 2 <= len(drafts) <= 3
        assert all(case.author_id == member.id for case in drafts)

        # Every case study has its revisions and a change-log row for the index.
        assert all(case.revisions for case in cases)
        assert any(case.version == 2 and len(case.revisions) == 2 for case in cases)
        logged = set(db.session.scalars(select(ChangeLog.entity_id)))
        assert {case.id for case in cases} <= logged


def test_published_demo_cases_are_public_and_drafts_stay_private(app, demo_network, client, auth):
    with app.app_context():
        published = db.session.scalar(
            select(CaseStudy.slug).where(CaseStudy.status == CaseStatus.PUBLISHED,
                                         CaseStudy.language == "ko"))
        draft = db.session.scalar(
            select(CaseStudy.slug).where(CaseStudy.status == CaseStatus.DRAFT))
    with app.test_request_context():
        published_url = url_for("cases.detail", slug=published)
        draft_url = url_for("cases.detail", slug=draft)
    assert client.get(published_url).status_code == 200
    assert client.get(draft_url).status_code == 404
    auth.login(*DOCUMENTED_LOGINS[Role.MEMBER])
    assert client.get(draft_url).status_code == 200


def test_each_demo_account_logs_in_with_its_documented_password(app, demo_network, client, auth):
    with app.app_context():
        for role, (email, _password) in DOCUMENTED_LOGINS.items():
            user = db.session.scalar(select(User).where(User.email == email))
            assert user.role is role and user.active and user.city is not None
    for email, password in DOCUMENTED_LOGINS.values():
        response = auth.login(email, password)
        assert response.status_code == 302, (email, response.get_data(as_text=True)[:500])
        auth.logout()
    assert auth.login("facilitator@demo.kb", "wrong password").status_code == 400


def test_demo_if_empty_loads_once_and_then_only_says_so(app, runner):
    first = runner.invoke(args=["kb", "demo", "--if-empty"])
    assert first.exit_code == 0, first.output
    assert "Loaded the demo network" in first.output
    with app.app_context():
        counts = demo.existing_data()

    second = runner.invoke(args=["kb", "demo", "--if-empty"])
    assert second.exit_code == 0, second.output
    assert "already has data" in second.output
    assert "Loaded" not in second.output
    assert "facilitator@demo.kb" in second.output and "demo-facilitator-pass" in second.output
    assert "http://127.0.0.1:5000/" in second.output
    with app.app_context():
        assert demo.existing_data() == counts


def test_plain_demo_on_a_loaded_instance_fails_and_changes_nothing(app, demo_network, runner):
    with app.app_context():
        counts = demo.existing_data()
    result = runner.invoke(args=["kb", "demo"])
    assert result.exit_code != 0
    assert "already has data" in result.output and "--if-empty" in result.output
    with app.app_context():
        assert demo.existing_data() == counts


def test_if_empty_leaves_an_instance_with_its_own_users_alone(app, runner):
    with app.app_context():
        make_user(Role.ADMIN, email="admin@example.org")
    result = runner.invoke(args=["kb", "demo", "--if-empty"])
    assert result.exit_code == 0, result.output
    assert "already has data" in result.output
    # No demo account exists here, so none is offered.
    assert "demo.kb" not in result.output
    assert "No demo login works" in result.output
    with app.app_context():
        assert _count(City) == 0 and _count(CaseStudy) == 0 and _count(User) == 1


def test_a_demo_login_whose_password_was_changed_is_not_printed(app, demo_network, runner):
    with app.app_context():
        admin = db.session.scalar(select(User).where(User.email == "admin@demo.kb"))
        admin.set_password("a private new password")
        db.session.commit()
    result = runner.invoke(args=["kb", "demo", "--if-empty"])
    assert result.exit_code == 0, result.output
    assert "admin@demo.kb" not in result.output
    assert "facilitator@demo.kb" in result.output


def test_load_demo_refuses_an_instance_with_a_city(app_ctx):
    db.session.add(City(slug="lyon", name="Lyon", country="France"))
    db.session.commit()
    with pytest.raises(Conflict, match="cities: 1"):
        demo.load_demo()
    assert _count(User) == 0 and _count(CaseStudy) == 0
