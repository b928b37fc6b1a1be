"""Review pages: the queue, the steps of the workflow, and proposed edits.

Endpoints: ``queue`` (GET ``/review``), ``proposed_edit`` (GET
``/cases/<slug>/proposed-edit``), and one POST endpoint per step of review,
listed in ``_STEP_PAGES``: ``submit``, ``withdraw``, ``request_changes``,
``publish``, ``archive``, ``unarchive`` on ``/cases/<slug>/...``, and
``publish_edit``, ``request_edit_changes``, ``withdraw_edit`` on
``/cases/<slug>/proposed-edit/...``. Each step redirects to the case study with a message; a step its state no
longer allows (a second click, a stale page) says so the same way; a form
the service refuses (a request for changes without a comment) is shown
again with its errors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import (
    Blueprint,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import login_required

from kb.acting import acting_user
from kb.blueprints.forms import render_form
from kb.blueprints.review_forms import StepForm
from kb.errors import Conflict, ValidationError
from kb.extensions import db
from kb.models import CaseStudy, User
from kb.services import case_studies, review

bp = Blueprint("review", __name__)


# A step: (acting user, case study, comment, version or save the page showed).
Step = Callable[[User, CaseStudy, str, int | None], object]


@bp.get("/review")
@login_required
def queue():
    """What waits for reviewers, oldest first, and what went back to its authors."""
    return render_template("review/queue.html", queue=review.queue(acting_user()))


def _take_step(slug: str, page: _StepPage):
    """Take ``page``'s step on the case study at ``slug``, commit, and go back to it."""
    user = acting_user()
    case = case_studies.get_case(user, slug)
    form = StepForm()
    if form.validate():
        try:
            page.take(user, case, form.comment.data or "", form.version.data)
        except ValidationError as error:
            db.session.rollback()
            form.show_errors(error)
        except Conflict as error:
            # A second click or a stale page: say what the state already is.
            db.session.rollback()
            flash(error.message, "error")
            return redirect(url_for("cases.detail", slug=slug))
        else:
            db.session.commit()
            flash(page.done, "success")
            return redirect(url_for("cases.detail", slug=slug))
    return render_form("review/step.html", form, case=case, heading=page.heading,
                       action=request.path)


def _with_comment(action: Callable[[User, CaseStudy, str], object]) -> Step:
    """A step that takes nothing but a comment."""
    return lambda user, case, comment, _version: action(user, case, comment)


@dataclass(frozen=True)
class _StepPage:
    """The POST address of a step, what it does, and what the pages say about it."""

    rule: str
    take: Step
    heading: str  # the title of the form shown again when the service refuses it
    done: str  # flashed once the step is taken


_STEP_PAGES: dict[str, _StepPage] = {
    "submit": _StepPage(
        "/cases/<slug>/submit", _with_comment(review.submit), "Submit for review",
        "Submitted for review: a facilitator will publish it or say what to change."),
    "withdraw": _StepPage(
        "/cases/<slug>/withdraw", _with_comment(review.withdraw), "Withdraw from review",
        "Withdrawn from review: it is a draft again."),
    "request_changes": _StepPage(
        "/cases/<slug>/request-changes", _with_comment(review.request_changes),
        "Request changes", "Sent back to the author with your comment."),
    "publish": _StepPage(
        "/cases/<slug>/publish",
        lambda user, case, comment, version: review.publish(user, case, comment,
                                                            expected_version=version),
        "Publish", "Published: everyone can now read and find it."),
    "archive": _StepPage(
        "/cases/<slug>/archive", _with_comment(review.archive), "Archive",
        "Archived: only its author and the curators see it now."),
    "unarchive": _StepPage(
        "/cases/<slug>/unarchive", _with_comment(review.unarchive), "Publish again",
        "Published again: everyone can read and find it."),
    "publish_edit": _StepPage(
        "/cases/<slug>/proposed-edit/publish",
        lambda user, case, comment, saves: review.publish_edit(
            user, case, comment, expected_saves=saves),
        "Publish the proposed edit", "The proposed edit is published as a new version."),
    "request_edit_changes": _StepPage(
        "/cases/<slug>/proposed-edit/request-changes",
        lambda user, case, comment, saves: review.request_edit_changes(
            user, case, comment, expected_saves=saves),
        "Request changes to the proposed edit",
        "The proposed edit went back to its author with your comment."),
    "withdraw_edit": _StepPage(
        "/cases/<slug>/proposed-edit/withdraw", _with_comment(review.withdraw_edit),
        "Withdraw the proposed edit",
        "The proposed edit is withdrawn; the published version is unchanged."),
}


def _register_step(endpoint: str, page: _StepPage) -> None:
    def view(slug: str):
        return _take_step(slug, page)

    view.__name__ = endpoint
    view.__doc__ = f"{page.heading} (POST; see the module docstring)."
    bp.add_url_rule(page.rule, endpoint, login_required(view), methods=["POST"])


for _endpoint, _page in _STEP_PAGES.items():
    _register_step(_endpoint, _page)


@bp.get("/cases/<slug>/proposed-edit")
@login_required
def proposed_edit(slug: str):
    """The edit waiting for review beside the published version, with the decisions on it."""
    user = acting_user()
    case = case_studies.get_case(user, slug)
    edit = review.get_proposed_edit(user, case)
    return render_template("review/proposed_edit.html", case=case, edit=edit,
                           diff=review.edit_diff(user, case),
                           review_history=review.history(user, case))
