"""Who may do what: one role x route x method table, and the world its URLs are filled from.

Every rule in the URL map must appear in ``TABLE`` with every method it
answers (tests/test_authorization.py checks it route by route with the
session, tests/test_api_auth.py the API's rows with tokens). Drafts belong
to ``member``, so ``member`` and ``other_member`` together cover "own draft"
and "someone else's draft".

Expected outcomes: an HTTP status, ``"login"`` (redirected to the login
page) or ``"done"`` (redirected elsewhere: the action happened). POSTs send
an empty form, which is enough to tell a refusal from an acceptance.
"""

from __future__ import annotations

from dataclasses import replace

from factories import member_adaptation, member_collections, write_case

from kb.extensions import db
from kb.models import City, User
from kb.services import api_tokens, case_studies, review

ROLES = ("anonymous", "researcher", "member", "other_member", "facilitator", "admin")
LOGIN = "login"
DONE = "done"


def row(method, rule, url, anonymous, researcher, member, other_member, facilitator, admin, *,
        json=None):
    """One line of the table: the rule, how to build its URL, and the outcome per role.

    ``json`` is a body to send as JSON (the API's rows) instead of the empty form.
    """
    return {
        "method": method, "rule": rule, "url": url, "json": json,
        "expected": dict(zip(
            ROLES, (anonymous, researcher, member, other_member, facilitator, admin), strict=True
        )),
    }


# method, rule, URL template: anonymous, researcher, member, other_member, facilitator, admin
TABLE = [
    row("GET", "/", "/", 200, 200, 200, 200, 200, 200),
    row("GET", "/search", "/search?q=apprenticeship", 200, 200, 200, 200, 200, 200),
    # Accounts
    row("GET", "/auth/login", "/auth/login", 200, 200, 200, 200, 200, 200),
    row("POST", "/auth/login", "/auth/login", 400, 400, 400, 400, 400, 400),
    row("POST", "/auth/logout", "/auth/logout", DONE, DONE, DONE, DONE, DONE, DONE),
    row("GET", "/auth/account", "/auth/account", LOGIN, 200, 200, 200, 200, 200),
    row("GET", "/auth/password", "/auth/password", LOGIN, 200, 200, 200, 200, 200),
    row("POST", "/auth/password", "/auth/password", LOGIN, 400, 400, 400, 400, 400),
    row("GET", "/auth/register", "/auth/register", 404, 404, 404, 404, 404, 404),
    row("POST", "/auth/register", "/auth/register", 404, 404, 404, 404, 404, 404),
    # User management: admins only
    row("GET", "/admin/", "/admin/", LOGIN, 403, 403, 403, 200, 200),
    row("GET", "/admin/users", "/admin/users", LOGIN, 403, 403, 403, 403, 200),
    row("GET", "/admin/users/new", "/admin/users/new", LOGIN, 403, 403, 403, 403, 200),
    row("POST", "/admin/users/new", "/admin/users/new", LOGIN, 403, 403, 403, 403, 400),
    row("GET", "/admin/users/<id:user_id>", "/admin/users/{member_id}", LOGIN, 403, 403, 403, 403, 200),
    # An empty form keeps the fields it does not send, but an unticked "active" box deactivates.
    row("POST", "/admin/users/<id:user_id>", "/admin/users/{member_id}",
        LOGIN, 403, 403, 403, 403, DONE),
    # Case studies
    row("GET", "/cases/", "/cases/", 200, 200, 200, 200, 200, 200),
    row("GET", "/cases/mine", "/cases/mine", LOGIN, 200, 200, 200, 200, 200),
    row("GET", "/cases/new", "/cases/new", LOGIN, 403, 200, 200, 200, 200),
    row("POST", "/cases/new", "/cases/new", LOGIN, 403, 400, 400, 400, 400),
    row("GET", "/cases/<slug>", "/cases/{draft}", 404, 404, 200, 404, 200, 200),
    row("GET", "/cases/<slug>", "/cases/{published}", 200, 200, 200, 200, 200, 200),
    row("GET", "/cases/<slug>/edit", "/cases/{draft}/edit", LOGIN, 404, 200, 404, 200, 200),
    row("GET", "/cases/<slug>/edit", "/cases/{published}/edit", LOGIN, 403, 200, 403, 200, 200),
    row("POST", "/cases/<slug>/edit", "/cases/{draft}/edit", LOGIN, 404, 400, 404, 400, 400),
    row("POST", "/cases/<slug>/edit", "/cases/{published}/edit", LOGIN, 403, 400, 403, 400, 400),
    # Archived: out of public view, and read-only until a reviewer publishes it again
    row("GET", "/cases/<slug>", "/cases/{archived}", 404, 404, 200, 404, 200, 200),
    row("GET", "/cases/<slug>/edit", "/cases/{archived}/edit", LOGIN, 404, 403, 404, 403, 403),
    # Review: the author submits and withdraws; curators decide on others' case studies.
    # An empty form has no comment, which a request for changes needs (400).
    row("POST", "/cases/<slug>/submit", "/cases/{draft}/submit", LOGIN, 404, DONE, 404, 403, 403),
    row("POST", "/cases/<slug>/withdraw", "/cases/{submitted}/withdraw",
        LOGIN, 404, DONE, 404, 403, 403),
    row("POST", "/cases/<slug>/request-changes", "/cases/{submitted}/request-changes",
        LOGIN, 404, 403, 404, 400, 400),
    row("POST", "/cases/<slug>/publish", "/cases/{submitted}/publish",
        LOGIN, 404, 403, 404, DONE, DONE),
    row("POST", "/cases/<slug>/archive", "/cases/{published}/archive",
        LOGIN, 403, DONE, 403, DONE, DONE),
    row("POST", "/cases/<slug>/unarchive", "/cases/{archived}/unarchive",
        LOGIN, 404, 403, 404, DONE, DONE),
    # A proposed edit of a published case study: hidden from all but its author and curators
    row("GET", "/cases/<slug>/proposed-edit", "/cases/{edited}/proposed-edit",
        LOGIN, 404, 200, 404, 200, 200),
    row("GET", "/cases/<slug>/proposed-edit", "/cases/{published}/proposed-edit",
        LOGIN, 404, 404, 404, 404, 404),
    row("POST", "/cases/<slug>/proposed-edit/publish", "/cases/{edited}/proposed-edit/publish",
        LOGIN, 404, 403, 404, DONE, DONE),
    row("POST", "/cases/<slug>/proposed-edit/request-changes",
        "/cases/{edited}/proposed-edit/request-changes", LOGIN, 404, 403, 404, 400, 400),
    row("POST", "/cases/<slug>/proposed-edit/withdraw", "/cases/{edited}/proposed-edit/withdraw",
        LOGIN, 404, DONE, 404, 403, 403),
    row("GET", "/review", "/review", LOGIN, 403, 403, 403, 200, 200),
    row("GET", "/cases/<slug>/delete", "/cases/{draft}/delete", LOGIN, 404, 200, 404, 403, 200),
    row("POST", "/cases/<slug>/delete", "/cases/{draft}/delete", LOGIN, 404, DONE, 404, 403, DONE),
    row("POST", "/cases/<slug>/delete", "/cases/{published}/delete", LOGIN, 403, 403, 403, 403, DONE),
    row("GET", "/cases/<slug>/revisions/<id:number>", "/cases/{draft}/revisions/1",
        404, 404, 200, 404, 200, 200),
    row("GET", "/cases/<slug>/revisions/<id:number>", "/cases/{published}/revisions/1",
        200, 200, 200, 200, 200, 200),
    # Revision diffs and restores (the world's case studies have one version: nothing to restore)
    row("GET", "/cases/<slug>/diff", "/cases/{draft}/diff?from=1&to=1", 404, 404, 200, 404, 200, 200),
    row("GET", "/cases/<slug>/diff", "/cases/{published}/diff?from=1&to=1",
        200, 200, 200, 200, 200, 200),
    row("POST", "/cases/<slug>/revisions/<id:number>/restore", "/cases/{draft}/revisions/1/restore",
        LOGIN, 404, 409, 404, 409, 409),
    row("POST", "/cases/<slug>/revisions/<id:number>/restore",
        "/cases/{published}/revisions/1/restore", LOGIN, 403, 409, 403, 409, 409),
    # Comparison: a draft in the list makes the whole comparison missing for those who cannot see it
    *[
        row("GET", rule, f"{rule}?ids={{published_id}}&ids={{draft_id}}", 404, 404, 200, 404, 200, 200)
        for rule in ("/compare", "/compare.csv", "/compare.json")
    ],
    row("GET", "/coverage", "/coverage", 200, 200, 200, 200, 200, 200),
    # Cities and vocabularies: public pages
    row("GET", "/cities", "/cities", 200, 200, 200, 200, 200, 200),
    row("GET", "/cities/<slug>", "/cities/toronto", 200, 200, 200, 200, 200, 200),
    row("GET", "/problems", "/problems", 200, 200, 200, 200, 200, 200),
    row("GET", "/problems/<slug>", "/problems/work-based-learning", 200, 200, 200, 200, 200, 200),
    row("GET", "/contexts", "/contexts", 200, 200, 200, 200, 200, 200),
    row("GET", "/contexts/<slug>", "/contexts/public-funding", 200, 200, 200, 200, 200, 200),
    # Curation: facilitators and admins
    # Bulk import: an empty form has no file to check (400).
    row("GET", "/curate/import", "/curate/import", LOGIN, 403, 403, 403, 200, 200),
    row("POST", "/curate/import", "/curate/import", LOGIN, 403, 403, 403, 400, 400),
    *[
        row("GET", "/curate/import/example.<any(jsonl, csv):file_format>",
            f"/curate/import/example.{ending}", LOGIN, 403, 403, 403, 200, 200)
        for ending in ("jsonl", "csv")
    ],
    row("GET", "/curate/cities", "/curate/cities", LOGIN, 403, 403, 403, 200, 200),
    row("POST", "/curate/cities", "/curate/cities", LOGIN, 403, 403, 403, 400, 400),
    row("GET", "/curate/cities/<id:city_id>", "/curate/cities/{city_id}", LOGIN, 403, 403, 403, 200, 200),
    row("POST", "/curate/cities/<id:city_id>", "/curate/cities/{city_id}",
        LOGIN, 403, 403, 403, DONE, DONE),
    # Editing a problem with an empty form keeps its fields; a context also needs its kind.
    row("POST", "/curate/problems/<id:term_id>", "/curate/problems/{problem_id}",
        LOGIN, 403, 403, 403, DONE, DONE),
    row("POST", "/curate/contexts/<id:term_id>", "/curate/contexts/{context_id}",
        LOGIN, 403, 403, 403, 400, 400),
    *[
        line
        for kind, term in (("problems", "problem_id"), ("contexts", "context_id"))
        for line in (
            row("GET", f"/curate/{kind}", f"/curate/{kind}", LOGIN, 403, 403, 403, 200, 200),
            row("POST", f"/curate/{kind}", f"/curate/{kind}", LOGIN, 403, 403, 403, 400, 400),
            row("GET", f"/curate/{kind}/<id:term_id>", f"/curate/{kind}/{{{term}}}",
                LOGIN, 403, 403, 403, 200, 200),
            row("POST", f"/curate/{kind}/<id:term_id>/retire", f"/curate/{kind}/{{{term}}}/retire",
                LOGIN, 403, 403, 403, DONE, DONE),
            # The term is not retired: nothing to restore.
            row("POST", f"/curate/{kind}/<id:term_id>/restore", f"/curate/{kind}/{{{term}}}/restore",
                LOGIN, 403, 403, 403, 409, 409),
            row("POST", f"/curate/{kind}/<id:term_id>/merge", f"/curate/{kind}/{{{term}}}/merge",
                LOGIN, 403, 403, 403, 400, 400),
        )
    ],
]

# The JSON API. tests/test_api_auth.py makes these requests again with API tokens
# instead of the session and expects the same outcomes.
API_NEW_CASE = {"title": "Written through the API", "summary": "A summary.", "city": "toronto",
                "education_level": "upper_secondary", "problems": ["work-based-learning"]}
API_CHANGE = {"version": 1, "summary": "Changed through the API."}
TABLE += [
    row("GET", "/api/v1/cases", "/api/v1/cases", 200, 200, 200, 200, 200, 200),
    row("POST", "/api/v1/cases", "/api/v1/cases", 401, 403, 201, 201, 201, 201, json=API_NEW_CASE),
    row("GET", "/api/v1/cases/<slug>", "/api/v1/cases/{draft}", 404, 404, 200, 404, 200, 200),
    row("GET", "/api/v1/cases/<slug>", "/api/v1/cases/{published}", 200, 200, 200, 200, 200, 200),
    row("PATCH", "/api/v1/cases/<slug>", "/api/v1/cases/{draft}", 401, 404, 200, 404, 200, 200,
        json=API_CHANGE),
    # A change to a published case study waits for review as its proposed edit (202).
    row("PATCH", "/api/v1/cases/<slug>", "/api/v1/cases/{published}", 401, 403, 202, 403, 202, 202,
        json=API_CHANGE),
    row("PATCH", "/api/v1/cases/<slug>", "/api/v1/cases/{archived}", 401, 404, 403, 404, 403, 403,
        json=API_CHANGE),
    row("POST", "/api/v1/cases/<slug>/submit", "/api/v1/cases/{draft}/submit",
        401, 404, 200, 404, 403, 403, json={}),
    row("POST", "/api/v1/cases/<slug>/submit", "/api/v1/cases/{published}/submit",
        401, 403, 409, 403, 403, 403, json={}),
    row("GET", "/api/v1/search", "/api/v1/search?q=apprenticeship&city=toronto",
        200, 200, 200, 200, 200, 200),
    row("GET", "/api/v1/problems", "/api/v1/problems", 200, 200, 200, 200, 200, 200),
    row("GET", "/api/v1/problems/<slug>", "/api/v1/problems/work-based-learning",
        200, 200, 200, 200, 200, 200),
    row("GET", "/api/v1/contexts", "/api/v1/contexts", 200, 200, 200, 200, 200, 200),
    row("GET", "/api/v1/contexts/<slug>", "/api/v1/contexts/public-funding",
        200, 200, 200, 200, 200, 200),
    row("GET", "/api/v1/cities", "/api/v1/cities", 200, 200, 200, 200, 200, 200),
    row("GET", "/api/v1/cities/<slug>", "/api/v1/cities/toronto", 200, 200, 200, 200, 200, 200),
    row("GET", "/api/v1/me", "/api/v1/me", 401, 200, 200, 200, 200, 200),
    row("GET", "/api/v1/openapi.json", "/api/v1/openapi.json", 200, 200, 200, 200, 200, 200),
    row("GET", "/api/v1/docs", "/api/v1/docs", 200, 200, 200, 200, 200, 200),
    # API tokens, on the account page: each user revokes only their own (member's here).
    row("POST", "/auth/account/tokens", "/auth/account/tokens", LOGIN, 400, 400, 400, 400, 400),
    row("POST", "/auth/account/tokens/<id:token_id>/revoke", "/auth/account/tokens/{token_id}/revoke",
        LOGIN, 404, DONE, 404, 404, 404),
    # Citations: whoever may see the case study may cite it.
    *[
        line
        for ending in ("bib", "ris", "json")
        for line in (
            row("GET", f"/cases/<slug>/cite.{ending}", f"/cases/{{draft}}/cite.{ending}",
                404, 404, 200, 404, 200, 200),
            row("GET", f"/cases/<slug>/cite.{ending}", f"/cases/{{published}}/cite.{ending}",
                200, 200, 200, 200, 200, 200),
        )
    ],
]

# Collections: member owns a private, a network and a public one ({private_collection}...);
# each holds the published case study, the public one also member's draft.
# Private means private: no role but the owner finds it, by page, export or feed.
PRIVATE, NETWORK, PUBLIC = "{private_collection}", "{network_collection}", "{public_collection}"
TABLE += [
    row("GET", "/collections/", "/collections/", 200, 200, 200, 200, 200, 200),
    row("GET", "/collections/mine", "/collections/mine", LOGIN, 200, 200, 200, 200, 200),
    row("GET", "/collections/new", "/collections/new", LOGIN, 200, 200, 200, 200, 200),
    # An empty form has no title (400): every signed-in role may make collections.
    row("POST", "/collections/new", "/collections/new", LOGIN, 400, 400, 400, 400, 400),
    row("POST", "/collections/add", "/collections/add", LOGIN, 400, 400, 400, 400, 400),
    *[
        line
        for rule, ending in (("/collections/<slug>", ""),
                             ("/collections/<slug>/briefing.md", "/briefing.md"),
                             ("/collections/<slug>/export.csv", "/export.csv"),
                             ("/collections/<slug>/export.json", "/export.json"))
        for line in (
            row("GET", rule, f"/collections/{PRIVATE}{ending}", 404, 404, 200, 404, 404, 404),
            row("GET", rule, f"/collections/{NETWORK}{ending}", 404, 200, 200, 200, 200, 200),
            row("GET", rule, f"/collections/{PUBLIC}{ending}", 200, 200, 200, 200, 200, 200),
        )
    ],
    # Only the owner changes a collection (an empty edit form keeps what it has).
    row("GET", "/collections/<slug>/edit", f"/collections/{PRIVATE}/edit",
        LOGIN, 404, 200, 404, 404, 404),
    row("GET", "/collections/<slug>/edit", f"/collections/{NETWORK}/edit",
        LOGIN, 403, 200, 403, 403, 403),
    row("POST", "/collections/<slug>/edit", f"/collections/{PRIVATE}/edit",
        LOGIN, 404, DONE, 404, 404, 404),
    row("POST", "/collections/<slug>/edit", f"/collections/{PUBLIC}/edit",
        LOGIN, 403, DONE, 403, 403, 403),
    # Admins may take down a collection others can see, never reach a private one.
    row("GET", "/collections/<slug>/delete", f"/collections/{PRIVATE}/delete",
        LOGIN, 404, 200, 404, 404, 404),
    row("GET", "/collections/<slug>/delete", f"/collections/{PUBLIC}/delete",
        LOGIN, 403, 200, 403, 403, 200),
    row("POST", "/collections/<slug>/delete", f"/collections/{PRIVATE}/delete",
        LOGIN, 404, DONE, 404, 404, 404),
    row("POST", "/collections/<slug>/delete", f"/collections/{PUBLIC}/delete",
        LOGIN, 403, DONE, 403, 403, DONE),
    # Facilitators and admins feature collections others can see.
    row("POST", "/collections/<slug>/feature", f"/collections/{PUBLIC}/feature",
        LOGIN, 403, 403, 403, DONE, DONE),
    row("POST", "/collections/<slug>/feature", f"/collections/{PRIVATE}/feature",
        LOGIN, 404, 403, 404, 404, 404),
    row("POST", "/collections/<slug>/unfeature", f"/collections/{NETWORK}/unfeature",
        LOGIN, 403, 403, 403, DONE, DONE),
    # Items: the curator's note (an empty form keeps it), moving (an empty form names
    # no place: 400) and removing, by the owner only.
    row("GET", "/collections/<slug>/items/<id:case_id>",
        f"/collections/{PUBLIC}/items/{{draft_id}}", LOGIN, 403, 200, 403, 403, 403),
    row("GET", "/collections/<slug>/items/<id:case_id>",
        f"/collections/{PRIVATE}/items/{{published_id}}", LOGIN, 404, 200, 404, 404, 404),
    row("POST", "/collections/<slug>/items/<id:case_id>",
        f"/collections/{PUBLIC}/items/{{published_id}}", LOGIN, 403, DONE, 403, 403, 403),
    row("POST", "/collections/<slug>/items/<id:case_id>/move",
        f"/collections/{PUBLIC}/items/{{published_id}}/move", LOGIN, 403, 400, 403, 403, 403),
    row("POST", "/collections/<slug>/items/<id:case_id>/remove",
        f"/collections/{PUBLIC}/items/{{published_id}}/remove", LOGIN, 403, DONE, 403, 403, 403),
    row("POST", "/collections/<slug>/items/<id:case_id>/remove",
        f"/collections/{PRIVATE}/items/{{published_id}}/remove", LOGIN, 404, DONE, 404, 404, 404),
    # Feeds are anonymous: the same for everyone, public collections only.
    row("GET", "/feeds/cases.atom", "/feeds/cases.atom", 200, 200, 200, 200, 200, 200),
    row("GET", "/feeds/search.atom", "/feeds/search.atom?q=apprenticeship&city=toronto",
        200, 200, 200, 200, 200, 200),
    row("GET", "/feeds/collections/<slug>.atom", f"/feeds/collections/{PUBLIC}.atom",
        200, 200, 200, 200, 200, 200),
    row("GET", "/feeds/collections/<slug>.atom", f"/feeds/collections/{NETWORK}.atom",
        404, 404, 404, 404, 404, 404),
    row("GET", "/feeds/collections/<slug>.atom", f"/feeds/collections/{PRIVATE}.atom",
        404, 404, 404, 404, 404, 404),
]

# Adaptation lineage: the author of the adapting case study and the curators record, edit
# and remove links; a link to a draft is hidden like the draft. Context fit: signed in.
# An empty form has no source to record (400); an empty edit form keeps the link's fields.
TABLE += [
    *[
        line
        for method, ok in (("GET", 200), ("POST", 400))
        for line in (
            row(method, "/cases/<slug>/adaptations/new", "/cases/{published}/adaptations/new",
                LOGIN, 403, ok, 403, ok, ok),
            row(method, "/cases/<slug>/adaptations/new", "/cases/{draft}/adaptations/new",
                LOGIN, 404, ok, 404, ok, ok),
        )
    ],
    *[
        line
        for method, action, ok in (("GET", "edit", 200), ("POST", "edit", DONE),
                                   ("GET", "delete", 200), ("POST", "delete", DONE))
        for line in (
            row(method, f"/adaptations/<id:adaptation_id>/{action}",
                f"/adaptations/{{adaptation}}/{action}", LOGIN, 403, ok, 403, ok, ok),
            row(method, f"/adaptations/<id:adaptation_id>/{action}",
                f"/adaptations/{{draft_adaptation}}/{action}", LOGIN, 404, ok, 404, ok, ok),
        )
    ],
    row("GET", "/cases/<slug>/lineage", "/cases/{published}/lineage", 200, 200, 200, 200, 200, 200),
    row("GET", "/cases/<slug>/lineage", "/cases/{draft}/lineage", 404, 404, 200, 404, 200, 200),
    row("GET", "/cities-like-mine", "/cities-like-mine", LOGIN, 200, 200, 200, 200, 200),
]

# The JSON API's collections and adaptation links: the same rules as their pages.
TABLE += [
    row("GET", "/api/v1/collections", "/api/v1/collections", 200, 200, 200, 200, 200, 200),
    row("GET", "/api/v1/collections", "/api/v1/collections?scope=mine", 401, 200, 200, 200, 200, 200),
    row("GET", "/api/v1/collections/<slug>", f"/api/v1/collections/{PRIVATE}",
        404, 404, 200, 404, 404, 404),
    row("GET", "/api/v1/collections/<slug>", f"/api/v1/collections/{NETWORK}",
        404, 200, 200, 200, 200, 200),
    row("GET", "/api/v1/collections/<slug>", f"/api/v1/collections/{PUBLIC}",
        200, 200, 200, 200, 200, 200),
    row("POST", "/api/v1/collections", "/api/v1/collections", 401, 201, 201, 201, 201, 201,
        json={"title": "Made through the API"}),
    row("POST", "/api/v1/collections/<slug>/cases", f"/api/v1/collections/{PRIVATE}/cases",
        401, 404, 200, 404, 404, 404, json={"cases": ["{published}"]}),
    row("POST", "/api/v1/collections/<slug>/cases", f"/api/v1/collections/{PUBLIC}/cases",
        401, 403, 200, 403, 403, 403, json={"cases": ["{published}"]}),
    row("GET", "/api/v1/cases/<slug>/adaptations", "/api/v1/cases/{published}/adaptations",
        200, 200, 200, 200, 200, 200),
    row("GET", "/api/v1/cases/<slug>/adaptations", "/api/v1/cases/{draft}/adaptations",
        404, 404, 200, 404, 200, 200),
    row("POST", "/api/v1/cases/<slug>/adaptations", "/api/v1/cases/{draft}/adaptations",
        401, 404, 201, 404, 201, 201, json={"source": "{edited}", "kind": "adapted"}),
    # Already recorded: published -> edited.
    row("POST", "/api/v1/cases/<slug>/adaptations", "/api/v1/cases/{edited}/adaptations",
        401, 403, 409, 403, 409, 409, json={"source": "{published}", "kind": "adopted"}),
    row("GET", "/api/v1/adaptations/<id:adaptation_id>", "/api/v1/adaptations/{adaptation}",
        200, 200, 200, 200, 200, 200),
    row("GET", "/api/v1/adaptations/<id:adaptation_id>", "/api/v1/adaptations/{draft_adaptation}",
        404, 404, 200, 404, 200, 200),
]


def member_world(taxonomy: dict, people: dict) -> dict:
    """``member``'s case studies in every state, collections, links and an API token.

    Returns the values the table's URL templates use. Call inside an app
    context; commits.
    """
    member = db.session.get(User, people["member"])
    city_id = taxonomy["cities"]["toronto"]
    draft = write_case(member, taxonomy, title="Member draft on apprenticeship", publish=False)
    published = write_case(member, taxonomy, title="Member published apprenticeship")
    submitted = write_case(member, taxonomy, title="Member submitted apprenticeship",
                           publish=False)
    review.submit(member, submitted)
    archived = write_case(member, taxonomy, title="Member archived apprenticeship")
    review.archive(member, archived)
    edited = write_case(member, taxonomy, title="Member edited apprenticeship")
    case_studies.update_case(member, edited, replace(
        case_studies.case_to_input(edited), summary="A proposed summary."))
    token = api_tokens.create_token(member, "Member's script").token
    made = member_collections(member, published, draft)
    # Links between member's case studies: one to the draft, one between published ones.
    draft_adaptation = member_adaptation(member, published, draft)
    adaptation = member_adaptation(member, published, edited)
    db.session.commit()
    return {
        **made,
        "draft_adaptation": draft_adaptation,
        "adaptation": adaptation,
        "draft": draft.slug,
        "published": published.slug,
        "submitted": submitted.slug,
        "archived": archived.slug,
        "edited": edited.slug,
        "token_id": token.id,
        "draft_id": draft.id,
        "published_id": published.id,
        "member_id": people["member"],
        "city_id": db.session.get(City, city_id).id,
        "problem_id": taxonomy["problems"]["career-guidance"],
        "context_id": taxonomy["contexts"]["public-funding"],
    }


def filled(body, world: dict):
    """A JSON ``body`` with the world's values put into its strings (``"{published}"``)."""
    if isinstance(body, dict):
        return {key: filled(value, world) for key, value in body.items()}
    if isinstance(body, list):
        return [filled(value, world) for value in body]
    return body.format(**world) if isinstance(body, str) else body


def outcome(response) -> int | str:
    """What ``response`` means in the table: its status, or where its redirect leads."""
    if response.status_code in (301, 302, 303):
        return LOGIN if "/auth/login" in response.headers["Location"] else DONE
    return response.status_code


