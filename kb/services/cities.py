"""The network's cities: listing them, showing one, and curating their profiles.

A city's context profile is written under the fixed headings of
:data:`kb.models.PROFILE_HEADINGS`, so later features can compare cities
heading by heading.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select

from kb.errors import NotFound, ValidationError
from kb.extensions import db
from kb.models import (
    is_valid_id,
    PROFILE_HEADINGS,
    CaseStudy,
    ChangeOperation,
    City,
    User,
    record_case_changes,
)
from kb.sanitize import clean_text
from kb.services import policy
from kb.services.vocabularies import clean_name_and_slug, find_by_slug, require_curator

COUNTRY_MAX = 120
PROFILE_SECTION_MAX = 20_000


@dataclass
class CityInput:
    """What a curator types for a city; ``profile`` maps PROFILE_HEADINGS keys to text."""

    name: str
    country: str
    slug: str = ""
    profile: dict[str, str] = field(default_factory=dict)


def cities_with_counts() -> list[tuple[City, int]]:
    """Every city by name, with its number of published case studies."""
    counts = dict(
        db.session.execute(
            select(CaseStudy.city_id, func.count())
            .where(policy.public_cases_clause())
            .group_by(CaseStudy.city_id)
        ).all()
    )
    cities = db.session.scalars(select(City).order_by(City.name)).all()
    return [(city, counts.get(city.id, 0)) for city in cities]


def get_city(slug: str) -> City:
    """The city at ``slug``; NotFound otherwise."""
    return find_by_slug(City, slug, "No such city.")


def get_city_for_curation(user: User | None, city_id: int) -> City:
    """The city with ``city_id``, if ``user`` may curate; NotFound when there is none."""
    require_curator(user)
    city = db.session.get(City, city_id) if is_valid_id(city_id) else None
    if city is None:
        raise NotFound("No such city.")
    return city


def curation_overview(user: User | None) -> list[tuple[City, int]]:
    """Every city with its published count, for the curation page."""
    require_curator(user)
    return cities_with_counts()


def _validated(data: CityInput, city: City | None) -> dict:
    errors: dict[str, list[str]] = {}
    name, slug = clean_name_and_slug(
        City, data.name, data.slug, city.id if city else None, errors, what="city"
    )
    values: dict = {
        "name": name, "slug": slug, "country": clean_text(data.country, multiline=False),
    }
    if not values["country"]:
        errors.setdefault("country", []).append("A country is required.")
    elif len(values["country"]) > COUNTRY_MAX:
        errors.setdefault("country", []).append(f"Keep the country under {COUNTRY_MAX} characters.")
    for key, heading in PROFILE_HEADINGS.items():
        text = clean_text(data.profile.get(key, ""))
        if len(text) > PROFILE_SECTION_MAX:
            errors.setdefault(f"profile_{key}", []).append(
                f"Keep “{heading}” under {PROFILE_SECTION_MAX:,} characters."
            )
        values[f"profile_{key}"] = text
    if errors:
        raise ValidationError(errors)
    return values


def create_city(user: User | None, data: CityInput) -> City:
    """Add a city to the network."""
    require_curator(user)
    city = City(**_validated(data, None))
    db.session.add(city)
    db.session.flush()
    return city


def update_city(user: User | None, city: City, data: CityInput) -> City:
    """Change a city's name, country, slug or profile.

    Case studies show their city's name and country and link to its slug,
    so when one of those changes every case study of the city is re-indexed.
    """
    require_curator(user)
    values = _validated(data, city)
    shown_before = (city.name, city.slug, city.country)
    for name, value in values.items():
        setattr(city, name, value)
    if (city.name, city.slug, city.country) != shown_before:
        case_ids = db.session.scalars(select(CaseStudy.id).where(CaseStudy.city_id == city.id))
        record_case_changes(db.session, case_ids, ChangeOperation.UPSERT)
    db.session.flush()
    return city
