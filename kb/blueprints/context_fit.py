"""Context fit: a case study's context beside the reader's city's, and "cities like mine".

Endpoint ``cities_like_mine`` ranks the other cities by the contexts they
share with the signed-in user's city. Case study pages show the
heading-by-heading comparison through the template global
:func:`context_fit_for`. The rules are :mod:`kb.services.context_fit`'s.
"""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

from kb.acting import acting_user
from kb.models import CaseStudy
from kb.services import context_fit, policy

bp = Blueprint("context_fit", __name__)


@bp.app_template_global()
def context_fit_for(case: CaseStudy) -> context_fit.CaseFit | None:
    """How ``case``'s context compares with the signed-in user's city; None for visitors."""
    user = acting_user()
    return context_fit.case_fit(user, case) if policy.can_compare_contexts(user) else None


@bp.get("/cities-like-mine")
@login_required
def cities_like_mine():
    """The other cities of the network, most alike in context to the user's city first."""
    return render_template("context_fit/cities_like_mine.html",
                           likeness=context_fit.cities_like_mine(acting_user()))
