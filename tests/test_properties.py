"""Property tests (Hypothesis): the sanitizer, clean_text and the query parser on any input.

Settings are deterministic (``derandomize``), so a CI run explores the same
examples every time and a failure reproduces. The allow-lists below are the
test's own: a tag or attribute the sanitizer starts allowing fails here
until someone decides it is safe and adds it.
"""

from __future__ import annotations

import re
import unicodedata
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kb import sanitize, search
from kb.sanitize import clean_text, render_markdown
from kb.search.query import build_parser, parse_user_query
from kb.search.schema import build_schema
from kb.services.policy import case_visibility
from instances import seed
from route_walk import build_world

# Kept in the repository (tests/data/xss/README.md says where it came from).
PAYLOADS_FILE = Path(__file__).resolve().parent / "data" / "xss" / "payloads.txt"

CI = settings(derandomize=True, max_examples=200, deadline=None, database=None)

SAFE_TAGS = {
    "p", "br", "hr", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "code",
    "em", "strong", "del", "s", "sup", "sub", "a", "img",
    "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td",
}
SAFE_ATTRIBUTES = {
    "a": {"href", "title", "rel"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "th": {"align"},
    "td": {"align"},
}
SAFE_SCHEMES = {"http", "https", "mailto"}
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")


def _payloads() -> list[str]:
    if not PAYLOADS_FILE.is_file():
        pytest.fail(f"the XSS payload corpus is missing: {PAYLOADS_FILE}")
    lines = [line for line in PAYLOADS_FILE.read_text(encoding="utf-8").splitlines() if line]
    assert len(lines) > 1000, f"{PAYLOADS_FILE} looks truncated"
    return lines


PAYLOADS = _payloads()

# Pieces of HTML and Markdown that, glued together, make the tricky cases.
FRAGMENTS = [
    "<", ">", "</", "/>", "<script>", "</script>", "<style>", "<iframe src=", "<svg",
    "<img src=x onerror=alert(1)>", "<a href=\"", "\">", "'", "\"", "=", " ", "\n", "\n\n",
    "\t", "javascript:", "JaVaScRiPt:", "java\tscript:", "&#106;avascript:", "&#x6A;",
    "vbscript:", "data:text/html,", "//evil.example/", "/\\evil.example", "http://", "https://",
    "mailto:", "[link](", "](", ")", "![img](", "[ref]: ", "<http://x.example>",
    "<javascript:alert(1)>", "`", "```", "    ", "> ", "* ", "1. ", "# ", "| a | b |\n|---|---|\n",
    "**", "_", "~~", "\\", "&", "&lt;", "&amp;", "<!--", "-->", "<![CDATA[", "]]>",
    "<!DOCTYPE html>", "<math>", "onload=", " onmouseover=", "style=", "\u202e", "\x00", "\u200b",
]

markdown_pieces = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.sampled_from(PAYLOADS), st.text(max_size=12)),
    max_size=16,
).map("".join)


class SafetyChecker(HTMLParser):
    """Collects every way a piece of HTML falls outside what kb may show."""

    def __init__(self):
        # Character references stay as they are, so that a "<" in the text
        # can only be markup the sanitizer let through unescaped.
        super().__init__(convert_charrefs=False)
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in SAFE_TAGS:
            self.problems.append(f"tag <{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"event handler {name}")
            elif name not in SAFE_ATTRIBUTES.get(tag, set()):
                self.problems.append(f"attribute {name} on <{tag}>")
            elif name in ("href", "src"):
                self.problems.extend(url_problems(tag, name, value or ""))

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag):
        if tag not in SAFE_TAGS:
            self.problems.append(f"end tag </{tag}>")

    def handle_data(self, data):
        if "<" in data:
            self.problems.append(f"unescaped '<' in text {data!r}")

    def handle_comment(self, data):
        self.problems.append("comment")

    def handle_decl(self, decl):
        self.problems.append(f"declaration {decl!r}")

    def handle_pi(self, data):
        self.problems.append(f"processing instruction {data!r}")

    def unknown_decl(self, data):
        self.problems.append(f"declaration {data!r}")


def url_problems(tag: str, attribute: str, value: str) -> list[str]:
    """Why a link or image address could run script or leave the site; [] when it is fine."""
    # What browsers do before reading a URL: trim C0 controls and spaces,
    # drop tabs and newlines anywhere.
    url = re.sub(r"[\t\n\r]", "", value).strip("".join(map(chr, range(0x21))))
    match = _SCHEME.match(url)
    if match and match.group(1).lower() not in SAFE_SCHEMES:
        return [f"{attribute}={value!r} on <{tag}>"]
    if tag == "img" and (not url.startswith("/") or url.startswith(("//", "/\\"))):
        return [f"image from elsewhere {value!r}"]
    return []


def html_problems(html: str) -> list[str]:
    """Everything unsafe in ``html``; [] for HTML kb may put in a page."""
    checker = SafetyChecker()
    checker.feed(html)
    checker.close()
    lowered = html.lower()
    checker.problems.extend(f"{element} element" for element in ("<script", "<style", "<iframe")
                            if element in lowered)
    return checker.problems


def assert_safe_rendering(source: str) -> None:
    html = str(render_markdown(source))
    problems = html_problems(html)
    assert not problems, f"{source!r} rendered as {html!r}: {problems}"


def test_the_sanitizers_allow_lists_are_within_the_tests():
    assert set(sanitize.ALLOWED_TAGS) <= SAFE_TAGS
    for tag, attributes in sanitize.ALLOWED_ATTRIBUTES.items():
        assert set(attributes) <= SAFE_ATTRIBUTES[tag], tag
    assert set(sanitize.ALLOWED_URL_SCHEMES) <= SAFE_SCHEMES


@pytest.mark.parametrize("html", [
    "<script>alert(1)</script>",
    '<a href="javascript:alert(1)">x</a>',
    '<a href=" java\tscript:alert(1)">x</a>',
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<img src="https://elsewhere.example/x.png">',
    '<img src="//elsewhere.example/x.png">',
    '<p onclick="alert(1)">x</p>',
    '<p style="color: red">x</p>',
    "<iframe></iframe>",
    "<!-- note -->",
    "<p>&lt;ok&gt; but <b>bold</b></p>",
])
def test_the_checker_catches_unsafe_html(html):
    """The detector's positive control: unsafe HTML is reported."""
    assert html_problems(html)


def test_the_checker_accepts_what_kb_renders():
    html = ('<h2>T</h2><p><a href="https://x.example/a?b=1&amp;c" rel="noopener">l</a> '
            '<a href="/cases/x">r</a> <a href="mailto:a@x.example">m</a> '
            '<img src="/static/x.png" alt="i"> &lt;script&gt;</p>')
    assert html_problems(html) == []


def test_every_payload_in_the_corpus_renders_safely():
    for payload in PAYLOADS:
        assert_safe_rendering(payload)


@CI
@given(st.text(max_size=2000))
def test_markdown_of_any_text_renders_safely(source):
    assert_safe_rendering(source)


@CI
@given(markdown_pieces)
def test_markdown_built_from_html_markdown_and_payloads_renders_safely(source):
    assert_safe_rendering(source)


@CI
@given(st.lists(st.sampled_from(PAYLOADS), min_size=2, max_size=6).map("\n".join))
def test_payload_lines_together_render_safely(source):
    assert_safe_rendering(source)


# Characters clean_text promises to remove: C0 and C1 controls other than
# tab and newline, zero-width characters and bidirectional overrides.
def _forbidden(char: str, multiline: bool) -> bool:
    if char in "\t\n":
        return not multiline
    return (unicodedata.category(char) == "Cc" or "\u200b" <= char <= "\u200f"
            or "\u202a" <= char <= "\u202e" or "\u2066" <= char <= "\u2069")


# Removable characters, and letters with the marks and jamo that Unicode
# normalisation composes with them: removing one may join the others.
REMOVABLE = "\x00\x07\x0b\x0c\x7f\x85\x9b\u200b\u202e\u2067"
COMPOSING = "eAo\u0301\u0308\u0323\u1100\u1161\u11a8\u304b\u3099"
text_with_controls = st.one_of(
    st.text(max_size=300),
    st.text(st.sampled_from(REMOVABLE + COMPOSING + "\r\n\t "), max_size=40),
)


@CI
@given(text_with_controls, st.booleans())
def test_clean_text_is_idempotent_and_leaves_no_control_characters(value, multiline):
    cleaned = clean_text(value, multiline=multiline)

    assert clean_text(cleaned, multiline=multiline) == cleaned
    assert not [char for char in cleaned if _forbidden(char, multiline)], repr(cleaned)
    assert cleaned == cleaned.strip()
    assert unicodedata.is_normalized("NFC", cleaned)


PARSER = build_parser(build_schema())

query_pieces = st.lists(
    st.one_of(
        st.sampled_from(['"', "(", ")", ":", "-", "+", "AND", "OR", "NOT", "ANDNOT", "ANDMAYBE",
                         "REQUIRE", "title:", "city:", "year:", "[", "]", "{", "}", "*", "?",
                         "~", "^2", " ", "学校", "職業", "직업", "work-based", "e.g.", "\\",
                         "status:", "TO", "'"]),
        st.text(max_size=10),
    ),
    max_size=20,
).map("".join)


@CI
@given(st.one_of(st.text(max_size=600), query_pieces))
def test_the_query_parser_never_raises(text):
    parsed = parse_user_query(PARSER, text)

    assert len(parsed.text) <= 500


@seed("taxonomy", "people")
def world(taxonomy, people):
    """The route walk's world (tests/route_walk.py): published case studies to find."""
    return build_world(taxonomy, people)


@pytest.fixture
def searchable(app, world):
    """An app context on an index holding a published case study."""
    with app.app_context():
        yield


@settings(CI, max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=query_pieces, page=st.integers(min_value=-2, max_value=10**20))
def test_searching_any_query_never_raises(searchable, query, page):
    results = search.search(case_visibility(None), query, page=page)

    assert results.total >= 0
