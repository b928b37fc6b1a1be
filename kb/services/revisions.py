"""Revision history: what changed between two versions, and going back to one.

A diff compares two revision snapshots field by field. Short fields are
shown as their old and new values; Markdown texts and source lists are
compared line by line, with long runs of unchanged lines folded away.

Restoring saves the fields of an old snapshot through
:func:`kb.services.case_studies.update_case`, so the new version is
sanitized, validated, kept as a revision and logged for the search index
like any edit; restoring on a published case study proposes that edit for
review, like any edit of it. Snapshots name vocabulary terms by slug; a term merged since
then is replaced by the term it was merged into, and a term that no longer
exists, or was retired, is left out with a note saying so.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, replace

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from kb import case_fields
from kb.case_fields import Kind, Shown
from kb.errors import Conflict, NotFound, PermissionDenied, ValidationError
from kb.extensions import db
from kb.models import AdaptationContext, CaseStudy, City, ProblemOfPractice, User
from kb.services import case_studies, policy
from kb.services.case_studies import CaseInput, RevisionDetails

# A snapshot keeps the status it was saved in, which no one writes.
_STATUS_ROW = {"status": Shown(100, "Status when saved")}
# How people read the fields of a case study, in the order pages show them.
FIELD_LABELS: dict[str, str] = {
    place.key or name: place.label or case_fields.BY_NAME[name].label
    for name, place in case_fields.rows("history", _STATUS_ROW)
}
# Fields compared line by line; the rest are compared as whole values.
LINE_FIELDS = tuple(spec.name for spec in case_fields.FIELDS
                    if spec.kind in (Kind.MARKDOWN, Kind.SOURCES))
# Unchanged lines kept around each change, so a change is read in its place.
CONTEXT_LINES = 2
# Matching lines takes time quadratic in the changed stretch of text: beyond
# this many lines a field is reported as changed without a line-by-line view.
MAX_MATCHED_LINES = 2_000
# A merge chain longer than this is a loop in damaged data, not a history.
_MAX_MERGE_STEPS = 20


@dataclass
class DiffLine:
    """One line of a line-by-line comparison.

    ``kind`` is ``same``, ``removed``, ``added`` or ``skipped``; a skipped
    line stands for ``skipped`` unchanged lines that are not shown.
    """

    kind: str
    text: str = ""
    old_number: int | None = None
    new_number: int | None = None
    skipped: int = 0


@dataclass
class FieldDiff:
    """One field of two versions: its values, and the changed lines for long texts."""

    name: str
    label: str
    old: str
    new: str
    by_line: bool = False  # a field of LINE_FIELDS
    # For a changed field compared by line: its lines; None if too many changed.
    lines: list[DiffLine] | None = None

    @property
    def changed(self) -> bool:
        return self.old != self.new


@dataclass
class RevisionDiff:
    """Every compared field of two revisions of one case study."""

    case: CaseStudy
    old: RevisionDetails
    new: RevisionDetails
    fields: list[FieldDiff] = field(default_factory=list)

    @property
    def changed(self) -> list[FieldDiff]:
        return [f for f in self.fields if f.changed]

    @property
    def unchanged(self) -> list[FieldDiff]:
        return [f for f in self.fields if not f.changed]


def _common_ends(old: list[str], new: list[str]) -> tuple[int, int]:
    """How many lines ``old`` and ``new`` share at the start, and then at the end."""
    limit = min(len(old), len(new))
    prefix = 0
    while prefix < limit and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and old[-1 - suffix] == new[-1 - suffix]:
        suffix += 1
    return prefix, suffix


def _opcodes(old: list[str], new: list[str]) -> list[tuple[str, int, int, int, int]] | None:
    """difflib opcodes of ``old`` to ``new``; None when the changed middle is too long to match."""
    prefix, suffix = _common_ends(old, new)
    old_middle, new_middle = old[prefix:len(old) - suffix], new[prefix:len(new) - suffix]
    if len(old_middle) > MAX_MATCHED_LINES or len(new_middle) > MAX_MATCHED_LINES:
        return None
    codes = [("equal", 0, prefix, 0, prefix)] if prefix else []
    # autojunk: lines as common as blank ones are not used as anchors, which
    # keeps the matching fast on texts built to be slow.
    matcher = difflib.SequenceMatcher(a=old_middle, b=new_middle, autojunk=True)
    codes += [(tag, i1 + prefix, i2 + prefix, j1 + prefix, j2 + prefix)
              for tag, i1, i2, j1, j2 in matcher.get_opcodes()]
    if suffix:
        codes.append(("equal", len(old) - suffix, len(old), len(new) - suffix, len(new)))
    return codes


def line_diff(old: str, new: str, context: int = CONTEXT_LINES) -> list[DiffLine] | None:
    """``old`` and ``new`` compared line by line, unchanged runs beyond ``context`` folded.

    An empty list when no line differs; None when too many lines changed to
    match them up in reasonable time.
    """
    old_lines, new_lines = old.splitlines(), new.splitlines()
    codes = _opcodes(old_lines, new_lines)
    if codes is None:
        return None
    if all(tag == "equal" for tag, *_ in codes):
        return []
    lines: list[DiffLine] = []
    for index, (tag, i1, i2, j1, j2) in enumerate(codes):
        if tag != "equal":
            lines.extend(DiffLine("removed", old_lines[i], old_number=i + 1) for i in range(i1, i2))
            lines.extend(DiffLine("added", new_lines[j], new_number=j + 1) for j in range(j1, j2))
            continue
        # Unchanged lines next to a change are kept; the rest of the run is folded.
        head = context if index > 0 else 0
        tail = context if index < len(codes) - 1 else 0
        shown: list[int | None] = list(range(i1, i2))
        if i2 - i1 > head + tail:
            shown = [*range(i1, i1 + head), None, *range(i2 - tail, i2)]  # None: the fold
        for i in shown:
            if i is None:
                lines.append(DiffLine("skipped", skipped=i2 - i1 - head - tail))
            else:
                lines.append(DiffLine("same", old_lines[i], old_number=i + 1,
                                      new_number=j1 + i - i1 + 1))
    return lines


def _terms_text(terms: list[tuple[str, str | None]]) -> str:
    # A term deleted or renamed since is shown by the slug the snapshot kept.
    return ", ".join(name or slug for slug, name in terms)


def _sources_text(sources) -> str:
    return "\n".join(
        f"{source.get('label') or ''} <{source.get('url', '')}>".strip() for source in sources or []
    )


def _field_values(details: RevisionDetails) -> dict[str, str]:
    """Every compared field of a revision as the text shown for it."""
    fields = details.fields
    return {
        **{spec.name: fields.get(spec.name) or "" for spec in case_fields.TEXT_FIELDS},
        "city": details.city[1] or details.city[0],
        "problems": _terms_text(details.problems),
        "contexts": _terms_text(details.contexts),
        "education_level": details.education_level,
        "language": details.language,
        "years": details.years,
        "evidence_level": details.evidence_level or case_fields.BY_NAME["evidence_level"].unset,
        "status": details.status,
        "sources": _sources_text(fields.get("sources")),
    }


def diff_revisions(user: User | None, case: CaseStudy, old_number: int,
                   new_number: int) -> RevisionDiff:
    """Revisions ``old_number`` and ``new_number`` of ``case`` compared field by field.

    NotFound when ``user`` may not see the case study or either revision
    does not exist.
    """
    return diff_details(case, case_studies.revision_details(user, case, old_number),
                        case_studies.revision_details(user, case, new_number))


def diff_details(case: CaseStudy, old: RevisionDetails, new: RevisionDetails) -> RevisionDiff:
    """Two snapshots of ``case``, already checked as visible, compared field by field."""
    old_values, new_values = _field_values(old), _field_values(new)
    diff = RevisionDiff(case=case, old=old, new=new)
    for name, label in FIELD_LABELS.items():
        compared = FieldDiff(name, label, old_values[name], new_values[name],
                             by_line=name in LINE_FIELDS)
        if compared.by_line and compared.changed:
            compared.lines = line_diff(compared.old, compared.new)
        diff.fields.append(compared)
    return diff


# Restoring -----------------------------------------------------------------

@dataclass
class RestoreResult:
    """The case study after a restore, and what could not be restored as it was.

    ``proposed``: the case study is published, so the restore became its
    proposed edit, waiting for review, instead of a new version.
    """

    case: CaseStudy
    notes: list[str]
    proposed: bool = False


def _current_term(term):
    """The term that stands for ``term`` today: itself, or the end of its merge chain."""
    for _ in range(_MAX_MERGE_STEPS):
        if term.merged_into is None:
            return term
        term = term.merged_into
    return None


def _terms_for_restore(model, slugs: list[str], carried: list, noun: str,
                       notes: list[str]) -> list[int]:
    """Ids of the terms that today stand for ``slugs``; what is left out goes to ``notes``.

    A retired term stays only if the case study still carries it, the rule
    every edit follows.
    """
    found = {
        term.slug: term
        for term in db.session.scalars(
            select(model).where(model.slug.in_(slugs)).options(selectinload(model.merged_into))
        )
    }
    carried_ids = {term.id for term in carried}
    ids: list[int] = []
    for slug in slugs:
        term = found.get(slug)
        current = _current_term(term) if term is not None else None
        if current is None:
            notes.append(f"The {noun} “{slug}” no longer exists and was left out.")
            continue
        if current is not term:
            notes.append(f"The {noun} “{term.name}” was merged into “{current.name}”, "
                         f"which is used instead.")
        if current.retired and current.id not in carried_ids:
            notes.append(f"The {noun} “{current.name}” is retired and was left out.")
            continue
        if current.id not in ids:
            ids.append(current.id)
    return ids


def input_from_snapshot(case: CaseStudy, number: int, snapshot: dict,
                        notes: list[str]) -> CaseInput:
    """What an editor would have to type to make ``case`` look like ``snapshot`` (version ``number``).

    Terms merged or retired since are handled as the module docstring says,
    each with a line added to ``notes``.
    """
    city_slug = snapshot.get("city", "")
    city_id = db.session.scalar(select(City.id).where(City.slug == city_slug))
    if city_id is None:
        raise Conflict(
            f"The city of version {number} (“{city_slug}”) no longer exists, "
            "so that version cannot be restored."
        )
    return CaseInput(
        **{spec.name: snapshot.get(spec.name) or "" for spec in case_fields.TEXT_FIELDS},
        city_id=city_id,
        education_level=snapshot.get("education_level", ""),
        language=snapshot.get("language", "en"),
        year_start=snapshot.get("year_start"),
        year_end=snapshot.get("year_end"),
        evidence_level=snapshot.get("evidence_level"),
        problem_ids=_terms_for_restore(ProblemOfPractice, list(snapshot.get("problems", [])),
                                       case.problems, "problem of practice", notes),
        context_ids=_terms_for_restore(AdaptationContext, list(snapshot.get("contexts", [])),
                                       case.contexts, "adaptation context", notes),
        sources=[(s.get("label") or "", s.get("url") or "") for s in snapshot.get("sources", [])],
    )


def _comparable(data: CaseInput) -> CaseInput:
    # Term order follows their names, which may have changed since.
    return replace(data, problem_ids=sorted(data.problem_ids), context_ids=sorted(data.context_ids))


def restore_revision(user: User | None, case: CaseStudy, number: int, *,
                     expected_version: int | None = None, max_text: int | None = None) -> RestoreResult:
    """Save the fields of revision ``number`` as a new version of ``case``.

    Raises PermissionDenied for those who may not edit ``case``, NotFound
    for a missing revision, Conflict when the revision's city is gone or
    nothing would change, and ValidationError when the old fields no longer
    pass today's rules (for example, every one of its problems was retired).
    """
    if not policy.can_view_case(user, case):
        raise NotFound("No such case study.")
    if not policy.can_edit_case(user, case):
        raise PermissionDenied("You cannot edit this case study.")
    revision = case_studies.get_revision(user, case, number)
    notes: list[str] = []
    data = input_from_snapshot(case, number, revision.snapshot, notes)
    if _comparable(data) == _comparable(case_studies.case_to_input(case)):
        raise Conflict(f"Version {number} has the same content as the current version: "
                       "nothing to restore.")
    try:
        case_studies.update_case(user, case, data, f"Restored version {number}",
                                 expected_version=expected_version, max_text=max_text)
    except ValidationError as error:
        # The form's field names mean nothing here; the notes say why a term went missing.
        reasons = [message for messages in error.errors.values() for message in messages]
        raise ValidationError(
            f"Version {number} cannot be restored: " + " ".join([*reasons, *notes])
        ) from error
    return RestoreResult(case=case, notes=notes, proposed=case.is_published)
