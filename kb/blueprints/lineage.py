"""Adaptation lineage pages: what a case study adapts, editing those links, a practice's tree.

Endpoints: ``new`` (a case study's "this practice adapts…" form), ``edit``,
``confirm_delete`` (GET) and ``delete`` (POST) on one address, and ``tree``
(a practice's whole lineage across cities, as nested lists that need no
JavaScript). Case study pages show "adapted from" and "adapted by" through
the template global :func:`adaptation_links`.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import login_required
from markupsafe import Markup

from kb.acting import acting_user
from kb.blueprints.forms import render_form, save_posted_form
from kb.blueprints.lineage_forms import AdaptationForm, RecordAdaptationForm
from kb.errors import Conflict, ValidationError
from kb.extensions import db
from kb.models import CaseStudy
from kb.services import case_studies, lineage

bp = Blueprint("lineage", __name__)


@bp.app_template_global()
def adaptation_links(case: CaseStudy) -> lineage.CaseLinks:
    """The "adapted from" and "adapted by" links of ``case`` the visitor may see (case pages)."""
    return lineage.case_links(acting_user(), case)



def _lineage_section(case: CaseStudy) -> str:
    """The lineage section of ``case``'s page."""
    return url_for("cases.detail", slug=case.slug, _anchor="lineage-heading")


@bp.route("/cases/<slug>/adaptations/new", methods=["GET", "POST"])
@login_required
def new(slug: str):
    """Record which practice this case study adapts, and what was kept, changed and why."""
    user = acting_user()
    case = lineage.get_adapting_case(user, slug)
    form = RecordAdaptationForm()
    form.offer(lineage.source_candidates(user, case))
    done = save_posted_form(
        form,
        lambda: lineage.record_adaptation(user, case, form.source_id.data,
                                          form.adaptation_input()),
        lambda link: (f"Recorded that “{case.title}” takes up “{link.source.title}” "
                      f"({link.kind.label.lower()})."),
        lambda _: _lineage_section(case), refused=(ValidationError, Conflict),
    )
    return done or render_form("lineage/form.html", form, case=case, adaptation=None)


@bp.route("/adaptations/<id:adaptation_id>/edit", methods=["GET", "POST"])
@login_required
def edit(adaptation_id: int):
    """Change how a practice was taken up and what was kept, changed and learnt."""
    user = acting_user()
    link = lineage.get_adaptation_for_edit(user, adaptation_id)
    form = AdaptationForm(data={"kind": link.kind.value,
                                **{name: getattr(link, name) for name in lineage.TEXT_FIELDS}})
    done = save_posted_form(
        form,
        lambda: lineage.update_adaptation(user, link, form.adaptation_input()),
        "Adaptation saved.", lambda _: _lineage_section(link.adapting),
    )
    return done or render_form("lineage/form.html", form, case=link.adapting, adaptation=link)


# One rule for both methods: with a GET rule and a POST rule apart, Werkzeug
# answers 405 instead of 404 when the id converter refuses an id.
@bp.route("/adaptations/<id:adaptation_id>/delete", methods=["GET", "POST"])
@login_required
def delete(adaptation_id: int):
    """Ask before removing a link (GET); remove it, never the case studies (POST)."""
    user = acting_user()
    link = lineage.get_adaptation_for_edit(user, adaptation_id)
    if request.method == "GET":
        return render_template(
            "_partials/confirm_delete.html",
            title=f"Remove the adaptation: {link.adapting.title}",
            question=f"Remove the link from “{link.adapting.title}” to “{link.source.title}”?",
            warning=Markup(
                "This removes the record that {}'s case study takes up this practice, with what "
                "was kept, changed and why. Both case studies stay as they are. It cannot be "
                "undone.").format(link.adapting.city.name),
            confirm="Remove the link", action=url_for("lineage.delete", adaptation_id=link.id),
            back=_lineage_section(link.adapting),
        )
    adapting = link.adapting
    lineage.remove_adaptation(user, link)
    db.session.commit()
    flash(f"Removed the link from “{adapting.title}”.", "success")
    return redirect(_lineage_section(adapting))


@bp.get("/cases/<slug>/lineage")
def tree(slug: str):
    """The whole lineage of this case study's practice across cities, with each step's changes."""
    user = acting_user()
    case = case_studies.get_case(user, slug)
    return render_template("lineage/tree.html", lineage=lineage.lineage(user, case))
