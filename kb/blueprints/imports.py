"""The bulk import page: facilitators load case studies from a JSON Lines or CSV file.

Endpoints:

- ``upload`` (GET and POST ``/curate/import``): the form, then either the
  problems of the file by line and field, or (after "Check the file") what
  it would create, or (after "Import") the case studies created, all or none;
- ``example`` (GET ``/curate/import/example.jsonl`` or ``.csv``): an
  example file in each format, valid on the demo network.

The file is read and checked by :mod:`kb.services.bulk`, which creates the
case studies through the same service as the case-study form.
"""

from __future__ import annotations

import io

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    send_file,
    url_for,
)
from flask_login import login_required

from kb.acting import acting_user
from kb.blueprints.forms import render_form
from kb.blueprints.import_forms import ImportForm
from kb.errors import ImportRejected, PermissionDenied
from kb.extensions import db
from kb.models import User
from kb.services import bulk, policy
from kb.services.demo import DEMO_DIR

bp = Blueprint("imports", __name__, url_prefix="/curate/import")

EXAMPLES = {
    "jsonl": ("import-example.jsonl", "application/jsonl"),
    "csv": ("import-example.csv", "text/csv"),
}


@bp.context_processor
def _import_template_values() -> dict:
    return {"counted": bulk.counted,
            "max_size": bulk.size_label(current_app.config["IMPORT_MAX_BYTES"])}


def _importer() -> User:
    """The signed-in facilitator or admin; PermissionDenied for anyone else."""
    user = acting_user()
    if not policy.can_import_cases(user):
        raise PermissionDenied("Only facilitators and admins import case studies.")
    return user


def _uploaded_size(form: ImportForm) -> int:
    # The upload is already spooled (Werkzeug); its length is where it ends.
    stream = form.file.data.stream
    size = stream.seek(0, 2)
    stream.seek(0)
    return size


def _page(form: ImportForm, **context) -> str:
    """The upload page with ``form`` and, after a check or import, its result."""
    return render_template("imports/upload.html", form=form, columns=bulk.COLUMNS, **context)


@bp.route("", methods=["GET", "POST"])
@login_required
def upload():
    """Upload a file of case studies: check it first, then import it, all rows or none."""
    user = _importer()
    form = ImportForm()
    if not form.validate_on_submit():
        return render_form("imports/upload.html", form, columns=bulk.COLUMNS)
    config = current_app.config
    # The name as typed decides the format; the name shown is cleaned and cut.
    filename = bulk.shown(form.file.data.filename or "", 200)
    try:
        bulk.check_size(_uploaded_size(form), config["IMPORT_MAX_BYTES"])
        file_format = bulk.format_for(form.file.data.filename, form.file_format.data or None)
        rows = bulk.read_rows(form.file.data.read(), file_format,
                              max_bytes=config["IMPORT_MAX_BYTES"])
        report = bulk.import_cases(
            user, rows, create_terms=form.create_terms.data, dry_run=form.dry_run,
            source_name=filename)
    except ImportRejected as error:
        return _page(form, filename=filename, problems=error.problems), 400
    if report.dry_run:
        return _page(form, filename=filename, report=report)
    db.session.commit()
    imported = bulk.counted(len(report.cases), "case study", "case studies")
    flash(f"Imported {imported} from {filename}; you are their author.", "success")
    return redirect(url_for("cases.mine"))


@bp.get("/example.<any(jsonl, csv):file_format>")
@login_required
def example(file_format: str):
    """An example import file: two case studies on the demo network."""
    _importer()
    name, mimetype = EXAMPLES[file_format]
    # Read whole (a few kilobytes): a streamed file stays open until the
    # client finishes reading the response.
    return send_file(io.BytesIO((DEMO_DIR / name).read_bytes()), mimetype=mimetype,
                     as_attachment=True, download_name=name)
