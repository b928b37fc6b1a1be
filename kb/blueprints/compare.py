"""Putting things side by side: versions of a case study, case studies, cities and problems.

Endpoints:

- ``diff`` (GET ``/cases/<slug>/diff?from=N&to=M``): two revisions compared
  field by field; ``restore`` (POST) saves an old revision as a new version.
- ``page`` (GET ``/compare?ids=1&ids=2``, or ``ids=1,2``): two to four case
  studies on one framework; ``export_csv`` and ``export_json`` give the same
  table as files.
- ``coverage`` (GET ``/coverage``): published case studies per city and
  problem of practice, gaps marked.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import login_required
from flask_wtf import FlaskForm
from wtforms import IntegerField
from wtforms.validators import Optional
from wtforms.widgets import HiddenInput

from kb.acting import acting_user
from kb.csvsafe import csv_document
from kb.errors import NotFound, PermissionDenied, ValidationError
from kb.extensions import db
from kb.models import is_valid_id
from kb.services import case_studies, comparison, coverage, policy, revisions

bp = Blueprint("compare", __name__)

_DAMAGED = "The form was damaged; reload the case study and try again."


# Revisions -----------------------------------------------------------------

def _whole_number(text: str) -> int | None:
    """``text`` as a whole number of at most 19 digits (any id fits), or None if it is not one."""
    if text.isascii() and text.isdigit() and len(text) <= 19:
        return int(text)
    return None


def _version_arg(name: str, default: int) -> int:
    """The revision number in ``?name=``, or ``default`` when it is not given."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    number = _whole_number(raw)
    if number is None:
        raise ValidationError(f"“{raw[:40]}” is not a version number.")
    if not is_valid_id(number):
        raise NotFound("No such revision.")
    return number


@bp.get("/cases/<slug>/diff")
def diff(slug: str):
    """What changed between two versions; by default, what the latest version changed."""
    user = acting_user()
    case = case_studies.get_case(user, slug)
    new_number = _version_arg("to", case.version)
    old_number = _version_arg("from", new_number - 1)
    if old_number < 1:
        raise ValidationError("Version 1 is the first version: choose two versions to compare.")
    changes = revisions.diff_revisions(user, case, old_number, new_number)
    return render_template("compare/diff.html", case=case, diff=changes)


class RestoreForm(FlaskForm):
    """The restore button; it carries the version its page showed, to refuse a stale restore."""

    version = IntegerField(widget=HiddenInput(), validators=[Optional()],
                           invalid_value_message=_DAMAGED)


@bp.post("/cases/<slug>/revisions/<id:number>/restore")
@login_required
def restore(slug: str, number: int):
    """Save an earlier version's fields as a new version."""
    user = acting_user()
    case = case_studies.get_case(user, slug)
    if not policy.can_edit_case(user, case):
        raise PermissionDenied("You cannot edit this case study.")
    form = RestoreForm()
    if not form.validate():
        raise ValidationError(_DAMAGED)
    result = revisions.restore_revision(
        user, case, number, expected_version=form.version.data,
    )
    db.session.commit()
    if result.proposed:
        flash(f"Version {number} is proposed as an edit: the published version stays on show "
              "until a facilitator publishes it.", "success")
    else:
        flash(f"Restored version {number} as version {result.case.version}.", "success")
    for note in result.notes:
        flash(note, "info")
    return redirect(url_for("cases.detail", slug=result.case.slug))


# Comparison ----------------------------------------------------------------

def _case_ids() -> list[int]:
    """The ``ids`` asked for: each parameter one id or a comma-separated list, no duplicates."""
    ids: list[int] = []
    for value in request.args.getlist("ids"):
        for part in filter(None, (part.strip() for part in value.split(","))):
            number = _whole_number(part)
            if number is None:
                raise ValidationError(
                    f"“{part[:40]}” is not a case-study number. {comparison.CHOOSE_CASES}"
                )
            if number not in ids:
                ids.append(number)
            if len(ids) > comparison.MAX_CASES:
                raise ValidationError(comparison.CHOOSE_CASES)
    return ids


def _requested_comparison() -> comparison.Comparison:
    return comparison.compare_cases(acting_user(), _case_ids())


@bp.get("/compare")
def page():
    """Two to four case studies aligned field by field; the URL is its permalink."""
    compared = _requested_comparison()
    return render_template("compare/compare.html", comparison=compared)


def _case_urls(compared: comparison.Comparison) -> list[str]:
    return [url_for("cases.detail", slug=case.slug, _external=True) for case in compared.cases]


@bp.get("/compare.csv")
def export_csv():
    """The comparison as a spreadsheet: a row per field, a column per case study."""
    compared = _requested_comparison()
    body = csv_document(comparison.table_lines(compared, _case_urls(compared)))
    name = "comparison-" + "-".join(str(i) for i in compared.ids) + ".csv"
    return current_app.response_class(
        body, mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.get("/compare.json")
def export_json():
    """The comparison as JSON: the case studies and, per field, one value for each."""
    compared = _requested_comparison()
    return jsonify(comparison.as_json(compared, _case_urls(compared)))


# Coverage ------------------------------------------------------------------

@bp.get("/coverage")
def coverage_page():
    """Published case studies per city and problem of practice, with the gaps marked."""
    education, notice = coverage.parse_education(request.args.get("education"))
    matrix = coverage.coverage_matrix(education)
    return render_template("compare/coverage.html", matrix=matrix, notice=notice)
