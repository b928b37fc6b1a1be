"""Citations of a case study in BibTeX, RIS and CSL-JSON.

Each format is written from one :class:`Reference`, so they say the same
thing. Text is escaped for its format: BibTeX gets LaTeX's special
characters spelled as commands (a brace without its partner as
``\\textbraceleft{}``, since BibTeX counts every brace, escaped or not, when
it reads a field, and an unbalanced one would end the field early); RIS has
no escapes at all, so every value is folded onto its one line (a line
break in a value would start a bogus tag) and cut to the lengths readers
accept; CSL-JSON is JSON.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from kb.models import CaseStudy

PUBLISHER = "kb"
GENRE = "Case study"
# Longest RIS value most reference managers read in full; abstracts may be longer.
RIS_VALUE_MAX = 255
RIS_ABSTRACT_MAX = 2_000
# Characters LaTeX treats as commands, and how to write each as text.
# Braces are written by _latex_braces.
_LATEX = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "^": r"\textasciicircum{}",
    "~": r"\textasciitilde{}",
}
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Reference:
    """What a citation of a case study says, format aside."""

    key: str  # ASCII citation key
    title: str
    author: str
    issued: date
    accessed: date
    url: str
    abstract: str
    city: str
    keywords: list[str]
    language: str
    version: int
    published: bool


def _one_line(text: str) -> str:
    """``text`` with every run of white space, line breaks included, as one space."""
    return _WHITESPACE.sub(" ", text).strip()


def _citation_key(case: CaseStudy, year: int) -> str:
    """An ASCII key such as ``kb-dual-apprenticeships-2021``: accents dropped, other scripts by id."""
    folded = unicodedata.normalize("NFKD", case.slug).encode("ascii", "ignore").decode()
    words = re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")[:40].strip("-")
    return f"kb-{words or case.id}-{year}"


def reference(case: CaseStudy, url: str, accessed: date) -> Reference:
    """The citation of ``case``, read at ``url`` (its page) on ``accessed``."""
    issued = (case.published_at or case.updated_at).date()
    return Reference(
        key=_citation_key(case, issued.year),
        title=_one_line(case.title),
        author=_one_line(case.author.name),
        issued=issued,
        accessed=accessed,
        url=url,
        abstract=_one_line(case.summary),
        city=case.city.name,
        keywords=[_one_line(term.name) for term in (*case.problems, *case.contexts)],
        language=case.language,
        version=case.version,
        published=case.is_published,
    )


def _note(ref: Reference) -> str:
    state = "" if ref.published else ", not published"
    return f"{GENRE} from {ref.city}, version {ref.version}{state}"


# -- BibTeX ------------------------------------------------------------------

def _latex_braces(text: str) -> list[str]:
    """The characters of ``text``, braces as LaTeX text.

    A brace with its partner becomes ``\\{`` or ``\\}``, which every LaTeX
    reader knows; a lone one becomes ``\\textbraceleft{}`` or
    ``\\textbraceright{}``, which leave the field's braces balanced.
    """
    chars = list(text)
    opened: list[int] = []
    for index, char in enumerate(chars):
        if char == "{":
            opened.append(index)
        elif char == "}" and opened:
            chars[opened.pop()], chars[index] = r"\{", r"\}"
        elif char == "}":
            chars[index] = r"\textbraceright{}"
    for index in opened:
        chars[index] = r"\textbraceleft{}"
    return chars


def latex_escape(text: str) -> str:
    """``text`` as LaTeX text: special characters as commands, white space folded."""
    return "".join(_LATEX.get(char, char) for char in _latex_braces(_one_line(text)))


def _bibtex_url(url: str) -> str:
    # A URL field is read verbatim, but BibTeX still counts its braces and
    # stops at a space: percent-encode those few characters instead.
    return "".join(f"%{ord(char):02X}" if char in "{}\\ " else char for char in url)


def bibtex(ref: Reference) -> str:
    """The reference as one BibTeX (biblatex-friendly) ``@misc`` entry, UTF-8."""
    fields = [
        # Doubled braces keep the title's capitals as written, and keep the
        # author's name whole: "Jane Doe (Toronto)" is not "First von Last".
        ("title", "{" + latex_escape(ref.title) + "}"),
        ("author", "{" + latex_escape(ref.author) + "}"),
        ("year", str(ref.issued.year)),
        ("date", ref.issued.isoformat()),
        ("howpublished", latex_escape(PUBLISHER)),
        ("note", latex_escape(_note(ref))),
        ("url", _bibtex_url(ref.url)),
        ("urldate", ref.accessed.isoformat()),
        ("abstract", latex_escape(ref.abstract)),
        ("keywords", latex_escape(", ".join(ref.keywords))),
        ("langid", ref.language),
    ]
    lines = [f"@misc{{{ref.key},"]
    lines += [f"  {name} = {{{value}}}," for name, value in fields]
    lines.append("}")
    return "\n".join(lines) + "\n"


# -- RIS ---------------------------------------------------------------------

def ris_value(text: str, limit: int = RIS_VALUE_MAX) -> str:
    """``text`` as one RIS value: on one line, without control characters, at most ``limit`` long."""
    cleaned = "".join(char for char in _one_line(text) if unicodedata.category(char)[0] != "C")
    return cleaned[:limit].rstrip()


def ris(ref: Reference) -> str:
    """The reference as one RIS record (``TY`` to ``ER``), lines ending in CRLF as the format has it."""
    lines = [
        ("TY", "ELEC"),
        ("TI", ris_value(ref.title)),
        ("AU", ris_value(ref.author)),
        ("PY", str(ref.issued.year)),
        ("DA", ref.issued.strftime("%Y/%m/%d")),
        ("Y2", ref.accessed.strftime("%Y/%m/%d")),
        ("PB", PUBLISHER),
        ("DB", PUBLISHER),
        ("M3", GENRE),
        ("CY", ris_value(ref.city)),
        ("UR", ris_value(ref.url, limit=2_000)),
        ("AB", ris_value(ref.abstract, limit=RIS_ABSTRACT_MAX)),
        *(("KW", ris_value(keyword)) for keyword in ref.keywords),
        ("LA", ref.language),
        ("ET", str(ref.version)),
        ("N1", ris_value(_note(ref))),
        ("ID", ref.key),
        ("ER", ""),
    ]
    return "".join(f"{tag}  - {value}\r\n" for tag, value in lines)


# -- CSL-JSON ----------------------------------------------------------------

def _date_parts(day: date) -> dict:
    return {"date-parts": [[day.year, day.month, day.day]]}


def csl_item(ref: Reference) -> dict:
    """The reference as one CSL-JSON item."""
    return {
        "id": ref.key,
        "type": "report",
        "genre": GENRE,
        "title": ref.title,
        # A literal name: people's names are not reliably "given family".
        "author": [{"literal": ref.author}],
        "issued": _date_parts(ref.issued),
        "accessed": _date_parts(ref.accessed),
        "publisher": PUBLISHER,
        "publisher-place": ref.city,
        "URL": ref.url,
        "abstract": ref.abstract,
        "keyword": ", ".join(ref.keywords),
        "language": ref.language,
        "version": str(ref.version),
        "note": _note(ref),
    }


def csl_json(ref: Reference) -> str:
    """The reference as a CSL-JSON document: a list holding its one item."""
    return json.dumps([csl_item(ref)], ensure_ascii=False, indent=2) + "\n"
