"""Walking the URL map: a small world to fill URLs from, and a snapshot of the database.

Used by the tests that visit every route (``test_get_is_safe``,
``test_csrf``). :func:`urls_for` fills each ``<parameter>`` of a rule from
:func:`parameter_values`; a rule with a parameter missing there fails the
test that meets it, so a new route cannot be skipped silently.
"""

from __future__ import annotations

import hashlib
from itertools import product

import pytest
from factories import case_input, member_adaptation, member_collections, write_case
from sqlalchemy import func, select

from kb.extensions import db
from kb.models import ChangeLog, City, CollectionVisibility, User
from kb.services import api_tokens, case_studies

ROLES = ("anonymous", "researcher", "member", "other_member", "facilitator", "admin")

# Extra query strings for rules whose bare URL shows little.
QUERY_STRINGS = {
    "/search": "q=apprenticeship&city=toronto",
    "/compare": "ids={draft_id}&ids={published_id}",
    "/compare.csv": "ids={draft_id}&ids={published_id}",
    "/compare.json": "ids={draft_id}&ids={published_id}",
    "/feeds/search.atom": "q=apprenticeship&city=toronto",
    "/api/v1/search": "q=apprenticeship&city=toronto",
    "/api/v1/cases": "city=toronto&problem=work-based-learning",
}


def build_world(taxonomy: dict, people: dict) -> dict:
    """``member``'s draft (saved twice), published case study and one with a proposed edit.

    Returns the ids and slugs URLs need. Call inside an app context; commits.
    """
    member = db.session.get(User, people["member"])
    city_id = taxonomy["cities"]["toronto"]
    draft = write_case(member, taxonomy, title="Member draft on apprenticeship", publish=False)
    published = write_case(member, taxonomy, title="Member published apprenticeship")
    edited = write_case(member, taxonomy, title="Member edited apprenticeship")
    case_studies.update_case(member, edited, case_input(
        taxonomy, title="Member edited apprenticeship", summary="A proposed summary."))
    # A second revision, for the pages that compare versions.
    case_studies.update_case(member, draft, case_input(
        taxonomy, title="Member draft on apprenticeship", summary="A longer summary."))
    made = member_collections(member, published, draft)
    token = api_tokens.create_token(member, "Member's script").token
    adaptation_id = member_adaptation(member, published, draft)
    db.session.commit()
    return {
        **made,
        "adaptation_id": adaptation_id,
        "token_id": token.id,
        "draft": draft.slug,
        "draft_id": draft.id,
        "published": published.slug,
        "published_id": published.id,
        "edited": edited.slug,
        "member_id": people["member"],
        "city_id": db.session.get(City, city_id).id,
        "problem_id": taxonomy["problems"]["career-guidance"],
        "context_id": taxonomy["contexts"]["public-funding"],
    }


def parameter_values(world: dict) -> dict[str, object]:
    """URL parameter name -> value, or {rule prefix: value} where the name means several things.

    A value may be a list: the rule is visited once with each.
    """
    return {
        "slug": {
            "/cases/": [world["draft"], world["published"], world["edited"]],
            "/cities/": "toronto",
            "/problems/": "work-based-learning",
            "/contexts/": "public-funding",
            "/api/v1/cases/": [world["draft"], world["published"]],
            "/api/v1/cities/": "toronto",
            "/api/v1/problems/": "work-based-learning",
            "/api/v1/contexts/": "public-funding",
            "/api/v1/collections/": [world[f"{v.value}_collection"] for v in CollectionVisibility],
            "/collections/": [world[f"{v.value}_collection"] for v in CollectionVisibility],
            "/feeds/collections/": [world[f"{v.value}_collection"] for v in CollectionVisibility],
        },
        "case_id": {"/collections/": world["published_id"]},
        "token_id": world["token_id"],
        "adaptation_id": world["adaptation_id"],
        "user_id": world["member_id"],
        "city_id": world["city_id"],
        "term_id": {
            "/curate/problems/": world["problem_id"],
            "/curate/contexts/": world["context_id"],
        },
        "number": 1,
        "filename": "kb.css",
        "file_format": ["jsonl", "csv"],
    }


def _value_for(rule, name: str, values: dict[str, object]) -> list:
    if name not in values:
        pytest.fail(f"{rule.rule} has the parameter <{name}>, which route_walk.parameter_values "
                    f"does not know: add a value for it.")
    value = values[name]
    if isinstance(value, dict):
        prefixes = [prefix for prefix in value if rule.rule.startswith(prefix)]
        if not prefixes:
            pytest.fail(f"route_walk.parameter_values has no <{name}> for rules like {rule.rule}: "
                        f"add one under its prefix.")
        value = value[max(prefixes, key=len)]
    return value if isinstance(value, list) else [value]


def urls_for(rule, world: dict) -> list[str]:
    """Every URL to visit for ``rule``: one per combination of its parameters' values."""
    values = parameter_values(world)
    names = sorted(rule.arguments)
    urls = []
    for combination in product(*(_value_for(rule, name, values) for name in names)):
        path = rule.build(dict(zip(names, combination)), append_unknown=False)[1]
        query = QUERY_STRINGS.get(rule.rule)
        urls.append(f"{path}?{query.format(**world)}" if query else path)
    return urls


def rules_with(app, methods: set[str]) -> list:
    """The rules answering any of ``methods``, in a stable order."""
    return sorted((rule for rule in app.url_map.iter_rules() if rule.methods & methods),
                  key=lambda rule: (rule.rule, rule.endpoint))


def db_snapshot() -> dict[str, object]:
    """Row count and checksum of every table, and the change log's last sequence number.

    Read on a connection of its own, so what the app's session has cached
    plays no part; call inside an app context.
    """
    snapshot: dict[str, object] = {}
    with db.engine.connect() as connection:
        for table in db.metadata.sorted_tables:
            order = list(table.primary_key.columns) or list(table.columns)
            rows = connection.execute(select(table).order_by(*order)).all()
            digest = hashlib.sha256(repr([tuple(row) for row in rows]).encode()).hexdigest()
            snapshot[table.name] = (len(rows), digest)
        snapshot["change_log max seq"] = connection.scalar(select(func.max(ChangeLog.seq)))
    return snapshot


def snapshot_difference(before: dict, after: dict) -> dict:
    """The entries of two snapshots that differ, as name -> (before, after)."""
    return {name: (before.get(name), after.get(name))
            for name in sorted(set(before) | set(after)) if before.get(name) != after.get(name)}
