"""Citations of a case study, for reference managers: BibTeX, RIS and CSL-JSON downloads."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, url_for

from kb.acting import acting_user
from kb.services import case_studies, citations

bp = Blueprint("citations", __name__, url_prefix="/cases")


def _download(slug: str, render, extension: str, mimetype: str) -> Response:
    """The citation of the case study at ``slug`` (if the visitor may see it) as a file."""
    user = acting_user()
    case = case_studies.get_case(user, slug)
    ref = citations.reference(case, url_for("cases.detail", slug=case.slug, _external=True),
                              datetime.now(UTC).date())
    response = Response(render(ref), mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{ref.key}.{extension}"'
    return response


@bp.get("/<slug>/cite.bib")
def bibtex(slug: str):
    """The case study's citation as a BibTeX entry."""
    return _download(slug, citations.bibtex, "bib", "application/x-bibtex")


@bp.get("/<slug>/cite.ris")
def ris(slug: str):
    """The case study's citation as an RIS record."""
    return _download(slug, citations.ris, "ris", "application/x-research-info-systems")


@bp.get("/<slug>/cite.json")
def csl_json(slug: str):
    """The case study's citation as CSL-JSON."""
    return _download(slug, citations.csl_json, "json", "application/vnd.citationstyles.csl+json")
