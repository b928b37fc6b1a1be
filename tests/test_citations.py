"""Citations of a case study: BibTeX, RIS and CSL-JSON, read back by parsers and strict checks."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime

import bibtexparser
import pytest
from factories import case_input, write_case
from instances import seed
from bibtexparser.middlewares import LatexDecodingMiddleware

from kb.extensions import db
from kb.models import CaseStudy, User
from kb.services import case_studies, citations

# Every character LaTeX or BibTeX treats specially, balanced and lone braces, a line break.
HOSTILE_TITLE = "Budgets & {shared} costs: 100% $ #1 under_score ^ ~ \\ @ \"quoted\" a { b"
HOSTILE_SUMMARY = "First line.\nER  - a fake end of record\r\nTY  - JOUR\tand a tab."


@seed("taxonomy", "people")
def cases(taxonomy, people):
    """A published case study with a hostile title and summary, and a draft; their slugs."""
    member = db.session.get(User, people["member"])
    published = write_case(member, taxonomy, title=HOSTILE_TITLE, summary=HOSTILE_SUMMARY,
                           contexts=("public-funding",))
    draft = write_case(member, taxonomy, title="A draft on career guidance",
                       summary="Not yet public.", contexts=("public-funding",), publish=False)
    return {"published": published.slug, "draft": draft.slug}


def reference_of(app, slug: str) -> citations.Reference:
    with app.app_context():
        case = db.session.query(CaseStudy).filter_by(slug=slug).one()
        return citations.reference(case, f"https://kb.example.org/cases/{slug}", date(2026, 11, 30))


def test_latex_escape_spells_every_special_character_as_text():
    assert citations.latex_escape("a & b % c $ d # e _ f") == r"a \& b \% c \$ d \# e \_ f"
    assert citations.latex_escape("x^y~z\\w") == r"x\textasciicircum{}y\textasciitilde{}z\textbackslash{}w"
    # Paired braces stay readable; a lone one cannot unbalance the field.
    assert citations.latex_escape("{a} {b") == r"\{a\} \textbraceleft{}b"
    assert citations.latex_escape("c}") == r"c\textbraceright{}"
    assert citations.latex_escape("two\nlines") == "two lines"


@pytest.mark.parametrize("text", [HOSTILE_TITLE, "}{", "{{{", "}}}", "a\\{b}", "%{}%"])
def test_every_escaped_text_keeps_the_field_braces_balanced(text):
    escaped = citations.latex_escape(text)
    depth = 0
    for char in escaped:
        depth += {"{": 1, "}": -1}.get(char, 0)
        assert depth >= 0, escaped
    assert depth == 0, escaped
    assert "\n" not in escaped and not re.search(r"(?<!\\)[%&$#_]", escaped)


def test_bibtex_parses_back_to_the_same_citation(app, cases):
    ref = reference_of(app, cases["published"])
    text = citations.bibtex(ref)

    raw = bibtexparser.parse_string(text)
    assert not raw.failed_blocks and len(raw.entries) == 1
    entry = raw.entries[0]
    assert entry.entry_type == "misc" and entry.key == ref.key
    assert re.fullmatch(r"kb-[a-z0-9-]+-\d{4}", entry.key)
    fields = {name: field.value for name, field in entry.fields_dict.items()}
    assert fields["title"] == "{" + citations.latex_escape(HOSTILE_TITLE) + "}"
    assert fields["url"] == "https://kb.example.org/cases/" + cases["published"]
    assert fields["urldate"] == "2026-11-30"
    assert fields["year"] == str(ref.issued.year)
    assert fields["author"] == "{Test member}"
    assert fields["keywords"] == "Work-based learning, Public funding"

    decoded = bibtexparser.parse_string(text, append_middleware=[LatexDecodingMiddleware()])
    title = decoded.entries[0].fields_dict["title"].value
    # pylatexenc writes \textasciicircum as a modifier letter and drops the
    # lone brace's command; everything else reads back exactly.
    assert title.replace("\u02c6", "^") == HOSTILE_TITLE.replace(" a { b", " a  b")
    assert decoded.entries[0].fields_dict["abstract"].value == " ".join(HOSTILE_SUMMARY.split())


def parse_ris(text: str) -> list[tuple[str, str]]:
    """Read an RIS record strictly: every line a tag, TY first, ER last, CRLF line ends."""
    assert text.endswith("\r\n")
    lines = text[:-2].split("\r\n")
    tags = []
    for line in lines:
        match = re.fullmatch(r"([A-Z][A-Z0-9])  - (.*)", line)
        assert match, f"not an RIS line: {line!r}"
        assert not re.search(r"[\x00-\x1f\x7f]", match.group(2)), line
        tags.append((match.group(1), match.group(2)))
    assert tags[0] == ("TY", "ELEC") and tags[-1] == ("ER", "")
    assert [tag for tag, _ in tags].count("TY") == 1 and [tag for tag, _ in tags].count("ER") == 1
    return tags


def test_ris_is_one_record_whatever_the_text_holds(app, cases):
    ref = reference_of(app, cases["published"])
    tags = parse_ris(citations.ris(ref))
    values = dict(tags)

    assert values["TI"] == HOSTILE_TITLE
    # The summary's line breaks would have started bogus records: folded onto one line.
    assert values["AB"] == "First line. ER - a fake end of record TY - JOUR and a tab."
    assert values["UR"] == ref.url and values["AU"] == "Test member"
    assert values["Y2"] == "2026/11/30" and values["PY"] == str(ref.issued.year)
    assert [value for tag, value in tags if tag == "KW"] == ["Work-based learning", "Public funding"]


def test_ris_values_are_cut_to_what_readers_accept():
    assert len(citations.ris_value("x" * 1000)) == citations.RIS_VALUE_MAX
    # NEL is a line break to Python (folded to a space); NUL and RLM are dropped.
    assert citations.ris_value("a\u0000b\u0085c\u200fd") == "ab cd"


def test_csl_json_is_one_item_with_the_citation(app, cases):
    ref = reference_of(app, cases["published"])
    items = json.loads(citations.csl_json(ref))

    assert isinstance(items, list) and len(items) == 1
    item = items[0]
    assert item["id"] == ref.key and item["type"] == "report"
    assert item["title"] == HOSTILE_TITLE
    assert item["author"] == [{"literal": "Test member"}]
    assert item["issued"] == {"date-parts": [[ref.issued.year, ref.issued.month, ref.issued.day]]}
    assert item["accessed"] == {"date-parts": [[2026, 11, 30]]}
    assert item["URL"] == ref.url and item["publisher"] == "kb"
    assert item["publisher-place"] == "Toronto"


def test_a_citation_key_is_ascii_whatever_the_title(app, taxonomy, people):
    with app.app_context():
        member = db.session.get(User, people["member"])
        case = case_studies.create_case(member, case_input(
            taxonomy, title="職業教育の連携", summary="Sample.", city="seoul"))
        case.updated_at = datetime(2021, 5, 4, tzinfo=UTC)
        ref = citations.reference(case, "https://kb.example.org/x", date(2026, 1, 1))
    assert ref.key == f"kb-{case.id}-2021"
    assert ref.issued == date(2021, 5, 4) and not ref.published
    assert "not published" in citations.bibtex(ref)


@pytest.mark.parametrize("ending, mimetype, check", [
    ("bib", "application/x-bibtex", lambda text: bibtexparser.parse_string(text).entries),
    ("ris", "application/x-research-info-systems", parse_ris),
    ("json", "application/vnd.citationstyles.csl+json", json.loads),
])
def test_each_format_downloads_from_the_case_page(client, cases, ending, mimetype, check):
    page = client.get(f"/cases/{cases['published']}").get_data(as_text=True)
    assert f'href="/cases/{cases["published"]}/cite.{ending}"' in page
    assert "Cite this case study" in page

    response = client.get(f"/cases/{cases['published']}/cite.{ending}")

    assert response.status_code == 200 and response.mimetype == mimetype
    assert response.headers["Content-Disposition"].startswith("attachment; filename=\"kb-")
    text = response.get_data(as_text=True)
    assert check(text)
    assert f"http://localhost/cases/{cases['published']}" in text


def test_a_draft_is_cited_only_by_those_who_may_see_it(app, client, auth, cases, people):
    assert client.get(f"/cases/{cases['draft']}/cite.bib").status_code == 404
    auth.login_as(app, people["member"])
    response = client.get(f"/cases/{cases['draft']}/cite.ris")
    assert response.status_code == 200
    assert "N1  - Case study from Toronto, version 1, not published" in response.get_data(as_text=True)
