"""The corpus in the features kb gained after ``xss_site.py``: collections, review, lineage, import.

A sibling of :class:`~.xss_site.PayloadBuilder`, run after it on the same
instance; everything again goes through kb's services, as people's forms
(or ``flask kb import``) would send it:

- the *writer*, a facilitator whose account names the first profile city,
  owns one collection per title-sized batch of the corpus (private, network
  and public in turn). The first :data:`RICH_COLLECTIONS` are shared and
  featured; their introductions hold a share of the corpus each, and the
  curator's notes on their items hold it all again, each note in one of the
  Markdown styles of ``MARKDOWN_STYLES``;
- review: the writer's case studies go through every step of review, each
  step commented with the next batch of the corpus (``COMMENT_MAX``
  characters), so that together they end in every state the queue shows:
  sent back, waiting, published again after the archive, a proposed edit
  sent back, a proposed edit waiting;
- lineage: :data:`LINEAGE_PAIRS` pairs of case studies, each link's four
  texts holding a share of the corpus, each text in its own Markdown style;
- bulk import: :data:`IMPORTED_ROWS` rows, half read from JSON Lines and
  half from CSV by :func:`kb.services.bulk.read_rows`, imported by
  ``import_cases`` as the operator's ``flask kb import`` does; their
  Markdown texts hold the corpus as the rich case studies' do.
  :func:`refused_import_files` are files whose every value the import
  refuses is a payload, for the import page's report of problems.

Context fit needs nothing more: the writer's city has a profile, so the
profile case studies of the other profile cities compare every profile.
The new case studies take their titles from further title-sized batches.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from itertools import count, cycle

from flask import Flask, current_app

from kb.case_fields import MESSAGE_MAX, SHORT_TEXT_MAX, SOURCES_MAX, SUMMARY_MAX, TITLE_MAX
from kb.csvsafe import csv_document, spreadsheet_value
from kb.extensions import db
from kb.models import AdaptationKind, CaseStatus, CaseStudy, CollectionVisibility, Role, User
from kb.services import accounts, bulk, case_studies, collections, lineage, review
from kb.services.case_studies import CaseInput
from kb.services.collections import CollectionInput
from kb.services.lineage import AdaptationInput

from .xss_site import (
    HOME_CITIES,
    MARKDOWN_STYLES,
    PayloadBuilder,
    PayloadSite,
    deal,
    indexed_at_the_end,
    pack,
)

WRITER_EMAIL = "writer@example.org"
WRITER_PASSWORD = "payload writer password"
# Collections whose introduction and notes hold the corpus; each has one
# item per Markdown style, so that its notes show its share in every style.
RICH_COLLECTIONS = 4
STYLES = list(MARKDOWN_STYLES.values())
LINEAGE_PAIRS = 4
IMPORTED_ROWS = 4
# Comment batches go to the steps of review in this order; the case studies
# going back and forth between writer and reviewer take what the others leave.
BACK_AND_FORTH = ("submit", "request_changes")
FIXED_REVIEWS = (
    ("submit", "publish", "archive", "unarchive"),
    ("submit", "publish", "propose_edit", "request_edit_changes", "propose_edit",
     "request_edit_changes"),
    ("submit", "publish", "propose_edit", "publish_edit", "propose_edit", "withdraw_edit",
     "propose_edit"),
)
# A refused import file reports at most bulk.MAX_PROBLEMS problems; each
# value given to one of these columns is one problem that quotes it.
REFUSED_CHOICES = ("education_level", "language", "evidence_level", "status")


@dataclass
class FeatureSite:
    """What the feature builder created, for the tests to visit."""

    writer_name: str
    profile_cases: list[str]  # slugs, one in each profile city, the writer's city first
    collection_titles: list[str] = field(default_factory=list)  # every collection's, as stored
    shared_titles: list[str] = field(default_factory=list)  # those others may see
    rich_collections: list[str] = field(default_factory=list)  # slugs
    rich_items: list[list[int]] = field(default_factory=list)  # case ids of their items
    public_collections: list[str] = field(default_factory=list)  # slugs of the rich public ones
    review_cases: list[str] = field(default_factory=list)  # slugs of the writer's case studies
    review_titles: list[str] = field(default_factory=list)
    queued_titles: list[str] = field(default_factory=list)  # those the review queue lists
    review_comments: dict[str, list[str]] = field(default_factory=dict)  # stored, by slug
    submitted_case: str = ""  # slug of one waiting for a reviewer
    edited_cases: list[str] = field(default_factory=list)  # slugs with a proposed edit
    lineage_pairs: list[tuple[str, str]] = field(default_factory=list)  # (source, adapting) slugs
    lineage_titles: list[tuple[str, str]] = field(default_factory=list)
    link_ids: list[int] = field(default_factory=list)
    imported_cases: list[str] = field(default_factory=list)  # slugs
    imported_titles: list[str] = field(default_factory=list)
    check_file: bytes = b""  # the imported rows again, as drafts, for the import page to check


class FeatureBuilder(PayloadBuilder):
    """Adds the records of :class:`FeatureSite` to an instance :class:`PayloadBuilder` filled."""

    def __init__(self, payloads: list[str], site: PayloadSite):
        super().__init__(payloads)
        self.site = site
        # Title-sized batches for the new case studies: enough for every one.
        self.titles = iter(pack(payloads, TITLE_MAX))
        self.writer_id = 0

    def _users(self) -> tuple[User, User]:
        return db.session.get(User, self.writer_id), db.session.get(User, self.site.viewer_id)

    def build(self) -> FeatureSite:
        """Create everything (see the module docstring) and say what it was."""
        site = self.site
        writer = accounts.create_user(None, site.names[-1], WRITER_EMAIL, WRITER_PASSWORD,
                                      Role.FACILITATOR, site.city_ids[0], system=True)
        db.session.commit()
        self.writer_id = writer.id
        features = FeatureSite(
            writer_name=writer.name,
            profile_cases=[db.session.get(CaseStudy, case_id).slug
                           for case_id in site.profile_case_ids],
        )
        with indexed_at_the_end():
            self._review(features)
            self._lineage(features)
            self._imports(features)
        self._collections(features)
        return features

    def _new_case(self, author: User, n: int, summary: str) -> CaseStudy:
        city = self.site.city_ids[HOME_CITIES[n % len(HOME_CITIES)]]
        return case_studies.create_case(author, CaseInput(
            title=next(self.titles), summary=summary, **self.basics(self.site, n, city)))

    def _review(self, features: FeatureSite) -> None:
        writer, viewer = self._users()
        comments = pack(self.payloads, review.COMMENT_MAX, separator="\n")
        remarks = cycle(comments)
        messages = cycle(pack(self.payloads, MESSAGE_MAX))
        edits = count(1)

        def propose_edit(case: CaseStudy) -> None:
            data = replace(case_studies.case_to_input(case),
                           summary=f"Proposed edit {next(edits)}.")
            case_studies.update_case(writer, case, data, next(messages))

        steps = {
            "submit": lambda case: review.submit(writer, case, next(remarks)),
            "request_changes": lambda case: review.request_changes(viewer, case, next(remarks)),
            "publish": lambda case: review.publish(viewer, case, next(remarks)),
            "archive": lambda case: review.archive(viewer, case, next(remarks)),
            "unarchive": lambda case: review.unarchive(viewer, case, next(remarks)),
            "propose_edit": propose_edit,
            "request_edit_changes": lambda case: review.request_edit_changes(viewer, case,
                                                                            next(remarks)),
            "publish_edit": lambda case: review.publish_edit(viewer, case, next(remarks)),
            "withdraw_edit": lambda case: review.withdraw_edit(writer, case, next(remarks)),
        }
        commented = sum(step != "propose_edit" for script in FIXED_REVIEWS for step in script)
        rounds = max(1, -(-(len(comments) - commented - 1) // (2 * len(BACK_AND_FORTH))))
        scripts = [BACK_AND_FORTH * rounds, BACK_AND_FORTH * rounds + ("submit",), *FIXED_REVIEWS]
        for n, script in enumerate(scripts):
            case = self._new_case(writer, n, "A case study whose review history holds payloads.")
            for step in script:
                steps[step](case)
            db.session.commit()
            features.review_cases.append(case.slug)
            features.review_titles.append(case.title)
            features.review_comments[case.slug] = [
                event.comment for event in review.history(viewer, case) if event.comment]
            if case.status is not CaseStatus.PUBLISHED or case.proposed_edit is not None:
                features.queued_titles.append(case.title)
            if case.proposed_edit is not None:
                features.edited_cases.append(case.slug)
        features.submitted_case = features.review_cases[1]

    def _lineage(self, features: FeatureSite) -> None:
        shares = deal(self.payloads, LINEAGE_PAIRS)
        kinds = list(AdaptationKind)
        for n in range(LINEAGE_PAIRS):
            source, adapting = (self.save_published(self.site, CaseInput(
                title=next(self.titles), summary="One end of a link whose texts hold payloads.",
                **self.basics(self.site, n, self.site.city_ids[HOME_CITIES[(n + end) % 2]]),
            )) for end in range(2))
            texts = {name: STYLES[(n + k) % len(STYLES)](shares[n])
                     for k, name in enumerate(lineage.TEXT_FIELDS)}
            _writer, viewer = self._users()
            link = lineage.record_adaptation(viewer, adapting, source.id, AdaptationInput(
                kind=kinds[n % len(kinds)].value, **texts))
            db.session.commit()
            features.lineage_pairs.append((source.slug, adapting.slug))
            features.lineage_titles.append((source.title, adapting.title))
            features.link_ids.append(link.id)

    def _imports(self, features: FeatureSite) -> None:
        rows = self._import_rows([next(self.titles) for _ in range(IMPORTED_ROWS)])
        half = IMPORTED_ROWS // 2
        config = current_app.config
        for file_format, part in (("jsonl", rows[:half]), ("csv", rows[half:])):
            parsed = bulk.read_rows(import_file(part, file_format), file_format,
                                    max_bytes=config["IMPORT_MAX_BYTES"])
            _writer, viewer = self._users()
            report = bulk.import_cases(viewer, parsed, max_text=config["MAX_TEXT_LENGTH"],
                                       source_name=f"xss-import.{file_format}", as_operator=True)
            db.session.commit()
            features.imported_cases += [case.slug for case in report.cases]
            features.imported_titles += [case.title for case in report.cases]
        features.check_file = import_file([{**row, "status": "draft"} for row in rows], "jsonl")

    def _import_rows(self, titles: list[str]) -> list[dict]:
        """Rows of the import format, one per title, holding the corpus as rich case studies do."""
        site, count = self.site, len(titles)
        shares = deal(self.payloads, count)
        labels = pack(self.payloads, SHORT_TEXT_MAX)
        return [{
            "title": title,
            "summary": " ".join(shares[n])[:SUMMARY_MAX],
            "city": site.cities[HOME_CITIES[n % len(HOME_CITIES)]],
            "education_level": self.levels[n % len(self.levels)].value,
            "problems": site.problems[:1],
            "contexts": site.contexts[:1],
            "contact": labels[-1 - n],
            "sources": [{"label": label, "url": "https://example.org/"}
                        for label in labels[n::count][:SOURCES_MAX]],
            "status": "published",
            **{name: style(shares[(n + k) % count])
               for k, (name, style) in enumerate(MARKDOWN_STYLES.items())},
        } for n, title in enumerate(titles)]

    def _collections(self, features: FeatureSite) -> None:
        writer, viewer = self._users()
        shares = deal(self.payloads, RICH_COLLECTIONS)
        shared = (CollectionVisibility.NETWORK, CollectionVisibility.PUBLIC)
        visibilities = cycle(CollectionVisibility)
        for n, title in enumerate(pack(self.payloads, collections.TITLE_MAX)):
            rich = n < RICH_COLLECTIONS
            collection = collections.create_collection(writer, CollectionInput(
                title=title,
                introduction=STYLES[n % len(STYLES)](shares[n]) if rich else "",
                visibility=(shared[n % len(shared)] if rich else next(visibilities)).value,
            ))
            if rich:
                items = self.site.case_ids[n * len(STYLES):(n + 1) * len(STYLES)]
                collections.add_cases(writer, collection, items)
                for k, (case_id, style) in enumerate(zip(items, STYLES)):
                    collections.set_note(writer, collection, case_id,
                                         style(shares[(n + k + 1) % RICH_COLLECTIONS]))
                collections.set_featured(viewer, collection, True)
                features.rich_collections.append(collection.slug)
                features.rich_items.append(items)
                if collection.is_public:
                    features.public_collections.append(collection.slug)
            features.collection_titles.append(collection.title)
            if not collection.is_private:
                features.shared_titles.append(collection.title)
        db.session.commit()


def _cell(value) -> str:
    """A value of an import row as the CSV format writes it (README: "Bulk import and export")."""
    if isinstance(value, list):
        if value and isinstance(value[0], dict):
            return "\n".join(f"{source['label']} <{source['url']}>" for source in value)
        return bulk.TERM_SEPARATOR.join(value)
    return value


def import_file(rows: list[dict], file_format: str) -> bytes:
    """``rows`` as a JSON Lines or CSV import file."""
    if file_format == "jsonl":
        return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode()
    names = list(rows[0])
    return csv_document([names, *([_cell(row[name]) for name in names] for row in rows)])


def refused_import_files(payloads: list[str]) -> list[tuple[str, bytes, list[str]]]:
    """Import files refused for payload values: (format, content, texts the report quotes).

    Every payload is the value of a choice column (in JSON Lines, also the
    name of an unknown field) of a row otherwise complete, each file holding
    as many as its report lists (bulk.MAX_PROBLEMS). JSON Lines and CSV
    alternate; CSV cells are read as kb reads them (stripped, a quote prefix
    dropped).
    """
    files = []
    formats = cycle(("jsonl", "csv"))
    remaining = list(payloads)
    while remaining:
        file_format = next(formats)
        per_row = len(REFUSED_CHOICES) + (file_format == "jsonl")
        per_file = bulk.MAX_PROBLEMS // per_row * per_row
        chosen, remaining = remaining[:per_file], remaining[per_file:]
        rows, quoted = [], []
        for first in range(0, len(chosen), per_row):
            values = chosen[first:first + per_row]
            # Every CSV row names the same columns: "x" where the payloads ran out.
            row = {"title": "Refused", "summary": "Refused.", "city": "none", "problems": [],
                   **dict.fromkeys(REFUSED_CHOICES, "x")}
            row.update(zip(REFUSED_CHOICES, values))
            if file_format == "csv":
                values = [text for text in (spreadsheet_value(v).strip() for v in values) if text]
            quoted += [bulk.shown(value) for value in values[:len(REFUSED_CHOICES)]]
            if len(values) > len(REFUSED_CHOICES):
                row[values[-1]] = ""
                quoted.append(bulk.shown(values[-1], 40))
            rows.append(row)
        files.append((file_format, import_file(rows, file_format), quoted))
    return files


def build_feature_site(app: Flask, payloads: list[str], site: PayloadSite) -> FeatureSite:
    """Add the feature records to ``app``'s payload instance (see the module docstring)."""
    with app.app_context():
        return FeatureBuilder(payloads, site).build()
