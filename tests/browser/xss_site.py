"""A kb instance whose every user-written field holds the XSS payload corpus.

Everything is stored through kb's own services (and so through
``kb.sanitize.clean_text``), as a person's form would store it. The corpus
is batched into as few records as each field's length limit allows:

- title-sized case studies: one per batch of payloads that fits a title
  (``TITLE_MAX`` characters), every title starting with :data:`KEYWORD`;
  their summaries, six Markdown texts, contacts, sources (labels, and URLs
  for the payloads without white space) and revision messages carry the
  whole corpus again, each text its own way (see ``MARKDOWN_STYLES``);
- :data:`RICH_CASES` rich case studies: each Markdown text holds a share of
  the whole corpus, version 2 the next share;
- cities, problems of practice and adaptation contexts: one per name-sized
  batch, with the corpus again in the countries, the descriptions and the
  profiles of the first :data:`PROFILE_CITIES` cities (each has one case
  study, so that one comparison shows every profile);
- the viewer's account name: test_xss.py renames the viewer before each page.

A payload longer than a field's limit goes in cut to that limit: as much
of it as a person could type there. The first problem and context are the
*carriers*: every case study has them, so their pages list every title;
a few more case studies carry every term between them, as many on each as
a case study may have (:data:`TERMS_KEYWORD`). The
title-sized case studies are shared between the :data:`HOME_CITIES`.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import cycle
from pathlib import Path

from flask import Blueprint, Flask, current_app, render_template_string
from markupsafe import Markup

from kb import search
from kb.case_fields import MESSAGE_MAX, SHORT_TEXT_MAX, SUMMARY_MAX, TERMS_MAX, TITLE_MAX
from kb.extensions import db
from kb.models import (
    PROFILE_HEADINGS,
    AdaptationContext,
    ContextKind,
    EducationLevel,
    EvidenceLevel,
    ProblemOfPractice,
    Role,
    User,
)
from kb.sanitize import clean_text
from kb.services import accounts, case_studies, cities, review, vocabularies
from kb.services.case_studies import CaseInput
from kb.services.cities import COUNTRY_MAX, CityInput
from kb.services.vocabularies import NAME_MAX, TermInput

# In every title and between the summary's payloads: one search lists every
# payload case study, highlights its title and shows its summary as snippets.
KEYWORD = "xsscorpus"
# Between the description's payloads, and nowhere else: snippets of bodies.
BODY_KEYWORD = "xssbodytext"
# The title of the one case study with every problem and context: its page
# and its search (facets) list every term's name. Payload case studies have
# only the carrier terms, so that their search pages list few facet values.
TERMS_KEYWORD = "xssterms"
VIEWER_EMAIL = "viewer@example.org"
VIEWER_PASSWORD = "payload viewer password"
# The longest source URL kb keeps (Source.url).
URL_MAX = 2_000
# Cities whose profiles hold the corpus (a profile text is limited to 20,000
# characters, and the Markdown styles below repeat each payload up to twice).
PROFILE_CITIES = 4
# The cities the title-sized case studies are shared between (without
# profiles, so that pages comparing them stay small).
HOME_CITIES = (PROFILE_CITIES, PROFILE_CITIES + 1)
# Case studies holding the whole corpus in every Markdown text (at most
# 100,000 characters each, and the styles repeat payloads up to twice).
RICH_CASES = 4
# Names are unique, so each gets a number in front.
NUMBERED = "{:04d} "
_WHITE_SPACE = re.compile(r"\s")


def load_payloads(path: Path) -> list[str]:
    """The corpus, one payload a line, in file order."""
    return [line for line in path.read_text(encoding="utf-8").split("\n") if line]


def pack(texts: list[str], limit: int, separator: str = " ") -> list[str]:
    """``texts`` joined, in order, into as few strings of at most ``limit`` characters as fit."""
    packs: list[str] = []
    current = ""
    for text in texts:
        text = text[:limit]
        joined = f"{current}{separator}{text}" if current else text
        if len(joined) <= limit:
            current = joined
        else:
            packs.append(current)
            current = text
    if current:
        packs.append(current)
    return packs


def deal(texts: list[str], hands: int) -> list[list[str]]:
    """``texts`` in order, in ``hands`` non-empty consecutive groups of about the same length."""
    groups: list[list[str]] = [[]]
    size = 0  # of the last group
    unclosed = sum(len(text) for text in texts)  # in the last group and after it
    for number, text in enumerate(texts):
        to_open = hands - len(groups)
        if groups[-1] and to_open and (size >= unclosed / (to_open + 1)
                                       or len(texts) - number <= to_open):
            unclosed -= size
            groups.append([])
            size = 0
        groups[-1].append(text)
        size += len(text)
    return groups


# Each Markdown text puts its payloads in its own kind of Markdown, so that
# every payload passes through paragraphs, list items, headings, emphasis,
# quotes, link texts and titles, image descriptions and table cells.
def _paragraphs(payloads: list[str]) -> str:
    return "\n\n".join(f"{BODY_KEYWORD} {p}" for p in payloads) + f"\n\n{BODY_KEYWORD}"


def _list_items(payloads: list[str]) -> str:
    return "\n".join(f"- {p}" for p in payloads)


def _headings_and_emphasis(payloads: list[str]) -> str:
    shapes = ("### {}", "**{}**", "*{}*")
    return "\n\n".join(shapes[n % 3].format(p) for n, p in enumerate(payloads))


def _links(payloads: list[str]) -> str:
    return "\n\n".join(f'[{p}](https://example.org/ "{p}")' for p in payloads)


def _images(payloads: list[str]) -> str:
    # No address (the sanitizer drops the empty src): nothing to load, and the
    # description and title are the payload.
    return "\n\n".join(f'![{p}](<> "{p}")' for p in payloads)


def _quotes_tables_and_code(payloads: list[str]) -> str:
    quotes = "\n\n".join(f"> {p}" for p in payloads[0::3])
    rows = "\n".join(f"| {p} |" for p in payloads[1::3])
    code = "\n\n".join(f"`{p}`" for p in payloads[2::3])
    return f"{quotes}\n\n| Payload |\n|---|\n{rows}\n\n{code}"


MARKDOWN_STYLES = {
    "body": _paragraphs,
    "implementation": _list_items,
    "outcomes": _headings_and_emphasis,
    "cost_notes": _links,
    "enablers": _images,
    "barriers": _quotes_tables_and_code,
}
PROFILE_STYLES = [_paragraphs, _list_items, _headings_and_emphasis, _links, _images,
                  _quotes_tables_and_code, _paragraphs]


@dataclass
class PayloadSite:
    """What was created, for the tests to visit."""

    viewer_id: int
    names: list[str]  # account names the viewer takes in turn, as stored
    cases: list[str] = field(default_factory=list)  # slugs of the title-sized case studies
    titles: list[str] = field(default_factory=list)  # their titles as stored
    case_ids: list[int] = field(default_factory=list)
    rich_cases: list[str] = field(default_factory=list)  # slugs (see _rich_cases)
    profile_case_ids: list[int] = field(default_factory=list)  # one in each profile city
    # (slug, names of the terms it carries) of the case studies carrying every term
    terms_cases: list[tuple[str, list[str]]] = field(default_factory=list)
    cities: list[str] = field(default_factory=list)  # slugs
    city_ids: list[int] = field(default_factory=list)
    city_names: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # slugs, the carrier first
    problem_ids: list[int] = field(default_factory=list)
    problem_names: list[str] = field(default_factory=list)
    contexts: list[str] = field(default_factory=list)
    context_ids: list[int] = field(default_factory=list)
    context_names: list[str] = field(default_factory=list)


@contextmanager
def indexed_at_the_end():
    """Case studies saved in the block are indexed once at its end, not once per commit."""
    app_config = current_app.config
    app_config["SEARCH_CATCH_UP_ON_COMMIT"] = False
    try:
        yield
    finally:
        app_config["SEARCH_CATCH_UP_ON_COMMIT"] = True
    search.catch_up()


class PayloadBuilder:
    """Creates the payload records through the services, as the viewer (an admin)."""

    def __init__(self, payloads: list[str]):
        self.payloads = payloads
        self.levels = list(EducationLevel)

    def build(self) -> PayloadSite:
        names = [clean_text(name, multiline=False) for name in pack(self.payloads, accounts.NAME_MAX)]
        viewer = accounts.create_user(None, names[0], VIEWER_EMAIL, VIEWER_PASSWORD, Role.ADMIN,
                                      system=True)
        db.session.commit()
        site = PayloadSite(viewer_id=viewer.id, names=names)
        self._cities(viewer, site)
        self._terms(viewer, ProblemOfPractice, "problem", site.problems, site.problem_ids,
                    site.problem_names)
        self._terms(viewer, AdaptationContext, "context", site.contexts, site.context_ids,
                    site.context_names)
        with indexed_at_the_end():
            self._title_cases(site)
            self._rich_cases(site)
            self._other_cases(site)
        return site

    def _name_packs(self) -> list[str]:
        width = len(NUMBERED.format(0))
        return [NUMBERED.format(n) + text
                for n, text in enumerate(pack(self.payloads, NAME_MAX - width))]

    def _cities(self, viewer: User, site: PayloadSite) -> None:
        countries = pack(self.payloads, COUNTRY_MAX)
        keys = list(PROFILE_HEADINGS)
        sections = deal(self.payloads, PROFILE_CITIES * len(keys))
        for n, name in enumerate(self._name_packs()):
            profile = {}
            if n < PROFILE_CITIES:
                profile = {key: style(sections[n * len(keys) + k])
                           for k, (key, style) in enumerate(zip(keys, PROFILE_STYLES))}
            city = cities.create_city(viewer, CityInput(
                name=name, country=countries[n % len(countries)], slug=f"xss-city-{n}",
                profile=profile,
            ))
            site.cities.append(city.slug)
            site.city_ids.append(city.id)
            site.city_names.append(city.name)
        db.session.commit()

    def _terms(self, viewer: User, model, prefix: str, slugs: list[str], ids: list[int],
               stored_names: list[str]) -> None:
        names = self._name_packs()
        descriptions = deal(self.payloads, len(names))
        kinds = cycle(ContextKind)
        for n, name in enumerate(names):
            term = vocabularies.create_term(viewer, model, TermInput(
                name=name, slug=f"xss-{prefix}-{n}", description=_paragraphs(descriptions[n]),
                kind=next(kinds).value,
            ))
            slugs.append(term.slug)
            ids.append(term.id)
            stored_names.append(term.name)
        db.session.commit()

    def save_published(self, site: PayloadSite, data: CaseInput, message: str = "Created"):
        """Create ``data`` as the viewer and publish it as the operator's data is."""
        author = db.session.get(User, site.viewer_id)
        case = case_studies.create_case(author, data, message)
        review.publish_as_system(case)
        return case

    def basics(self, site: PayloadSite, n: int, city_id: int) -> dict:
        """The required fields of case study ``n`` in ``city_id``, with the carrier terms."""
        return {"city_id": city_id, "education_level": self.levels[n % len(self.levels)].value,
                "problem_ids": site.problem_ids[:1], "context_ids": site.context_ids[:1]}

    def _title_cases(self, site: PayloadSite) -> None:
        """One case study per title-sized batch; every field holds its share of the corpus."""
        titles = pack(self.payloads, TITLE_MAX - len(KEYWORD) - 1)
        count = len(titles)
        groups = deal(self.payloads, count)
        contacts = pack(self.payloads, SHORT_TEXT_MAX)
        labels = pack(self.payloads, SHORT_TEXT_MAX)
        urls = [f"https://example.org/?{p}"[:URL_MAX] for p in self.payloads
                if not _WHITE_SPACE.search(p)]
        messages = pack(self.payloads, MESSAGE_MAX)
        evidence = list(EvidenceLevel)
        for n, title in enumerate(titles):
            case = self.save_published(site, CaseInput(
                title=f"{KEYWORD} {title}",
                summary=" ".join(f"{KEYWORD} {p[:SUMMARY_MAX // 2]}" for p in groups[n])[:SUMMARY_MAX],
                evidence_level=evidence[n % len(evidence)].value,
                year_start=2000 + n % 20,
                contact=contacts[n] if n < len(contacts) else "",
                sources=list(zip(labels[n::count] or [""], urls[n::count] or ["https://example.org/"])),
                **self.basics(site, n, site.city_ids[HOME_CITIES[n % len(HOME_CITIES)]]),
                **{name: style(groups[(n + k + 1) % count])
                   for k, (name, style) in enumerate(MARKDOWN_STYLES.items())},
            ), messages[n % len(messages)])
            site.cases.append(case.slug)
            site.titles.append(case.title)
            site.case_ids.append(case.id)
            if n % 25 == 24:
                db.session.commit()
                # A long-lived session makes every flush slower.
                db.session.expunge_all()
        db.session.commit()

    def _rich_cases(self, site: PayloadSite) -> None:
        """A few case studies whose every Markdown text holds a share of the whole corpus.

        Version 1 holds share n, version 2 share n + 1: their pages, both
        revisions and the changes between them show every payload in every
        Markdown text. Both versions are saved while a draft (an edit of a
        published case study would wait for review), then published.
        """
        shares = deal(self.payloads, RICH_CASES)

        def texts(share: int) -> dict:
            return {name: style(shares[share % RICH_CASES]) for name, style in MARKDOWN_STYLES.items()}

        for n in range(RICH_CASES):
            basics = self.basics(site, n, site.city_ids[HOME_CITIES[0]])
            author = db.session.get(User, site.viewer_id)
            case = case_studies.create_case(author, CaseInput(
                title=f"xssrich {n}", summary="Version 1.", **basics, **texts(n)))
            case_studies.update_case(author, case, CaseInput(
                title=f"xssrich {n}", summary="Version 2.", **basics, **texts(n + 1)
            ), "The next share of the corpus")
            review.publish_as_system(case)
            site.rich_cases.append(case.slug)
            db.session.commit()

    def _other_cases(self, site: PayloadSite) -> None:
        for n in range(PROFILE_CITIES):
            case = self.save_published(site, CaseInput(
                title=f"xssprofile {n}", summary="In a city whose profile holds payloads.",
                **self.basics(site, n, site.city_ids[n]),
            ))
            site.profile_case_ids.append(case.id)
        terms = max(len(site.problem_ids), len(site.context_ids))
        for first in range(0, terms, TERMS_MAX):
            carried = slice(first, first + TERMS_MAX)
            # Every case study needs a problem of practice: the carrier, once they run out.
            problem_ids = site.problem_ids[carried] or site.problem_ids[:1]
            terms_case = self.save_published(site, CaseInput(
                title=f"{TERMS_KEYWORD}: problems of practice and adaptation contexts from {first}",
                summary="A case study that carries as many terms as it may.",
                **{**self.basics(site, 0, site.city_ids[HOME_CITIES[0]]),
                   "problem_ids": problem_ids, "context_ids": site.context_ids[carried]},
            ))
            names = [site.problem_names[site.problem_ids.index(term)] for term in problem_ids]
            site.terms_cases.append((terms_case.slug, names + site.context_names[carried]))
        db.session.commit()


def build_payload_site(app: Flask, payloads: list[str]) -> PayloadSite:
    """Fill ``app``'s empty database with the corpus (see the module docstring)."""
    with app.app_context():
        return PayloadBuilder(payloads).build()


UNSAFE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Unsafe rendering</title></head>
<body>
{% for number, payload in payloads %}<div data-payload="{{ number }}">{{ payload }}</div>
{% endfor %}
</body></html>"""


def unsafe_blueprint(payloads: list[str], batch: int) -> Blueprint:
    """The positive control: ``/_unsafe/<n>`` renders batch ``n`` of the payloads raw.

    Registered only on the XSS tests' own server, never by kb: it is what
    rendering user text with ``|safe`` would do, and the tests prove the
    detector catches it.
    """
    bp = Blueprint("unsafe_rendering", __name__)

    @bp.get("/_unsafe/<int:number>")
    def raw(number: int):
        first = number * batch
        chosen = payloads[first:first + batch]
        # Deliberately unescaped: Markup marks each payload as safe HTML.
        return render_template_string(
            UNSAFE_PAGE, payloads=[(first + n, Markup(p)) for n, p in enumerate(chosen)]
        )

    return bp
