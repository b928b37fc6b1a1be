"""City pages (profile and case studies) and their curation."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request, url_for
from flask_login import login_required

from kb.acting import acting_user
from kb.blueprints.forms import render_form, save_posted_form
from kb.blueprints.vocabulary_forms import CityForm
from kb.services import case_studies, cities
from kb.services.cities import CityInput

bp = Blueprint("cities", __name__)


@bp.get("/cities")
def index():
    """Every city of the network with its country and number of published case studies."""
    return render_template("cities/index.html", cities=cities.cities_with_counts())


@bp.get("/cities/<slug>")
def detail(slug: str):
    """A city's context profile and the case studies the viewer may see."""
    city = cities.get_city(slug)
    page = case_studies.list_cases(
        acting_user(), city_id=city.id,
        page=request.args.get("page", 1, type=int),
        per_page=current_app.config["CASES_PER_PAGE"],
    )
    return render_template("cities/detail.html", city=city, page=page)


def _city_input(form: CityForm) -> CityInput:
    return CityInput(
        name=form.name.data or "",
        country=form.country.data or "",
        slug=form.slug.data or "",
        profile=form.profile(),
    )


@bp.route("/curate/cities", methods=["GET", "POST"])
@login_required
def curate():
    """Every city, and the form that adds one."""
    user = acting_user()
    form = CityForm()
    done = save_posted_form(
        form, lambda: cities.create_city(user, _city_input(form)),
        lambda city: f"Added the city “{city.name}”.", lambda _: url_for("cities.curate"),
    )
    return done or render_form("cities/curate.html", form, cities=cities.curation_overview(user))


@bp.route("/curate/cities/<id:city_id>", methods=["GET", "POST"])
@login_required
def edit(city_id: int):
    """Change a city's name, country, slug or context profile."""
    user = acting_user()
    city = cities.get_city_for_curation(user, city_id)
    current = {"name": city.name, "country": city.country, "slug": city.slug}
    current.update({f"profile_{key}": text for key, _, text in city.profile()})
    form = CityForm(formdata=request.form if request.method == "POST" else None, data=current)
    done = save_posted_form(
        form, lambda: cities.update_city(user, city, _city_input(form)),
        lambda saved: f"Saved the city “{saved.name}”.",
        lambda _: url_for("cities.edit", city_id=city_id),
    )
    return done or render_form("cities/edit.html", form, city=city)
