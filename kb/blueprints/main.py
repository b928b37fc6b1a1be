"""The home page."""

from __future__ import annotations

from flask import Blueprint, render_template

from kb.acting import acting_user
from kb.services import catalogue, collections

bp = Blueprint("main", __name__)

# Featured collections on the home page; the rest are on /collections/.
HOME_FEATURED_COLLECTIONS = 4


@bp.get("/")
def home():
    """What kb is, the newest published case studies, featured collections and the cities."""
    user = acting_user()
    overview = catalogue.home_overview(user)
    featured = collections.featured_collections(user, limit=HOME_FEATURED_COLLECTIONS)
    counts = collections.visible_item_counts(user, featured)
    return render_template("main/home.html", overview=overview, featured=featured, counts=counts)
