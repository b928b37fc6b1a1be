"""Revision history: the diff of two versions, and restoring an earlier one as a new version."""

from __future__ import annotations

import re

import pytest
from instances import seed
from sqlalchemy import select

from kb.errors import Conflict, NotFound, PermissionDenied
from kb.extensions import db
from kb.models import (
    AdaptationContext, CaseStudy, ChangeLog, ProblemOfPractice, Revision, Role, User,
)
from kb.services import case_studies, review, revisions, vocabularies
from kb.services.case_studies import case_to_input
from factories import PASSWORD, write_case, write_case_in
from pages import TableGrid

BODY_V1 = "\n".join([
    "Intro line",
    "Line 2", "Line 3", "Line 4", "Line 5", "Line 6", "Line 7",
    "Old conclusion",
])
BODY_V2 = "\n".join([
    "Intro line",
    "Line 2", "Line 3", "Line 4", "Line 5", "Line 6", "Line 7",
    "New conclusion with <script>alert(1)</script> & <b>tags</b>",
])


def edit(app, user_id: int, case_id: int, message: str = "Edited", **changes) -> int:
    """Save an edit of case ``case_id`` through the service; returns the new version.

    The edit of a published case study is published by a facilitator, as review would.
    """
    with app.app_context():
        user = db.session.get(User, user_id)
        case = db.session.get(CaseStudy, case_id)
        data = case_to_input(case)
        for name, value in changes.items():
            setattr(data, name, value)
        case_studies.update_case(user, case, data, message)
        if case.is_published:
            facilitator = db.session.scalar(select(User).where(User.role == Role.FACILITATOR))
            review.publish_edit(facilitator, case)
        db.session.commit()
        return case.version


def publish_proposed_edit(app, case_id: int) -> None:
    """The admin publishes the edit of published case ``case_id`` that waits for review."""
    with app.app_context():
        admin = db.session.scalar(select(User).where(User.role == Role.ADMIN))
        review.publish_edit(admin, db.session.get(CaseStudy, case_id))
        db.session.commit()


@seed("taxonomy", "people")
def history(app, taxonomy, people):
    """A published case study by ``member`` in two versions; returns its id and slug."""
    problems, contexts = taxonomy["problems"], taxonomy["contexts"]
    case_id = write_case(
        db.session.get(User, people["member"]), taxonomy,
        title="Apprenticeships", summary="First summary.", body=BODY_V1,
        contexts=("public-funding", "large-system"), sources=[("Report", "https://example.org/a")],
    ).id
    edit(app, people["member"], case_id, "Second thoughts", title="Apprenticeships for all",
         body=BODY_V2, problem_ids=[problems["career-guidance"]],
         context_ids=[contexts["large-system"]],
         sources=[("Report", "https://example.org/a"), ("Follow-up", "https://example.org/b")])
    with app.app_context():
        return {"id": case_id, "slug": db.session.get(CaseStudy, case_id).slug}


def snapshot_fields(app, case_id: int, number: int) -> dict:
    """A revision's snapshot without what every save changes (version) or keeps (slug, status)."""
    with app.app_context():
        snap = db.session.scalar(select(Revision.snapshot).where(
            Revision.case_study_id == case_id, Revision.number == number
        ))
    return {k: v for k, v in snap.items() if k not in ("version", "status", "slug")}


# -- the line diff ---------------------------------------------------------------

def test_line_diff_folds_long_unchanged_runs_and_numbers_lines():
    lines = revisions.line_diff(BODY_V1, BODY_V2)
    shown = [(line.kind, line.text, line.old_number, line.new_number, line.skipped)
             for line in lines]
    assert shown == [
        ("skipped", "", None, None, 5),
        ("same", "Line 6", 6, 6, 0),
        ("same", "Line 7", 7, 7, 0),
        ("removed", "Old conclusion", 8, None, 0),
        ("added", "New conclusion with <script>alert(1)</script> & <b>tags</b>", None, 8, 0),
    ]


def test_line_diff_of_added_and_removed_text():
    def kinds_and_texts(old, new):
        return [(line.kind, line.text) for line in revisions.line_diff(old, new)]

    assert kinds_and_texts("", "a\nb") == [("added", "a"), ("added", "b")]
    assert kinds_and_texts("a\nb", "") == [("removed", "a"), ("removed", "b")]
    middle = revisions.line_diff("1\n2\n3\n4\n5\n6\n7\n8\n9", "1\n2\n3\n4\nfive\n6\n7\n8\n9")
    assert [(line.kind, line.text or line.skipped) for line in middle] == [
        ("skipped", 2), ("same", "3"), ("same", "4"), ("removed", "5"), ("added", "five"),
        ("same", "6"), ("same", "7"), ("skipped", 2),
    ]


def test_line_diff_gives_up_on_a_long_changed_stretch(monkeypatch):
    monkeypatch.setattr(revisions, "MAX_MATCHED_LINES", 3)
    # Long texts whose changes are few and close together are still compared...
    assert revisions.line_diff(BODY_V1, BODY_V2) is not None
    # ...but not when the changed stretch between the common start and end is long.
    assert revisions.line_diff("a\nb\nc\nd\ne", "a\nB\nC\nD\nE") is None
    assert revisions.line_diff("same\n", "same") == []


def test_diff_page_says_when_a_text_changed_too_much_to_compare(monkeypatch, client, history):
    monkeypatch.setattr(revisions, "MAX_MATCHED_LINES", 0)
    html = client.get(f"/cases/{history['slug']}/diff?from=1&to=2").get_data(as_text=True)
    assert "So much of this text changed that it is not compared line by line" in html
    assert f'href="/cases/{history["slug"]}/revisions/1#section-body"' in html


# -- the diff service ----------------------------------------------------------

def test_diff_reports_changed_and_unchanged_fields(app, people, history):
    with app.app_context():
        user = db.session.get(User, people["researcher"])
        case = db.session.get(CaseStudy, history["id"])
        diff = revisions.diff_revisions(user, case, 1, 2)
        changed = {f.name: f for f in diff.changed}
        # Version 1 was saved as a draft, published, then edited into version 2.
        assert set(changed) == {"title", "problems", "contexts", "body", "sources", "status"}
        assert (changed["status"].old, changed["status"].new) == ("Draft", "Published")
        def old_and_new(name):
            return changed[name].old, changed[name].new

        assert old_and_new("title") == ("Apprenticeships", "Apprenticeships for all")
        assert old_and_new("problems") == ("Work-based learning", "Career guidance")
        assert changed["contexts"].old == "Large system, Public funding"
        assert changed["title"].lines is None
        body_kinds = [line.kind for line in changed["body"].lines if line.kind != "same"]
        assert body_kinds == ["skipped", "removed", "added"]
        assert [(line.kind, line.text) for line in changed["sources"].lines] == [
            ("same", "Report <https://example.org/a>"),
            ("added", "Follow-up <https://example.org/b>"),
        ]
        unchanged = {f.name for f in diff.unchanged}
        assert unchanged >= {"summary", "city", "education_level", "implementation"}


def test_diff_of_a_hidden_case_or_missing_revision_is_not_found(app, people, taxonomy):
    draft = write_case_in(app, people["member"], taxonomy, publish=False).id
    with app.app_context():
        case = db.session.get(CaseStudy, draft)
        with pytest.raises(NotFound):
            revisions.diff_revisions(db.session.get(User, people["other_member"]), case, 1, 1)
        with pytest.raises(NotFound):
            revisions.diff_revisions(db.session.get(User, people["member"]), case, 1, 2)


# -- the diff page ---------------------------------------------------------------

def test_diff_page_shows_changes_collapses_the_rest_and_escapes_html(client, history):
    response = client.get(f"/cases/{history['slug']}/diff?from=1&to=2")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    page = TableGrid.of(html)
    assert page.h1_count == 1
    # Unchanged fields are named once, their values not repeated.
    unchanged = re.search(r'<p class="diff-unchanged">(.*?)</p>', html, re.S).group(1)
    assert "Summary" in unchanged and "City" in unchanged and "Title" not in unchanged
    assert "First summary." not in html.split('class="diff-unchanged"')[1]
    # A short field: old and new, as <del> and <ins>.
    assert "<del>Apprenticeships</del>" in html and "<ins>Apprenticeships for all</ins>" in html
    # The body: changed lines only, around them a little context, the rest folded.
    assert "5 unchanged lines" in html and "Line 2" not in html and "Line 6" in html
    assert '<del><span class="visually-hidden">Removed: </span>Old conclusion</del>' in html
    # Markdown source is shown as text, never as markup.
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;tags&lt;/b&gt;" in html
    assert "<script>alert" not in html and "<b>tags" not in html
    # Line tables have column headers.
    line_tables = [t for t in page.tables if any(c.get("scope") == "col" for c in t[0])]
    assert len(line_tables) == 2  # the body and the sources
    assert all([c["text"] for c in t[0]] == ["Line in 1", "Line in 2", "Text"] for t in line_tables)


def test_diff_defaults_to_what_the_latest_version_changed(client, history):
    html = client.get(f"/cases/{history['slug']}/diff").get_data(as_text=True)
    assert "<del>Apprenticeships</del>" in html
    assert "version 1</a>" in html and "version 2</a>" in html


def test_diff_of_identical_versions_says_nothing_changed(client, history):
    html = client.get(f"/cases/{history['slug']}/diff?from=2&to=2").get_data(as_text=True)
    assert "Nothing changed between these two versions." in html
    assert "Unchanged (every field)" in html


@pytest.mark.parametrize("query, status", [
    ("?from=abc&to=2", 400),
    ("?from=1&to=-2", 400),
    ("?from=1.0", 400),
    ("?from=0&to=2", 404),
    ("?from=1&to=3", 404),
    ("?from=99999999999999999&to=1", 404),
    ("?from=999999999999999999999999&to=1", 400),
])
def test_bad_version_numbers_are_400_or_404(client, history, query, status):
    assert client.get(f"/cases/{history['slug']}/diff{query}").status_code == status


def test_a_case_with_one_version_has_nothing_to_diff_by_default(app, client, people, taxonomy):
    write_case_in(app, people["member"], taxonomy, title="Only once")
    response = client.get("/cases/only-once/diff")
    assert response.status_code == 400
    assert "Version 1 is the first version" in response.get_data(as_text=True)


def test_another_members_draft_has_no_diff(app, client, auth, people, taxonomy):
    write_case_in(app, people["member"], taxonomy, title="Hidden draft", publish=False)
    auth.login_as(app, people["other_member"])
    response = client.get("/cases/hidden-draft/diff?from=1&to=1")
    assert response.status_code == 404
    assert "Hidden draft" not in response.get_data(as_text=True)


def test_detail_page_has_a_get_form_to_pick_two_versions(app, client, auth, people, history):
    html = client.get(f"/cases/{history['slug']}").get_data(as_text=True)
    assert f'<form id="diff-form" method="get" action="/cases/{history["slug"]}/diff"' in html
    for end in ("from", "to"):
        for number in (1, 2):
            assert (f'<input type="radio" form="diff-form" name="{end}" value="{number}" '
                    f'id="diff-{end}-{number}"') in html
            assert f'<label for="diff-{end}-{number}"' in html
    assert 'name="from" value="1" id="diff-from-1" checked' in html
    assert 'name="to" value="2" id="diff-to-2" checked' in html
    assert f'href="/cases/{history["slug"]}/diff?to=2"' in html
    # What the form sends, as a browser would.
    sent = client.get(f"/cases/{history['slug']}/diff", query_string={"from": 2, "to": 1})
    assert sent.status_code == 200
    # Restore buttons only for editors, and not for the current version.
    assert "/revisions/1/restore" not in html
    auth.login_as(app, people["member"])
    html = client.get(f"/cases/{history['slug']}").get_data(as_text=True)
    assert f'action="/cases/{history["slug"]}/revisions/1/restore"' in html
    assert "/revisions/2/restore" not in html


def test_diff_page_offers_to_restore_the_version_that_is_not_current(app, client, auth, people,
                                                                     history):
    url = f"/cases/{history['slug']}/diff?from=2&to=1"
    assert "/restore" not in client.get(url).get_data(as_text=True)
    auth.login_as(app, people["member"])
    html = client.get(url).get_data(as_text=True)
    assert f'action="/cases/{history["slug"]}/revisions/1/restore"' in html
    # The case study is published: a restore is an edit, and goes to review.
    assert "Restore version 1 as a proposed edit, for review" in html
    assert "/revisions/2/restore" not in html


# -- restoring -----------------------------------------------------------------------

def test_restore_creates_a_new_version_equal_to_the_old_snapshot(app, client, auth, people,
                                                                   history):
    with app.app_context():
        seq_before = db.session.scalar(select(db.func.max(ChangeLog.seq)))
    auth.login_as(app, people["member"])
    response = client.post(f"/cases/{history['slug']}/revisions/1/restore", data={"version": 2})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/cases/{history['slug']}")
    html = client.get(f"/cases/{history['slug']}").get_data(as_text=True)
    assert "Version 1 is proposed as an edit" in html
    assert "Apprenticeships for all" in html  # the published version 2 stays on show
    # Nothing was dropped or replaced, so nothing more is said.
    assert 'class="flash flash-info"' not in html
    publish_proposed_edit(app, history["id"])
    assert snapshot_fields(app, history["id"], 3) == snapshot_fields(app, history["id"], 1)
    with app.app_context():
        case = db.session.get(CaseStudy, history["id"])
        assert case.version == 3
        assert case.title == "Apprenticeships"
        assert [p.slug for p in case.problems] == ["work-based-learning"]
        assert case.revisions[0].message == "Restored version 1"
        assert case.revisions[0].author_id == people["member"]
        logged = db.session.scalars(
            select(ChangeLog.entity_id).where(ChangeLog.seq > seq_before)
        ).all()
        assert history["id"] in logged


def test_restore_is_refused_to_those_who_may_not_edit(app, client, auth, people, history, taxonomy):
    url = f"/cases/{history['slug']}/revisions/1/restore"
    assert client.post(url).headers["Location"].startswith("/auth/login")
    for who, status in (("researcher", 403), ("other_member", 403)):
        auth.login_as(app, people[who])
        assert client.post(url).status_code == status
    write_case_in(app, people["member"], taxonomy, title="Hidden draft", publish=False)
    assert client.post("/cases/hidden-draft/revisions/1/restore").status_code == 404
    with app.app_context():
        assert db.session.get(CaseStudy, history["id"]).version == 2


def test_restore_by_a_curator(app, client, auth, people, history):
    auth.login_as(app, people["facilitator"])
    assert client.post(f"/cases/{history['slug']}/revisions/1/restore").status_code == 302
    publish_proposed_edit(app, history["id"])
    with app.app_context():
        case = db.session.get(CaseStudy, history["id"])
        assert case.version == 3 and case.revisions[0].author_id == people["facilitator"]


def test_restore_of_a_missing_revision_or_the_same_content(app, client, auth, people, history):
    auth.login_as(app, people["member"])
    assert client.post(f"/cases/{history['slug']}/revisions/9/restore").status_code == 404
    response = client.post(f"/cases/{history['slug']}/revisions/2/restore")
    assert response.status_code == 409
    assert "nothing to restore" in response.get_data(as_text=True)


def test_restore_from_a_stale_page_is_refused(app, client, auth, people, history):
    auth.login_as(app, people["member"])
    edit(app, people["member"], history["id"], summary="Someone else's change.")
    response = client.post(f"/cases/{history['slug']}/revisions/1/restore", data={"version": 2})
    assert response.status_code == 409
    with app.app_context():
        assert db.session.get(CaseStudy, history["id"]).version == 3
    assert client.post(f"/cases/{history['slug']}/revisions/1/restore",
                       data={"version": "two"}).status_code == 400


def test_restore_maps_merged_terms_and_drops_missing_ones(app, client, auth, people, taxonomy,
                                                          history):
    with app.app_context():
        facilitator = db.session.get(User, people["facilitator"])
        wbl = db.session.get(ProblemOfPractice, taxonomy["problems"]["work-based-learning"])
        vocabularies.merge_term(facilitator, ProblemOfPractice, wbl,
                                taxonomy["problems"]["career-guidance"])
        # A slug that changed since: the snapshot's slug names nothing any more.
        funding = db.session.get(AdaptationContext, taxonomy["contexts"]["public-funding"])
        funding.slug = "state-funding"
        db.session.commit()
    auth.login_as(app, people["member"])
    response = client.post(f"/cases/{history['slug']}/revisions/1/restore", follow_redirects=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "“Work-based learning” was merged into “Career guidance”, which is used instead." in html
    assert "The adaptation context “public-funding” no longer exists and was left out." in html
    publish_proposed_edit(app, history["id"])
    with app.app_context():
        case = db.session.get(CaseStudy, history["id"])
        assert case.version == 3 and case.title == "Apprenticeships"
        assert [p.slug for p in case.problems] == ["career-guidance"]
        assert [c.slug for c in case.contexts] == ["large-system"]


def test_restore_drops_a_retired_term_the_case_no_longer_has(app, people, taxonomy, history):
    with app.app_context():
        funding = db.session.get(AdaptationContext, taxonomy["contexts"]["public-funding"])
        funding.retired = True
        db.session.commit()
        user = db.session.get(User, people["member"])
        case = db.session.get(CaseStudy, history["id"])
        result = revisions.restore_revision(user, case, 1)
        db.session.commit()
        assert result.proposed and result.notes == [
            "The adaptation context “Public funding” is retired and was left out."
        ]
    publish_proposed_edit(app, history["id"])
    with app.app_context():
        case = db.session.get(CaseStudy, history["id"])
        assert [c.slug for c in case.contexts] == ["large-system"]


def test_restore_explains_what_todays_rules_refuse(app, client, auth, people, taxonomy, history):
    with app.app_context():
        # Version 1's only problem is retired, and the case no longer carries it.
        problem_id = taxonomy["problems"]["work-based-learning"]
        db.session.get(ProblemOfPractice, problem_id).retired = True
        db.session.commit()
    auth.login_as(app, people["member"])
    response = client.post(f"/cases/{history['slug']}/revisions/1/restore")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Version 1 cannot be restored: Choose at least one problem of practice." in html
    assert "“Work-based learning” is retired and was left out." in html
    assert "problem_ids" not in html


def test_restore_of_a_version_whose_city_is_gone_is_a_conflict(app, people, history):
    with app.app_context():
        db.session.get(CaseStudy, history["id"]).city.slug = "old-toronto"
        db.session.commit()
        case = db.session.get(CaseStudy, history["id"])
        with pytest.raises(Conflict, match="city of version 1 .“toronto”. no longer exists"):
            revisions.restore_revision(db.session.get(User, people["member"]), case, 1)


def test_restore_service_checks_permission_itself(app, people, history):
    with app.app_context():
        case = db.session.get(CaseStudy, history["id"])
        with pytest.raises(PermissionDenied):
            revisions.restore_revision(db.session.get(User, people["researcher"]), case, 1)
        with pytest.raises(Conflict):
            revisions.restore_revision(db.session.get(User, people["member"]), case, 2)


@pytest.fixture
def csrf_on(app_config):
    """Turn CSRF protection on for this test's app."""
    app_config["WTF_CSRF_ENABLED"] = True


def test_restore_needs_the_csrf_token(csrf_on, app, client, people, history):
    with client:
        login_page = client.get("/auth/login").get_data(as_text=True)
        client.post("/auth/login", data={"email": "member@example.org", "password": PASSWORD,
                                         "csrf_token": _token(login_page)})
        url = f"/cases/{history['slug']}/revisions/1/restore"
        assert client.post(url).status_code == 400
        html = client.get(f"/cases/{history['slug']}").get_data(as_text=True)
        token = _token(html[html.index(f'action="{url}"'):])
        assert client.post(url, data={"csrf_token": token, "version": 2}).status_code == 302


def _token(html: str) -> str:
    """The first CSRF token in ``html``, whatever order its attributes come in."""
    return re.search(r'name="csrf_token"[^>]*? value="([^"]+)"', html).group(1)
