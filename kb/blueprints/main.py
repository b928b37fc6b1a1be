"""The home page."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from kb.services import catalogue

bp = Blueprint("main", __name__)


@bp.get("/")
def home():
    """What kb is, the newest published case studies and the network's cities."""
    overview = catalogue.home_overview(current_user)
    return render_template("main/home.html", overview=overview)
