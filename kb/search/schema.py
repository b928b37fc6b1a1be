"""The Whoosh schema of the case-study index and how a case study becomes a document.

Full-text fields hold plain text made from the Markdown by
:func:`kb.sanitize.markdown_to_text` (never HTML), stored so snippets can be
highlighted without a database round trip. Which case-study fields each
holds is declared in :data:`kb.case_fields.FIELDS` (``searched``). Vocabulary and level fields are
slugs, indexed for ``field:value`` queries and kept in columns, which is
where facet counts, visibility and sorting read them from.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from whoosh import columns
from whoosh.fields import COLUMN, ID, KEYWORD, STORED, TEXT, Schema

from kb import case_fields
from kb.case_fields import Kind
from kb.models import CaseStatus, CaseStudy
from kb.sanitize import markdown_to_text
from kb.search.analysis import fold_latin, slug_analyzer, text_analyzer

# Bump when the schema or the analyzers change what is indexed: every
# process then finds its index out of date and ``ensure_index`` rebuilds it.
SCHEMA_VERSION = 2

# The document holding the index's own state (see kb.search.indexer).
STATE_DOC_ID = "__state__"

# The case-study fields the index holds.
_SEARCHED = tuple(spec for spec in case_fields.FIELDS if spec.searched)


def _index_fields(kinds) -> tuple[str, ...]:
    """The full-text fields holding case-study fields of ``kinds``, in the registry's order."""
    return tuple(dict.fromkeys(spec.searched.index_field for spec in _SEARCHED
                               if spec.kind in kinds))


# Full-text fields, in the order snippets are looked for: the title is
# shown anyway, and the names of the city and terms are labels, not prose.
SNIPPET_FIELDS = _index_fields({Kind.PARAGRAPH, Kind.MARKDOWN})
TEXT_FIELDS = (*_index_fields({Kind.LINE}), *SNIPPET_FIELDS,
               *_index_fields({Kind.CITY, Kind.TERMS}))


def _weights() -> dict[str, float]:
    """Each full-text field's query weight, as the registry gives it for the fields it holds."""
    weights: dict[str, float] = {}
    for spec in _SEARCHED:
        weight = weights.setdefault(spec.searched.index_field, spec.searched.weight)
        if weight != spec.searched.weight:
            raise ValueError(f"{spec.name} weighs {spec.searched.index_field}"
                             f" {spec.searched.weight}, another field of it {weight}:"
                             " one index field has one weight")
    return {name: weights[name] for name in TEXT_FIELDS}


# Query-time field weights (BM25F): a word in the title or the summary says
# more about what a case study is about than the same word in its body.
FIELD_BOOSTS = _weights()

# The facets the search page offers: name -> index field.
FACET_FIELDS = {
    "city": "city",
    "problem": "problem",
    "context": "context",
    "evidence": "evidence",
    "education": "education",
    "language": "language",
    "year": "year",
    "lineage": "lineage",
}
# Values of the lineage facet (see lineage_values).
ADAPTS = "adapts"
ADAPTED = "adapted"
# Fields read from columns besides the facets.
VISIBILITY_FIELDS = ("status", "author")
KEYWORD_FIELDS = (*FACET_FIELDS.values(), *VISIBILITY_FIELDS)

# Years an ongoing practice is counted as running: from its first year to
# the year it was last updated. Deterministic, so ``check`` does not report
# drift every new year.
MAX_YEARS = 150


def build_schema() -> Schema:
    """A new Schema object for the case-study index."""
    analyzer = text_analyzer()
    text = {name: TEXT(analyzer=analyzer, stored=name in ("title", *SNIPPET_FIELDS))
            for name in TEXT_FIELDS}
    # scorable=True only to give every field a length column: Whoosh looks
    # each posting's field length up while writing, and for a field without
    # the column it asks the file system every time.
    keywords = {name: KEYWORD(analyzer=slug_analyzer(), sortable=True, scorable=True)
                for name in KEYWORD_FIELDS}
    return Schema(
        id=ID(unique=True, stored=True, sortable=True),
        **text,
        **keywords,
        updated=COLUMN(columns.NumericColumn("q", default=0)),
        title_sort=COLUMN(columns.VarBytesColumn()),
        fingerprint=STORED(),
        state=STORED(),
    )


@dataclass(frozen=True)
class CaseDocument:
    """The fields of one case study as the index holds them."""

    fields: dict

    @property
    def fingerprint(self) -> str:
        return self.fields["fingerprint"]


def years_active(case: CaseStudy) -> list[int]:
    """The years ``case`` ran: start to end, or to the year it was last updated if ongoing."""
    if case.year_start is None:
        return []
    end = case.year_end
    if end is None:
        end = max(case.year_start, case.updated_at.year if case.updated_at else case.year_start)
    end = min(end, case.year_start + MAX_YEARS - 1)
    return list(range(case.year_start, end + 1))


def title_sort_key(title: str) -> bytes:
    """What titles sort by: case- and accent-insensitive."""
    return fold_latin(title).casefold().strip().encode("utf-8")


def lineage_values(case: CaseStudy) -> list[str]:
    """The lineage facet of ``case``: ADAPTS if it adapts a practice, ADAPTED if one adapts it.

    Only links to published case studies count. The index is the same for
    every reader, so a link to a draft must not show in anyone's counts;
    publishing or withdrawing a case study re-indexes those linked to it
    (the change-log listener in :mod:`kb.models`).
    """
    values = []
    if any(link.source.status is CaseStatus.PUBLISHED for link in case.adapted_from_links):
        values.append(ADAPTS)
    if any(link.adapting.status is CaseStatus.PUBLISHED for link in case.adapted_by_links):
        values.append(ADAPTED)
    return values


def _indexed_texts(spec: case_fields.CaseField, case: CaseStudy) -> list[str]:
    """The plain texts the index holds of ``spec`` on ``case``."""
    if spec.kind is Kind.MARKDOWN:
        return [markdown_to_text(getattr(case, spec.name))]
    read = case_fields.case_value(spec, case)
    return read if isinstance(read, list) else [read]


def _full_texts(case: CaseStudy) -> dict[str, str]:
    """Each full-text field of ``case``: its fields' texts, one per line, empty ones left out."""
    texts: dict[str, list[str]] = {name: [] for name in TEXT_FIELDS}
    for spec in _SEARCHED:
        texts[spec.searched.index_field].extend(_indexed_texts(spec, case))
    return {name: "\n".join(text for text in found if text) for name, found in texts.items()}


def case_document(case: CaseStudy) -> CaseDocument:
    """The index document of ``case`` (its city, problems, contexts and links loaded)."""
    problems = [p.slug for p in case.problems]
    contexts = [c.slug for c in case.contexts]
    fields = {
        "id": str(case.id),
        **_full_texts(case),
        "city": case.city.slug,
        "problem": " ".join(problems),
        "context": " ".join(contexts),
        "evidence": case.evidence_level.value if case.evidence_level else "",
        "education": case.education_level.value,
        "language": case.language,
        "year": " ".join(str(y) for y in years_active(case)),
        "lineage": " ".join(lineage_values(case)),
        "status": case.status.value,
        "author": str(case.author_id),
        "updated": int(case.updated_at.timestamp()) if case.updated_at else 0,
        "title_sort": title_sort_key(case.title),
    }
    digest = hashlib.sha256(
        json.dumps({**fields, "title_sort": None, "schema": SCHEMA_VERSION},
                   sort_keys=True, ensure_ascii=False).encode("utf-8")
    ).hexdigest()
    fields["fingerprint"] = digest
    # Whoosh refuses empty strings in some field types; leave such fields out.
    return CaseDocument({name: value for name, value in fields.items() if value != ""})
