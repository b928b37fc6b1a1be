"""Review through HTTP: the steps on the case-study page, proposed edits, the queue, the demo."""

from __future__ import annotations

import re

import pytest
from factories import write_case_in
from pages import case_form, load, structure, text, url
from sqlalchemy import select

from kb.extensions import db
from kb.models import CaseStatus, CaseStudy, ProposedEdit, User
from kb.services import review

REVIEW_COMMENT = "Please say how many students took part."


def post(client, slug: str, suffix: str, **data):
    """Post a review step; returns the response."""
    return client.post(url(slug, suffix), data=data)


def unlabelled_controls(html: str) -> list[str]:
    page = structure(html)
    return [control for control in page.control_ids if control not in page.label_targets]


def test_a_case_study_goes_from_draft_to_published_through_review(app, client, auth, people,
                                                                   taxonomy):
    slug = write_case_in(app, people["member"], taxonomy, publish=False,
                         title="Apprentice mentors").slug
    auth.login_as(app, people["member"])
    page = text(client.get(url(slug)))
    assert f'action="/cases/{slug}/submit"' in page and f'action="/cases/{slug}/publish"' not in page

    response = post(client, slug, "/submit", comment="Ready for a look.")
    assert response.status_code == 302 and response.headers["Location"].endswith(url(slug))
    page = text(client.get(url(slug)))
    assert "Submitted for review: a facilitator will publish it" in page
    assert f'action="/cases/{slug}/withdraw"' in page
    assert f'action="/cases/{slug}/publish"' not in page
    assert post(client, slug, "/publish").status_code == 403  # never their own
    auth.logout()

    auth.login_as(app, people["facilitator"])
    page = text(client.get(url(slug)))
    assert f'action="/cases/{slug}/publish"' in page
    assert f'action="/cases/{slug}/request-changes"' in page
    assert not unlabelled_controls(page)
    refused = post(client, slug, "/request-changes", comment="")
    assert refused.status_code == 400
    assert "Say what the author should change." in text(refused)
    assert f'action="/cases/{slug}/request-changes"' in text(refused)
    assert not unlabelled_controls(text(refused))
    assert post(client, slug, "/request-changes", comment=REVIEW_COMMENT).status_code == 302
    assert load(app, slug).status is CaseStatus.CHANGES_REQUESTED
    auth.logout()

    auth.login_as(app, people["member"])
    page = text(client.get(url(slug)))
    assert "A reviewer asked for changes: edit the case study, then submit it again." in page
    assert page.count(REVIEW_COMMENT) == 2  # quoted above, and in the review history
    assert post(client, slug, "/submit").status_code == 302
    auth.logout()

    auth.login_as(app, people["facilitator"])
    done = client.post(url(slug, "/publish"), data={"version": "1"}, follow_redirects=True)
    assert "Published: everyone can now read and find it." in text(done)
    again = client.post(url(slug, "/publish"), data={"version": "1"}, follow_redirects=True)
    assert "This case study is published: it cannot be published." in text(again)
    auth.logout()

    public = text(client.get(url(slug)))
    assert "Apprentice mentors" in public
    for private in ("Review history", REVIEW_COMMENT, "Ready for a look."):
        assert private not in public
    auth.login_as(app, people["other_member"])
    assert REVIEW_COMMENT not in text(client.get(url(slug)))


def test_the_review_history_shows_each_step_to_the_author(app, client, auth, people, taxonomy):
    slug = write_case_in(app, people["member"], taxonomy, publish=False).slug
    auth.login_as(app, people["member"])
    post(client, slug, "/submit", comment="First go.")
    post(client, slug, "/withdraw")
    page = text(client.get(url(slug)))
    history = page[page.index('id="review-history-heading"'):page.index('id="revisions-heading"')]
    rows = re.findall(r"<tr>(.*?)</tr>", history, re.DOTALL)
    assert len(rows) == 3  # the header, then the two steps, newest first
    assert "Withdrawn from review" in rows[1] and "First go." in rows[2]
    assert "Test member" in rows[2] and "Draft" in rows[2] and "Submitted" in rows[2]


def test_a_stale_decision_is_refused_with_a_message(app, client, auth, people, taxonomy):
    slug = write_case_in(app, people["member"], taxonomy, publish=False).slug
    auth.login_as(app, people["member"])
    post(client, slug, "/submit")
    client.post(url(slug, "/edit"), data=case_form(taxonomy, title="Changed", version="1"))
    auth.logout()
    auth.login_as(app, people["facilitator"])
    response = client.post(url(slug, "/publish"), data={"version": "1"}, follow_redirects=True)
    assert "changed since you opened it" in text(response)
    assert load(app, slug).status is CaseStatus.SUBMITTED
    assert client.post(url(slug, "/publish"), data={"version": "two"}).status_code == 400


def test_own_submissions_need_another_reviewer_unless_self_approval_is_on(app, client, auth,
                                                                          people, taxonomy):
    slug = write_case_in(app, people["facilitator"], taxonomy, publish=False).slug
    auth.login_as(app, people["facilitator"])
    post(client, slug, "/submit")
    page = text(client.get(url(slug)))
    assert "You wrote this case study: another facilitator or admin reviews it." in page
    assert f'action="/cases/{slug}/publish"' not in page
    assert post(client, slug, "/publish").status_code == 403

    app.config["REVIEW_ALLOW_SELF_APPROVAL"] = True
    assert f'action="/cases/{slug}/publish"' in text(client.get(url(slug)))
    assert post(client, slug, "/publish").status_code == 302
    assert load(app, slug).status is CaseStatus.PUBLISHED


def test_archiving_hides_a_case_study_until_it_is_published_again(app, client, auth, people,
                                                                  taxonomy):
    slug = write_case_in(app, people["member"], taxonomy, title="Old practice").slug
    auth.login_as(app, people["member"])
    assert post(client, slug, "/archive", comment="The programme ended.").status_code == 302
    page = text(client.get(url(slug)))
    assert "Archived: out of public view and search." in page
    assert f'href="/cases/{slug}/edit"' not in page
    assert post(client, slug, "/unarchive").status_code == 403
    auth.logout()
    assert client.get(url(slug)).status_code == 404
    assert f'href="/cases/{slug}"' not in text(client.get("/search?q=practice"))

    auth.login_as(app, people["facilitator"])
    assert f'href="/cases/{slug}"' in text(client.get("/search?q=practice"))
    assert post(client, slug, "/unarchive").status_code == 302
    auth.logout()
    assert client.get(url(slug)).status_code == 200


# -- proposed edits --------------------------------------------------------------------

def test_an_edit_of_a_published_case_study_goes_through_review(app, client, auth, people, taxonomy):
    slug = write_case_in(app, people["member"], taxonomy, title="Harbour welding").slug
    auth.login_as(app, people["member"])
    form = text(client.get(url(slug, "/edit")))
    assert "Your changes go to review as a proposed edit" in form
    assert "Send the edit for review" in form
    response = client.post(url(slug, "/edit"), data=case_form(
        taxonomy, title="Riverside welding", message="New site", version="1"),
        follow_redirects=True)
    assert "Your edit waits for review" in text(response)
    page = text(client.get(url(slug)))
    assert "Harbour welding" in page and "An edit proposed by Test member waits for review" in page
    # Editing again starts from the proposed edit.
    form = text(client.get(url(slug, "/edit")))
    assert 'value="Riverside welding"' in form and "saving revises it" in form
    auth.logout()

    for who in (None, "other_member", "researcher"):
        if who:
            auth.login_as(app, people[who])
        page = text(client.get(url(slug)))
        assert "Harbour welding" in page and "Riverside" not in page
        assert f'href="/cases/{slug}"' in text(client.get("/search?q=harbour"))
        assert f'href="/cases/{slug}"' not in text(client.get("/search?q=riverside"))
        if who:
            assert client.get(url(slug, "/proposed-edit")).status_code == 404
            auth.logout()

    auth.login_as(app, people["facilitator"])
    proposal = text(client.get(url(slug, "/proposed-edit")))
    assert "Proposed edit of" in proposal and "New site" in proposal
    assert "<del>Harbour welding</del>" in proposal and "<ins>Riverside welding</ins>" in proposal
    assert "Status when saved: before and after" not in proposal
    assert not unlabelled_controls(proposal)
    assert structure(proposal).h1_count == 1
    response = client.post(url(slug, "/proposed-edit/publish"), data={"version": "1"},
                           follow_redirects=True)
    assert "The proposed edit is published as a new version." in text(response)
    auth.logout()
    page = text(client.get(url(slug)))
    assert "Riverside welding" in page and "Version 2" in page
    assert f'href="/cases/{slug}"' in text(client.get("/search?q=riverside"))
    assert f'href="/cases/{slug}"' not in text(client.get("/search?q=harbour"))


def test_an_edit_sent_back_and_withdrawn(app, client, auth, people, taxonomy):
    slug = write_case_in(app, people["member"], taxonomy, title="Harbour welding").slug
    auth.login_as(app, people["member"])
    client.post(url(slug, "/edit"), data=case_form(taxonomy, title="Riverside", version="1"))
    auth.logout()
    auth.login_as(app, people["facilitator"])
    assert post(client, slug, "/proposed-edit/request-changes", comment="").status_code == 400
    assert post(client, slug, "/proposed-edit/request-changes",
                comment="Keep the old name.").status_code == 302
    assert post(client, slug, "/proposed-edit/withdraw").status_code == 403
    auth.logout()

    auth.login_as(app, people["member"])
    page = text(client.get(url(slug)))
    assert "was sent back for changes" in page and "Keep the old name." in page
    assert "Keep the old name." in text(client.get(url(slug, "/proposed-edit")))
    assert post(client, slug, "/proposed-edit/withdraw").status_code == 302
    assert client.get(url(slug, "/proposed-edit")).status_code == 404
    with app.app_context():
        assert db.session.scalar(select(ProposedEdit.id)) is None
    assert load(app, slug).title == "Harbour welding"


def test_restoring_a_revision_of_a_published_case_study_proposes_it(app, client, auth, people,
                                                                    taxonomy):
    slug = write_case_in(app, people["member"], taxonomy, publish=False, title="First title").slug
    auth.login_as(app, people["member"])
    client.post(url(slug, "/edit"), data=case_form(taxonomy, title="Second title", version="1"))
    with app.app_context():
        review.publish_as_system(db.session.scalar(select(CaseStudy).where(CaseStudy.slug == slug)))
        db.session.commit()
    response = client.post(url(slug, "/revisions/1/restore"), data={"version": "2"},
                           follow_redirects=True)
    assert "Version 1 is proposed as an edit" in text(response)
    assert load(app, slug).title == "Second title"
    assert "First title" in text(client.get(url(slug, "/proposed-edit")))


# -- the queue ---------------------------------------------------------------------------

def test_the_queue_is_for_curators_and_linked_from_their_header(app, client, auth, people,
                                                                 taxonomy):
    waiting = write_case_in(app, people["member"], taxonomy, publish=False,
                            title="Waiting practice").slug
    edited = write_case_in(app, people["member"], taxonomy, title="Edited practice").slug
    auth.login_as(app, people["member"])
    post(client, waiting, "/submit")
    client.post(url(edited, "/edit"), data=case_form(taxonomy, title="Edited again", version="1"))
    assert 'href="/review"' not in text(client.get("/"))
    assert client.get("/review").status_code == 403
    auth.logout()

    auth.login_as(app, people["facilitator"])
    assert 'href="/review"' in text(client.get("/"))
    page = text(client.get("/review"))
    assert "2 items waiting for a decision" in page
    submissions = page[page.index("submissions-heading"):page.index("edits-heading")]
    edits = page[page.index("edits-heading"):page.index("returned-heading")]
    assert f'href="/cases/{waiting}"' in submissions and "Waiting practice" in submissions
    assert f'href="/cases/{edited}/proposed-edit"' in edits and "Edited practice" in edits
    assert structure(page).h1_count == 1


def test_the_demo_fills_the_queue(app, client, auth, demo_network):
    assert "4 in review" in demo_network
    auth.login("facilitator@demo.kb", "demo-facilitator-pass")
    page = text(client.get("/review"))
    assert "4 items waiting for a decision" in page
    assert "Yours: another reviewer decides" in page  # the facilitator's own submission
    assert "(proposed edit)" in page
    with app.app_context():
        sent_back = db.session.scalar(
            select(CaseStudy).where(CaseStudy.status == CaseStatus.CHANGES_REQUESTED))
        member = db.session.scalar(select(User).where(User.email == "member@demo.kb"))
        assert sent_back.author_id == member.id
        comment = review.history(member, sent_back)[0].comment
    auth.logout()
    auth.login("member@demo.kb", "demo-member-pass")
    assert comment and comment[:60] in text(client.get(url(sent_back.slug))).replace("&#39;", "'")


@pytest.mark.parametrize("suffix", ["/submit", "/publish", "/proposed-edit/publish"])
def test_steps_on_a_case_study_no_one_may_see_are_not_found(app, client, auth, people, taxonomy,
                                                            suffix):
    slug = write_case_in(app, people["member"], taxonomy, publish=False).slug
    auth.login_as(app, people["other_member"])
    assert client.post(url(slug, suffix)).status_code == 404
    assert client.post(url("no-such-case", suffix)).status_code == 404
